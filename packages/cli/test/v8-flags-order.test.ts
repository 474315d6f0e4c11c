// SPDX-License-Identifier: Apache-2.0
// Issue 11: for a large model the CLI sets V8 flags (--no-turbofan, a small
// young generation), and a flag set at run time makes V8 reject the code
// cache of everything compiled after it. So the flags must come after the
// hash worker has loaded its module and after the last module the command
// loads. Checked on the real process, by a preload that logs, on one clock,
// each flag set, each module the main thread loads after a flag, and the
// worker's `ready` message (the worker posts it once its module is loaded).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  keyPairFiles,
  keySignArgs,
  keyVerifyArgs,
  sparseModel,
} from './helpers/fixtures.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'packages/cli/bin/modelseal.js');

const PRELOAD = `
import { createRequire, registerHooks } from 'node:module';
import { isMainThread } from 'node:worker_threads';
const now = () => (performance.timeOrigin + performance.now()).toFixed(3);
const out = (line) => process.stderr.write('TRACE ' + line + '\\n');
const v8 = createRequire(import.meta.url)('node:v8');
let set = false;
const original = v8.setFlagsFromString;
v8.setFlagsFromString = (flag) => { set = true; out(now() + ' FLAG ' + flag); return original(flag); };
registerHooks({ load(url, context, next) { if (set && isMainThread) out(now() + ' LOAD ' + url); return next(url, context); } });
if (!isMainThread) {
  const { parentPort } = await import('node:worker_threads');
  const post = parentPort.postMessage.bind(parentPort);
  parentPort.postMessage = (m, t) => { if (m?.type === 'ready') out(now() + ' READY'); return post(m, t); };
}
`;

interface Trace {
  flags: { at: number; flag: string }[];
  ready: number[];
  loadsAfter: string[];
  /** When the command's first module (dist/main.js) loaded, if after a flag. */
  mainAt?: number;
}

function parsed(stderr: string): Trace {
  const t: Trace = { flags: [], ready: [], loadsAfter: [] };
  for (const line of stderr.split('\n')) {
    const m = /^TRACE (\d+\.\d+) (FLAG|READY|LOAD) ?(.*)$/.exec(line);
    if (m === null) continue;
    const at = Number(m[1]);
    if (m[2] === 'FLAG') t.flags.push({ at, flag: m[3]! });
    else if (m[2] === 'READY') t.ready.push(at);
    else {
      t.loadsAfter.push(m[3]!);
      if (m[3]!.endsWith('/dist/main.js')) t.mainAt = at;
    }
  }
  return t;
}

