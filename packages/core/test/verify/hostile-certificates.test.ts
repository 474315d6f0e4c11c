// SPDX-License-Identifier: Apache-2.0
/* eslint-disable @typescript-eslint/no-explicit-any -- tests edit arbitrary bundle JSON */
// Hostile certificate bundles: a path-building DoS web, too many chain
// certificates, unparsable certificates, and options that must be refused.
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBundle } from '../../src/bundle/read.js';
import { createCertificateSigner } from '../../src/sign/certificate.js';
import {
  buildCertificatePath,
  MAX_INTERMEDIATES,
} from '../../src/verify/chain.js';
import { verifyCertificateBundleSignature } from '../../src/verify/certificate.js';
import { verifyKeyBundleSignature } from '../../src/verify/key.js';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import { signPayload } from '../helpers/forge.js';
import {
  createPki,
  issue,
  LEAF_EXTENSIONS,
  newKey,
  type TestPki,
} from '../helpers/pki.js';
import { tempDir } from '../helpers/tree.js';
import { vectorPath } from '../helpers/vectors.js';

const x509 = (p: string): X509Certificate =>
  new X509Certificate(readFileSync(p));
let pki: TestPki;
beforeAll(() => {
  pki = createPki();
});
afterAll(() => pki.cleanup());

describe('path-building denial of service', () => {
  it('a web of cross-signed CA certificates (same key, same name) gives up quickly', () => {
    const key = newKey(pki.dir, 'web');
    const web = Array.from({ length: MAX_INTERMEDIATES }, (_, i) =>
      x509(
        issue(pki.dir, { name: `web-${i}`, subject: '/CN=web', key, days: 30 })
          .certPath,
      ),
    );
    const leaf = issue(pki.dir, {
      name: 'web-leaf',
      issuer: {
        ...key,
        certPath: join(pki.dir, 'web-0.pem'),
        certPem: '',
        name: 'web-0',
      },
      extensions: LEAF_EXTENSIONS,
    });
    const start = Date.now();
    let error: unknown;
    try {
      buildCertificatePath(
        x509(leaf.certPath),
        web,
        [x509(pki.root.certPath)],
        new Date(),
      );
    } catch (e) {
      error = e;
    }
    expect(error).toHaveCode('CERTIFICATE_INVALID');
    // The search budget, not an exhaustive walk of 32^9 paths, ended it.
    expect((error as Error).message).toContain('gave up');
    expect(Date.now() - start).toBeLessThan(10_000);
  });

  it(`more than ${MAX_INTERMEDIATES} chain certificates are refused`, () => {
    const inter = x509(pki.intermediate.certPath);
    const many = Array.from({ length: MAX_INTERMEDIATES + 1 }, () => inter);
    expect(() =>
      buildCertificatePath(
        x509(pki.leaf.certPath),
        many,
        [x509(pki.root.certPath)],
        new Date(),
      ),
    ).toThrowWithCode('CERTIFICATE_INVALID');
  });
});

