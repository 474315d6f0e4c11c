// SPDX-License-Identifier: Apache-2.0
/**
 * `@modelseal/core/prestart`: start the hash workers a model will need before
 * anything else, so that their start (50-100 ms each on a small machine)
 * overlaps loading the command's modules, reading the bundle and listing
 * the model instead of delaying the hashing (issue 11 items 2-3).
 *
 * Imports only Node built-ins and the worker starter.
 */
import { lstatSync, opendirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { sep } from 'node:path';
import {
  INLINE_BYTES,
  INLINE_FILES,
  SMALL_AVERAGE,
  prestartWorkers,
  workersFor,
  workersForRanges,
} from './worker-spawn.js';

export { whenHashWorkersLoaded, whenListingStarts } from './worker-spawn.js';

/** Options of {@link prestartHashWorkers}. */
export interface PrestartOptions {
  /** Hashing threads, the calling thread included (as `hashModel`'s `concurrency`). */
  concurrency?: number | undefined;
  /** The model is to be hashed in shards: one large file also uses workers. */
  shards?: boolean | undefined;
  /**
   * Start workers only for a model of few files (at most 64). For
   * verification: a statement of many files is decoded before the hashing
   * starts, and a worker started ahead would be held through that phase, the
   * peak of its memory (200,000 files: 10 MiB more).
   */
  fewFilesOnly?: boolean | undefined;
  /**
   * The shard size, when known, for a model hashed in shards: a file's or a
   * folder's shards are counted, and no more workers are started than they
   * keep busy.
   */
  shardSize?: number | undefined;
}

/** What {@link prestartHashWorkers} found and did. */
export interface PrestartResult {
  /** The model is large enough for its hashing to use workers (more than 64 files, or 16 MiB). */
  large: boolean;
  /** More than 64 files (or a tree too wide to count). */
  manyFiles: boolean;
  /** Workers started. */
  workers: number;
  /**
   * At most 64 ranges to hash, as far as the look can tell: files, or, in
   * shards of a known size, the shards they make (counted generously).
   * False when the look cannot tell (many files, a tree too wide, shards of
   * an unknown size, a path it could not read).
   */
  fewRanges: boolean;
  /**
   * The ranges the look saw average at least {@link LARGE_RANGE_BYTES}
   * (64 KiB; in shards, four times that): files, or, in shards of a known
   * size, the shards they make (counted generously: each file's last shard
   * again). A sample when the look was cut short (its first 65 files): then
   * at least 16 files seen, averaged without the largest, so that one large
   * file does not speak for a tree of small ones. A hint for tuning, never
   * for a check. False when the look saw no file, or shards of an unknown
   * size.
   */
  largeRanges: boolean;
}

/**
 * A range this large, on average, takes far longer to hash than the JS
 * around it (listing, hand-out, comparison): on the 2-core machine, a
 * `digest` of 64 KiB files ran as fast without Maglev as with it, of 32 KiB
 * files 7-15 % slower and of 16 KiB files 25-31 % slower
 * (docs/performance.md). The same line as the pool's small files
 * ({@link SMALL_AVERAGE}): on two threads, ranges under it get no worker.
 * A shard costs more JS than a file (its hand-out and its manifest entry):
 * in shards the line is four times higher (one 2 GiB file: in 64 KiB
 * shards 3 % more CPU without Maglev, in 128 KiB 2-4 %, in 256 KiB none).
 */
export const LARGE_RANGE_BYTES: number = SMALL_AVERAGE;

/** Files a cut look must have seen for {@link PrestartResult.largeRanges}. */
const SAMPLE_FILES = 16;

/**
 * Looks at a few hundred entries of `modelPath` at most (no read of any
 * content) and, when the model is large enough for the hashing to use
 * workers, starts them now; the next `hashModel` or `verifyModel` in this
 * process takes them. Never throws: a path that cannot be read starts
 * nothing (the hashing reports the problem).
 */
export function prestartHashWorkers(
  modelPath: string,
  options: PrestartOptions = {},
): PrestartResult {
  let look: Look;
  try {
    look = lookAt(modelPath);
  } catch {
    look = NOTHING;
  }
  // Many files, or a tree too wide to count: the look stopped early.
  const manyFiles = look.cut;
  const large = look.oneFile
    ? options.shards === true && look.bytes >= INLINE_BYTES
    : look.cut || look.bytes >= INLINE_BYTES;
  const threads = options.concurrency ?? availableParallelism();
  const many = Number.isSafeInteger(threads) && threads >= 2;
  const count = many ? workersToStart(look, large, threads, options) : 0;
  const fewRanges = rangesAtMost(look, options, INLINE_FILES);
  const largeRanges = rangesAverageAtLeast(look, options, LARGE_RANGE_BYTES);
  if (count === 0 || (manyFiles && options.fewFilesOnly === true))
    return { large, manyFiles, workers: 0, fewRanges, largeRanges };
  prestartWorkers(count);
  return { large, manyFiles, workers: count, fewRanges, largeRanges };
}

/**
 * The ranges the look saw: its files, or in shards of a known size the
 * shards of one file, or for a folder its files plus the shards its bytes
 * fill (each file's last shard counted again). Undefined when nothing was
 * seen, or in shards of an unknown size.
 */
function rangesSeen(look: Look, options: PrestartOptions): number | undefined {
  if (look === NOTHING) return undefined;
  if (options.shards !== true) return look.files;
  const shard = options.shardSize;
  if (shard === undefined || !Number.isSafeInteger(shard) || shard <= 0)
    return undefined;
  const shards = Math.ceil(look.bytes / shard);
  return look.oneFile ? Math.max(1, shards) : look.files + shards;
}

/**
 * Whether the ranges the look saw average at least `bytes` bytes (four
 * times that in shards); for a cut look, at least {@link SAMPLE_FILES} files
 * seen and the largest left out of the average.
 */
function rangesAverageAtLeast(
  look: Look,
  options: PrestartOptions,
  bytes: number,
): boolean {
  const ranges = rangesSeen(look, options);
  if (ranges === undefined || look.files === 0) return false;
  const line = options.shards === true ? 4 * bytes : bytes;
  if (!look.cut) return look.bytes >= ranges * line;
  if (look.files < SAMPLE_FILES) return false;
  return look.bytes - look.largest >= (ranges - 1) * line;
}

/** Whether the look saw it all, and at most `most` ranges ({@link rangesSeen}). */
function rangesAtMost(
  look: Look,
  options: PrestartOptions,
  most: number,
): boolean {
  if (look.cut) return false;
  const ranges = rangesSeen(look, options);
  return ranges !== undefined && ranges <= most;
}

/**
 * The workers to start for what the look saw (`threads` of at least two):
 * the pool's rule, as far as the look can judge it.
 */
function workersToStart(
  look: Look,
  large: boolean,
  threads: number,
  options: PrestartOptions,
): number {
  // One file is one range, or shards: as many workers as they keep busy
  // when their size is known.
  if (look.oneFile) {
    if (!large) return 0;
    const shard = options.shardSize;
    return shard !== undefined && Number.isSafeInteger(shard) && shard > 0
      ? shardWorkers(look.bytes, shard, threads)
      : threads - 1;
  }
  // In shards of a known size, a folder's files are at least as many ranges
  // as the shards their bytes fill, none larger than a shard (as
  // WorkerReserve counts them).
  const shard = options.shards === true ? options.shardSize : undefined;
  const seen =
    shard !== undefined && Number.isSafeInteger(shard) && shard > 0
      ? {
          ...look,
          files: Math.max(look.files, Math.ceil(look.bytes / shard)),
          largest: Math.min(look.largest, shard),
        }
      : look;
  // A folder is judged by the files seen: none for small files on two
  // threads, none beyond what the work keeps busy.
  if (!seen.cut)
    return workersFor(seen.files, seen.bytes, threads, seen.largest);
  // A look cut short before two files (a tree wide in folders) cannot
  // judge their size: started, as for any large tree.
  if (seen.files < 2) return threads - 1;
  // More files than the look saw, how many is not known: judged by those
  // seen, as if they were all (none for small files on two threads, none
  // that would not pay for its start, large files among them bounding the
  // rest). A larger tree gets the workers it needs while it is listed
  // (WorkerReserve), which starts the ones still missing.
  return workersFor(
    seen.files,
    seen.bytes,
    threads,
    seen.bytes >= INLINE_BYTES ? seen.largest : undefined,
  );
}

/** The pool's rule for one file of `size` bytes in shards of `shard`. */
function shardWorkers(size: number, shard: number, threads: number): number {
  const count = Math.ceil(size / shard);
  return workersForRanges(
    count,
    (i) => (i < count - 1 ? shard : size - shard * (count - 1)),
    threads,
  );
}

/** What a bounded look at the model path saw. */
interface Look {
  /** The path is a file. */
  oneFile: boolean;
  /** Files seen, their bytes, and the largest one's. */
  files: number;
  bytes: number;
  largest: number;
  /** The look stopped before the end: more than 64 files, or a tree too wide. */
  cut: boolean;
}

const NOTHING: Look = {
  oneFile: false,
  files: 0,
  bytes: 0,
  largest: 0,
  cut: false,
};

/** The files of `path`, looked at entry by entry up to a few hundred entries. */
function lookAt(path: string): Look {
  const root = statSync(path, { throwIfNoEntry: false });
  if (root === undefined) return NOTHING;
  if (root.isFile())
    return {
      oneFile: true,
      files: 1,
      bytes: root.size,
      largest: root.size,
      cut: false,
    };
  if (!root.isDirectory()) return NOTHING;
  let files = 0;
  let bytes = 0;
  let largest = 0;
  let entries = 0;
  const dirs = [path];
  while (dirs.length > 0) {
    const dir = dirs.pop()!;
    // Names joined by hand, not by path.join: its normalisation of a long
    // model path, a few hundred times, was hot enough for TurboFan before
    // the CLI turns it off (5 MiB of the `node` binary paged in: the
    // 200,000-file verify under a 50-character path peaked at 98 MiB
    // instead of 92). An entry's name holds no separator.
    const prefix = dir.endsWith(sep) ? dir : `${dir}${sep}`;
    // Entry by entry: one flat folder of 200,000 files is not read whole.
    const handle = opendirSync(dir);
    try {
      for (let entry = handle.readSync(); entry; entry = handle.readSync()) {
        // A tree this wide is not small, whatever its files (bounded look).
        if (++entries > 4 * INLINE_FILES)
          return { oneFile: false, files, bytes, largest, cut: true };
        const full = prefix + entry.name;
        if (entry.isDirectory()) dirs.push(full);
        else if (entry.isFile()) {
          files += 1;
          const size = lstatSync(full).size;
          bytes += size;
          if (size > largest) largest = size;
          if (files > INLINE_FILES)
            return { oneFile: false, files, bytes, largest, cut: true };
        }
      }
    } finally {
      handle.closeSync();
    }
  }
  return { oneFile: false, files, bytes, largest, cut: false };
}
