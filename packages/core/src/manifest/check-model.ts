// SPDX-License-Identifier: Apache-2.0
import { lstatSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { DEFAULT_GIT_IGNORES } from '../constants.js';
import { modelSealError } from '../errors.js';
import type { VerifyCache } from '../verify-cache/index.js';
import { algorithmName } from './algorithms.js';
import { hashFiles } from './build.js';
import { WorkerReserve } from './hash-pool.js';
import { listingStarted } from './worker-spawn.js';
import { fileState } from './hash-worker.js';
import { detectHfCacheSnapshot, type HfCacheSnapshot } from './hf-cache.js';
import { compareManifests } from './compare.js';
import { compareResult } from './compare-result.js';
import { ignoreEntries } from './hash-model.js';
import { IgnoreSet, isUsableRecordedIgnore } from './ignore.js';
import { parseShardName, shardName } from './names.js';
import {
  ArrivalComparison,
  compareTables,
  manifestFromTable,
  tableOf,
  type FileTable,
  type ResourceTable,
} from './table.js';
import { enumerateModel } from './walk.js';
import { comparePaths } from './order.js';
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
  return (await check(modelPath, signed, options, false)) as CheckModelResult;
}

/**
 * {@link checkModel} without the manifest computed from disk (verify's):
 * the digests are then compared as they arrive, and only those that
 * differ are held.
 */
export async function compareModel(
  modelPath: string,
  signed: Manifest,
  options: CheckModelOptions = {},
): Promise<Omit<CheckModelResult, 'actual'>> {
  return check(modelPath, signed, options, true);
}

