// SPDX-License-Identifier: Apache-2.0
import { algorithmName } from './algorithms.js';
import {
  changedResource,
  compareResult,
  unsignedShard,
} from './compare-result.js';
import { parseShardName } from './names.js';
import { comparePaths } from './order.js';
import { compareTables, tableOf } from './table.js';
import type {
  ChangedResource,
  CompareResult,
  Manifest,
  Resource,
} from './types.js';

/** Options of {@link compareManifests}. */
export interface CompareOptions {
  /** Tolerate files on disk that are not signed (missing and changed files still fail). */
  ignoreUnsignedFiles?: boolean;
}

function canonicalAlgorithm(manifest: Manifest, algorithm: string): string {
  // Shard manifests may write the plain hash name (spec) or `<hash>-sharded-N` (reference).
  const s = manifest.serialization;
  return s.method === 'shards' && algorithm === s.hashType
    ? algorithmName(s)
    : algorithm;
}

const byName = (a: Resource, b: Resource): number =>
  comparePaths(a.name, b.name);

/**
 * Compares a signed manifest with one computed from disk, as maps from
 * resource name to (algorithm, digest) (oms-format.md §13.1 step 10). Order,
 * model name and serialization are not compared. Every difference is listed.
 * In shards, a range on disk that is not signed is extra only when its file
 * has no signed range (a new file); of a signed file it is changed (the
 * file grew: {@link unsignedShard}), so `ignoreUnsignedFiles` never
 * tolerates it.
 */
export function compareManifests(
  signed: Manifest,
  actual: Manifest,
  options: CompareOptions = {},
): CompareResult {
  const signedTable = tableOf(signed);
  const actualTable = tableOf(actual);
  if (signedTable !== undefined && actualTable !== undefined)
    return compareTables(
      signedTable,
      actualTable,
      options.ignoreUnsignedFiles === true,
    );
  // One map: what is left in it after the signed names are taken out is extra.
  const onDisk = new Map<string, Resource>();
  for (const r of actual.resources) onDisk.set(r.name, r);
  const missing: Resource[] = [];
  const changed: ChangedResource[] = [];
  for (const expected of signed.resources) {
    const found = onDisk.get(expected.name);
    if (found === undefined) {
      missing.push(expected);
      continue;
    }
    onDisk.delete(expected.name);
    const expectedAlgorithm = canonicalAlgorithm(signed, expected.algorithm);
    const actualAlgorithm = canonicalAlgorithm(actual, found.algorithm);
    if (
      expectedAlgorithm !== actualAlgorithm ||
      expected.digest.toLowerCase() !== found.digest.toLowerCase()
    ) {
      changed.push(changedResource(expected, found));
    }
  }
  let extra = [...onDisk.values()];
  onDisk.clear();
  // Shards: a range not signed of a file that has signed ranges is a changed
  // file (it grew), not an unsigned one. Only files with no signed shard
  // are extra.
  if (
    extra.length > 0 &&
    signed.serialization.method === 'shards' &&
    actual.serialization.method === 'shards'
  ) {
    const signedFiles = new Set<string>();
    for (const r of signed.resources) {
      const path = parseShardName(r.name)?.path;
      if (path !== undefined) signedFiles.add(path);
    }
    const unsigned: Resource[] = [];
    for (const found of extra) {
      const path = parseShardName(found.name)?.path;
      if (path !== undefined && signedFiles.has(path))
        changed.push(unsignedShard(algorithmName(signed.serialization), found));
      else unsigned.push(found);
    }
    extra = unsigned;
  }
  const extraTolerated = options.ignoreUnsignedFiles === true;
  missing.sort(byName);
  extra.sort(byName);
  changed.sort((a, b) => comparePaths(a.name, b.name));
  return compareResult(missing, extra, changed, extraTolerated);
}
