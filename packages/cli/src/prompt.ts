// SPDX-License-Identifier: Apache-2.0
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { InterruptedError, UsageError } from './exit-codes.js';

/** Reads a password from the terminal without echoing it. Only when stdin and stderr are terminals. */
export function canPrompt(): boolean {
  return process.stdin.isTTY && process.stderr.isTTY;
}

/**
 * Prompts on stderr and reads one line from stdin with echo off. Ctrl-C at
 * the prompt (the terminal is in raw mode, so it reaches readline, not the
 * process) or `signal` firing rejects with {@link InterruptedError}; end of
 * input (Ctrl-D) rejects with a usage error naming the flags that give a
 * password without a prompt. The promise always settles.
 */
export async function promptPassword(
  question: string,
  signal?: AbortSignal,
): Promise<string> {
  if (signal?.aborted === true) throw new InterruptedError();
  let muted = false;
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!muted) process.stderr.write(chunk);
      callback();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  let onAbort: (() => void) | undefined;
  try {
    const answer = new Promise<string>((resolve, reject) => {
      let answered = false;
      rl.question(question, (line) => {
        answered = true;
        resolve(line);
      });
      rl.once('SIGINT', () => reject(new InterruptedError()));
      rl.once('close', () => {
        if (!answered)
          reject(
            new UsageError(
              'no password entered (give --password-env VAR to read it from the environment)',
            ),
          );
      });
      onAbort = () => reject(new InterruptedError());
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    muted = true;
    return await answer;
  } finally {
    if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    rl.close();
    process.stderr.write('\n');
  }
}
