// SPDX-License-Identifier: Apache-2.0
// The 13 reference model folders recompute to exactly the resources and root
// digest signed in their model.sig payloads (files, sha256).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkModel, decodeStatement, hashModel } from '../../src/index.js';
import { loadVectors, vectorPath } from '../helpers/vectors.js';

const reference = loadVectors().filter((v) =>
  v.bundle.startsWith('oms-reference/'),
);

function payloadOf(bundleFile: string): Buffer {
  const bundle = JSON.parse(readFileSync(bundleFile, 'utf8')) as {
    dsseEnvelope: { payload: string };
  };
  return Buffer.from(bundle.dsseEnvelope.payload, 'base64');
}

describe('reference vectors recompute', () => {
  it('has all 13 reference model folders', () => {
    expect(reference).toHaveLength(13);
  });

  for (const vector of reference) {
    it(`${vector.id}: resources and root digest match model.sig`, async () => {
      const decoded = decodeStatement(payloadOf(vectorPath(vector.bundle)));
      // Ignore paths: those vectors.json lists, plus those the v1.1.0 bundles record.
      const { manifest } = await hashModel(vectorPath(vector.model), {
        ignorePaths: [
          ...(vector.ignorePaths ?? []).map((p) =>
            vectorPath(`${vector.model}/${p}`),
          ),
          ...decoded.manifest.serialization.ignorePaths,
        ],
        signaturePath: vectorPath(vector.bundle),
      });
      expect(manifest.resources).toEqual(decoded.manifest.resources);
      // And the verify-side comparison agrees, with the recorded ignore rules re-applied.
      const check = await checkModel(
        vectorPath(vector.model),
        decoded.manifest,
        {
          ignorePaths: (vector.ignorePaths ?? []).map((p) =>
            vectorPath(`${vector.model}/${p}`),
          ),
          signaturePath: vectorPath(vector.bundle),
        },
      );
      expect(check.compare).toMatchObject({
        ok: true,
        missing: [],
        extra: [],
        changed: [],
      });
      expect(manifest.rootDigest).toBe(decoded.manifest.rootDigest);
      if (!decoded.legacy) {
        const signed = JSON.parse(
          payloadOf(vectorPath(vector.bundle)).toString('utf8'),
        ) as {
          subject: { digest: { sha256: string } }[];
        };
        expect(manifest.rootDigest).toBe(signed.subject[0]!.digest.sha256);
      }
    });
  }
});
