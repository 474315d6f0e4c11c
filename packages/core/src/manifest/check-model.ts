// SPDX-License-Identifier: Apache-2.0
import { lstat, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { DEFAULT_GIT_IGNORES } from '../constants.js';
import { modelSealError } from '../errors.js';
import type { VerifyCache } from '../verify-cache/index.js';
import { algorithmName } from './algorithms.js';
import { hashFiles } from './build.js';
import { fileState } from './hash-worker.js';
import { detectHfCacheSnapshot, type HfCacheSnapshot } from './hf-cache.js';
import { compareManifests } from './compare.js';
import { ignoreEntries } from './hash-model.js';
import { IgnoreSet, isUsableRecordedIgnore } from './ignore.js';
import { parseShardName, shardName } from './names.js';
import { comparePaths } from './order.js';
import { computeRootDigest } from './root-digest.js';
import { enumerateModel, type ModelFile } from './walk.js';
import type {
  CompareResult,
  HashProgress,
  Manifest,
  ManifestWarning,
  Resource,
  Serialization,
} from './types.js';

/** Options of {@link checkModel}. */
export interface CheckModelOptions {
  /** More paths out of scope: relative to the model root, or absolute. */
  ignorePaths?: readonly string[];
  /** The bundle's path: out of scope when it lies inside the model. */
  signaturePath?: string;
  /** Tolerate unsigned files on disk; missing and changed files still fail. */
  ignoreUnsignedFiles?: boolean;
  /** `false` refuses symlinks even when the signer allowed them; never enables them. */
  allowSymlinks?: boolean;
  /**
   * The Hugging Face cache policy (docs/hugging-face.md): `true` requires the
   * model path to be a hub-cache snapshot and follows its links into the same
   * repository's `blobs/`; unset detects the layout and applies the policy
   * when it is found; `false` never applies it. Off when `allowSymlinks` is
   * `false`.
   */
  hfCache?: boolean;
  /**
   * Digests bound to file states from earlier runs (see verify-cache): a
   * file whose state matches is not read. Give one only after the bundle's
   * signature verified; save it afterwards.
   */
  verifyCache?: VerifyCache;
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (event: HashProgress) => void;
}

/** Result of {@link checkModel}. */
export interface CheckModelResult {
  compare: CompareResult;
  /** The manifest computed from disk with the signed serialization. */
  actual: Manifest;
  warnings: ManifestWarning[];
  /** The hub-cache snapshot whose links were followed, when the policy applied. */
  hfCache?: HfCacheSnapshot;
}

function filePathOf(resource: Resource, method: 'files' | 'shards'): string {
  return method === 'shards'
    ? (parseShardName(resource.name)?.path ?? resource.name)
    : resource.name;
}

/**
 * Hashes the model on disk the way the signed manifest was made and compares
 * the two (oms-format.md §11 re-applying, §13.1 steps 8–10). Does not throw on
 * a mismatch: `compare.ok` is false and every missing, extra and changed
 * resource is listed.
 *
 * Ignore rules only decide which unsigned files are tolerated: a path that is
 * signed is always hashed and compared, even when an ignore rule matches it.
 *
 * @throws IO_ERROR, INVALID_PATH, SYMLINK_NOT_ALLOWED, UNSUPPORTED_FILE_TYPE, ABORTED
 */
export async function checkModel(
  modelPath: string,
  signed: Manifest,
  options: CheckModelOptions = {},
): Promise<CheckModelResult> {
  const s = signed.serialization;
  const root = resolve(modelPath);
  const recorded = s.ignorePaths.filter(isUsableRecordedIgnore);
  // A recorded list is authoritative, even an empty one; pre-1.1 bundles
  // record none and had the git defaults.
  const entries = await ignoreEntries(
    root,
    s.ignorePaths.length === 0 && s.ignorePathsRecorded !== true
      ? DEFAULT_GIT_IGNORES
      : recorded,
    options.ignorePaths,
    options.signaturePath,
  );
  const ignore = new IgnoreSet(entries);
  // The signed paths are only looked up when an ignore rule matches: built on
  // that first match, not for every tree (200,000 names are a few MB).
  let signedFiles: Set<string> | undefined;
  let signedDirs: Set<string> | undefined;
  const signedPaths = (): { files: Set<string>; dirs: Set<string> } => {
    if (signedFiles === undefined || signedDirs === undefined) {
      signedFiles = new Set(
        signed.resources.map((r) => filePathOf(r, s.method)),
      );
      signedDirs = new Set<string>();
      for (const file of signedFiles) {
        for (let i = file.indexOf('/'); i > 0; i = file.indexOf('/', i + 1))
          signedDirs.add(file.slice(0, i));
      }
    }
    return { files: signedFiles, dirs: signedDirs };
  };
  let hfCache: HfCacheSnapshot | undefined;
  if (options.hfCache !== false && options.allowSymlinks !== false) {
    hfCache = await detectHfCacheSnapshot(modelPath);
    if (hfCache === undefined && options.hfCache === true) {
      throw modelSealError(
        'INVALID_OPTIONS',
        `${modelPath}: not a Hugging Face cache snapshot (…/models--ORG--NAME/snapshots/REV with a blobs/ folder beside snapshots/)`,
        { details: { path: modelPath } },
      );
    }
  }
  const walk = await enumerateModel(modelPath, {
    allowSymlinks: s.allowSymlinks && options.allowSymlinks !== false,
    strictSymlinks: false,
    hfCache,
    skip: (rel, isDirectory) => {
      if (!ignore.matches(rel)) return false;
      const paths = signedPaths();
      return !(isDirectory ? paths.dirs.has(rel) : paths.files.has(rel));
    },
    signal: options.signal,
  });
  const cache = options.verifyCache;
  const { files, cached } =
    cache === undefined
      ? { files: walk.files, cached: [] }
      : await fromCache(walk.files, s, cache);
  const bound = new Map<number, { state: string; ranges: string[][] }>();
  const hashed = await hashFiles(files, s, {
    concurrency: options.concurrency,
    signal: options.signal,
    onProgress: options.onProgress,
    ...(cache === undefined
      ? {}
      : {
          onBound: (file, start, end, digest, state) => {
            const entry = bound.get(file) ?? { state, ranges: [] };
            // Shards of one file opened in different states: nothing to record.
            if (entry.state !== state) entry.state = '';
            entry.ranges.push([String(start), digest, String(end)]);
            bound.set(file, entry);
          },
        }),
  });
  if (cache !== undefined) {
    const algorithm = algorithmName(s);
    // Only digests the signed manifest vouches for are remembered: a
    // changed file is hashed again next time, and the cache never holds a
    // digest no trusted signer signed.
    const signedDigests = new Map(
      signed.resources.map((r) => [r.name, r.digest.toLowerCase()]),
    );
    const single = walk.singleFile ? basename(root) : undefined;
    const vouched = (
      name: string,
      start: string,
      end: string,
      digest: string,
    ): boolean => {
      const names = [
        name,
        ...(name === '.' && single !== undefined ? [single] : []),
      ];
      return names.some(
        (n) =>
          signedDigests.get(
            s.method === 'shards'
              ? shardName(n, Number(start), Number(end))
              : n,
          ) === digest,
      );
    };
    for (const [f, entry] of bound) {
      const file = files[f]!;
      if (entry.state === '' || entry.ranges.length !== rangeCount(file, s))
        continue;
      if (!entry.ranges.every((r) => vouched(file.name, r[0]!, r[2]!, r[1]!)))
        continue;
      entry.ranges.sort((a, b) => Number(a[0]) - Number(b[0]));
      cache.record(
        entry.state,
        algorithm,
        entry.ranges.map((r) => r[1]!),
      );
    }
  }
  const resources =
    cached.length === 0
      ? hashed.resources
      : mergeSorted(hashed.resources, cached, s.method);
  // Single-file models: the reference names the resource `.`, the spec and Go the file's name.
  const signedName = (name: string): boolean =>
    signed.resources.some((r) => filePathOf(r, s.method) === name);
  if (walk.singleFile && !signedName('.') && signedName(basename(root))) {
    const name = basename(root);
    for (const r of resources) {
      r.name = s.method === 'shards' ? `${name}${r.name.slice(1)}` : name;
    }
  }
  const actual: Manifest = {
    modelName: signed.modelName,
    serialization: { ...s, ignorePaths: [...entries] },
    resources,
    rootDigest: computeRootDigest(resources),
  };
  const compareOptions =
    options.ignoreUnsignedFiles === undefined
      ? {}
      : { ignoreUnsignedFiles: options.ignoreUnsignedFiles };
  return {
    compare: compareManifests(signed, actual, compareOptions),
    actual,
    warnings: walk.warnings,
    ...(hfCache === undefined ? {} : { hfCache }),
  };
}

type Ranges = Pick<Serialization, 'method' | 'shardSize'>;

function rangeCount(file: ModelFile, s: Ranges): number {
  return s.method === 'shards'
    ? Math.ceil(file.size / (s.shardSize as number))
    : 1;
}

const STAT_PARALLEL = 64;

/**
 * Splits the files into those whose current state has cached digests (turned
 * into resources) and those to hash. The state is taken the way the hasher
 * opens the file: without following a final link unless it was reached
 * through one; anything but a regular file of the enumerated size is hashed
 * (and then fails the way it would without a cache).
 */
async function fromCache(
  all: readonly ModelFile[],
  s: Pick<Serialization, 'method' | 'hashType' | 'shardSize'>,
  cache: VerifyCache,
): Promise<{ files: ModelFile[]; cached: Resource[] }> {
  const algorithm = algorithmName(s);
  const files: ModelFile[] = [];
  const cached: Resource[] = [];
  for (let i = 0; i < all.length; i += STAT_PARALLEL) {
    const slice = all.slice(i, i + STAT_PARALLEL);
    const states = await Promise.all(
      slice.map((file) =>
        (file.viaSymlink ? stat : lstat)(file.path, { bigint: true }).then(
          (st) =>
            st.isFile() && st.size === BigInt(file.size)
              ? fileState(st)
              : undefined,
          () => undefined,
        ),
      ),
    );
    for (const [j, file] of slice.entries()) {
      const state = states[j];
      const digests =
        state === undefined ? undefined : cache.lookup(state, algorithm);
      const count = rangeCount(file, s);
      if (digests === undefined || digests.length !== count) {
        cache.stats.misses += 1;
        files.push(file);
        continue;
      }
      cache.stats.hits += 1;
      cache.stats.bytesSkipped += file.size;
      for (let k = 0; k < count; k++) {
        const start = s.method === 'shards' ? k * (s.shardSize as number) : 0;
        const end =
          s.method === 'shards'
            ? Math.min(start + (s.shardSize as number), file.size)
            : file.size;
        cached.push({
          name:
            s.method === 'shards'
              ? shardName(file.name, start, end)
              : file.name,
          algorithm,
          digest: digests[k]!,
        });
      }
    }
  }
  return { files, cached };
}

/** Hashed and cached resources in the reference order (oms-format.md §8). */
function mergeSorted(
  a: readonly Resource[],
  b: readonly Resource[],
  method: Serialization['method'],
): Resource[] {
  const key = (r: Resource): { path: string; start: number; end: number } => {
    if (method !== 'shards') return { path: r.name, start: 0, end: 0 };
    const shard = parseShardName(r.name)!;
    return { path: shard.path, start: shard.start, end: shard.end };
  };
  return [...a, ...b]
    .map((r) => ({ r, k: key(r) }))
    .sort(
      (x, y) =>
        comparePaths(x.k.path, y.k.path) ||
        x.k.start - y.k.start ||
        x.k.end - y.k.end,
    )
    .map((x) => x.r);
}