async function check(
  modelPath: string,
  signed: Manifest,
  options: CheckModelOptions,
  compareOnly: boolean,
): Promise<Omit<CheckModelResult, 'actual'> & { actual?: Manifest }> {
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
  const signedTable = tableOf(signed);
  const signedCount = signedTable?.count ?? signed.resources.length;
  const signedPath = (i: number): string =>
    signedTable !== undefined
      ? signedTable.paths.get(signedTable.pathIndex(i))
      : filePathOf(signed.resources[i]!, s.method);
  let signedFiles: Set<string> | undefined;
  let signedDirs: Set<string> | undefined;
  const signedPaths = (): { files: Set<string>; dirs: Set<string> } => {
    if (signedFiles === undefined || signedDirs === undefined) {
      signedFiles = new Set();
      for (let i = 0; i < signedCount; i++) signedFiles.add(signedPath(i));
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
  // Workers start while a large model is still being listed.
  const reserve = new WorkerReserve(
    options.concurrency,
    s.method === 'shards' ? s.shardSize : undefined,
  );
  listingStarted();
  const walk = await enumerateModel(modelPath, {
    onLarge: (files, bytes, largest) => reserve.start(files, bytes, largest),
    allowSymlinks: s.allowSymlinks && options.allowSymlinks !== false,
    strictSymlinks: false,
    hfCache,
    skip: (rel, isDirectory) => {
      if (!ignore.matches(rel)) return false;
      const paths = signedPaths();
      return !(isDirectory ? paths.dirs.has(rel) : paths.files.has(rel));
    },
    signal: options.signal,
    // Room for the signed files at first: most of a verified tree.
    ...(signedTable === undefined
      ? {}
      : {
          expect: {
            files: signedTable.paths.count,
            nameBytes: signedTable.paths.byteLength,
          },
        }),
  }).catch((error: unknown) => {
    reserve.close();
    throw error;
  });
  // Single-file models: the reference names the resource `.`, the spec and
  // Go the file's name. Named as the signature names it before hashing.
  let rename: string | undefined;
  if (walk.singleFile) {
    const name = basename(root);
    let dot = false;
    let named = false;
    for (let i = 0; i < signedCount; i++) {
      const path = signedPath(i);
      if (path === '.') dot = true;
      else if (path === name) named = true;
    }
    if (!dot && named) rename = name;
  }
  const files = rename === undefined ? walk.files : walk.files.renamed(rename);
  const cache = options.verifyCache;
  const algorithm = algorithmName(s);
  const bound = new Map<number, { state: string; ranges: string[][] }>();
  // Without a cache (whose digests skip the comparison) and when the
  // computed manifest is not wanted, each digest is compared as it comes.
  let arrival: ArrivalComparison | undefined;
  const onArrival =
    compareOnly && signedTable !== undefined && cache === undefined;
  const { table } = await hashFiles(files, s, {
    ...(onArrival
      ? {
          onTable: (t: ResourceTable) => {
            if (t.algorithm === signedTable.algorithm)
              arrival = new ArrivalComparison(signedTable, t);
          },
          keep: (r: number, digest: string) => arrival?.keep(r, digest) ?? true,
        }
      : {}),
    concurrency: options.concurrency,
    reserve,
    signal: options.signal,
    onProgress: options.onProgress,
    ...(cache === undefined
      ? {}
      : {
          known: (f: number) => fromCache(files, f, s, cache, algorithm),
          onBound: (file, start, end, digest, state) => {
            const entry = bound.get(file) ?? { state, ranges: [] };
            // Shards of one file opened in different states: nothing to record.
            if (entry.state !== state) entry.state = '';
            entry.ranges.push([String(start), digest, String(end)]);
            bound.set(file, entry);
          },
        }),
  });
  if (cache !== undefined && bound.size > 0) {
    // Only digests the signed manifest vouches for are remembered: a
    // changed file is hashed again next time, and the cache never holds a
    // digest no trusted signer signed.
    const signedDigests = new Map<string, string>();
    if (signedTable !== undefined) {
      for (let i = 0; i < signedTable.count; i++)
        signedDigests.set(signedTable.name(i), signedTable.digestHex(i));
    } else {
      for (const r of signed.resources)
        signedDigests.set(r.name, r.digest.toLowerCase());
    }
    const vouched = (
      name: string,
      start: string,
      end: string,
      digest: string,
    ): boolean =>
      signedDigests.get(
        s.method === 'shards'
          ? shardName(name, Number(start), Number(end))
          : name,
      ) === digest;
    for (const [f, entry] of bound) {
      if (entry.state === '' || entry.ranges.length !== rangeCount(files, f, s))
        continue;
      const name = files.name(f);
      if (!entry.ranges.every((r) => vouched(name, r[0]!, r[2]!, r[1]!)))
        continue;
      entry.ranges.sort((a, b) => Number(a[0]) - Number(b[0]));
      cache.record(
        entry.state,
        algorithm,
        entry.ranges.map((r) => r[1]!),
      );
    }
  }
  const ignoreUnsigned = options.ignoreUnsignedFiles === true;
  const rest = {
    warnings: walk.warnings,
    ...(hfCache === undefined ? {} : { hfCache }),
  };
  if (arrival !== undefined)
    return {
      compare: withDirectoryLinks(
        arrival.result(ignoreUnsigned),
        walk.directoryLinks,
        algorithm,
      ),
      ...rest,
    };
  const actual = manifestFromTable(
    signed.modelName,
    { ...s, ignorePaths: [...entries] },
    table,
  );
  return {
    compare: withDirectoryLinks(
      signedTable !== undefined
        ? compareTables(signedTable, table, ignoreUnsigned)
        : compareManifests(signed, actual, {
            ignoreUnsignedFiles: ignoreUnsigned,
          }),
      walk.directoryLinks,
      algorithm,
    ),
    actual,
    ...rest,
  };
}

/**
 * `compare` with each link to a directory (skipped by the walk, as the
 * reference skips it) as an unsigned entry named `path/`: a loader reads
 * what is under it and nothing there is signed (stop 29 red team). With
 * `ignoreUnsignedFiles` it is tolerated like any unsigned file; an ignore
 * path leaves it out.
 */
function withDirectoryLinks(
  compare: CompareResult,
  links: readonly string[],
  algorithm: string,
): CompareResult {
  if (links.length === 0) return compare;
  const extra = [
    ...compare.extra,
    ...links.map((path) => ({ name: `${path}/`, algorithm, digest: '' })),
  ];
  extra.sort((a, b) => comparePaths(a.name, b.name));
  return compareResult(
    compare.missing,
    extra,
    compare.changed,
    compare.extraTolerated,
  );
}

type Ranges = Pick<Serialization, 'method' | 'shardSize'>;

function rangeCount(files: FileTable, f: number, s: Ranges): number {
  return s.method === 'shards'
    ? Math.ceil(files.size(f) / (s.shardSize as number))
    : 1;
}

/**
 * The cached digests of file `f` when its current state has them, taken the
 * way the hasher opens the file: without following a final link unless it
 * was reached through one. Anything but a regular file of the enumerated
 * size is hashed (and then fails the way it would without a cache).
 */
function fromCache(
  files: FileTable,
  f: number,
  s: Ranges,
  cache: VerifyCache,
  algorithm: string,
): readonly string[] | undefined {
  let state: string | undefined;
  try {
    const st = (files.viaSymlink(f) ? statSync : lstatSync)(
      files.pathString(f),
      {
        bigint: true,
      },
    );
    if (st.isFile() && st.size === BigInt(files.size(f))) state = fileState(st);
  } catch {
    state = undefined;
  }
  const digests =
    state === undefined ? undefined : cache.lookup(state, algorithm);
  if (digests === undefined || digests.length !== rangeCount(files, f, s)) {
    cache.stats.misses += 1;
    return undefined;
  }
  cache.stats.hits += 1;
  cache.stats.bytesSkipped += files.size(f);
  return digests;
}