describe('V8 flags come after the code caches are taken (bin/modelseal.js)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ms-flag-order-'));
  const preload = join(dir, 'preload.mjs');
  writeFileSync(preload, PRELOAD);
  // Two sparse files of 64 MiB: large enough for one worker on two threads.
  const big = sparseModel(dir, 'big', 2, 64 * 1024 * 1024);
  const { key, pub } = keyPairFiles(dir);
  const sig = join(dir, 'big.sig');

  const run = (args: string[]): Trace => {
    const r = spawnSync(
      process.execPath,
      ['--import', preload, BIN, ...args, '--threads', '2'],
      { encoding: 'utf8' },
    );
    if (r.status !== 0)
      throw new Error(`exit ${r.status}: ${r.stdout}${r.stderr}`);
    return parsed(r.stderr);
  };
  const afterReady = (t: Trace): void => {
    expect(t.ready).toHaveLength(1);
    for (const f of t.flags) expect(f.at).toBeGreaterThanOrEqual(t.ready[0]!);
  };

  it('digest: after the worker is loaded, and nothing loads after them', () => {
    const t = run(['digest', big]);
    // A model of two files: no Maglev either (bin/modelseal.js).
    expect(t.flags.map((f) => f.flag)).toEqual([
      '--semi-space-growth-factor=1',
      '--no-turbofan',
      '--no-maglev',
    ]);
    afterReady(t);
    expect(t.loadsAfter).toEqual([]);
    // --json (the statement codec) and an audit log are loaded before the hashing.
    const json = run([
      'digest',
      big,
      '--json',
      '--audit-log',
      join(dir, 'audit.log'),
    ]);
    expect(json.flags).toHaveLength(3);
    afterReady(json);
    expect(json.loadsAfter).toEqual([]);
  });

  it('a command that fails before it hashes still ends at once', () => {
    // The worker started ahead, and the listener that waits for it to load,
    // must not keep the process alive.
    const r = spawnSync(
      process.execPath,
      [BIN, 'digest', big, '--threads', '2', '--hash', 'nosuch'],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(r.signal).toBeNull();
    expect(r.status).toBe(2);
  });

  it('sign and verify: after the scan gate and the signature check', () => {
    const signed = run([
      'sign',
      'key',
      big,
      '--private-key',
      key,
      '--signature',
      sig,
    ]);
    expect(signed.flags.map((f) => f.flag)).toEqual([
      '--semi-space-growth-factor=1',
    ]);
    afterReady(signed);
    expect(signed.loadsAfter).toEqual([]);
    const verified = run([
      'verify',
      'key',
      big,
      '--public-key',
      pub,
      '--signature',
      sig,
    ]);
    // verify of a large model: no TurboFan from before its modules load
    // (the ESM loader's path work got hot enough for it from an install
    // under node_modules); the rest once the worker has loaded.
    expect(verified.flags.map((f) => f.flag)).toEqual([
      '--no-turbofan',
      '--no-maglev',
    ]);
    expect(verified.flags[0]!.at).toBeLessThan(verified.mainAt!);
    expect(verified.ready).toHaveLength(1);
    expect(verified.flags[1]!.at).toBeGreaterThanOrEqual(verified.ready[0]!);
  });

  /**
   * Signs `model` into a bundle of its name (`extra`: sign options), checks
   * the bundle's size against `bundleAtLeast`, and returns the flags its
   * verify sets, in order, and those set before the command's modules
   * loaded (bin/modelseal.js).
   */
  const verifyFlags = (
    model: string,
    name: string,
    extra: string[] = [],
    bundleAtLeast = 0,
  ): { flags: string[]; early: string[] } => {
    const bundle = join(dir, `${name}.sig`);
    const signed = spawnSync(
      process.execPath,
      // The scan gate overridden: sparse files of zeros.
      [
        BIN,
        ...keySignArgs(model, key, bundle, [
          '--allow-unsafe',
          'test',
          ...extra,
        ]),
      ],
      { encoding: 'utf8' },
    );
    expect(signed.status, signed.stderr).toBe(0);
    expect(statSync(bundle).size).toBeGreaterThanOrEqual(bundleAtLeast);
    const t = run(keyVerifyArgs(model, pub, bundle));
    return {
      flags: t.flags.map((f) => f.flag),
      early: t.flags
        .filter((f) => t.mainAt !== undefined && f.at < t.mainAt)
        .map((f) => f.flag),
    };
  };

  it('verify of many files: the statement flags first, without Maglev inlining only for large files', () => {
    // 400 files: a bundle over 64 KiB, so verify sets its flags before it
    // decodes the statement; then, as the hashing starts, the rest.
    // 128 KiB each: the JS around a file is little against its hashing.
    const large = sparseModel(dir, 'large400', 400, 128 * 1024);
    // Before the modules load: no TurboFan (a large model), and the young
    // generation kept small (many large files).
    expect(verifyFlags(large, 'large400', [], 64 * 1024)).toEqual({
      flags: [
        '--no-turbofan',
        '--semi-space-growth-factor=1',
        '--no-maglev-inlining',
        '--no-maglev',
      ],
      early: ['--no-turbofan', '--semi-space-growth-factor=1'],
    });
    // 1 KiB each: Maglev and its inlining stay for the listing and the
    // comparison.
    const small = sparseModel(dir, 'small400', 400, 1024);
    expect(verifyFlags(small, 'small400', [], 64 * 1024)).toEqual({
      flags: ['--no-turbofan', '--semi-space-growth-factor=1'],
      early: ['--no-turbofan'],
    });
  });

  it('verify of a folder signed in shards counts the shards, from the first bytes of a large bundle', () => {
    // 100 files of 256 KiB in shards of 16 KiB: 1,600 ranges of 16 KiB, a
    // bundle of more than 256 KiB. The files alone would average 256 KiB;
    // the bin reads the method and the shard size from the bundle's first
    // 64 KiB, and Maglev stays.
    const model = sparseModel(dir, 'sharded100', 100, 256 * 1024);
    expect(
      verifyFlags(model, 'sharded100', ['--shard-size', '16384'], 256 * 1024),
    ).toEqual({
      flags: ['--no-turbofan', '--semi-space-growth-factor=1'],
      early: ['--no-turbofan'],
    });
    // The same files signed whole: files of 256 KiB, Maglev goes.
    const whole = verifyFlags(model, 'whole100');
    expect(whole.flags).toContain('--no-maglev');
    expect(whole.early).toEqual([
      '--no-turbofan',
      '--semi-space-growth-factor=1',
    ]);
    // The shard size read, not only the method: 4 files of 64 MiB in 16
    // MiB shards are at most 20 ranges (Maglev goes); shards of a size the
    // peek did not find would keep it.
    const four = sparseModel(dir, 'four-sharded', 4, 64 * 1024 * 1024);
    expect(
      verifyFlags(four, 'four-sharded', ['--shard-size', String(16 << 20)])
        .flags,
    ).toContain('--no-maglev');
  });
});
