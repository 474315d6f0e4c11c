// SPDX-License-Identifier: Apache-2.0
// Pay only for what you use: importing the library or any subpath, hashing, and
// signing and verifying with a key load neither the Sigstore/TUF/HTTP stack nor
// the BLAKE3 binding (they load on first use). Checked on the import graph of a
// real process (a load hook), not on timings. Runs against dist (`pnpm build`).
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/vectors.js';

const HOOK = join(REPO_ROOT, 'packages/core/test/packaging/load-hook.mjs');
const DIST = join(REPO_ROOT, 'packages/core/dist');
const HEAVY = [
  '@sigstore/sign',
  '@sigstore/tuf',
  '@sigstore/verify',
  '@napi-rs/blake-hash',
  'make-fetch-happen',
  'tuf-js',
];

function loaded(code: string): { modules: number; packages: string[] } {
  const out = execFileSync(
    process.execPath,
    ['--import', HOOK, '--input-type=module', '-e', code],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const line = out.split('\n').find((l) => l.startsWith('LOADED '));
  if (line === undefined) throw new Error(`no LOADED line in: ${out}`);
  return JSON.parse(line.slice('LOADED '.length)) as {
    modules: number;
    packages: string[];
  };
}

/** The file the package's exports map gives a subpath. */
const EXPORTS = (
  JSON.parse(readFileSync(join(DIST, '..', 'package.json'), 'utf8')) as {
    exports: Record<string, { default: string }>;
  }
).exports;
const entry = (sub: string): string =>
  JSON.stringify(
    join(DIST, '..', EXPORTS[sub === '.' ? '.' : `./${sub}`]!.default),
  );

describe('import graph', () => {
  it('the hook sees a heavy package when it is loaded (control)', () => {
    const lazy = JSON.stringify(join(DIST, 'internal', 'lazy.js'));
    const r = loaded(`(await import(${lazy})).sigstoreSign();`);
    expect(r.packages).toContain('@sigstore/sign');
  });

  for (const sub of [
    '.',
    'manifest',
    'manifest/hash',
    'bundle',
    'sign',
    'verify',
    'trust',
    'scan',
    'load',
    'attest',
    'audit',
    'diff',
    'oci',
    'transformers',
  ]) {
    it(`importing ${sub === '.' ? 'the root' : sub} loads no heavy package`, () => {
      const r = loaded(`await import(${entry(sub)});`);
      expect(r.packages.filter((p) => HEAVY.includes(p))).toEqual([]);
    });
  }

  it('the hashing subpath loads neither the statement codec nor the checks', () => {
    const out = execFileSync(
      process.execPath,
      [
        '--import',
        HOOK,
        '--input-type=module',
        '-e',
        `await import(${entry('manifest/hash')});`,
      ],
      { encoding: 'utf8' },
    );
    const line = out.split('\n').find((l) => l.startsWith('LOADED '))!;
    const own = (JSON.parse(line.slice('LOADED '.length)) as { own: string[] })
      .own;
    expect(own).toContain('core/manifest/hash-model.js');
    for (const heavy of [
      'core/manifest/statement.js',
      'core/manifest/check-model.js',
      'core/manifest/compare.js',
      'core/manifest/index.js',
    ])
      expect(own).not.toContain(heavy);
  });

  it('key signing and verification with sha256 load no heavy package; keyless loads @sigstore/sign', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ms-graph-'));
    const model = join(dir, 'model');
    execFileSync('mkdir', [model]);
    writeFileSync(join(model, 'weights.bin'), 'abc');
    const { privateKey, publicKey } = generateKeyPairSync('ec', {
      namedCurve: 'P-256',
    });
    writeFileSync(
      join(dir, 'key.pem'),
      privateKey.export({ type: 'pkcs8', format: 'pem' }),
    );
    writeFileSync(
      join(dir, 'pub.pem'),
      publicKey.export({ type: 'spki', format: 'pem' }),
    );
    const sig = JSON.stringify(join(dir, 'model.sig'));
    const r = loaded(`const m = await import(${entry('.')});
      await m.signModel({ method: 'key', modelPath: ${JSON.stringify(model)}, signaturePath: ${sig}, privateKey: ${JSON.stringify(join(dir, 'key.pem'))} });
      const v = await m.verifyModelSignature({ method: 'key', modelPath: ${JSON.stringify(model)}, bundlePath: ${sig}, publicKey: ${JSON.stringify(join(dir, 'pub.pem'))} });
      if (v.signer.method !== 'key') throw new Error('not verified');`);
    expect(r.packages.filter((p) => HEAVY.includes(p))).toEqual([]);
    const keyless = loaded(`const m = await import(${entry('.')});
      try { await m.signWithSigstore(Buffer.from('{}'), { identityToken: 'x', fulcioURL: 'http://127.0.0.1:9', rekorURL: 'http://127.0.0.1:9', retries: 0, timeoutMs: 500 }); } catch {}`);
    expect(keyless.packages).toContain('@sigstore/sign');
  });
});
