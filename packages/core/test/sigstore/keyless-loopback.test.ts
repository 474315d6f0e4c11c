// SPDX-License-Identifier: Apache-2.0
// Gotcha #10 (sigstore-notes.md §7, §8): keyless signing end to end against the
// @sigstore/mock services behind real loopback HTTP (started once in global-setup),
// Rekor v1 `intoto` entries, no TSA, fixed clock; then verified offline against
// the trusted root built from the mock keys.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import {
  IN_TOTO_PAYLOAD_TYPE,
  OMS_PREDICATE_TYPE,
} from '../../src/constants.js';
import {
  signWithSigstore,
  type SigstoreSignOptions,
} from '../../src/sign/sigstore.js';
import { verifySigstoreBundle } from '../../src/verify/sigstore.js';
import { mintOIDCToken } from '../helpers/sigstore-server.js';

const url = inject('sigstoreURL');
const rootPath = inject('sigstoreTrustedRootPath');
const rootJSON: unknown = JSON.parse(inject('sigstoreTrustedRoot'));
const ISSUER = inject('sigstoreOIDCIssuer');
const IDENTITY = inject('sigstoreIdentity');

function statement(name = 'model'): Buffer {
  return Buffer.from(
    JSON.stringify({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name, digest: { sha256: 'ab'.repeat(32) } }],
      predicateType: OMS_PREDICATE_TYPE,
      predicate: {
        serialization: {
          method: 'files',
          hash_type: 'sha256',
          allow_symlinks: false,
          ignore_paths: [],
        },
        resources: [
          { name: 'w.bin', algorithm: 'sha256', digest: 'cd'.repeat(32) },
        ],
      },
    }),
  );
}

const loopback = (
  extra: Partial<SigstoreSignOptions> = {},
): SigstoreSignOptions => ({
  identityToken: mintOIDCToken(),
  fulcioURL: url,
  rekorURL: url,
  tsaURL: null,
  rekorEntryType: 'intoto',
  timeoutMs: 10_000,
  retries: 0,
  ...extra,
});

type BundleShape = {
  mediaType: string;
  verificationMaterial: {
    certificate?: { rawBytes: string };
    tlogEntries: {
      kindVersion: { kind: string; version: string };
      integratedTime: string;
    }[];
  };
  dsseEnvelope: {
    payload: string;
    payloadType: string;
    signatures: { sig: string; keyid?: string }[];
  };
};

