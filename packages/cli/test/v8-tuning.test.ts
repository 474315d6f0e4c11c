// SPDX-License-Identifier: Apache-2.0
// Issue 11 item 4: a large model's digest and verify run without V8's
// optimising compiler (a setting of the CLI's own, made in bin/modelseal.js
// with the hash workers' early start),
// whether the model path comes right after the command or last. Checked with
// V8's own trace: a hot function run at exit is compiled by TurboFan in a
// small model's process, and only by Maglev in a large one's.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'packages/cli/bin/modelseal.js');
const SAMPLE = join(ROOT, 'test-vectors/sample-model');

describe('V8 settings for a large model', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ms-v8-'));
  const small = join(dir, 'small');
  cpSync(SAMPLE, small, { recursive: true });
  const wide = join(dir, 'wide');
  mkdirSync(wide);
  for (let i = 0; i < 100; i++)
    writeFileSync(join(wide, `f${i}.txt`), `${i}\n`);
  // Run at exit, after the command: hot enough for TurboFan.
  const hot = join(dir, 'hot.cjs');
  writeFileSync(
    hot,
    `process.on('exit', () => { function hot(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 7) % 1000003; return s; } let x = 0; for (let k = 0; k < 400; k++) x += hot(100000); });`,
  );
  const turbofan = (args: string[]): boolean => {
    let out: string;
    try {
      out = execFileSync(
        process.execPath,
        ['--trace-opt', '--require', hot, BIN, ...args],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
      );
    } catch (error) {
      // A verify that fails still runs the hot function at exit.
      out = (error as { stdout?: string }).stdout ?? '';
    }
    return out.includes('(target TURBOFAN');
  };

  it('leaves the optimising compiler on for a small model', () => {
    expect(turbofan(['digest', small])).toBe(true);
  });

  it('turns it off for a large model, the path last or right after the command', () => {
    expect(turbofan(['digest', '--threads', '3', wide])).toBe(false);
    expect(turbofan(['digest', wide, '--threads', '3'])).toBe(false);
  });

  it('turns it off once the hash worker started ahead has loaded (issue 11)', () => {
    // Two large files: a worker is started ahead, and the setting waits for
    // it to load (v8-flags.ts); the hashing of 1.5 GiB outlasts that wait.
    const big = join(dir, 'big');
    mkdirSync(big);
    for (const name of ['a.bin', 'b.bin']) {
      writeFileSync(join(big, name), '');
      truncateSync(join(big, name), 768 * 1024 * 1024);
    }
    expect(turbofan(['digest', big, '--threads', '2'])).toBe(false);
  });

  it('turns it off for the verify of a large model, whatever its bundle', () => {
    // Only the bundle's size could matter here (the verify then fails on it).
    const smallSig = join(dir, 'small.sig');
    writeFileSync(smallSig, '{}');
    const largeSig = join(dir, 'large.sig');
    writeFileSync(largeSig, Buffer.alloc(4 * 1024 * 1024, 0x20));
    const verify = (sig: string): boolean =>
      turbofan([
        'verify',
        'key',
        wide,
        '--threads',
        '3',
        '--public-key',
        sig,
        '--signature',
        sig,
      ]);
    expect(verify(smallSig)).toBe(false);
    expect(verify(largeSig)).toBe(false);
    // A small model's verify keeps it.
    expect(
      turbofan([
        'verify',
        'key',
        small,
        '--public-key',
        smallSig,
        '--signature',
        smallSig,
      ]),
    ).toBe(true);
  });
});
