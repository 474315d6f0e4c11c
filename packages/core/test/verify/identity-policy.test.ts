// SPDX-License-Identifier: Apache-2.0
// Issue 12 items 1 and 2: who may sign. A certificate bundle verified with an
// identity policy accepts the right leaf and rejects another leaf of the SAME
// CA; a key can be pinned by fingerprint; identity regular expressions cannot
// escape their anchors (one function for every method).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isModelSealError } from '../../src/errors.js';
import {
  anchoredRegExp,
  identityMatcher,
} from '../../src/internal/identity-pattern.js';
import { keyFingerprint } from '../../src/internal/key-fingerprint.js';
import { signModel } from '../../src/sign/index.js';
import type { CertificateIdentityConstraint } from '../../src/verify/certificate-policy.js';
import { verifySigstoreBundle } from '../../src/verify/sigstore.js';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import {
  createPki,
  issue,
  LEAF_EXTENSIONS,
  type TestCert,
  type TestPki,
} from '../helpers/pki.js';
import { makeTree, tempDir } from '../helpers/tree.js';

let pki: TestPki;
let release: TestCert;
let mallory: TestCert;
let model: string;
let releaseSig: string;
let mallorySig: string;
let keySig: string;

const FULCIO_ISSUER_OID = '1.3.6.1.4.1.57264.1.8';
// DER UTF8String "https://issuer.example" (22 bytes) inside the extension.
const issuerExt = `${FULCIO_ISSUER_OID}=DER:0c16${Buffer.from('https://issuer.example').toString('hex')}`;

async function signWith(leaf: TestCert, name: string): Promise<string> {
  const signaturePath = join(tempDir(), name);
  await signModel({
    method: 'certificate',
    modelPath: model,
    signaturePath,
    privateKey: leaf.keyPath,
    signingCertificate: leaf.certPath,
    certificateChain: [pki.intermediate.certPath],
    concurrency: 0,
  });
  return signaturePath;
}

const verifyCert = (
  bundlePath: string,
  identityPolicy?: readonly CertificateIdentityConstraint[],
) =>
  verifyModelSignature({
    method: 'certificate',
    modelPath: model,
    bundlePath,
    trustAnchors: [pki.root.certPath],
    concurrency: 0,
    ...(identityPolicy === undefined ? {} : { identityPolicy }),
  });

async function failure(p: Promise<unknown>) {
  try {
    await p;
  } catch (error) {
    if (isModelSealError(error)) return error;
    throw error;
  }
  throw new Error('expected a failure');
}

beforeAll(async () => {
  pki = createPki();
  release = issue(pki.dir, {
    name: 'release',
    subject: '/O=Acme/CN=release-signer',
    issuer: pki.intermediate,
    extensions: [
      ...LEAF_EXTENSIONS,
      'subjectAltName=email:release@acme.example,URI:https://ci.acme.example/release,DNS:signer.acme.example',
      issuerExt,
    ],
  });
  // Same CA, same kind of leaf, another identity.
  mallory = issue(pki.dir, {
    name: 'mallory',
    subject: '/O=Acme/CN=mallory',
    issuer: pki.intermediate,
    extensions: [
      ...LEAF_EXTENSIONS,
      'subjectAltName=email:mallory-release@acme.example.evil.com,URI:https://ci.acme.example/release/../evil',
    ],
  });
  model = makeTree({ 'weights.bin': 'w', 'config.json': '{}' });
  releaseSig = await signWith(release, 'release.sig');
  mallorySig = await signWith(mallory, 'mallory.sig');
  keySig = join(tempDir(), 'key.sig');
  await signModel({
    method: 'key',
    modelPath: model,
    signaturePath: keySig,
    privateKey: release.keyPath,
    concurrency: 0,
  });
});
afterAll(() => pki.cleanup());

