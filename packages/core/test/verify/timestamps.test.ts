// SPDX-License-Identifier: Apache-2.0
/* eslint-disable @typescript-eslint/no-explicit-any -- tests edit arbitrary bundle JSON */
// RFC 3161 timestamps in key and certificate bundles: trusted only with the
// caller's TSA certificates, and then the time certificates are checked at.
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBundle } from '../../src/bundle/read.js';
import { createCertificateSigner } from '../../src/sign/certificate.js';
import { signModel } from '../../src/sign/sign-model.js';
import { verifyCertificateBundleSignature } from '../../src/verify/certificate.js';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import {
  createPki,
  issue,
  issueTsa,
  timestamp,
  type TestCert,
  type TestPki,
} from '../helpers/pki.js';
import { makeTree, tempDir } from '../helpers/tree.js';

const x509 = (c: TestCert): X509Certificate =>
  new X509Certificate(readFileSync(c.certPath));
let pki: TestPki;
let tsa: TestCert;
let otherTsa: TestCert;
beforeAll(() => {
  pki = createPki();
  tsa = issueTsa(pki.dir, pki.root);
  otherTsa = issueTsa(pki.dir, pki.root, 'other-tsa');
});
afterAll(() => pki.cleanup());

async function stampedBundle(
  stampWith: TestCert = tsa,
  over?: Buffer,
): Promise<Record<string, any>> {
  const { signer } = await createCertificateSigner({
    privateKey: pki.leaf.keyPath,
    signingCertificate: pki.leaf.certPath,
    certificateChain: [pki.intermediate.certPath],
  });
  const json = (await signer.sign(Buffer.from('{}'))) as any;
  const sig = Buffer.from(json.dsseEnvelope.signatures[0].sig, 'base64');
  const token = timestamp(pki.dir, stampWith, over ?? sig);
  json.verificationMaterial.timestampVerificationData = {
    rfc3161Timestamps: [{ signedTimestamp: token.toString('base64') }],
  };
  return json as Record<string, any>;
}

describe('certificate bundles with RFC 3161 timestamps', () => {
  it('a trusted timestamp sets the validity time', async () => {
    const before = Date.now() - 5_000;
    const r = verifyCertificateBundleSignature(
      parseBundle(await stampedBundle()),
      [x509(pki.root)],
      {
        timestampAuthorities: [x509(tsa)],
      },
    );
    expect(r.validityTimeSource).toBe('timestamp');
    expect(r.validityTime.getTime()).toBeGreaterThan(before);
    expect(r.timestampAuthority?.subject).toBe('CN=tsa');
    expect(r.warnings).toEqual([]);
  });

  it('the timestamp time takes precedence over a caller time at which the leaf is expired', async () => {
    const r = verifyCertificateBundleSignature(
      parseBundle(await stampedBundle()),
      [x509(pki.root)],
      {
        timestampAuthorities: [x509(tsa)],
        verificationTime: new Date(Date.now() + 365 * 86_400_000),
      },
    );
    expect(r.validityTimeSource).toBe('timestamp');
  });

  it('without trusted TSAs the timestamp is ignored, with a warning', async () => {
    const r = verifyCertificateBundleSignature(
      parseBundle(await stampedBundle()),
      [x509(pki.root)],
    );
    expect(r.validityTimeSource).toBe('current-time');
    expect(r.warnings.map((w) => w.code)).toEqual(['TIMESTAMP_NOT_CHECKED']);
  });

  it('a timestamp from an untrusted TSA: TLOG_INVALID', async () => {
    const bundle = parseBundle(await stampedBundle(otherTsa));
    expect(() =>
      verifyCertificateBundleSignature(bundle, [x509(pki.root)], {
        timestampAuthorities: [x509(tsa)],
      }),
    ).toThrowWithCode('TLOG_INVALID');
  });

  it('a timestamp over other data (replayed from another signature): TLOG_INVALID', async () => {
    const bundle = parseBundle(
      await stampedBundle(tsa, Buffer.from('some other signature')),
    );
    expect(() =>
      verifyCertificateBundleSignature(bundle, [x509(pki.root)], {
        timestampAuthorities: [x509(tsa)],
      }),
    ).toThrowWithCode('TLOG_INVALID');
  });

  it('a TSA certificate without the timeStamping usage is not trusted', async () => {
    // Same key, issuer and serial as the real TSA certificate, but no timeStamping usage.
    const serial = x509(tsa).serialNumber;
    const twin = issue(pki.dir, {
      name: 'tsa-twin',
      key: tsa,
      issuer: pki.root,
      serial,
      extensions: [
        'keyUsage=critical,digitalSignature',
        'extendedKeyUsage=codeSigning',
      ],
    });
    const bundle = parseBundle(await stampedBundle());
    expect(() =>
      verifyCertificateBundleSignature(bundle, [x509(pki.root)], {
        timestampAuthorities: [x509(twin)],
      }),
    ).toThrowWithCode('TLOG_INVALID');
    expect(
      verifyCertificateBundleSignature(bundle, [x509(pki.root)], {
        timestampAuthorities: [x509(twin), x509(tsa)],
      }).validityTimeSource,
    ).toBe('timestamp');
  });

  it('garbage timestamp bytes: TLOG_INVALID; non-base64: BUNDLE_MALFORMED', async () => {
    const json = await stampedBundle();
    json.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp =
      Buffer.from('junk').toString('base64');
    expect(() =>
      verifyCertificateBundleSignature(parseBundle(json), [x509(pki.root)], {
        timestampAuthorities: [x509(tsa)],
      }),
    ).toThrowWithCode('TLOG_INVALID');
    json.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp =
      '%%';
    expect(() => parseBundle(json)).toThrowWithCode('BUNDLE_MALFORMED');
  });
});

