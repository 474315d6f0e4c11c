// SPDX-License-Identifier: Apache-2.0
// The parts of a comparison result both comparisons build (compare.ts over
// arrays, table.ts over compact tables).
import type { ChangedResource, CompareResult, Resource } from './types.js';

/** A resource whose algorithm or digest differs, as signed and as found. */
export function changedResource(
  expected: Resource,
  found: Resource,
): ChangedResource {
  return {
    name: expected.name,
    expected: { algorithm: expected.algorithm, digest: expected.digest },
    actual: { algorithm: found.algorithm, digest: found.digest },
  };
}

/** The result: ok when nothing is missing or changed, and extras are tolerated or absent. */
export function compareResult(
  missing: Resource[],
  extra: Resource[],
  changed: ChangedResource[],
  extraTolerated: boolean,
): CompareResult {
  return {
    ok:
      missing.length === 0 &&
      changed.length === 0 &&
      (extraTolerated || extra.length === 0),
    missing,
    extra,
    changed,
    extraTolerated,
  };
}
