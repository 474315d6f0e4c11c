// SPDX-License-Identifier: Apache-2.0
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';

/** Reads a password from the terminal without echoing it. Only when stdin and stderr are terminals. */
export function canPrompt(): boolean {
  return process.stdin.isTTY && process.stderr.isTTY;
}

/** Prompts on stderr and reads one line from stdin with echo off. */
export async function promptPassword(question: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!muted) process.stderr.write(chunk);
      callback();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    const answer = new Promise<string>((resolve) =>
      rl.question(question, resolve),
    );
    muted = true;
    return await answer;
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}
