// SPDX-License-Identifier: Apache-2.0
import { resolve } from 'node:path';
import { DEFAULT_SIGNATURE_NAME } from '@modelseal/core/constants';
import type {
  HashAlgorithm,
  HashModelOptions,
  Manifest,
} from '@modelseal/core/manifest';
import { flag, list, positiveInteger, str, type Parsed } from '../args.js';
import { UsageError } from '../exit-codes.js';
import type { ProgressMode } from '../output/progress.js';

/** Flags shared by the commands that hash a model. */
export const MODEL_FLAGS = {
  'ignore-paths': { type: 'string', multiple: true },
  'ignore-git-paths': { type: 'boolean', default: true },
  'allow-symlinks': { type: 'boolean' },
  hash: { type: 'string' },
  'shard-size': { type: 'string' },
  threads: { type: 'string' },
} as const;

/** Output flags shared by every command. */
export const OUTPUT_FLAGS = {
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  progress: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Hashing options from the model flags. Ignore paths are relative to the current directory, as in model_signing's CLI. */
export function hashOptionsFrom(parsed: Parsed): HashModelOptions {
  const options: HashModelOptions = {
    ignorePaths: list(parsed, 'ignore-paths').map((p) => resolve(p)),
    ignoreGitPaths: parsed.values['ignore-git-paths'] !== false,
    allowSymlinks: flag(parsed, 'allow-symlinks'),
  };
  const hash = str(parsed, 'hash');
  if (hash !== undefined) {
    if (hash !== 'sha256' && hash !== 'blake2b' && hash !== 'blake3') {
      throw new UsageError(
        `--hash must be sha256, blake2b or blake3, got ${JSON.stringify(hash)}`,
      );
    }
    options.hashAlgorithm = hash satisfies HashAlgorithm;
  }
  const shardSize = positiveInteger(parsed, 'shard-size');
  if (shardSize !== undefined) {
    options.method = 'shards';
    options.shardSize = shardSize;
  }
  const threads = threadsFrom(parsed);
  if (threads !== undefined) options.concurrency = threads;
  return options;
}

/** `--threads N`: hashing threads, the calling thread included (default: one per core, no more than the work keeps busy). */
export function threadsFrom(parsed: Parsed): number | undefined {
  const threads = positiveInteger(parsed, 'threads');
  if (threads !== undefined && threads > MAX_THREADS)
    throw new UsageError(
      `--threads must be at most ${MAX_THREADS}, got ${threads}`,
    );
  return threads;
}

/** Each hashing thread but this one is a worker of about 20 MiB. */
const MAX_THREADS = 256;

/** The progress mode: none with --json or --quiet, else --progress (auto by default). */
export function progressModeFrom(parsed: Parsed): ProgressMode {
  if (flag(parsed, 'json') || flag(parsed, 'quiet')) return 'none';
  const mode = str(parsed, 'progress') ?? 'auto';
  if (mode !== 'auto' && mode !== 'plain' && mode !== 'none') {
    throw new UsageError(
      `--progress must be auto, plain or none, got ${JSON.stringify(mode)}`,
    );
  }
  return mode;
}

/** `file.hash.sha256` of an audit event: only a single-file model's own SHA-256. */
export async function fileSha256Of(
  manifest: Pick<Manifest, 'resources'>,
): Promise<{ fileSha256?: string }> {
  // Loaded only with an audit log (the only caller).
  const { singleFileSha256 } = await import('@modelseal/core/audit');
  const sha = singleFileSha256(manifest);
  return sha === undefined ? {} : { fileSha256: sha };
}

/** The bundle path from `--signature`/`--bundle` (the same flag), absolute; default `model.sig`. */
export function signaturePathFrom(parsed: Parsed): string {
  const signature = str(parsed, 'signature');
  const bundle = str(parsed, 'bundle');
  if (signature !== undefined && bundle !== undefined && signature !== bundle) {
    throw new UsageError(
      '--signature and --bundle name the same file; give one',
    );
  }
  return resolve(signature ?? bundle ?? DEFAULT_SIGNATURE_NAME);
}
