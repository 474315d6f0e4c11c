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

/**
 * A shard on disk that the signature does not list, of a file that has
 * signed shards (the file grew, or was cut short of a shard boundary): the
 * signed file changed, never an unsigned file that `ignoreUnsignedFiles`
 * could tolerate. A file grown from a shard boundary keeps every signed
 * shard as signed: this entry is then all that tells the change. Named as
 * found (`path:start:end`); there is no signed digest (`expected.digest`
 * empty).
 */
export function unsignedShard(
  signedAlgorithm: string,
  found: Resource,
): ChangedResource {
  return {
    name: found.name,
    expected: { algorithm: signedAlgorithm, digest: '' },
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