describe('malformed certificate material', () => {
  it('an unparsable leaf in a certificate bundle is BUNDLE_MALFORMED', async () => {
    const { signer } = await createCertificateSigner({
      privateKey: pki.leaf.keyPath,
      signingCertificate: pki.leaf.certPath,
    });
    const json = (await signer.sign(Buffer.from('{}'))) as any;
    json.verificationMaterial.x509CertificateChain.certificates[0].rawBytes =
      Buffer.from('0\x03\x02\x01\x00').toString('base64');
    expect(() =>
      verifyCertificateBundleSignature(parseBundle(json), [
        x509(pki.root.certPath),
      ]),
    ).toThrowWithCode('BUNDLE_MALFORMED');
  });

  it('RFC 3161 timestamps in a certificate bundle are reported as not checked', async () => {
    const { signer } = await createCertificateSigner({
      privateKey: pki.leaf.keyPath,
      signingCertificate: pki.leaf.certPath,
      certificateChain: [pki.intermediate.certPath],
    });
    const json = (await signer.sign(Buffer.from('{}'))) as any;
    json.verificationMaterial.timestampVerificationData = {
      rfc3161Timestamps: [{ signedTimestamp: 'AAAA' }],
    };
    const r = verifyCertificateBundleSignature(parseBundle(json), [
      x509(pki.root.certPath),
    ]);
    expect(r.warnings.map((w) => w.code)).toEqual(['TIMESTAMP_NOT_CHECKED']);
    expect(r.validityTimeSource).toBe('current-time');
  });

  it('trust anchors as DER bytes and as a multi-certificate PEM', async () => {
    const v = 'oms-reference/v1.1.0-certificate';
    const der = x509(vectorPath('oms-reference/keys/ca-cert.pem')).raw;
    const pem = Buffer.concat([
      readFileSync(pki.root.certPath),
      readFileSync(vectorPath('oms-reference/keys/ca-cert.pem')),
    ]);
    for (const anchor of [der, pem]) {
      const r = await verifyModelSignature({
        method: 'certificate',
        modelPath: vectorPath(v),
        bundlePath: vectorPath(`${v}/model.sig`),
        trustAnchors: [anchor],
      });
      expect(r.signer.method).toBe('certificate');
    }
  });

  it('an anchor file without certificates is CERTIFICATE_INVALID; a missing one IO_ERROR', async () => {
    const v = 'oms-reference/v1.1.0-certificate';
    const base = {
      method: 'certificate' as const,
      modelPath: vectorPath(v),
      bundlePath: vectorPath(`${v}/model.sig`),
    };
    const empty = join(tempDir(), 'empty.pem');
    writeFileSync(empty, 'nothing here');
    await expect(
      verifyModelSignature({ ...base, trustAnchors: [empty] }),
    ).rejects.toHaveCode('CERTIFICATE_INVALID');
    await expect(
      verifyModelSignature({
        ...base,
        trustAnchors: [join(tempDir(), 'none.pem')],
      }),
    ).rejects.toHaveCode('IO_ERROR');
    await expect(
      verifyModelSignature({
        ...base,
        trustAnchors: [vectorPath('oms-reference/keys/ca-cert.pem')],
        verificationTime: new Date('x'),
      }),
    ).rejects.toHaveCode('INVALID_OPTIONS');
  });
});

describe('key bundles with odd material', () => {
  it('rawBytes that is not a key: the signature decides', () => {
    const key = newKey(tempDir(), 'k');
    const json = signPayload(key.privateKey, Buffer.from('{}')) as any;
    json.verificationMaterial.publicKey = {
      rawBytes: Buffer.from('not a key').toString('base64'),
    };
    expect(
      verifyKeyBundleSignature(parseBundle(json), key.publicKey).signer.method,
    ).toBe('key');
    const other = newKey(tempDir(), 'o');
    expect(() =>
      verifyKeyBundleSignature(parseBundle(json), other.publicKey),
    ).toThrowWithCode('SIGNATURE_INVALID');
  });

  it('rawBytes of another key: KEY_MISMATCH even when the signature would verify', () => {
    const key = newKey(tempDir(), 'k');
    const other = newKey(tempDir(), 'o');
    const json = signPayload(key.privateKey, Buffer.from('{}')) as any;
    json.verificationMaterial.publicKey = {
      rawBytes: Buffer.from(
        other.publicKey.export({ type: 'spki', format: 'pem' }),
      ).toString('base64'),
    };
    expect(() =>
      verifyKeyBundleSignature(parseBundle(json), key.publicKey),
    ).toThrowWithCode('KEY_MISMATCH');
  });

  it('a bad DER signature is SIGNATURE_INVALID, not a crash', () => {
    const key = newKey(tempDir(), 'k');
    const json = signPayload(key.privateKey, Buffer.from('{}')) as any;
    json.dsseEnvelope.signatures[0].sig = Buffer.from([
      0x30, 0x02, 0x02, 0x00,
    ]).toString('base64');
    expect(() =>
      verifyKeyBundleSignature(parseBundle(json), key.publicKey),
    ).toThrowWithCode('SIGNATURE_INVALID');
  });
});

describe('verifyModelSignature options', () => {
  it('missing paths and unknown methods are INVALID_OPTIONS', async () => {
    const pub = vectorPath('oms-reference/keys/signing-key-pub.pem');
    await expect(
      verifyModelSignature({
        method: 'key',
        modelPath: '',
        bundlePath: 'x',
        publicKey: pub,
      }),
    ).rejects.toHaveCode('INVALID_OPTIONS');
    await expect(
      verifyModelSignature({
        method: 'key',
        modelPath: 'x',
        bundlePath: '',
        publicKey: pub,
      }),
    ).rejects.toHaveCode('INVALID_OPTIONS');
    await expect(
      verifyModelSignature({
        method: 'pgp',
        modelPath: 'x',
        bundlePath: 'y',
      } as never),
    ).rejects.toHaveCode('INVALID_OPTIONS');
  });
});
