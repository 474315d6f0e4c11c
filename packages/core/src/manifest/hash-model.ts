// SPDX-License-Identifier: Apache-2.0
import { realpath } from 'node:fs/promises';
import {
  basename,
  dirname,
  isAbsolute,
  join,
  relative,
  resolve,
} from 'node:path';
import { DEFAULT_GIT_IGNORES, DEFAULT_SHARD_SIZE } from '../constants.js';
import { modelSealError } from '../errors.js';
import { isHashAlgorithm } from './algorithms.js';
import { hashFiles } from './build.js';
import { blake3Unavailable } from './hash-worker.js';
import { IgnoreSet, normaliseIgnorePath } from './ignore.js';
import { modelNameOf } from './model-name.js';
import { comparePaths } from './order.js';
import { WorkerReserve } from './hash-pool.js';
import { listingStarted } from './worker-spawn.js';
import { manifestFromTable, type ResourceTable } from './table.js';
import { enumerateModel } from './walk.js';
import type {
  HashModelOptions,
  HashModelResult,
  Serialization,
} from './types.js';

/** Resolves an ignore entry against the model root, trying the real path too (e.g. `/tmp` links). */
export async function resolveIgnoreEntry(
  entry: string,
  root: string,
): Promise<string | undefined> {
  const direct = normaliseIgnorePath(entry, root);
  if (direct !== undefined || !isAbsolute(entry)) return direct;
  const rootReal = await realpath(root).catch(() => root);
  // The entry may not exist (a signature about to be written): resolve its parent.
  const entryReal = await realpath(entry).catch(async () =>
    join(
      await realpath(dirname(entry)).catch(() => dirname(entry)),
      basename(entry),
    ),
  );
  const rel = relative(rootReal, entryReal);
  if (rel === '' || rel === '..' || rel.startsWith('../') || isAbsolute(rel))
    return undefined;
  return rel;
}

/**
 * Lists the files `hashModel` would hash with these options (same ignore and
 * symlink rules), as absolute paths, without reading them. For scanning
 * exactly what is signed.
 *
 * @throws the enumeration errors of {@link hashModel}
 */
export async function listModelFiles(
  modelPath: string,
  options: HashModelOptions = {},
): Promise<{ files: string[]; singleFile: boolean }> {
  const root = resolve(modelPath);
  const ignore = new IgnoreSet(
    await ignoreEntries(
      root,
      gitDefaults(options),
      options.ignorePaths,
      options.signaturePath,
    ),
  );
  const walk = await enumerateModel(modelPath, {
    allowSymlinks: options.allowSymlinks ?? false,
    strictSymlinks: options.strictSymlinks ?? false,
    skip: (rel) => ignore.matches(rel),
    signal: options.signal,
  });
  const files = walk.files;
  const paths = new Array<string>(files.length);
  for (let i = 0; i < files.length; i++) paths[i] = files.pathString(i);
  return { files: paths, singleFile: walk.singleFile };
}

/**
 * The ignore entries of one operation, relative to the model root: `base`
 * (git defaults, or a bundle's recorded list), the caller's paths, and the
 * signature file when it lies inside the model (oms-format.md §11).
 */
export async function ignoreEntries(
  root: string,
  base: Iterable<string>,
  ignorePaths: readonly string[] | undefined,
  signaturePath: string | undefined,
): Promise<Set<string>> {
  const entries = new Set<string>(base);
  const given = [
    ...(ignorePaths ?? []),
    ...(signaturePath === undefined ? [] : [resolve(signaturePath)]),
  ];
  for (const entry of given) {
    const rel = await resolveIgnoreEntry(entry, root);
    if (rel !== undefined) entries.add(rel);
  }
  return entries;
}

const gitDefaults = (options: HashModelOptions): readonly string[] =>
  options.ignoreGitPaths === false ? [] : DEFAULT_GIT_IGNORES;