describe('keyless signing against the loopback Sigstore', () => {
  let bundle: BundleShape;
  const payload = statement();

  beforeAll(async () => {
    bundle = (await signWithSigstore(
      payload,
      loopback(),
    )) as unknown as BundleShape;
  });

  it('writes a v0.3 bundle with a Fulcio leaf, one Rekor entry and the statement as DSSE payload', () => {
    expect(Object.keys(bundle)).toEqual([
      'mediaType',
      'verificationMaterial',
      'dsseEnvelope',
    ]);
    expect(bundle.mediaType).toBe(
      'application/vnd.dev.sigstore.bundle.v0.3+json',
    );
    expect(bundle.verificationMaterial.certificate?.rawBytes).toBeTruthy();
    expect(bundle.verificationMaterial.tlogEntries).toHaveLength(1);
    expect(bundle.verificationMaterial.tlogEntries[0]!.kindVersion.kind).toBe(
      'intoto',
    );
    expect(bundle.dsseEnvelope.payloadType).toBe(IN_TOTO_PAYLOAD_TYPE);
    expect(
      Buffer.from(bundle.dsseEnvelope.payload, 'base64').equals(payload),
    ).toBe(true);
    expect(bundle.dsseEnvelope.signatures).toHaveLength(1);
  });

  it('verifies against the trusted root file from global-setup', async () => {
    const result = await verifySigstoreBundle(
      bundle,
      { identity: IDENTITY, issuer: ISSUER },
      { trustedRoot: rootPath },
    );
    expect(result.identity).toBe(IDENTITY);
    expect(result.issuer).toBe(ISSUER);
    expect(result.signingTimeSource).toBe('tlog');
    expect(result.signingTime.getTime()).toBe(
      Number(bundle.verificationMaterial.tlogEntries[0]!.integratedTime) * 1000,
    );
    const der = Buffer.from(
      bundle.verificationMaterial.certificate!.rawBytes,
      'base64',
    );
    const { createHash } = await import('node:crypto');
    expect(result.certificate.fingerprintSha256).toBe(
      createHash('sha256').update(der).digest('hex'),
    );
  });

  it('verifies against the same root passed as parsed JSON, after a JSON round trip of the bundle', async () => {
    const copy: unknown = JSON.parse(JSON.stringify(bundle));
    const result = await verifySigstoreBundle(
      copy,
      {
        identityRegExp: '[a-z]+@modelseal\\.test',
        issuerRegExp: 'https://oidc\\..*',
      },
      { trustedRootJSON: rootJSON },
    );
    expect(result.identity).toBe(IDENTITY);
  });

  it('fails against the public-good root (the mock CA is not trusted there)', async () => {
    await expect(
      verifySigstoreBundle(bundle, { identity: IDENTITY, issuer: ISSUER }),
    ).rejects.toHaveCode('CERTIFICATE_INVALID');
  });

  it('a near-miss identity or issuer fails with IDENTITY_MISMATCH', async () => {
    for (const policy of [
      { identity: 'signer@modelseal.tes', issuer: ISSUER },
      { identity: 'signer@modelseal.tesT', issuer: ISSUER },
      { identity: 'signer@modelseal_test', issuer: ISSUER },
      { identity: IDENTITY, issuer: 'https://oidc.modelseal.tes' },
    ]) {
      await expect(
        verifySigstoreBundle(bundle, policy, { trustedRootJSON: rootJSON }),
      ).rejects.toHaveCode('IDENTITY_MISMATCH');
    }
  });

  it('a changed statement fails', async () => {
    const copy = JSON.parse(JSON.stringify(bundle)) as BundleShape;
    copy.dsseEnvelope.payload = statement('other').toString('base64');
    const error: unknown = await verifySigstoreBundle(
      copy,
      { identity: IDENTITY, issuer: ISSUER },
      { trustedRootJSON: rootJSON },
    ).catch((e: unknown) => e);
    expect(['SIGNATURE_INVALID', 'TLOG_INVALID']).toContain(
      (error as { code?: string }).code,
    );
  });

  it('a signature from another signing does not verify with this certificate', async () => {
    const other = (await signWithSigstore(
      statement('other'),
      loopback(),
    )) as unknown as BundleShape;
    const copy = JSON.parse(JSON.stringify(bundle)) as BundleShape;
    copy.dsseEnvelope = other.dsseEnvelope;
    const error: unknown = await verifySigstoreBundle(
      copy,
      { identity: IDENTITY, issuer: ISSUER },
      { trustedRootJSON: rootJSON },
    ).catch((e: unknown) => e);
    expect(['SIGNATURE_INVALID', 'TLOG_INVALID']).toContain(
      (error as { code?: string }).code,
    );
    // The other bundle on its own is fine.
    await expect(
      verifySigstoreBundle(
        other,
        { identity: IDENTITY, issuer: ISSUER },
        { trustedRootJSON: rootJSON },
      ),
    ).resolves.toMatchObject({ identity: IDENTITY });
  });

  it('the certificate SAN follows the token (another e-mail, another issuer)', async () => {
    const b = await signWithSigstore(
      statement(),
      loopback({
        identityToken: mintOIDCToken({
          email: 'ci@example.org',
          issuer: 'https://token.example.org',
        }),
      }),
    );
    const result = await verifySigstoreBundle(
      b,
      { identity: 'ci@example.org', issuer: 'https://token.example.org' },
      { trustedRoot: rootPath },
    );
    expect(result).toMatchObject({
      identity: 'ci@example.org',
      issuer: 'https://token.example.org',
    });
    await expect(
      verifySigstoreBundle(
        b,
        { identity: IDENTITY, issuer: ISSUER },
        { trustedRoot: rootPath },
      ),
    ).rejects.toHaveCode('IDENTITY_MISMATCH');
  });

  it('gotcha #1: a SAN that merely contains the expected identity is rejected', async () => {
    // Observed with an unanchored policy: `release@acme.example` accepted this signer.
    const b = await signWithSigstore(
      statement(),
      loopback({
        identityToken: mintOIDCToken({
          email: 'mallory-release@acme.example.evil.com',
        }),
      }),
    );
    for (const identity of [
      'release@acme.example',
      'release@acme.example.evil.com',
      'mallory-release@acme.example',
    ]) {
      await expect(
        verifySigstoreBundle(
          b,
          { identity, issuer: ISSUER },
          { trustedRoot: rootPath },
        ),
      ).rejects.toHaveCode('IDENTITY_MISMATCH');
    }
    await expect(
      verifySigstoreBundle(
        b,
        { identityRegExp: 'release@acme\\.example', issuer: ISSUER },
        { trustedRoot: rootPath },
      ),
    ).rejects.toHaveCode('IDENTITY_MISMATCH');
    await expect(
      verifySigstoreBundle(
        b,
        { identity: 'mallory-release@acme.example.evil.com', issuer: ISSUER },
        { trustedRoot: rootPath },
      ),
    ).resolves.toMatchObject({
      identity: 'mallory-release@acme.example.evil.com',
    });
  });

  it('the trusted root file is the JSON that tests inject', () => {
    expect(JSON.parse(readFileSync(rootPath, 'utf8'))).toEqual(rootJSON);
  });
});

