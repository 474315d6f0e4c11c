// SPDX-License-Identifier: Apache-2.0
/**
 * What changed between two versions of a model or data set: files added,
 * removed and changed, for reviewing a retraining or a data refresh.
 */
import { stat } from 'node:fs/promises';
import { readBundle } from '../bundle/read.js';
import { modelSealError } from '../errors.js';
import { checkModel } from '../manifest/check-model.js';
import { hashModel } from '../manifest/hash-model.js';
import { parseShardName } from '../manifest/names.js';
import { comparePaths } from '../manifest/order.js';
import { decodeStatement } from '../manifest/statement.js';
import type { HashModelOptions, Manifest } from '../manifest/types.js';

/** A file whose content differs between the two versions. */
export interface ChangedFile {
  path: string;
  /** Digests of the file (one per shard in shard manifests), old and new. */
  old: string[];
  new: string[];
}

/** Result of {@link diffManifests}. */
export interface ManifestDiff {
  added: string[];
  removed: string[];
  changed: ChangedFile[];
  unchanged: number;
}

function filesOf(manifest: Manifest): Map<string, string[]> {
  const shards = manifest.serialization.method === 'shards';
  const files = new Map<string, { start: number; digest: string }[]>();
  for (const r of manifest.resources) {
    const shard = shards ? parseShardName(r.name) : undefined;
    const path = shard?.path ?? r.name;
    const list = files.get(path) ?? [];
    list.push({ start: shard?.start ?? 0, digest: r.digest.toLowerCase() });
    files.set(path, list);
  }
  return new Map(
    [...files].map(([path, list]) => [
      path,
      list.sort((a, b) => a.start - b.start).map((x) => x.digest),
    ]),
  );
}

function sameHashing(a: Manifest, b: Manifest): boolean {
  const x = a.serialization;
  const y = b.serialization;
  return (
    x.method === y.method &&
    x.hashType === y.hashType &&
    x.shardSize === y.shardSize
  );
}

/**
 * Compares two manifests file by file. Both must use the same hashing (method,
 * hash and shard size); otherwise digests cannot be compared.
 *
 * @throws INVALID_OPTIONS when the two manifests were hashed differently
 */
export function diffManifests(
  oldManifest: Manifest,
  newManifest: Manifest,
): ManifestDiff {
  if (!sameHashing(oldManifest, newManifest)) {
    const describe = (m: Manifest): string =>
      `${m.serialization.method}/${m.serialization.hashType}${m.serialization.shardSize ? `/${m.serialization.shardSize}` : ''}`;
    throw modelSealError(
      'INVALID_OPTIONS',
      `cannot compare manifests hashed differently (${describe(oldManifest)} vs ${describe(newManifest)})`,
    );
  }
  const before = filesOf(oldManifest);
  const after = filesOf(newManifest);
  const added = [...after.keys()]
    .filter((p) => !before.has(p))
    .sort(comparePaths);
  const removed = [...before.keys()]
    .filter((p) => !after.has(p))
    .sort(comparePaths);
  const changed: ChangedFile[] = [];
  let unchanged = 0;
  for (const [path, oldDigests] of before) {
    const newDigests = after.get(path);
    if (newDigests === undefined) continue;
    if (
      oldDigests.length === newDigests.length &&
      oldDigests.every((d, i) => d === newDigests[i])
    )
      unchanged += 1;
    else changed.push({ path, old: oldDigests, new: newDigests });
  }
  changed.sort((a, b) => comparePaths(a.path, b.path));
  return { added, removed, changed, unchanged };
}

/** Where a manifest for {@link diffModels} came from. */
export interface DiffSide {
  path: string;
  kind: 'bundle' | 'directory';
  manifest: Manifest;
}

/** Result of {@link diffModels}. */
export interface DiffModelsResult extends ManifestDiff {
  old: DiffSide;
  new: DiffSide;
  /** Bundles are read, not verified: verify them first when it matters. */
  verified: false;
}

async function manifestOfBundle(path: string): Promise<Manifest> {
  const bundle = await readBundle(path);
  return decodeStatement(bundle.envelope.payload).manifest;
}

async function isDirectoryOrModelFile(
  path: string,
): Promise<'bundle' | 'directory'> {
  const s = await stat(path).catch((cause: unknown) => {
    throw modelSealError('IO_ERROR', `${path}: no such file or directory`, {
      cause,
    });
  });
  return s.isDirectory() ? 'directory' : 'bundle';
}

/**
 * Diffs two versions, each a bundle (`model.sig`) or a model directory. A
 * directory compared with a bundle is hashed with the bundle's recorded
 * serialization and ignore rules; two directories with `hashOptions`.
 * Bundles are **not verified** here.
 *
 * @throws BUNDLE_MALFORMED, STATEMENT_INVALID, MANIFEST_INCONSISTENT for a bad
 *   bundle; IO_ERROR and the hashing errors for a directory; INVALID_OPTIONS
 *   for two bundles hashed differently
 */
export async function diffModels(
  oldPath: string,
  newPath: string,
  hashOptions: HashModelOptions = {},
): Promise<DiffModelsResult> {
  const oldKind = await isDirectoryOrModelFile(oldPath);
  const newKind = await isDirectoryOrModelFile(newPath);
  let oldManifest: Manifest;
  let newManifest: Manifest;
  if (oldKind === 'bundle' && newKind === 'bundle') {
    [oldManifest, newManifest] = await Promise.all([
      manifestOfBundle(oldPath),
      manifestOfBundle(newPath),
    ]);
  } else if (oldKind === 'bundle') {
    oldManifest = await manifestOfBundle(oldPath);
    newManifest = (
      await checkModel(newPath, oldManifest, pickCheck(hashOptions))
    ).actual;
  } else if (newKind === 'bundle') {
    newManifest = await manifestOfBundle(newPath);
    oldManifest = (
      await checkModel(oldPath, newManifest, pickCheck(hashOptions))
    ).actual;
  } else {
    oldManifest = (await hashModel(oldPath, hashOptions)).manifest;
    newManifest = (await hashModel(newPath, hashOptions)).manifest;
  }
  return {
    ...diffManifests(oldManifest, newManifest),
    old: { path: oldPath, kind: oldKind, manifest: oldManifest },
    new: { path: newPath, kind: newKind, manifest: newManifest },
    verified: false,
  };
}

function pickCheck(
  options: HashModelOptions,
): Parameters<typeof checkModel>[2] {
  const out: NonNullable<Parameters<typeof checkModel>[2]> = {};
  if (options.ignorePaths) out.ignorePaths = options.ignorePaths;
  if (options.signal) out.signal = options.signal;
  if (options.onProgress) out.onProgress = options.onProgress;
  if (options.concurrency !== undefined) out.concurrency = options.concurrency;
  return out;
}