/** Checks hashing options; blake3 with shards is refused (the reference silently hashes files instead). */
export function checkHashOptions(
  options: HashModelOptions,
): Pick<Serialization, 'method' | 'hashType' | 'shardSize'> {
  const hashType = options.hashAlgorithm ?? 'sha256';
  if (!isHashAlgorithm(hashType)) {
    throw modelSealError(
      'INVALID_OPTIONS',
      `unsupported hash algorithm ${JSON.stringify(hashType)} (use sha256, blake2b or blake3)`,
    );
  }
  if (hashType === 'blake3') {
    const problem = blake3Unavailable();
    if (problem !== undefined)
      throw modelSealError('UNSUPPORTED_ALGORITHM', problem);
  }
  const method =
    options.method ?? (options.shardSize !== undefined ? 'shards' : 'files');
  if (method !== 'files' && method !== 'shards') {
    throw modelSealError(
      'INVALID_OPTIONS',
      `unsupported serialization method ${JSON.stringify(method)}`,
    );
  }
  if (method === 'files') {
    if (options.shardSize !== undefined)
      throw modelSealError(
        'INVALID_OPTIONS',
        'a shard size needs the shards method',
      );
    return { method, hashType };
  }
  const shardSize = options.shardSize ?? DEFAULT_SHARD_SIZE;
  if (!Number.isSafeInteger(shardSize) || shardSize <= 0) {
    throw modelSealError(
      'INVALID_OPTIONS',
      `shard size must be a positive integer, got ${String(shardSize)}`,
    );
  }
  if (hashType === 'blake3') {
    throw modelSealError(
      'INVALID_OPTIONS',
      'blake3 cannot be combined with shards (model_signing would silently hash whole files)',
    );
  }
  return { method, hashType, shardSize };
}

/**
 * Hashes a model (a directory or one file) into an OMS manifest, streaming
 * every file on worker threads. The signature file and ignored paths are left
 * out and recorded in `serialization.ignore_paths`.
 *
 * @throws EMPTY_MODEL when no file is left after ignores
 * @throws INVALID_OPTIONS, IO_ERROR, INVALID_PATH, SYMLINK_NOT_ALLOWED,
 *   UNSUPPORTED_FILE_TYPE, ABORTED
 */
export async function hashModel(
  modelPath: string,
  options: HashModelOptions = {},
): Promise<HashModelResult> {
  const config = checkHashOptions(options);
  const root = resolve(modelPath);
  const allowSymlinks = options.allowSymlinks ?? false;
  const entries = await ignoreEntries(
    root,
    gitDefaults(options),
    options.ignorePaths,
    options.signaturePath,
  );
  const ignore = new IgnoreSet(entries);
  listingStarted();
  options.onProgress?.({
    phase: 'enumerate',
    bytesDone: 0,
    bytesTotal: 0,
    filesDone: 0,
    filesTotal: 0,
  });
  // Workers start while a large model is still being listed.
  const reserve = new WorkerReserve(
    options.concurrency,
    config.method === 'shards' ? config.shardSize : undefined,
  );
  let walk: Awaited<ReturnType<typeof enumerateModel>>;
  let table: ResourceTable;
  let bytes: number;
  try {
    walk = await enumerateModel(modelPath, {
      allowSymlinks,
      strictSymlinks: options.strictSymlinks ?? false,
      skip: (rel) => ignore.matches(rel),
      onLarge: (files, bytes, largest) => reserve.start(files, bytes, largest),
      signal: options.signal,
    });
    if (walk.files.length === 0) {
      throw modelSealError(
        'EMPTY_MODEL',
        `${modelPath}: no file to sign after ignores`,
        { details: { path: modelPath } },
      );
    }
    ({ table, bytes } = await hashFiles(walk.files, config, {
      concurrency: options.concurrency,
      reserve,
      signal: options.signal,
      onProgress: options.onProgress,
    }));
    if (table.count === 0) {
      // Shards of empty files do not exist: a model of empty files has no resource.
      throw modelSealError(
        'EMPTY_MODEL',
        `${modelPath}: only empty files, which shard manifests cannot record`,
        { details: { path: modelPath } },
      );
    }
  } finally {
    reserve.close();
  }
  const serialization: Serialization = {
    ...config,
    allowSymlinks,
    ignorePaths: walk.singleFile
      ? [...gitDefaults(options)]
      : [...entries].sort(comparePaths),
  };
  // What was in force is recorded even when it is nothing (git defaults off,
  // signature outside): otherwise verify could not tell this bundle from a
  // pre-1.1 one and would re-apply the git defaults, hiding files added under
  // .git/, .github/ or .gitattributes (issue 12 item 4).
  if (serialization.ignorePaths.length === 0)
    serialization.ignorePathsRecorded = true;
  return {
    // `resources` is made from the table only if the caller reads it.
    manifest: manifestFromTable(modelNameOf(modelPath), serialization, table),
    warnings: walk.warnings,
    bytes,
  };
}
