// SPDX-License-Identifier: Apache-2.0
// Signature layer only (no model hashing): every key and certificate vector's
// signatureverifies with our PAE code and the right digest.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { readBundle } from '../../src/bundle/read.js';
import { loadPublicKey } from '../../src/internal/keys.js';
import { parseCertificates } from '../../src/internal/pem.js';
import { verifyCertificateBundleSignature } from '../../src/verify/certificate.js';
import { verifyKeyBundleSignature } from '../../src/verify/key.js';
import { loadVectors, vectorPath } from '../helpers/vectors.js';

const passing = loadVectors().filter((v) => v.expect === 'pass');

describe('signature layer on the shared vectors', () => {
  for (const v of passing.filter((x) => x.method === 'key')) {
    it(`key ${v.id}`, async () => {
      const bundle = await readBundle(vectorPath(v.bundle));
      const key = await loadPublicKey(vectorPath(v.publicKey!));
      const r = verifyKeyBundleSignature(bundle, key);
      expect(r.signer.hint).toBe(
        'e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e',
      );
      expect(r.signer.scheme).toBe('ecdsa-p384-sha384');
    });
  }
  for (const v of passing.filter((x) => x.method === 'certificate')) {
    it(`certificate ${v.id}`, async () => {
      const bundle = await readBundle(vectorPath(v.bundle));
      const anchors = v.caCerts!.flatMap((f) =>
        parseCertificates(readFileSync(vectorPath(f)), f),
      );
      const r = verifyCertificateBundleSignature(bundle, anchors);
      expect(r.signer.certificate.subject).toBe('CN=intermediate-ca');
      expect(r.signer.anchor.subject).toBe('CN=root-ca');
      expect(r.signer.pathLength).toBe(3);
      expect(r.legacyPae).toBe(v.id === 'v0.2.0-certificate');
    });
  }
});
