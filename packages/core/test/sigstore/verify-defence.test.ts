// SPDX-License-Identifier: Apache-2.0
// Defence in depth around @sigstore/verify: our own identity/issuer check still
// holds if the library's policy check regresses (gotcha #1 is exactly such a
// leniency), unknown failures fail closed, and bundle variants other than the
// reference's v0.3 shape are handled.
import { readFileSync } from 'node:fs';
import { Verifier, type SignedEntity, type Signer } from '@sigstore/verify';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { verifySigstoreBundle } from '../../src/verify/sigstore.js';
import { vectorPath } from '../helpers/vectors.js';

const POLICY = {
  identity: 'stefanb@us.ibm.com',
  issuer: 'https://sigstore.verify.ibm.com/oauth2',
};
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- free-form surgery on bundle JSON
type Json = Record<string, any>;
const read = (name = 'v1.1.0'): Json =>
  JSON.parse(
    readFileSync(
      vectorPath(`oms-reference/${name}-sigstore/model.sig`),
      'utf8',
    ),
  ) as Json;

// eslint-disable-next-line @typescript-eslint/unbound-method -- always called with .call(verifier)
const ORIGINAL_VERIFY = Verifier.prototype.verify;
/** The real `verify` (captured before any spy), called without any policy. */
const realVerify = (verifier: Verifier, entity: SignedEntity): Signer =>
  ORIGINAL_VERIFY.call(verifier, entity);

afterEach(() => {
  vi.restoreAllMocks();
});

describe('if the library policy check were lenient', () => {
  it('near-miss identities and issuers still fail with IDENTITY_MISMATCH', async () => {
    // Simulate a @sigstore/verify that ignores the policy entirely.
    const spy = vi
      .spyOn(Verifier.prototype, 'verify')
      .mockImplementation(function (this: Verifier, entity) {
        return realVerify(this, entity);
      });
    for (const policy of [
      { identity: 'stefanb@us.ibm.co', issuer: POLICY.issuer },
      { identity: 'stefanb@us.ibm.c.m', issuer: POLICY.issuer },
      { identity: POLICY.identity, issuer: 'https://sigstore.verify.ibm.com' },
      { identityRegExp: 'stefanb', issuer: POLICY.issuer },
      { identity: POLICY.identity, issuerRegExp: 'https://sigstore' },
    ]) {
      await expect(verifySigstoreBundle(read(), policy)).rejects.toHaveCode(
        'IDENTITY_MISMATCH',
      );
    }
    await expect(verifySigstoreBundle(read(), POLICY)).resolves.toMatchObject(
      POLICY,
    );
    expect(spy).toHaveBeenCalled();
  });

  it('a signer without SAN or issuer fails with IDENTITY_MISMATCH', async () => {
    const spy = vi.spyOn(Verifier.prototype, 'verify');
    spy.mockImplementation(function (this: Verifier, entity) {
      const signer = realVerify(this, entity);
      return {
        key: signer.key,
        identity: { extensions: { issuer: POLICY.issuer } },
      };
    });
    await expect(verifySigstoreBundle(read(), POLICY)).rejects.toHaveCode(
      'IDENTITY_MISMATCH',
    );
    spy.mockImplementation(function (this: Verifier, entity) {
      const signer = realVerify(this, entity);
      return {
        key: signer.key,
        identity: { subjectAlternativeName: POLICY.identity },
      };
    });
    await expect(
      verifySigstoreBundle(read(), {
        identity: POLICY.identity,
        issuerRegExp: '.*',
      }),
    ).rejects.toHaveCode('IDENTITY_MISMATCH');
  });

  it('without any verified time the result is TLOG_INVALID, never a guessed time', async () => {
    // Simulate a verifier configured without a timestamp threshold that lets the bundle through.
    vi.spyOn(Verifier.prototype, 'verify').mockReturnValue({
      key: {} as never,
      identity: {
        subjectAlternativeName: POLICY.identity,
        extensions: { issuer: POLICY.issuer },
      },
    });
    const bundle = read('v1.0.1');
    delete bundle['verificationMaterial'].tlogEntries[0].inclusionPromise;
    await expect(verifySigstoreBundle(bundle, POLICY)).rejects.toHaveCode(
      'TLOG_INVALID',
    );
  });
});

describe('unexpected failures fail closed', () => {
  it.each([
    ['an Error', new TypeError('boom')],
    ['a string', 'boom'],
  ])(
    '%s thrown inside verification is BUNDLE_MALFORMED with the cause kept',
    async (_, thrown) => {
      vi.spyOn(Verifier.prototype, 'verify').mockImplementation(() => {
        // eslint-disable-next-line @typescript-eslint/only-throw-error -- foreign code may throw anything
        throw thrown;
      });
      const error: unknown = await verifySigstoreBundle(read(), POLICY).catch(
        (e: unknown) => e,
      );
      expect(error).toHaveCode('BUNDLE_MALFORMED');
      expect((error as Error).cause).toBe(thrown);
    },
  );
});

describe('bundle variants', () => {
  it('a v0.2 bundle with the leaf in x509CertificateChain verifies', async () => {
    const bundle = read();
    bundle['mediaType'] =
      'application/vnd.dev.sigstore.bundle+json;version=0.2';
    const vm = bundle['verificationMaterial'];
    vm.x509CertificateChain = { certificates: [vm.certificate] };
    delete vm.certificate;
    await expect(verifySigstoreBundle(bundle, POLICY)).resolves.toMatchObject(
      POLICY,
    );
  });

  it('a Rekor entry without inclusion promise takes the time from the TSA', async () => {
    const bundle = read();
    delete bundle['verificationMaterial'].tlogEntries[0].inclusionPromise;
    const result = await verifySigstoreBundle(bundle, POLICY);
    expect(result.signingTimeSource).toBe('tsa');
  });

  it('without dsseEnvelope is BUNDLE_MALFORMED', async () => {
    const bundle = read();
    delete bundle['dsseEnvelope'];
    await expect(verifySigstoreBundle(bundle, POLICY)).rejects.toHaveCode(
      'BUNDLE_MALFORMED',
    );
  });

  it('a message signature next to the envelope is BUNDLE_MALFORMED', async () => {
    const bundle = read();
    bundle['messageSignature'] = {
      messageDigest: {
        algorithm: 'SHA2_256',
        digest: Buffer.alloc(32).toString('base64'),
      },
      signature: bundle['dsseEnvelope'].signatures[0].sig,
    };
    await expect(verifySigstoreBundle(bundle, POLICY)).rejects.toHaveCode(
      'BUNDLE_MALFORMED',
    );
  });

  it('a corrupt TSA timestamp is BUNDLE_MALFORMED', async () => {
    const bundle = read();
    bundle[
      'verificationMaterial'
    ].timestampVerificationData.rfc3161Timestamps[0].signedTimestamp =
      Buffer.from('garbage').toString('base64');
    await expect(verifySigstoreBundle(bundle, POLICY)).rejects.toHaveCode(
      'BUNDLE_MALFORMED',
    );
  });

  it('a changed Rekor body is TLOG_INVALID', async () => {
    const bundle = read('v1.0.1');
    const entry = bundle['verificationMaterial'].tlogEntries[0];
    const body = JSON.parse(
      Buffer.from(entry.canonicalizedBody, 'base64').toString('utf8'),
    ) as Json;
    body['spec'].signatures = [];
    entry.canonicalizedBody = Buffer.from(JSON.stringify(body)).toString(
      'base64',
    );
    await expect(verifySigstoreBundle(bundle, POLICY)).rejects.toHaveCode(
      'TLOG_INVALID',
    );
  });
});
