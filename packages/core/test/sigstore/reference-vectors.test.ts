// SPDX-License-Identifier: Apache-2.0
// The reference's keyless bundles (public-good Sigstore, Rekor v1 `dsse` entries,
// v1.1.0 with a TSA timestamp) verify offline with the embedded trusted root, and
// the identity policy is exact (sigstore-notes.md §7 gotchas #1 and #2).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  verifySigstoreBundle,
  type SigstorePolicy,
} from '../../src/verify/sigstore.js';
import { vectorPath } from '../helpers/vectors.js';

const IDENTITY = 'stefanb@us.ibm.com';
const ISSUER = 'https://sigstore.verify.ibm.com/oauth2';
const POLICY: SigstorePolicy = { identity: IDENTITY, issuer: ISSUER };

const read = (relative: string): unknown =>
  JSON.parse(readFileSync(vectorPath(relative), 'utf8'));

const VALID = [
  'oms-reference/v0.3.1-sigstore/model.sig',
  'oms-reference/v1.0.0-sigstore/model.sig',
  'oms-reference/v1.0.1-sigstore/model.sig',
  'oms-reference/v1.1.0-sigstore/model.sig',
  'oms-spec/test-vectors/v1.0/valid/sigstore.bundle.json',
];
const LATEST = VALID[3]!;

