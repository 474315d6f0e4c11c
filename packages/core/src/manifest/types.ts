// SPDX-License-Identifier: Apache-2.0
/**
 * Types of the manifest engine: what a model is (its resources and their
 * digests) in the OMS v1.0 model (oms-format.md §4–§10).
 */
import type { HASH_ALGORITHMS } from '../constants.js';

/** A hash algorithm a manifest may use. The root digest is always SHA-256. */
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];

/** How a model is cut into resources. */
export type SerializationMethod = 'files' | 'shards';

/** The `predicate.serialization` block, in our own casing. */
export interface Serialization {
  method: SerializationMethod;
  hashType: HashAlgorithm;
  /** Present only for `shards`. */
  shardSize?: number;
  allowSymlinks: boolean;
  /** Ignore entries recorded by the signer, POSIX, relative to the model root, sorted. */
  ignorePaths: string[];
  /**
   * Set when `ignorePaths` is empty but recorded (`"ignore_paths": []`):
   * nothing was out of scope at signing (git defaults off, signature outside
   * the model), so verify applies no git defaults. Absent on statements that
   * record no list (pre-1.1), which get the git defaults as the reference
   * gave them.
   */
  ignorePathsRecorded?: true;
}

/** One entry of `predicate.resources`. */
export interface Resource {
  /** `dir/file.bin` for files, `dir/file.bin:START:END` for shards, `.` for a single-file model. */
  name: string;
  /** `sha256`, or `sha256-sharded-1000000000` for shards. */
  algorithm: string;
  /** Lowercase hex. */
  digest: string;
}

/** A model's manifest: the content of an OMS statement. */
export interface Manifest {
  /** `subject[0].name`: informational, never compared on verify. */
  modelName: string;
  serialization: Serialization;
  /** In serialization order (reference order when we produced them). */
  resources: Resource[];
  /** Hex SHA-256 over the raw resource digests in `resources` order. */
  rootDigest: string;
}

/** A progress event from hashing. */
export interface HashProgress {
  phase: 'enumerate' | 'hash';
  /** File being reported (POSIX, relative to the model root), when one is. */
  path?: string;
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
}

/** Options of {@link hashModel} and of enumeration. */
export interface HashModelOptions {
  /** Hash of each resource. Default `sha256`. */
  hashAlgorithm?: HashAlgorithm;
  /** `files` (default) or `shards`. */
  method?: SerializationMethod;
  /** Shard size in bytes when `method` is `shards`. Default 1,000,000,000. */
  shardSize?: number;
  /** Follow symlinks to files (hashing the target under the link name). Default false. */
  allowSymlinks?: boolean;
  /** Turn a symlink whose target lies outside the model root into an error. Default false (warning). */
  strictSymlinks?: boolean;
  /** Paths to leave out: relative to the model root, or absolute. Component-prefix match. */
  ignorePaths?: readonly string[];
  /** Ignore `.git`, `.gitattributes`, `.github`, `.gitignore` at the top level. Default true. */
  ignoreGitPaths?: boolean;
  /** Path of the signature file; always left out when it lies inside the model. */
  signaturePath?: string;
  /** Worker threads hashing in parallel. Default: the number of CPUs. 0 hashes on the calling thread. */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (event: HashProgress) => void;
}

/**
 * A warning that did not stop hashing: a symlink leaving the model root, or
 * a link to a directory, skipped (nothing under it is signed; verification
 * reports it as an unsigned entry).
 */
export interface ManifestWarning {
  code: 'SYMLINK_OUTSIDE_ROOT' | 'SYMLINK_TO_DIRECTORY';
  path: string;
  message: string;
}

/** Result of {@link hashModel}. */
export interface HashModelResult {
  manifest: Manifest;
  warnings: ManifestWarning[];
  /** Bytes hashed. */
  bytes: number;
}

/** A changed resource in a comparison. */
export interface ChangedResource {
  name: string;
  expected: { algorithm: string; digest: string };
  actual: { algorithm: string; digest: string };
}

/** Result of comparing a signed manifest with a model on disk. */
export interface CompareResult {
  /** True when nothing is missing or changed, and nothing extra (unless tolerated). */
  ok: boolean;
  /** Signed but not on disk. */
  missing: Resource[];
  /** On disk but not signed (and not ignored). */
  extra: Resource[];
  /**
   * In both with a different digest or algorithm; in shards, also a range
   * not signed of a file that has signed ranges (it grew: `expected.digest`
   * is empty).
   */
  changed: ChangedResource[];
  /** Whether extra files were tolerated (`ignoreUnsignedFiles`). */
  extraTolerated: boolean;
}