describe('keyless signing failures map to our codes', () => {
  it('Fulcio answering 500 is SIGSTORE_SERVICE_ERROR', async () => {
    const error: unknown = await signWithSigstore(
      statement(),
      loopback({ fulcioURL: `${url}/status/500` }),
    ).catch((e: unknown) => e);
    expect(error).toHaveCode('SIGSTORE_SERVICE_ERROR');
    expect((error as Error).cause).toBeDefined();
    expect((error as { details?: unknown }).details).toEqual({
      sigstoreCode: 'CA_CREATE_SIGNING_CERTIFICATE_ERROR',
    });
  });

  it('Rekor answering 503 is SIGSTORE_SERVICE_ERROR', async () => {
    await expect(
      signWithSigstore(
        statement(),
        loopback({ rekorURL: `${url}/status/503` }),
      ),
    ).rejects.toHaveCode('SIGSTORE_SERVICE_ERROR');
  });

  it('a TSA answering 500 is SIGSTORE_SERVICE_ERROR', async () => {
    const error: unknown = await signWithSigstore(
      statement(),
      loopback({ tsaURL: `${url}/status/500` }),
    ).catch((e: unknown) => e);
    expect(error).toHaveCode('SIGSTORE_SERVICE_ERROR');
    expect((error as { details?: unknown }).details).toEqual({
      sigstoreCode: 'TSA_CREATE_TIMESTAMP_ERROR',
    });
  });

  it('an unreachable service is SIGSTORE_SERVICE_ERROR', async () => {
    // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    await expect(
      signWithSigstore(
        statement(),
        loopback({ rekorURL: 'http://127.0.0.1:9' }),
      ),
    ).rejects.toHaveCode('SIGSTORE_SERVICE_ERROR');
  });

  it('an unverified e-mail claim is OIDC_TOKEN_UNAVAILABLE and the message does not echo the token', async () => {
    const token = mintOIDCToken({ emailVerified: false });
    const error: unknown = await signWithSigstore(
      statement(),
      loopback({ identityToken: token }),
    ).catch((e: unknown) => e);
    expect(error).toHaveCode('OIDC_TOKEN_UNAVAILABLE');
    expect((error as Error).message).not.toContain(token.slice(0, 20));
    expect((error as Error).cause).toBeDefined();
  });

  it('a token that is not a JWT is OIDC_TOKEN_UNAVAILABLE', async () => {
    await expect(
      signWithSigstore(statement(), loopback({ identityToken: 'not-a-jwt' })),
    ).rejects.toHaveCode('OIDC_TOKEN_UNAVAILABLE');
  });

  it('an aborted signal is ABORTED, before and during signing', async () => {
    await expect(
      signWithSigstore(statement(), loopback({ signal: AbortSignal.abort() })),
    ).rejects.toHaveCode('ABORTED');
    const controller = new AbortController();
    const pending = signWithSigstore(
      statement(),
      loopback({ signal: controller.signal }),
    );
    controller.abort();
    await expect(pending).rejects.toHaveCode('ABORTED');
  });

  it.each<[string, Partial<SigstoreSignOptions>]>([
    ['a malformed Fulcio URL', { fulcioURL: 'not a url' }],
    ['a non-http Rekor URL', { rekorURL: 'file:///etc/passwd' }],
    ['a zero timeout', { timeoutMs: 0 }],
    ['negative retries', { retries: -1 }],
    ['an unknown Rekor API version', { rekorMajorApiVersion: 3 as 2 }],
    ['a malformed TSA URL', { tsaURL: 'tsa' }],
  ])('%s is INVALID_OPTIONS', async (_, extra) => {
    await expect(
      signWithSigstore(statement(), loopback(extra)),
    ).rejects.toHaveCode('INVALID_OPTIONS');
  });
});
