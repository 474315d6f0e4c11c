// SPDX-License-Identifier: Apache-2.0
// Every case of the shared vectors.json through the public verification
// entry point: reference bundles v0.2.0–v1.1.0 and the OMS spec's own vectors.
import { describe, expect, it } from 'vitest';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import type { VerifyModelSignatureOptions } from '../../src/verify/types.js';
import {
  loadVectors,
  vectorPath,
  type VectorCase,
} from '../helpers/vectors.js';

const vectors = loadVectors();

function optionsOf(v: VectorCase): VerifyModelSignatureOptions {
  const common = {
    modelPath: vectorPath(v.model),
    bundlePath: vectorPath(v.bundle),
    ignorePaths: v.ignorePaths ?? [],
    concurrency: 0,
  };
  switch (v.method) {
    case 'key':
      return { ...common, method: 'key', publicKey: vectorPath(v.publicKey!) };
    case 'certificate':
      return {
        ...common,
        method: 'certificate',
        trustAnchors: v.caCerts!.map(vectorPath),
      };
    case 'sigstore':
      return {
        ...common,
        method: 'sigstore',
        identity: v.identity!,
        issuer: v.issuer!,
      };
  }
}

/** The code each failing vector must produce. */
const EXPECTED_FAILURE: Record<string, string> = {
  // The spec edited the predicate type and kept the old signature: the
  // signature is checked before anything in the payload is read.
  'invalid-payload/wrong-predicate.bundle.json': 'SIGNATURE_INVALID',
  'invalid/empty.bundle.json': 'BUNDLE_MALFORMED',
  'invalid/missing-envelope.bundle.json': 'BUNDLE_MALFORMED',
  'invalid/missing-verification-material.bundle.json': 'BUNDLE_MALFORMED',
  'invalid/missing-tlog-entries.bundle.json': 'TLOG_INVALID',
};

describe('shared OMS vectors through verifyModelSignature', () => {
  it('lists the 21 cases this suite expects', () => {
    expect(vectors).toHaveLength(21);
    expect(
      vectors
        .filter((v) => v.expect === 'fail')
        .map((v) => v.id)
        .sort(),
    ).toEqual(Object.keys(EXPECTED_FAILURE).sort());
  });

  for (const v of vectors.filter((x) => x.expect === 'pass')) {
    it(`${v.id} (${v.method}) verifies`, async () => {
      const result = await verifyModelSignature(optionsOf(v));
      expect(result.ok).toBe(true);
      expect(result.method).toBe(v.method);
      expect(result.compare.missing).toEqual([]);
      expect(result.compare.changed).toEqual([]);
      expect(result.compare.extra).toEqual([]);
      expect(result.manifest.resources.length).toBeGreaterThan(0);
      switch (result.signer.method) {
        case 'key':
          expect(result.signer.hint).toBe(
            'e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e',
          );
          break;
        case 'certificate':
          expect(result.signer.certificate.subject).toBe('CN=intermediate-ca');
          expect(result.signer.anchor.subject).toBe('CN=root-ca');
          expect(result.signingTimeSource).toBe('current-time');
          break;
        case 'sigstore':
          expect(result.signer.identity).toBe(v.identity);
          expect(result.signer.issuer).toBe(v.issuer);
          expect(result.signingTime).toBeInstanceOf(Date);
          break;
      }
      if (v.id === 'v0.2.0-certificate') {
        expect(result.predicateType).toBe('https://model_signing/Digests/v0.1');
        expect(result.warnings.map((w) => w.code)).toContain('LEGACY_PAE');
      }
    });
  }

  for (const v of vectors.filter((x) => x.expect === 'fail')) {
    it(`${v.id} (${v.method}) is rejected with ${EXPECTED_FAILURE[v.id]}`, async () => {
      await expect(verifyModelSignature(optionsOf(v))).rejects.toHaveCode(
        EXPECTED_FAILURE[v.id]!,
      );
    });
  }
});
