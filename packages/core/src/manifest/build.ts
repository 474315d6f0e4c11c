// SPDX-License-Identifier: Apache-2.0
/**
 * Shared steps of hashing a model: turning enumerated files into hash tasks,
 * and digests into ordered resources.
 */
import { modelSealError } from '../errors.js';
import { algorithmName } from './algorithms.js';
import { runHashTasks, type HashTaskSource } from './hash-pool.js';
import { shardName } from './names.js';
import { comparePaths } from './order.js';
import type { ModelFile } from './walk.js';
import type { HashProgress, Resource, Serialization } from './types.js';

/** Options of {@link hashFiles}. */
export interface HashFilesOptions {
  concurrency?: number | undefined;
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
}

const PROGRESS_INTERVAL_MS = 100;

/**
 * Hashes the files with the serialization's method and hash, and returns the
 * resources in the reference order (oms-format.md §8, §10).
 *
 * Memory per file is the resource it returns and little else (issue 12
 * item 6): ranges live in typed arrays, tasks are built only for the batches
 * in flight, the order is an index array, and names are not split.
 */
export async function hashFiles(
  files: readonly ModelFile[],
  serialization: Pick<Serialization, 'method' | 'hashType' | 'shardSize'>,
  options: HashFilesOptions = {},
): Promise<{ resources: Resource[]; bytes: number }> {
  const algorithm = algorithmName(serialization);
  const shards = serialization.method !== 'files';
  const shardSize = serialization.shardSize;
  if (shards && (shardSize === undefined || shardSize <= 0)) {
    throw modelSealError(
      'INVALID_OPTIONS',
      'shard size must be a positive integer',
    );
  }
  // Empty files have no shard (oms-format.md §10.2): the format cannot record them.
  const rangesOf = (size: number): number =>
    shards ? Math.ceil(size / (shardSize as number)) : 1;
  let count = 0;
  for (const file of files) count += rangesOf(file.size);
  const taskFile = new Uint32Array(count);
  const taskStart = new Float64Array(count);
  const taskEnd = new Float64Array(count);
  const rangesLeft = new Uint32Array(files.length);
  let bytesTotal = 0;
  {
    let t = 0;
    for (const [f, file] of files.entries()) {
      const n = rangesOf(file.size);
      rangesLeft[f] = n;
      for (let k = 0; k < n; k++, t++) {
        const start = shards ? k * (shardSize as number) : 0;
        const end = shards
          ? Math.min(start + (shardSize as number), file.size)
          : file.size;
        taskFile[t] = f;
        taskStart[t] = start;
        taskEnd[t] = end;
        bytesTotal += end - start;
      }
    }
  }
  const source: HashTaskSource = {
    count,
    bytes: (i) => (taskEnd[i] as number) - (taskStart[i] as number),
    task: (i) => {
      const file = files[taskFile[i] as number] as ModelFile;
      const path = file.path;
      return {
        id: i,
        path,
        name: file.name === '.' ? path.toString('utf8') : file.name,
        start: taskStart[i] as number,
        end: taskEnd[i] as number,
        size: file.size,
        algorithm: serialization.hashType,
        noFollow: !file.viaSymlink,
        ...(options.onBound === undefined ? {} : { bindStat: true }),
      };
    },
  };

  const filesTotal = files.length;
  let bytesDone = 0;
  let filesDone = 0;
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
  const digests = await runHashTasks(source, {
    concurrency: options.concurrency,
    signal: options.signal,
    onBytes: (n) => {
      bytesDone += n;
      emit(false);
    },
    onState: (id, state, digest) =>
      options.onBound?.(
        taskFile[id] as number,
        taskStart[id] as number,
        taskEnd[id] as number,
        digest,
        state,
      ),
    onTaskDone: (task) => {
      // Files with no shard (empty, in shard mode) never report; they count as done at the end.
      const f = taskFile[task.id] as number;
      rangesLeft[f] = (rangesLeft[f] as number) - 1;
      if (rangesLeft[f] === 0) {
        filesDone += 1;
        emit(true, (files[f] as ModelFile).name); // un-throttled: --progress plain prints a line per file
      }
    },
  });
  bytesDone = bytesTotal;
  filesDone = filesTotal;
  emit(true);

  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  order.sort(
    (a, b) =>
      comparePaths(
        (files[taskFile[a] as number] as ModelFile).name,
        (files[taskFile[b] as number] as ModelFile).name,
      ) ||
      (taskStart[a] as number) - (taskStart[b] as number) ||
      (taskEnd[a] as number) - (taskEnd[b] as number),
  );
  const resources = new Array<Resource>(count);
  for (let k = 0; k < count; k++) {
    const i = order[k] as number;
    const name = (files[taskFile[i] as number] as ModelFile).name;
    resources[k] = {
      name: shards
        ? shardName(name, taskStart[i] as number, taskEnd[i] as number)
        : name,
      algorithm,
      digest: digests[i] as string,
    };
  }
  return { resources, bytes: bytesTotal };
}
