// SPDX-License-Identifier: Apache-2.0
// Threat: the model on disk was changed after signing (a byte, a file added,
// removed, renamed, replaced). Every difference is reported, with its code.
import {
  mkdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isModelSealError } from '../../src/errors.js';
import { signModel } from '../../src/sign/sign-model.js';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import { newKey, type TestKey } from '../helpers/pki.js';
import { makeTree, tempDir } from '../helpers/tree.js';

let key: TestKey;
beforeAll(() => {
  key = newKey(tempDir(), 'signer', 'P-256');
});

async function signed(
  files: Record<string, string>,
  options: { serialization?: 'files' | 'shards' } = {},
): Promise<{ model: string; sig: string }> {
  const model = makeTree(files);
  const sig = join(model, 'model.sig');
  await signModel({
    method: 'key',
    modelPath: model,
    signaturePath: sig,
    privateKey: key.keyPath,
    concurrency: 0,
    ...(options.serialization === 'shards'
      ? { serialization: 'shards', shardSize: 4 }
      : {}),
  });
  return { model, sig };
}

function verify(
  model: string,
  sig: string,
  extra: { ignoreUnsignedFiles?: boolean } = {},
) {
  return verifyModelSignature({
    method: 'key',
    modelPath: model,
    bundlePath: sig,
    publicKey: key.publicKeyPath,
    concurrency: 0,
    ...extra,
  });
}

async function mismatch(
  model: string,
  sig: string,
  extra: { ignoreUnsignedFiles?: boolean } = {},
) {
  const error = await verify(model, sig, extra).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toHaveCode('MANIFEST_MISMATCH');
  if (!isModelSealError(error)) throw new Error('unreachable');
  return error.details as {
    missing: { name: string }[];
    extra: { name: string }[];
    changed: {
      name: string;
      expected: { digest: string };
      actual: { digest: string };
    }[];
    signer: { method: string };
  };
}

const FILES = { 'a.bin': 'aaaaaaaaaa', 'dir/b.bin': 'bbbb', 'c.txt': 'c' };

describe('tampered model (files)', () => {
  it('untouched: verifies', async () => {
    const { model, sig } = await signed(FILES);
    await expect(verify(model, sig)).resolves.toMatchObject({ ok: true });
  });

  it('a changed byte: changed, with both digests, and the verified signer', async () => {
    const { model, sig } = await signed(FILES);
    writeFileSync(join(model, 'dir/b.bin'), 'bbbB');
    const d = await mismatch(model, sig);
    expect(d.changed.map((c) => c.name)).toEqual(['dir/b.bin']);
    expect(d.changed[0]!.expected.digest).not.toBe(d.changed[0]!.actual.digest);
    expect(d.missing).toEqual([]);
    expect(d.extra).toEqual([]);
    expect(d.signer.method).toBe('key');
  });

  it('an added file: extra; tolerated with ignoreUnsignedFiles (and reported)', async () => {
    const { model, sig } = await signed(FILES);
    writeFileSync(join(model, 'injected.py'), 'import os');
    const d = await mismatch(model, sig);
    expect(d.extra.map((r) => r.name)).toEqual(['injected.py']);
    const r = await verify(model, sig, { ignoreUnsignedFiles: true });
    expect(r.compare.extra.map((x) => x.name)).toEqual(['injected.py']);
    expect(r.warnings.map((w) => w.code)).toContain('UNSIGNED_FILES_TOLERATED');
  });

  it('a removed file: missing, even with ignoreUnsignedFiles', async () => {
    const { model, sig } = await signed(FILES);
    rmSync(join(model, 'c.txt'));
    expect((await mismatch(model, sig)).missing.map((r) => r.name)).toEqual([
      'c.txt',
    ]);
    expect(
      (await mismatch(model, sig, { ignoreUnsignedFiles: true })).missing.map(
        (r) => r.name,
      ),
    ).toEqual(['c.txt']);
  });

  it('a renamed file: missing and extra', async () => {
    const { model, sig } = await signed(FILES);
    renameSync(join(model, 'a.bin'), join(model, 'a2.bin'));
    const d = await mismatch(model, sig);
    expect(d.missing.map((r) => r.name)).toEqual(['a.bin']);
    expect(d.extra.map((r) => r.name)).toEqual(['a2.bin']);
  });

  it('every difference is reported at once', async () => {
    const { model, sig } = await signed(FILES);
    writeFileSync(join(model, 'a.bin'), 'x');
    rmSync(join(model, 'c.txt'));
    writeFileSync(join(model, 'new.bin'), 'n');
    const d = await mismatch(model, sig);
    expect([d.changed.length, d.missing.length, d.extra.length]).toEqual([
      1, 1, 1,
    ]);
  });

  it('a file replaced by a directory: missing', async () => {
    const { model, sig } = await signed(FILES);
    rmSync(join(model, 'c.txt'));
    mkdirSync(join(model, 'c.txt'));
    writeFileSync(join(model, 'c.txt', 'inner'), 'i');
    const d = await mismatch(model, sig);
    expect(d.missing.map((r) => r.name)).toEqual(['c.txt']);
  });

  it('a symlink planted in a model signed without symlinks is refused', async () => {
    const { model, sig } = await signed(FILES);
    rmSync(join(model, 'c.txt'));
    const outside = join(tempDir(), 'c.txt');
    writeFileSync(outside, 'c');
    symlinkSync(outside, join(model, 'c.txt'));
    await expect(verify(model, sig)).rejects.toHaveCode('SYMLINK_NOT_ALLOWED');
  });
});

describe('tampered model (shards)', () => {
  it('a changed byte in the second shard', async () => {
    const { model, sig } = await signed(
      { 'w.bin': 'aaaabbbbcc' },
      { serialization: 'shards' },
    );
    await expect(verify(model, sig)).resolves.toMatchObject({ ok: true });
    writeFileSync(join(model, 'w.bin'), 'aaaabbBbcc');
    expect((await mismatch(model, sig)).changed.map((c) => c.name)).toEqual([
      'w.bin:4:8',
    ]);
  });

  it('a truncated file: the shards past the cut are missing, a shorter one is changed (its file is signed)', async () => {
    const { model, sig } = await signed(
      { 'w.bin': 'aaaabbbbcc' },
      { serialization: 'shards' },
    );
    writeFileSync(join(model, 'w.bin'), 'aaaabbb');
    const d = await mismatch(model, sig);
    expect(d.missing.map((r) => r.name)).toEqual(['w.bin:4:8', 'w.bin:8:10']);
    expect(d.extra).toEqual([]);
    expect(d.changed.map((c) => c.name)).toEqual(['w.bin:4:7']);
  });

  it('extra files are tolerated in shard bundles with ignoreUnsignedFiles (the reference cannot)', async () => {
    const { model, sig } = await signed(
      { 'w.bin': 'aaaabbbbcc' },
      { serialization: 'shards' },
    );
    writeFileSync(join(model, 'x.bin'), 'xx');
    await mismatch(model, sig);
    await expect(
      verify(model, sig, { ignoreUnsignedFiles: true }),
    ).resolves.toMatchObject({ ok: true });
  });

  it('documented limitation: an added empty file is invisible to a shard signature', async () => {
    const { model, sig } = await signed(
      { 'w.bin': 'aaaabbbbcc' },
      { serialization: 'shards' },
    );
    writeFileSync(join(model, 'empty'), '');
    await expect(verify(model, sig)).resolves.toMatchObject({ ok: true });
  });
});