describe('verify certificate: identity policy on the leaf', () => {
  const policy: CertificateIdentityConstraint[] = [
    { field: 'san', value: 'https://ci.acme.example/release' },
    { field: 'email', value: 'release@acme.example' },
    { field: 'uri', regexp: 'https://ci\\.acme\\.example/[a-z]+' },
    { field: 'dns', value: 'signer.acme.example' },
    { field: 'subject', value: 'O=Acme, CN=release-signer' },
    { field: 'oidc-issuer', value: 'https://issuer.example' },
    { field: 'eku', value: 'codeSigning' },
  ];

  it('without a policy, any leaf of the CA verifies (the hole the policy closes)', async () => {
    await expect(verifyCert(mallorySig)).resolves.toMatchObject({ ok: true });
  });

  it('accepts the right leaf when every constraint holds', async () => {
    const r = await verifyCert(releaseSig, policy);
    expect(r.signer).toMatchObject({
      method: 'certificate',
      certificate: { subject: 'O=Acme, CN=release-signer' },
    });
  });

  it('rejects another leaf of the same CA, naming each mismatch with expected and actual', async () => {
    const error = await failure(verifyCert(mallorySig, policy));
    expect(error.code).toBe('IDENTITY_MISMATCH');
    expect(error.message).toContain(
      'expected SAN email = "release@acme.example", certificate has "mallory-release@acme.example.evil.com"',
    );
    expect(error.message).toContain('expected OIDC issuer');
    expect(error.message).toContain('certificate has no OIDC issuer');
    expect(error.message).toContain('certificate has no SAN DNS name');
    const mismatches = (error.details as { mismatches: { field: string }[] })
      .mismatches;
    expect(mismatches.map((m) => m.field)).toEqual([
      'san',
      'email',
      'uri',
      'dns',
      'subject',
      'oidc-issuer',
    ]);
  });

  it('all constraints must hold: one failing constraint among passing ones fails', async () => {
    const error = await failure(
      verifyCert(releaseSig, [
        { field: 'email', value: 'release@acme.example' },
        { field: 'eku', value: 'serverAuth' },
      ]),
    );
    expect(error.code).toBe('IDENTITY_MISMATCH');
    expect(error.message).toContain('extended key usage serverAuth');
  });

  it('exact values are literal and whole; regexps are anchored', async () => {
    for (const c of [
      { field: 'email', value: 'release@acme.exampl' },
      { field: 'email', value: 'release@acme.example.' },
      { field: 'email', regexp: 'release@acme' },
      { field: 'uri', regexp: 'https://ci.acme.example' },
      { field: 'subject', value: 'CN=release-signer' },
    ] as CertificateIdentityConstraint[]) {
      expect((await failure(verifyCert(releaseSig, [c]))).code).toBe(
        'IDENTITY_MISMATCH',
      );
    }
    await expect(
      verifyCert(releaseSig, [{ field: 'email', regexp: 'release@acme\\..*' }]),
    ).resolves.toMatchObject({ ok: true });
  });

  it('a malformed policy is a usage error, before the bundle is read', async () => {
    for (const bad of [
      [{ field: 'email' }],
      [{ field: 'email', value: 'a', regexp: 'b' }],
      [{ field: 'email', value: ['a', 'b'] }],
      [{ field: 'subjectAltName', value: 'a' }],
      [{ field: 'eku', value: 'launchMissiles' }],
      [{ field: 'eku', regexp: '.*' }],
      [{ field: 'email', regexp: 'x)|(.*' }],
    ]) {
      const error = await failure(
        verifyModelSignature({
          method: 'certificate',
          modelPath: model,
          bundlePath: join(tempDir(), 'does-not-exist.sig'),
          trustAnchors: [pki.root.certPath],
          identityPolicy: bad as unknown as CertificateIdentityConstraint[],
        }),
      );
      expect(error.code).toBe('INVALID_OPTIONS');
    }
  });
});

describe('verify key: fingerprint pin', () => {
  it('the right pin (as verify prints it, any case) verifies', async () => {
    const fp = keyFingerprint(release.publicKey);
    for (const pin of [`sha256:${fp}`, fp.toUpperCase()]) {
      const r = await verifyModelSignature({
        method: 'key',
        modelPath: model,
        bundlePath: keySig,
        publicKey: release.publicKeyPath,
        keyFingerprint: pin,
        concurrency: 0,
      });
      expect(r.signer).toMatchObject({ method: 'key', fingerprint: fp });
    }
  });

  it('a key file that is not the pinned key fails with KEY_MISMATCH', async () => {
    const error = await failure(
      verifyModelSignature({
        method: 'key',
        modelPath: model,
        bundlePath: keySig,
        publicKey: release.publicKeyPath,
        keyFingerprint: `sha256:${keyFingerprint(mallory.publicKey)}`,
      }),
    );
    expect(error.code).toBe('KEY_MISMATCH');
    expect(error.message).toContain(
      `the key has sha256:${keyFingerprint(release.publicKey)}`,
    );
  });

  it('a malformed pin is a usage error', async () => {
    for (const pin of ['sha256:abc', 'md5:00', ['a', 'b']]) {
      const error = await failure(
        verifyModelSignature({
          method: 'key',
          modelPath: model,
          bundlePath: keySig,
          publicKey: release.publicKeyPath,
          keyFingerprint: pin as string,
        }),
      );
      expect(error.code).toBe('INVALID_OPTIONS');
    }
  });
});

describe('identity regexps cannot escape their anchors', () => {
  it('a pattern that only compiles once wrapped is refused', () => {
    // `^(?:x)|(.*)$` compiles and matches everything: it must never be built.
    expect(new RegExp('^(?:x)|(.*)$', 'u').test('anyone@evil.com')).toBe(true);
    for (const p of ['x)|(.*', 'a)|(?:', ')(', '\\']) {
      expect(() => anchoredRegExp(p, 'identity regular expression')).toThrow(
        expect.objectContaining({ code: 'INVALID_OPTIONS' }) as Error,
      );
    }
  });

  it('a compiling pattern is anchored on the whole value', () => {
    const m = identityMatcher(undefined, 'a|b', 'identity', true);
    expect(['a', 'b'].map((v) => m.test(v))).toEqual([true, true]);
    expect(['ab', 'xa', 'bx'].map((v) => m.test(v))).toEqual([
      false,
      false,
      false,
    ]);
  });

  it('one value only: an array (a repeated flag) or both forms are refused', () => {
    expect(() => identityMatcher(['a', 'b'], undefined, 'identity')).toThrow(
      /single string/,
    );
    expect(() => identityMatcher('a', 'b', 'identity')).toThrow(/exactly one/);
  });

  it('the sigstore method uses the same check: the breakout is INVALID_OPTIONS before any trust is loaded', async () => {
    for (const policy of [
      { identityRegExp: 'x)|(.*', issuer: 'https://issuer.example' },
      { identity: 'a@b.example', issuerRegExp: 'x)|(.*' },
      {
        identity: ['a@b.example', 'c@d.example'] as unknown as string,
        issuer: 'https://issuer.example',
      },
    ]) {
      await expect(verifySigstoreBundle({}, policy)).rejects.toHaveCode(
        'INVALID_OPTIONS',
      );
    }
  });
});
