// SPDX-License-Identifier: Apache-2.0
// Where the shared OMS test vectors live: $MODELSEAL_VECTORS, else ../shared/test-vectors
// beside the checkout. They are read in place, never copied into the repository.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT: string = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../..',
);

export const VECTORS_DIR: string = resolve(
  process.env.MODELSEAL_VECTORS ??
    join(REPO_ROOT, '..', 'shared', 'test-vectors'),
);

export const VECTORS_AVAILABLE: boolean = existsSync(
  join(VECTORS_DIR, 'vectors.json'),
);

export interface VectorCase {
  id: string;
  method: 'key' | 'certificate' | 'sigstore';
  bundle: string;
  model: string;
  ignorePaths?: string[];
  expect: 'pass' | 'fail';
  publicKey?: string;
  caCerts?: string[];
  identity?: string;
  issuer?: string;
  notes?: string;
}

/** The cases of vectors.json; throws (failing the test loudly) when the vectors are missing. */
export function loadVectors(): VectorCase[] {
  if (!VECTORS_AVAILABLE) {
    throw new Error(
      `OMS test vectors not found at ${VECTORS_DIR}: set MODELSEAL_VECTORS to the shared test-vectors folder`,
    );
  }
  const json = JSON.parse(
    readFileSync(join(VECTORS_DIR, 'vectors.json'), 'utf8'),
  ) as {
    vectors: VectorCase[];
  };
  return json.vectors;
}

export function vectorPath(relative: string): string {
  return join(VECTORS_DIR, relative);
}