describe('verifyModelSignature with timestamp authorities', () => {
  it('key bundle: a trusted timestamp becomes the signing time', async () => {
    const model = makeTree({ 'w.bin': 'w' });
    const sig = join(tempDir(), 'model.sig');
    await signModel({
      method: 'key',
      modelPath: model,
      signaturePath: sig,
      privateKey: pki.leaf.keyPath,
      concurrency: 0,
    });
    const json = JSON.parse(readFileSync(sig, 'utf8'));
    const token = timestamp(
      pki.dir,
      tsa,
      Buffer.from(json.dsseEnvelope.signatures[0].sig, 'base64'),
    );
    json.verificationMaterial.timestampVerificationData = {
      rfc3161Timestamps: [{ signedTimestamp: token.toString('base64') }],
    };
    writeFileSync(sig, JSON.stringify(json));
    const base = {
      method: 'key' as const,
      modelPath: model,
      bundlePath: sig,
      publicKey: pki.leaf.publicKeyPath,
      concurrency: 0,
    };
    const untimed = await verifyModelSignature(base);
    expect(untimed.signingTimeSource).toBe('none');
    expect(untimed.warnings.map((w) => w.code)).toContain(
      'TIMESTAMP_NOT_CHECKED',
    );
    const timed = await verifyModelSignature({
      ...base,
      timestampAuthorities: [tsa.certPath],
    });
    expect(timed.signingTimeSource).toBe('timestamp');
    expect(timed.signingTime).toBeInstanceOf(Date);
    expect(timed.timestampAuthority?.subject).toBe('CN=tsa');
    await expect(
      verifyModelSignature({
        ...base,
        timestampAuthorities: [otherTsa.certPath],
      }),
    ).rejects.toHaveCode('TLOG_INVALID');
  });

  it('certificate bundle: the result names the timestamp as the time source', async () => {
    const model = makeTree({ 'w.bin': 'w' });
    const sig = join(tempDir(), 'model.sig');
    await signModel({
      method: 'certificate',
      modelPath: model,
      signaturePath: sig,
      privateKey: pki.leaf.keyPath,
      signingCertificate: pki.leaf.certPath,
      certificateChain: [pki.intermediate.certPath],
      concurrency: 0,
    });
    const json = JSON.parse(readFileSync(sig, 'utf8'));
    const token = timestamp(
      pki.dir,
      tsa,
      Buffer.from(json.dsseEnvelope.signatures[0].sig, 'base64'),
    );
    json.verificationMaterial.timestampVerificationData = {
      rfc3161Timestamps: [{ signedTimestamp: token.toString('base64') }],
    };
    writeFileSync(sig, JSON.stringify(json));
    const r = await verifyModelSignature({
      method: 'certificate',
      modelPath: model,
      bundlePath: sig,
      trustAnchors: [pki.root.certPath],
      timestampAuthorities: [tsa.certPath],
      concurrency: 0,
    });
    expect(r.signingTimeSource).toBe('timestamp');
    expect(r.signingTime).toEqual(r.validityTime);
  });
});
