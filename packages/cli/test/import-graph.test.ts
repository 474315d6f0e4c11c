// SPDX-License-Identifier: Apache-2.0
// Start-up: each command loads only what it uses. Checked on the import graph of
// the real CLI process (a load hook), not on timings: `--version` and `digest`
// load no Sigstore module and no scanner; `verify key` loads neither the
// Sigstore signing/TUF/verifier stack nor the BLAKE3 binding; `scan` loads no Sigstore.
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
import { keyPairFiles } from './helpers/fixtures.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const BIN = join(ROOT, 'packages/cli/bin/modelseal.js');
const HOOK = join(ROOT, 'packages/core/test/packaging/load-hook.mjs');
const SAMPLE = join(ROOT, 'test-vectors/sample-model');

interface Loaded {
  modules: number;
  packages: string[];
  /** Our own modules: `core/…` or `cli/…` under dist. */
  own: string[];
  /** Node built-ins: `node:…`. */
  builtins: string[];
}

function loaded(args: string[]): Loaded {
  const out = execFileSync(process.execPath, ['--import', HOOK, BIN, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const line = out.split('\n').find((l) => l.startsWith('LOADED '));
  if (line === undefined) throw new Error(`no LOADED line in: ${out}`);
  return JSON.parse(line.slice('LOADED '.length)) as Loaded;
}

const sigstore = (r: Loaded): string[] =>
  r.packages.filter((p) => p.startsWith('@sigstore/') || p === 'tuf-js');
const HEAVY = [
  '@sigstore/sign',
  '@sigstore/tuf',
  '@sigstore/verify',
  '@napi-rs/blake-hash',
  'make-fetch-happen',
];

describe('CLI import graph', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ms-cli-graph-'));
  const model = join(dir, 'model');
  cpSync(SAMPLE, model, { recursive: true });
  keyPairFiles(dir);

  it('--version loads no command, no Sigstore module, no scanner', () => {
    const r = loaded(['--version']);
    expect(sigstore(r)).toEqual([]);
    expect(r.packages).toEqual([]);
    expect(r.modules).toBeLessThan(30);
  });

  it('digest loads no Sigstore module and no scanner', () => {
    const r = loaded(['digest', model]);
    expect(sigstore(r)).toEqual([]);
    expect(r.packages).not.toContain('protobufjs');
    expect(r.packages).not.toContain('@napi-rs/blake-hash');
    // Nor the audit module, without an audit log.
    expect(r.own.filter((m) => m.startsWith('core/audit/'))).toEqual([]);
    // Nor the statement codec and the checks (@modelseal/core/manifest/hash),
    // but for --json.
    expect(r.own).not.toContain('core/manifest/statement.js');
    expect(r.own).not.toContain('core/manifest/check-model.js');
    expect(loaded(['digest', model, '--json']).own).toContain(
      'core/manifest/statement.js',
    );
  });

  it('digest of a small model starts no worker thread and loads no node:v8', () => {
    // Both cost start-up (a worker 50-100 ms, node:v8 3-4 ms) and only pay
    // for a large model.
    const r = loaded(['digest', model]);
    expect(r.builtins).toContain('node:crypto');
    expect(r.builtins).not.toContain('node:worker_threads');
    expect(r.builtins).not.toContain('node:v8');
    // One file hashed whole: not even the look at the model is loaded.
    const one = loaded(['digest', join(model, 'model.safetensors')]);
    expect(one.own).not.toContain('core/manifest/prestart.js');
    expect(one.builtins).not.toContain('node:worker_threads');
  });

  it('digest of a large model starts its hash workers before loading the command', () => {
    const wide = join(dir, 'wide');
    mkdirSync(wide);
    // 100 files of 4 MiB (sparse): more than the look sees, and enough
    // hashing for workers to pay for their start.
    for (let i = 0; i < 100; i++) {
      writeFileSync(join(wide, `f${i}.bin`), '');
      truncateSync(join(wide, `f${i}.bin`), 4 * 1024 * 1024);
    }
    const r = loaded(['digest', '--threads', '3', wide]);
    expect(r.builtins).toContain('node:worker_threads');
    expect(r.builtins).toContain('node:v8');
    expect(r.own).toContain('core/manifest/prestart.js');
    // The path right after the command, the flags after it: the same.
    const after = loaded(['digest', wide, '--threads', '3']);
    expect(after.builtins).toContain('node:worker_threads');
    expect(after.own).toContain('core/manifest/prestart.js');
    // Many small files: no worker, on two threads or three (a worker takes
    // longer to start than it would hash).
    const small = join(dir, 'small');
    mkdirSync(small);
    for (let i = 0; i < 100; i++)
      writeFileSync(join(small, `f${i}.txt`), `${i}\n`);
    for (const threads of ['2', '3']) {
      const none = loaded(['digest', '--threads', threads, small]);
      expect(none.builtins).not.toContain('node:worker_threads');
      expect(none.builtins).toContain('node:v8');
    }
  });

  it('verify key loads neither the Sigstore signing, TUF or verifier stack nor BLAKE3', () => {
    const sig = join(dir, 'model.sig');
    execFileSync(process.execPath, [
      BIN,
      'sign',
      'key',
      model,
      '--private-key',
      join(dir, 'key.pem'),
      '--signature',
      sig,
      '--force',
    ]);
    const r = loaded([
      'verify',
      'key',
      model,
      '--public-key',
      join(dir, 'pub.pem'),
      '--signature',
      sig,
    ]);
    expect(r.packages.filter((p) => HEAVY.includes(p))).toEqual([]);
    // Nor the sign command, the scanners or scan attestations (issue 11
    // item 1: they cost verify key 80 ms of start-up).
    expect(
      r.own.filter((m) =>
        /^cli\/commands\/sign\.js$|^core\/(scan|attest)\//.test(m),
      ),
    ).toEqual([]);
    expect(r.own).toContain('core/verify/verify-model.js');
    // Through @modelseal/core/verify/model: a key check loads no certificate,
    // chain, timestamp, Sigstore or trust-root module, nor the protobuf
    // decoder of Sigstore bundles (made only for the Sigstore verifier).
    expect(
      r.own.filter((m) =>
        /^core\/(verify\/(certificate|chain|timestamp|sigstore|inspect)|trust\/)/.test(
          m,
        ),
      ),
    ).toEqual([]);
    expect(r.packages).toEqual([]);
  });

  it('verify of one large file starts its worker ahead only when the bundle says shards', () => {
    const big = join(dir, 'big.bin');
    // 128 MiB: a worker pays for its start (64 MiB of hashing) only on
    // more than that.
    writeFileSync(big, Buffer.alloc(128 * 1024 * 1024, 1));
    const verifyWith = (sig: string): Loaded => {
      const args = [
        'key',
        big,
        '--private-key',
        join(dir, 'key.pem'),
        '--signature',
        sig,
        '--force',
      ];
      if (sig.endsWith('shards.sig')) args.push('--shard-size', '33554432');
      // The model path stays last, as the bin's look expects.
      args.push(args.splice(1, 1)[0]!);
      execFileSync(process.execPath, [BIN, 'sign', ...args]);
      return loaded([
        'verify',
        'key',
        '--public-key',
        join(dir, 'pub.pem'),
        '--signature',
        sig,
        big,
      ]);
    };
    const sharded = verifyWith(join(dir, 'big-shards.sig'));
    expect(sharded.own).toContain('core/manifest/prestart.js');
    expect(sharded.builtins).toContain('node:worker_threads');
    // Hashed whole on this thread: no look, no worker.
    const whole = verifyWith(join(dir, 'big-files.sig'));
    expect(whole.own).not.toContain('core/manifest/prestart.js');
    expect(whole.builtins).not.toContain('node:worker_threads');
  });

  it('scan of a safetensors file loads no Sigstore module', () => {
    const r = loaded(['scan', join(model, 'model.safetensors')]);
    expect(sigstore(r)).toEqual([]);
    // Nor protobufjs (20 ms to load): only an ONNX, TensorFlow or Keras
    // metadata scan walks protobuf.
    expect(r.packages).toEqual([]);
    // The registry loads scanners up to the one that accepts: SafeTensors is
    // first, so no other format's scanner is loaded (116 modules before).
    expect(r.own).toContain('core/scan/safetensors/safetensors-scanner.js');
    expect(
      r.own.filter((m) =>
        /^core\/scan\/(pickle\/vm|pickle\/scanner|onnx\/onnx-scanner|archive\/(zip|tar)-scanner|keras\/keras-scanner|gguf\/gguf-scanner|torch\/)/.test(
          m,
        ),
      ),
    ).toEqual([]);
  });
});
