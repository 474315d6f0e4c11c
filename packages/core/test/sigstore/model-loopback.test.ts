// SPDX-License-Identifier: Apache-2.0
// A model signed keylessly through signModel against the loopback Sigstore, then
// verified with verifyModelSignature: the keyless layer plugged into the
// orchestration, end to end, offline.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { signModel } from '../../src/sign/sign-model.js';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import { mintOIDCToken } from '../helpers/sigstore-server.js';

const url = inject('sigstoreURL');
const trustedRoot = inject('sigstoreTrustedRootPath');
const identity = inject('sigstoreIdentity');
const issuer = inject('sigstoreOIDCIssuer');

let dir: string;
let model: string;
let bundlePath: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'modelseal-keyless-model-'));
  model = join(dir, 'model');
  bundlePath = join(dir, 'model.sig');
  mkdirSync(model);
  writeFileSync(join(model, 'config.json'), '{"hidden":8}');
  writeFileSync(join(model, 'weights.bin'), Buffer.alloc(4096, 7));
  await signModel({
    method: 'sigstore',
    modelPath: model,
    signaturePath: bundlePath,
    identityToken: mintOIDCToken(),
    fulcioURL: url,
    rekorURL: url,
    tsaURL: null,
    rekorEntryType: 'intoto',
    retries: 0,
  });
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('keyless model signing over the loopback Sigstore', () => {
  it('verifies with the loopback root and the exact identity', async () => {
    const result = await verifyModelSignature({
      method: 'sigstore',
      modelPath: model,
      bundlePath,
      identity,
      issuer,
      trustedRoot,
    });
    expect(result.signer).toMatchObject({
      method: 'sigstore',
      identity,
      issuer,
    });
  });

  it('a near-miss identity fails with IDENTITY_MISMATCH', async () => {
    await expect(
      verifyModelSignature({
        method: 'sigstore',
        modelPath: model,
        bundlePath,
        identity: identity.slice(0, -1),
        issuer,
        trustedRoot,
      }),
    ).rejects.toHaveCode('IDENTITY_MISMATCH');
  });

  it('the public-good root rejects the loopback certificate', async () => {
    await expect(
      verifyModelSignature({
        method: 'sigstore',
        modelPath: model,
        bundlePath,
        identity,
        issuer,
      }),
    ).rejects.toHaveCode('CERTIFICATE_INVALID');
  });

  it('a changed weight file fails with MANIFEST_MISMATCH', async () => {
    writeFileSync(join(model, 'weights.bin'), Buffer.alloc(4096, 8));
    await expect(
      verifyModelSignature({
        method: 'sigstore',
        modelPath: model,
        bundlePath,
        identity,
        issuer,
        trustedRoot,
      }),
    ).rejects.toHaveCode('MANIFEST_MISMATCH');
  });
});
