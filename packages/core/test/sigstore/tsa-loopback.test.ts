// SPDX-License-Identifier: Apache-2.0
// Keyless signing with an RFC 3161 timestamp, as the reference (sigstore-python 4)
// does, against a loopback Sigstore of this file's own that also serves the mock
// TSA. The fixed clock of the helper (5 s ahead, + 123 ms) is what keeps the mock
// TSA reliable: see the comment in sigstore-server.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signWithSigstore } from '../../src/sign/sigstore.js';
import { verifySigstoreBundle } from '../../src/verify/sigstore.js';
import {
  mintOIDCToken,
  startSigstoreServer,
  TEST_IDENTITY,
  TEST_OIDC_ISSUER,
  type LoopbackSigstore,
} from '../helpers/sigstore-server.js';

const POLICY = { identity: TEST_IDENTITY, issuer: TEST_OIDC_ISSUER };
type Bundle = {
  verificationMaterial: {
    tlogEntries: unknown[];
    timestampVerificationData?: {
      rfc3161Timestamps?: { signedTimestamp: string }[];
    };
  };
};

let sigstore: LoopbackSigstore;
let bundle: Bundle;

beforeAll(async () => {
  sigstore = await startSigstoreServer({ tsa: true });
  bundle = (await signWithSigstore(
    Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}'),
    {
      identityToken: mintOIDCToken(),
      fulcioURL: sigstore.url,
      rekorURL: sigstore.url,
      tsaURL: sigstore.url,
      rekorEntryType: 'intoto',
      retries: 0,
    },
  )) as unknown as Bundle;
});
afterAll(async () => {
  await sigstore.close();
});

describe('keyless signing with a timestamp authority', () => {
  it('the bundle carries one Rekor entry and one RFC 3161 timestamp', () => {
    expect(bundle.verificationMaterial.tlogEntries).toHaveLength(1);
    expect(
      bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps,
    ).toHaveLength(1);
  });

  it('verifies, taking the signing time from the TSA', async () => {
    const result = await verifySigstoreBundle(bundle, POLICY, {
      trustedRootJSON: sigstore.trustedRootJSON,
    });
    expect(result.signingTimeSource).toBe('tsa');
    // The mock TSA's genTime is its fixed clock, give or take the fraction of a second it drops.
    expect(
      Math.abs(result.signingTime.getTime() - sigstore.clock.getTime()),
    ).toBeLessThan(1000);
  });

  it('a root that does not list the TSA rejects the timestamp', async () => {
    const root = structuredClone(sigstore.trustedRootJSON);
    root['timestampAuthorities'] = [];
    await expect(
      verifySigstoreBundle(bundle, POLICY, { trustedRootJSON: root }),
    ).rejects.toHaveCode('TLOG_INVALID');
  });

  it('a corrupted timestamp is rejected', async () => {
    const copy = structuredClone(bundle);
    const ts =
      copy.verificationMaterial.timestampVerificationData!
        .rfc3161Timestamps![0]!;
    const der = Buffer.from(ts.signedTimestamp, 'base64');
    der.writeUInt8(der.readUInt8(der.length - 1) ^ 1, der.length - 1);
    ts.signedTimestamp = der.toString('base64');
    const error: unknown = await verifySigstoreBundle(copy, POLICY, {
      trustedRootJSON: sigstore.trustedRootJSON,
    }).catch((e: unknown) => e);
    expect(['TLOG_INVALID', 'BUNDLE_MALFORMED']).toContain(
      (error as { code?: string }).code,
    );
  });
});