describe('reference sigstore vectors, embedded public-good root', () => {
  it.each(VALID)('%s verifies offline', async (file) => {
    const result = await verifySigstoreBundle(read(file), POLICY);
    expect(result.identity).toBe(IDENTITY);
    expect(result.issuer).toBe(ISSUER);
    expect(result.certificate.fingerprintSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(result.signingTime.getTime()).toBeGreaterThan(Date.UTC(2024, 0, 1));
    expect(result.signingTime.getTime()).toBeLessThan(Date.now());
  });

  it('takes the signing time from the TSA timestamp when there is one (v1.1.0)', async () => {
    const result = await verifySigstoreBundle(read(LATEST), POLICY);
    expect(result.signingTimeSource).toBe('tsa');
    const bundle = read(LATEST) as {
      verificationMaterial: { tlogEntries: { integratedTime: string }[] };
    };
    const integrated =
      Number(bundle.verificationMaterial.tlogEntries[0]!.integratedTime) * 1000;
    // The TSA and Rekor saw the same signature within seconds of each other.
    expect(Math.abs(result.signingTime.getTime() - integrated)).toBeLessThan(
      60_000,
    );
  });

  it('takes the signing time from the Rekor entry without a timestamp (v1.0.1)', async () => {
    const file = 'oms-reference/v1.0.1-sigstore/model.sig';
    const bundle = read(file) as {
      verificationMaterial: {
        tlogEntries: { integratedTime: string }[];
        timestampVerificationData?: { rfc3161Timestamps?: unknown[] };
      };
    };
    expect(
      bundle.verificationMaterial.timestampVerificationData
        ?.rfc3161Timestamps ?? [],
    ).toHaveLength(0);
    const result = await verifySigstoreBundle(bundle, POLICY);
    expect(result.signingTimeSource).toBe('tlog');
    expect(result.signingTime.getTime()).toBe(
      Number(bundle.verificationMaterial.tlogEntries[0]!.integratedTime) * 1000,
    );
  });

  it('the spec vector and the v1.1.0 reference bundle are the same signature', async () => {
    const a = await verifySigstoreBundle(read(LATEST), POLICY);
    const b = await verifySigstoreBundle(read(VALID[4]!), POLICY);
    expect(b.certificate.fingerprintSha256).toBe(
      a.certificate.fingerprintSha256,
    );
  });

  it('missing-tlog-entries fails with TLOG_INVALID', async () => {
    await expect(
      verifySigstoreBundle(
        read(
          'oms-spec/test-vectors/v1.0/invalid/missing-tlog-entries.bundle.json',
        ),
        POLICY,
      ),
    ).rejects.toHaveCode('TLOG_INVALID');
  });

  it('an empty tlogEntries array fails with TLOG_INVALID', async () => {
    const bundle = read(LATEST) as {
      verificationMaterial: Record<string, unknown>;
    };
    bundle.verificationMaterial['tlogEntries'] = [];
    await expect(verifySigstoreBundle(bundle, POLICY)).rejects.toHaveCode(
      'TLOG_INVALID',
    );
  });
});

describe('gotcha #1: the identity is exact, never an unanchored pattern', () => {
  it.each([
    ['wrong identity', 'mallory@us.ibm.com'],
    ['a prefix of the SAN', 'stefanb@us.ibm.co'],
    ['contained in the SAN', 'b@us.ibm'],
    ['`.` as a wildcard', 'stefanb@us.ibm.c.m'],
    ['`.` wildcards everywhere', 'stefanb@us.ibm.co.'],
    ['case differs', 'Stefanb@us.ibm.com'],
    ['longer than the SAN', 'stefanb@us.ibm.com.evil'],
    ['regex syntax', 'stefanb@us\\.ibm\\.com'],
    ['match-all regex', '.*'],
  ])('%s (%s) fails with IDENTITY_MISMATCH', async (_, identity) => {
    await expect(
      verifySigstoreBundle(read(LATEST), { identity, issuer: ISSUER }),
    ).rejects.toHaveCode('IDENTITY_MISMATCH');
  });

  it('the mismatch names what was expected and what was found', async () => {
    const error: unknown = await verifySigstoreBundle(read(LATEST), {
      identity: 'stefanb@us.ibm.co',
      issuer: ISSUER,
    }).catch((e: unknown) => e);
    expect(error).toHaveCode('IDENTITY_MISMATCH');
    expect((error as { details?: unknown }).details).toMatchObject({
      expected: { identity: 'stefanb@us.ibm.co' },
    });
  });

  it('an identity regexp must match the whole SAN', async () => {
    await expect(
      verifySigstoreBundle(read(LATEST), {
        identityRegExp: 'stefanb@us\\.ibm\\.co',
        issuer: ISSUER,
      }),
    ).rejects.toHaveCode('IDENTITY_MISMATCH');
    await expect(
      verifySigstoreBundle(read(LATEST), {
        identityRegExp: 'us\\.ibm\\.com',
        issuer: ISSUER,
      }),
    ).rejects.toHaveCode('IDENTITY_MISMATCH');
    // Alternation is grouped before anchoring: `a|b` must not become `^a|b$`.
    await expect(
      verifySigstoreBundle(read(LATEST), {
        identityRegExp: 'nobody@x|ibm\\.com',
        issuer: ISSUER,
      }),
    ).rejects.toHaveCode('IDENTITY_MISMATCH');
    const result = await verifySigstoreBundle(read(LATEST), {
      identityRegExp: '[a-z]+@us\\.ibm\\.com|nobody@x',
      issuer: ISSUER,
    });
    expect(result.identity).toBe(IDENTITY);
  });
});

describe('gotcha #2: the issuer is exact', () => {
  it.each([
    ['wrong issuer', 'https://accounts.google.com'],
    ['a prefix of the issuer', 'https://sigstore.verify.ibm.com'],
    ['longer than the issuer', `${ISSUER}/extra`],
    ['trailing slash', `${ISSUER}/`],
  ])('%s fails with IDENTITY_MISMATCH', async (_, issuer) => {
    await expect(
      verifySigstoreBundle(read(LATEST), { identity: IDENTITY, issuer }),
    ).rejects.toHaveCode('IDENTITY_MISMATCH');
  });

  it('an issuer regexp is checked against the whole issuer extension', async () => {
    await expect(
      verifySigstoreBundle(read(LATEST), {
        identity: IDENTITY,
        issuerRegExp: 'https://sigstore\\.verify\\.ibm\\.com',
      }),
    ).rejects.toHaveCode('IDENTITY_MISMATCH');
    const result = await verifySigstoreBundle(read(LATEST), {
      identity: IDENTITY,
      issuerRegExp: 'https://sigstore\\.verify\\.ibm\\.com/oauth[0-9]',
    });
    expect(result.issuer).toBe(ISSUER);
  });
});

describe('policy options', () => {
  it.each<[string, SigstorePolicy]>([
    ['no identity', { issuer: ISSUER }],
    ['no issuer', { identity: IDENTITY }],
    [
      'identity and identity regexp',
      { identity: IDENTITY, identityRegExp: '.*', issuer: ISSUER },
    ],
    [
      'issuer and issuer regexp',
      { identity: IDENTITY, issuer: ISSUER, issuerRegExp: '.*' },
    ],
    ['empty identity', { identity: '', issuer: ISSUER }],
    ['empty issuer regexp', { identity: IDENTITY, issuerRegExp: '' }],
    ['invalid regexp', { identityRegExp: '(', issuer: ISSUER }],
  ])('%s fails with INVALID_OPTIONS', async (_, policy) => {
    await expect(verifySigstoreBundle(read(LATEST), policy)).rejects.toHaveCode(
      'INVALID_OPTIONS',
    );
  });
});

describe('tampered reference bundles', () => {
  it('a changed payload fails with SIGNATURE_INVALID or TLOG_INVALID', async () => {
    const bundle = read(LATEST) as { dsseEnvelope: { payload: string } };
    const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64');
    payload.writeUInt8(
      payload.readUInt8(payload.length - 2) ^ 1,
      payload.length - 2,
    );
    bundle.dsseEnvelope.payload = payload.toString('base64');
    const error: unknown = await verifySigstoreBundle(bundle, POLICY).catch(
      (e: unknown) => e,
    );
    expect(['SIGNATURE_INVALID', 'TLOG_INVALID']).toContain(
      (error as { code?: string }).code,
    );
    expect((error as Error).cause).toBeDefined();
  });

  it('a changed signature fails', async () => {
    const bundle = read('oms-reference/v1.0.0-sigstore/model.sig') as {
      dsseEnvelope: { signatures: { sig: string }[] };
    };
    const sig = Buffer.from(bundle.dsseEnvelope.signatures[0]!.sig, 'base64');
    sig.writeUInt8(sig.readUInt8(sig.length - 1) ^ 1, sig.length - 1);
    bundle.dsseEnvelope.signatures[0]!.sig = sig.toString('base64');
    const error: unknown = await verifySigstoreBundle(bundle, POLICY).catch(
      (e: unknown) => e,
    );
    expect(['SIGNATURE_INVALID', 'TLOG_INVALID']).toContain(
      (error as { code?: string }).code,
    );
  });

  it('a corrupt certificate fails with BUNDLE_MALFORMED', async () => {
    const bundle = read(LATEST) as {
      verificationMaterial: { certificate: { rawBytes: string } };
    };
    bundle.verificationMaterial.certificate.rawBytes =
      Buffer.from('not a certificate').toString('base64');
    await expect(verifySigstoreBundle(bundle, POLICY)).rejects.toHaveCode(
      'BUNDLE_MALFORMED',
    );
  });

  it('a key bundle is not a sigstore bundle', async () => {
    const bundle = read(LATEST) as {
      verificationMaterial: Record<string, unknown>;
    };
    delete bundle.verificationMaterial['certificate'];
    bundle.verificationMaterial['publicKey'] = { hint: 'abc' };
    await expect(verifySigstoreBundle(bundle, POLICY)).rejects.toHaveCode(
      'METHOD_MISMATCH',
    );
  });

  it.each([
    ['not an object', 'bundle'],
    [
      'no verificationMaterial',
      {
        mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
        dsseEnvelope: {},
      },
    ],
  ])('%s fails with BUNDLE_MALFORMED', async (_, json) => {
    await expect(verifySigstoreBundle(json, POLICY)).rejects.toHaveCode(
      'BUNDLE_MALFORMED',
    );
  });

  it('an unsupported media type fails with BUNDLE_MALFORMED', async () => {
    const bundle = read(LATEST) as Record<string, unknown>;
    bundle['mediaType'] = 'application/json';
    await expect(verifySigstoreBundle(bundle, POLICY)).rejects.toHaveCode(
      'BUNDLE_MALFORMED',
    );
  });
});
