// SPDX-License-Identifier: Apache-2.0
/**
 * Shared steps of hashing a model: turning enumerated files into hash tasks,
 * and digests into ordered resources.
 */
import { modelSealError } from '../errors.js';
import {
  runHashTasks,
  type HashTaskSource,
  type WorkerReserve,
} from './hash-pool.js';
import {
  ResourceTable,
  type FileTable,
  type TableSerialization,
} from './table.js';
import type { HashProgress } from './types.js';

/** Options of {@link hashFiles}. */
export interface HashFilesOptions {
  concurrency?: number | undefined;
  /** Workers started while the model was listed. */
  reserve?: WorkerReserve | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((event: HashProgress) => void) | undefined;
  /**
   * Report, for each range hashed, the state of the file that was read
   * (`dev:ino:size:mtimeNs:ctimeNs` from the open descriptor, unchanged while
   * hashing): the verification cache binds digests to it.
   */
  onBound?:
    | ((
        file: number,
        start: number,
        end: number,
        digest: string,
        state: string,
      ) => void)
    | undefined;
  /**
   * Digests already known for file `file` (one per range, hex): its ranges
   * are not read (the verification cache).
   */
  known?: ((file: number) => readonly string[] | undefined) | undefined;
  /**
   * Called with the table once its rows are set and before any is hashed;
   * with `keep`, a digest that arrives is stored only when `keep` says so
   * (a verify compares it on arrival, and keeps only the differences).
   */
  onTable?: ((table: ResourceTable) => void) | undefined;
  keep?: ((resource: number, digest: string) => boolean) | undefined;
}

const PROGRESS_INTERVAL_MS = 100;

/**
 * Hashes the files (in the reference order: {@link FileTable.sorted}) with
 * the serialization's method and hash, and returns their resources in that
 * order (oms-format.md §8, §10) as a {@link ResourceTable}.
 *
 * Memory per file is a few bytes (issue 12 item 6): ranges and digests live
 * in typed arrays, tasks are built only for the batches in flight.
 */
export async function hashFiles(
  files: FileTable,
  serialization: TableSerialization,
  options: HashFilesOptions = {},
): Promise<{ table: ResourceTable; bytes: number }> {
  const shards = serialization.method !== 'files';
  const shardSize = serialization.shardSize;
  if (shards && (shardSize === undefined || shardSize <= 0)) {
    options.reserve?.close();
    throw modelSealError(
      'INVALID_OPTIONS',
      'shard size must be a positive integer',
    );
  }
  // Empty files have no shard (oms-format.md §10.2): the format cannot record them.
  const rangesOf = (size: number): number =>
    shards ? Math.ceil(size / (shardSize as number)) : 1;
  let count = 0;
  for (let f = 0; f < files.length; f++) count += rangesOf(files.size(f));
  const table = new ResourceTable(
    serialization,
    files.names,
    count,
    files.order,
  );
  // Ranges of each file still to hash (shards only: a file is one range otherwise).
  const rangesLeft = shards ? new Uint32Array(files.length) : undefined;
  // Resources still to hash, when some digests are known or a file can have
  // no range; otherwise every resource, in order (no array: 200,000 files,
  // 0.8 MB).
  const pending =
    shards || options.known !== undefined ? new Uint32Array(count) : undefined;
  const resourceOf = (i: number): number =>
    pending === undefined ? i : pending[i]!;
  let pendingCount = 0;
  let bytesTotal = 0;
  let filesDone = 0;
  {
    let r = 0;
    for (let f = 0; f < files.length; f++) {
      const size = files.size(f);
      const n = rangesOf(size);
      const known = options.known?.(f);
      const usable = known !== undefined && known.length === n;
      if (rangesLeft !== undefined) rangesLeft[f] = usable ? 0 : n;
      if (usable || n === 0) filesDone += 1;
      for (let k = 0; k < n; k++, r++) {
        if (shards) {
          const start = k * (shardSize as number);
          table.fileOf![r] = f;
          table.start![r] = start;
          table.end![r] = Math.min(start + (shardSize as number), size);
        }
        if (usable) table.setDigestHex(r, known[k]!);
        else {
          if (pending !== undefined) pending[pendingCount] = r;
          pendingCount++;
          bytesTotal += rangeEnd(r) - rangeStart(r);
        }
      }
    }
  }
  function rangeStart(r: number): number {
    return shards ? table.start![r]! : 0;
  }
  function rangeEnd(r: number): number {
    return shards ? table.end![r]! : files.size(r);
  }
  const fileOfResource = (r: number): number => table.file(r);
  options.onTable?.(table);
  const keep = options.keep;
  const source: HashTaskSource = {
    count: pendingCount,
    bytes: (i) => rangeEnd(resourceOf(i)) - rangeStart(resourceOf(i)),
    task: (i) => {
      const r = resourceOf(i);
      const f = fileOfResource(r);
      const path = files.pathString(f);
      const name = files.name(f);
      return {
        id: i,
        path,
        name: name === '.' ? path : name,
        start: rangeStart(r),
        end: rangeEnd(r),
        size: files.size(f),
        algorithm: serialization.hashType,
        noFollow: !files.viaSymlink(f),
        ...(options.onBound === undefined ? {} : { bindStat: true }),
      };
    },
  };

  const filesTotal = files.length;
  let bytesDone = 0;
  let lastEmit = 0;
  const emit = (force: boolean, path?: string): void => {
    if (!options.onProgress) return;
    const now = Date.now();
    if (!force && now - lastEmit < PROGRESS_INTERVAL_MS) return;
    lastEmit = now;
    const event: HashProgress = {
      phase: 'hash',
      bytesDone,
      bytesTotal,
      filesDone,
      filesTotal,
    };
    if (path !== undefined) event.path = path;
    options.onProgress(event);
  };
  emit(true);
  if (pendingCount === 0) options.reserve?.close();
  if (pendingCount > 0) {
    await runHashTasks(source, {
      concurrency: options.concurrency,
      reserve: options.reserve,
      signal: options.signal,
      onBytes: (n) => {
        bytesDone += n;
        emit(false);
      },
      onDigest: (id, digest, state) => {
        const r = resourceOf(id);
        if (keep === undefined || keep(r, digest))
          table.setDigestHex(r, digest);
        if (state !== undefined)
          options.onBound?.(
            fileOfResource(r),
            rangeStart(r),
            rangeEnd(r),
            digest,
            state,
          );
      },
      onTaskDone: (task) => {
        const f = fileOfResource(resourceOf(task.id));
        if (rangesLeft !== undefined) rangesLeft[f] = rangesLeft[f]! - 1;
        if (rangesLeft === undefined || rangesLeft[f] === 0) {
          filesDone += 1;
          // Un-throttled: --progress plain prints a line per file.
          if (options.onProgress) emit(true, files.name(f));
        }
      },
    });
  }
  bytesDone = bytesTotal;
  filesDone = filesTotal;
  emit(true);
  return { table, bytes: bytesTotal };
}
