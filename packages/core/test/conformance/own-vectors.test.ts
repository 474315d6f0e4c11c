// SPDX-License-Identifier: Apache-2.0
// Bundles modelseal signed earlier (test-vectors/oms-own, made by
// scripts/oms-own/make-vectors.mjs) must keep verifying, and must stop
// verifying when the model changes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectBundle } from '../../src/verify/inspect.js';
import type { VerifyModelSignatureOptions } from '../../src/verify/types.js';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import type { VectorCase } from '../helpers/vectors.js';
import { REPO_ROOT } from '../helpers/vectors.js';

const OWN = join(REPO_ROOT, 'test-vectors', 'oms-own');
const { vectors } = JSON.parse(
  readFileSync(join(OWN, 'vectors.json'), 'utf8'),
) as { vectors: VectorCase[] };

function optionsOf(v: VectorCase): VerifyModelSignatureOptions {
  const common = {
    modelPath: join(OWN, v.model),
    bundlePath: join(OWN, v.bundle),
    ignorePaths: v.ignorePaths ?? [],
    concurrency: 0,
  };
  return v.method === 'key'
    ? { ...common, method: 'key', publicKey: join(OWN, v.publicKey!) }
    : {
        ...common,
        method: 'certificate',
        trustAnchors: v.caCerts!.map((c) => join(OWN, c)),
      };
}

describe('test-vectors/oms-own', () => {
  it('has the expected cases', () => {
    expect(vectors.length).toBeGreaterThanOrEqual(12);
  });
  for (const v of vectors) {
    it(`${v.id} verifies`, async () => {
      const r = await verifyModelSignature(optionsOf(v));
      expect(r.method).toBe(v.method);
      const inspected = await inspectBundle(join(OWN, v.bundle));
      expect(inspected.manifest).toEqual(r.manifest);
    });
  }
  it('a bundle checked against another key fails', async () => {
    const v = vectors.find((x) => x.id === 'key-p256-files-sha256')!;
    const options = optionsOf(v);
    await expect(
      verifyModelSignature({
        ...options,
        method: 'key',
        publicKey: join(OWN, 'keys/key-p-384.pub'),
      }),
    ).rejects.toHaveCode('KEY_MISMATCH');
  });
});
