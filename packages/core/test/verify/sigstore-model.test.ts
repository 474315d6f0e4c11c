// SPDX-License-Identifier: Apache-2.0
// signModel / verifyModelSignature with the sigstore method end to end,
// against the loopback Fulcio + Rekor of global-setup (no network).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { signModel } from '../../src/sign/sign-model.js';
import type { SignModelResult } from '../../src/sign/types.js';
import { inspectBundle } from '../../src/verify/inspect.js';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import type { VerifySigstoreOptions } from '../../src/verify/types.js';
import { mintOIDCToken } from '../helpers/sigstore-server.js';
import { makeTree } from '../helpers/tree.js';
import { vectorPath } from '../helpers/vectors.js';

const url = inject('sigstoreURL');
const trustedRoot = inject('sigstoreTrustedRootPath');
const ISSUER = inject('sigstoreOIDCIssuer');
const IDENTITY = inject('sigstoreIdentity');

let model: string;
let sig: string;
let signed: SignModelResult;
beforeAll(async () => {
  model = makeTree({ 'w.bin': 'weights', 'cfg/c.json': '{}' });
  sig = join(model, 'model.sig');
  signed = await signModel({
    method: 'sigstore',
    modelPath: model,
    signaturePath: sig,
    identityToken: mintOIDCToken(),
    fulcioURL: url,
    rekorURL: url,
    tsaURL: null,
    rekorEntryType: 'intoto',
    timeoutMs: 10_000,
    retries: 0,
    concurrency: 0,
  });
});

function options(
  extra: Partial<VerifySigstoreOptions> = {},
): VerifySigstoreOptions {
  return {
    method: 'sigstore',
    modelPath: model,
    bundlePath: sig,
    identity: IDENTITY,
    issuer: ISSUER,
    trustedRoot,
    concurrency: 0,
    ...extra,
  };
}

describe('sigstore method through signModel and verifyModelSignature', () => {
  it('signs: the result names the certificate identity', () => {
    expect(signed.method).toBe('sigstore');
    expect(signed.signedBy).toEqual({
      method: 'sigstore',
      identity: IDENTITY,
      issuer: ISSUER,
    });
    expect(signed.manifest.resources.map((r) => r.name)).toEqual([
      'cfg/c.json',
      'w.bin',
    ]);
  });

  it('verifies with the exact identity and issuer; the time comes from the log', async () => {
    const r = await verifyModelSignature(options());
    expect(r.signer).toEqual({
      method: 'sigstore',
      identity: IDENTITY,
      issuer: ISSUER,
    });
    expect(r.signingTimeSource).toBe('tlog');
    expect(r.signingTime).toBeInstanceOf(Date);
    expect(r.manifest).toEqual(signed.manifest);
  });

  it('wrong identity or issuer: IDENTITY_MISMATCH', async () => {
    await expect(
      verifyModelSignature(options({ identity: `x${IDENTITY}` })),
    ).rejects.toHaveCode('IDENTITY_MISMATCH');
    await expect(
      verifyModelSignature(options({ issuer: `${ISSUER}/evil` })),
    ).rejects.toHaveCode('IDENTITY_MISMATCH');
  });

  it('inspect shows the claimed identity, unverified', async () => {
    const r = await inspectBundle(sig);
    expect(r).toMatchObject({
      verified: false,
      method: 'sigstore',
      signer: { identity: IDENTITY, issuer: ISSUER },
    });
  });

  it('verified as a key bundle: METHOD_MISMATCH', async () => {
    await expect(
      verifyModelSignature({
        method: 'key',
        modelPath: model,
        bundlePath: sig,
        publicKey: vectorPath('oms-reference/keys/signing-key-pub.pem'),
      }),
    ).rejects.toHaveCode('METHOD_MISMATCH');
  });

  it('a changed file after sigstore signing: MANIFEST_MISMATCH', async () => {
    const copy = makeTree({ 'w.bin': 'weights', 'cfg/c.json': '{"x":1}' });
    await expect(
      verifyModelSignature(options({ modelPath: copy })),
    ).rejects.toHaveCode('MANIFEST_MISMATCH');
  });

  it('FILE_EXISTS before contacting any service', async () => {
    const other = makeTree({ a: 'a' });
    const out = join(other, 'exists.sig');
    writeFileSync(out, 'x');
    await expect(
      signModel({
        method: 'sigstore',
        modelPath: other,
        signaturePath: out,
        identityToken: 'not-a-token',
        fulcioURL: url,
        rekorURL: url,
      }),
    ).rejects.toHaveCode('FILE_EXISTS');
  });
});
