// SPDX-License-Identifier: Apache-2.0
// Threat (stop 29 red team): the signer allowed symlinks; a link to a
// directory is skipped when hashing (as the reference skips it), so one
// added after signing (`onnx -> ../evil`) put files a loader reads into the
// model and verification still passed, with no word of it. It is now an
// unsigned entry `onnx/`, and signing warns about one it skips.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
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

function sign(model: string, sig: string, ignorePaths?: string[]) {
  return signModel({
    method: 'key',
    modelPath: model,
    signaturePath: sig,
    privateKey: key.keyPath,
    allowSymlinks: true,
    concurrency: 0,
    ...(ignorePaths === undefined ? {} : { ignorePaths }),
  });
}

function verify(model: string, sig: string, ignoreUnsignedFiles = false) {
  return verifyModelSignature({
    method: 'key',
    modelPath: model,
    bundlePath: sig,
    publicKey: key.publicKeyPath,
    concurrency: 0,
    ignoreUnsignedFiles,
  });
}

/** A model of one file and, beside it, a folder an attacker controls. */
function setup(): { model: string; evil: string; sig: string } {
  const base = tempDir();
  const model = join(base, 'model');
  mkdirSync(model);
  writeFileSync(join(model, 'config.json'), '{}');
  const evil = join(base, 'evil');
  mkdirSync(evil);
  writeFileSync(join(evil, 'modeling_evil.py'), 'import os\n');
  return { model, evil, sig: join(base, 'model.sig') };
}

describe('links to directories in a model signed with symlinks allowed', () => {
  it('a link added after signing is an unsigned entry, and fails', async () => {
    const { model, evil, sig } = setup();
    await sign(model, sig);
    await expect(verify(model, sig)).resolves.toMatchObject({ ok: true });
    symlinkSync(evil, join(model, 'onnx'));
    const error = await verify(model, sig).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toHaveCode('MANIFEST_MISMATCH');
    if (!isModelSealError(error)) throw new Error('unreachable');
    const details = error.details as { extra: { name: string }[] };
    expect(details.extra.map((r) => r.name)).toEqual(['onnx/']);
  });

  it('ignoreUnsignedFiles tolerates it, as any unsigned entry, and says so', async () => {
    const { model, evil, sig } = setup();
    await sign(model, sig);
    symlinkSync(evil, join(model, 'onnx'));
    const result = await verify(model, sig, true);
    expect(result.ok).toBe(true);
    expect(result.warnings.map((w) => w.code)).toContain(
      'SYMLINK_TO_DIRECTORY',
    );
  });

  it('signing warns about a link it skips', async () => {
    const { model, evil, sig } = setup();
    symlinkSync(evil, join(model, 'onnx'));
    const result = await sign(model, sig);
    expect(result.warnings).toContainEqual(
      expect.objectContaining({ code: 'SYMLINK_TO_DIRECTORY', path: 'onnx' }),
    );
    // And the bundle then fails verification until the link is left out.
    await expect(verify(model, sig)).rejects.toHaveCode('MANIFEST_MISMATCH');
  });

  it('an ignore path recorded by the signer leaves the link out', async () => {
    const { model, evil, sig } = setup();
    symlinkSync(evil, join(model, 'onnx'));
    const result = await sign(model, sig, [join(model, 'onnx')]);
    expect(result.warnings.map((w) => w.code)).not.toContain(
      'SYMLINK_TO_DIRECTORY',
    );
    await expect(verify(model, sig)).resolves.toMatchObject({ ok: true });
  });

  it('a link to a file is unchanged: hashed under its name', async () => {
    const model = makeTree({ 'a.bin': 'aaaa', 'c.bin': 'cccc' });
    symlinkSync(join(model, 'c.bin'), join(model, 'b.bin'));
    const sig = join(tempDir(), 'model.sig');
    await sign(model, sig);
    await expect(verify(model, sig)).resolves.toMatchObject({ ok: true });
  });
});
