// SPDX-License-Identifier: Apache-2.0
// The OMS reference vectors: kept in the repository (test-vectors/oms-reference,
// test-vectors/oms-spec, listed in test-vectors/oms-vectors.json; origin and
// licence in test-vectors/README-oms.md), so a fresh clone tests with no sibling
// folder. $MODELSEAL_VECTORS names another folder laid out like the shared one
// (its vectors.json beside oms-reference/ and oms-spec/) as an override.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT: string = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../../..',
);

const OVERRIDE = process.env.MODELSEAL_VECTORS;

export const VECTORS_DIR: string = resolve(
  OVERRIDE ?? join(REPO_ROOT, 'test-vectors'),
);

const VECTORS_JSON: string = join(
  VECTORS_DIR,
  OVERRIDE !== undefined ? 'vectors.json' : 'oms-vectors.json',
);

export const VECTORS_AVAILABLE: boolean = existsSync(VECTORS_JSON);

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
    throw new Error(`OMS test vectors not found at ${VECTORS_JSON}`);
  }
  const json = JSON.parse(readFileSync(VECTORS_JSON, 'utf8')) as {
    vectors: VectorCase[];
  };
  return json.vectors;
}

export function vectorPath(relative: string): string {
  return join(VECTORS_DIR, relative);
}
