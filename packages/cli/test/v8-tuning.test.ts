// SPDX-License-Identifier: Apache-2.0
// Issue 11 item 4: a large model's digest and verify run without V8's
// optimising compiler (a setting of the CLI's own, made in bin/modelseal.js
// with the hash workers' early start and set once the hashing starts),
// whether the model path comes right after the command or last. Checked with
// V8's own trace: a hot function run at exit is compiled by TurboFan in a
// small model's process, and only by Maglev in a large one's (the trace of
// that function only: the flag comes once the hashing is under way).
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { keyPairFiles, keySignArgs, sparseModel } from './helpers/fixtures.js';
import { CLI, runCli } from './helpers/run-cli.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
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
    `if (require('node:worker_threads').isMainThread) process.on('exit', () => { function hot(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 7) % 1000003; return s; } let x = 0; for (let k = 0; k < 400; k++) x += hot(100000); });`,
  );
  /**
   * Whether the exit-time function was compiled by TurboFan, the compilers
   * that compiled it, and what the run said.
   */
  const traced = (
    args: string[],
  ): { compiled: boolean; targets: string[]; said: string } => {
    const run = spawnSync(
      process.execPath,
      ['--trace-opt', '--require', hot, CLI, ...args],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const lines = run.stdout.split('\n');
    // Only the function run at exit counts: the flag is set once the model
    // is listed and the workers have loaded, so a function of the run that
    // was already hot (Maglev, then TurboFan) may have been compiled before
    // it (seen once in CI, never here). A verify that fails still runs the
    // function at exit.
    // One line per compile: MAGLEV, TURBOFAN_JS (TURBOFAN on older V8).
    const targets = lines.flatMap((line) => {
      const m =
        /^\[compiling method [^<]*<JSFunction hot \(sfi = [^)]*\)> \(target ([A-Z_]+)/.exec(
          line,
        );
      return m === null ? [] : [m[1]!];
    });
    const compiled = targets.some((t) => t.startsWith('TURBOFAN'));
    const said = [
      `modelseal ${args.join(' ')}: exit ${run.status}`,
      ...lines.filter((line) => line !== '' && !line.startsWith('[')),
      ...run.stderr.split('\n').filter((line) => line !== ''),
      ...lines.filter(
        (line) => line.startsWith('[marking') && line.includes('TURBOFAN'),
      ),
    ].join('\n');
    return { compiled, targets, said };
  };
  const expectTurbofan = (args: string[], expected: boolean): void => {
    const { compiled, said } = traced(args);
    expect(compiled, said).toBe(expected);
  };

  it('leaves the optimising compiler on for a small model', () => {
    expectTurbofan(['digest', small], true);
  });

  it('turns it off for a large model, the path last or right after the command', () => {
    expectTurbofan(['digest', '--threads', '3', wide], false);
    expectTurbofan(['digest', wide, '--threads', '3'], false);
  });

  it('turns it off once the hashing starts, with a worker started ahead (issue 11)', () => {
    // Two large files: a worker is started ahead, and the setting waits for
    // the hashing to start and the worker to load (v8-flags.ts); the worker
    // posts that it is loaded before any answer, so the flag is in force
    // before the hashing can end.
    const big = sparseModel(dir, 'big', 2, 64 * 1024 * 1024);
    expectTurbofan(['digest', big, '--threads', '2'], false);
  });

  it('turns Maglev off too for a large model of few ranges or large ones, not for many small', () => {
    // A few large files: the only hot JS is the loop around the native
    // hashing, so Maglev goes too (bin/modelseal.js); many files keep it for
    // their listing and comparison.
    const few = sparseModel(dir, 'few', 2, 64 * 1024 * 1024);
    const fewRun = traced(['digest', few, '--threads', '2']);
    expect(fewRun.targets, fewRun.said).toEqual([]);
    const manyRun = traced(['digest', wide, '--threads', '3']);
    expect(manyRun.targets, manyRun.said).toContain('MAGLEV');
    expect(manyRun.compiled, manyRun.said).toBe(false);
    // Ranges, not files: one file in 4 shards loses Maglev, in 1,024 of 64
    // KiB keeps it (their hand-out and the manifest are JS; in shards the
    // line for large ranges is 256 KiB).
    const one = join(
      sparseModel(dir, 'one-file', 1, 64 * 1024 * 1024),
      'w0.bin',
    );
    const fourRun = traced([
      'digest',
      one,
      '--threads',
      '2',
      '--shard-size',
      String(16 * 1024 * 1024),
    ]);
    expect(fourRun.targets, fourRun.said).toEqual([]);
    const shardsRun = traced([
      'digest',
      one,
      '--threads',
      '2',
      '--shard-size',
      '65536',
    ]);
    expect(shardsRun.targets, shardsRun.said).toContain('MAGLEV');
    expect(shardsRun.compiled, shardsRun.said).toBe(false);
    // Many files, 64 KiB or more on average: their JS is little against
    // their hashing, so Maglev goes (prestart's largeRanges); many smaller
    // ones keep it (`wide` above).
    const largeMany = sparseModel(dir, 'large-many', 100, 1024 * 1024);
    const largeManyRun = traced(['digest', largeMany, '--threads', '2']);
    expect(largeManyRun.targets, largeManyRun.said).toEqual([]);
    // A small model (no settings): Maglev, then TurboFan.
    const smallRun = traced(['digest', small]);
    expect(smallRun.targets, smallRun.said).toContain('MAGLEV');
    expect(smallRun.compiled, smallRun.said).toBe(true);
  });

  it('turns it off for the verify of a large model before it loads, or at once for a large bundle', async () => {
    const { key, pub } = keyPairFiles(dir);
    // Two files of 64 MiB: a large model, whose verify sets the flag right
    // after the bin's look at it, before the command's modules load.
    const model = sparseModel(dir, 'verified', 2, 64 * 1024 * 1024);
    const goodSig = join(dir, 'verified.sig');
    const signed = await runCli(keySignArgs(model, key, goodSig, ['-q']));
    expect(signed.code, signed.stderr).toBe(0);
    const smallSig = join(dir, 'small.sig');
    writeFileSync(smallSig, '{}');
    // The bundle sizes around the threshold (64 KiB: about 300 files),
    // blank (each verify then fails on it before hashing).
    const largeSig = join(dir, 'large.sig');
    writeFileSync(largeSig, Buffer.alloc(64 * 1024, 0x20));
    const belowSig = join(dir, 'below.sig');
    writeFileSync(belowSig, Buffer.alloc(64 * 1024 - 1, 0x20));
    const verify = (path: string, sig: string, expected: boolean): void =>
      expectTurbofan(
        [
          'verify',
          'key',
          path,
          '--threads',
          '2',
          '--public-key',
          pub,
          '--signature',
          sig,
        ],
        expected,
      );
    // Verified and hashed: off.
    verify(model, goodSig, false);
    // A large model: off from before the command's modules load
    // (bin/modelseal.js), even when its bundle is refused before any
    // hashing.
    verify(model, largeSig, false);
    verify(model, belowSig, false);
    verify(model, smallSig, false);
    // A model that is not large, with a bundle of 64 KiB or more: off
    // before its statement is decoded (verify.ts); just under it, on.
    const few = sparseModel(dir, 'few-small', 2, 1024);
    verify(few, largeSig, false);
    verify(few, belowSig, true);
    // A small model's verify keeps it.
    expectTurbofan(
      [
        'verify',
        'key',
        small,
        '--public-key',
        smallSig,
        '--signature',
        smallSig,
      ],
      true,
    );
  });
});
