// SPDX-License-Identifier: Apache-2.0
// The BLAKE3 binding is optional: without it, importing the library and hashing
// with sha256 work, and asking for blake3 is a one-line UNSUPPORTED_ALGORITHM
// error naming the package (issue: a missing binding broke every import).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/vectors.js';

const HOOK = join(REPO_ROOT, 'packages/core/test/packaging/no-blake3-hook.mjs');
// The built library (`pnpm build`, as the CLI tests use): the sources import .js names.
const CORE = join(REPO_ROOT, 'packages/core/dist/index.js');

function run(code: string): string {
  return execFileSync(
    process.execPath,
    ['--import', HOOK, '--input-type=module', '-e', code],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
}

describe('optional BLAKE3 binding', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ms-noblake3-'));
  writeFileSync(join(dir, 'weights.bin'), 'abc');

  it('the hook really hides the binding', () => {
    expect(() => run(`await import('@napi-rs/blake-hash');`)).toThrow(
      /Cannot find module/,
    );
  });

  it('imports and hashes with sha256 without it', () => {
    const out = run(
      `const m = await import(${JSON.stringify(CORE)});
       const r = await m.hashModel(${JSON.stringify(dir)});
       console.log(r.manifest.resources.map((x) => x.digest).join(','));`,
    );
    expect(out.trim()).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('asking for blake3 is UNSUPPORTED_ALGORITHM naming the package', () => {
    const out = run(
      `const m = await import(${JSON.stringify(CORE)});
       try { await m.hashModel(${JSON.stringify(dir)}, { hashAlgorithm: 'blake3' }); console.log('no error'); }
       catch (e) { console.log(e.code + ' ' + e.message); }`,
    );
    expect(out.trim()).toMatch(
      /^UNSUPPORTED_ALGORITHM blake3 needs @napi-rs\/blake-hash's native package for this platform/,
    );
    expect(out.trim().split('\n')).toHaveLength(1);
  });
});
