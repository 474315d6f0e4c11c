// SPDX-License-Identifier: Apache-2.0
import { basename, resolve } from 'node:path';
import { DEFAULT_GIT_IGNORES } from '../constants.js';
import { hashFiles } from './build.js';
import { compareManifests } from './compare.js';
import { ignoreEntries } from './hash-model.js';
import { IgnoreSet, isUsableRecordedIgnore } from './ignore.js';
import { parseShardName } from './names.js';
import { computeRootDigest } from './root-digest.js';
import { enumerateModel } from './walk.js';
import type {
  CompareResult,
  HashProgress,
  Manifest,
  ManifestWarning,
  Resource,
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
  const walk = await enumerateModel(modelPath, {
    allowSymlinks: s.allowSymlinks && options.allowSymlinks !== false,
    strictSymlinks: false,
    skip: (rel, isDirectory) => {
      if (!ignore.matches(rel)) return false;
      const paths = signedPaths();
      return !(isDirectory ? paths.dirs.has(rel) : paths.files.has(rel));
    },
    signal: options.signal,
  });
  const { resources } = await hashFiles(walk.files, s, {
    concurrency: options.concurrency,
    signal: options.signal,
    onProgress: options.onProgress,
  });
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
  };
}
