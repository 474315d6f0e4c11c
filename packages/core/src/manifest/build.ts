// SPDX-License-Identifier: Apache-2.0
/**
 * Shared steps of hashing a model: turning enumerated files into hash tasks,
 * and digests into ordered resources.
 */
import { modelSealError } from '../errors.js';
import { algorithmName } from './algorithms.js';
import type { HashTask } from './hash-worker.js';
import { runHashTasks } from './hash-pool.js';
import { shardName } from './names.js';
import { compareResourceKeys } from './order.js';
import type { ModelFile } from './walk.js';
import type { HashProgress, Resource, Serialization } from './types.js';

/** Options of {@link hashFiles}. */
export interface HashFilesOptions {
  concurrency?: number | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((event: HashProgress) => void) | undefined;
}

const PROGRESS_INTERVAL_MS = 100;

/**
 * Hashes the files with the serialization's method and hash, and returns the
 * resources in the reference order (oms-format.md §8, §10).
 */
export async function hashFiles(
  files: readonly ModelFile[],
  serialization: Pick<Serialization, 'method' | 'hashType' | 'shardSize'>,
  options: HashFilesOptions = {},
): Promise<{ resources: Resource[]; bytes: number }> {
  const algorithm = algorithmName(serialization);
  const tasks: HashTask[] = [];
  const keys: { parts: string[]; start: number; end: number; name: string }[] =
    [];
  for (const file of files) {
    const parts = file.name.split('/');
    const ranges: [number, number][] = [];
    if (serialization.method === 'files') {
      ranges.push([0, file.size]);
    } else {
      const shardSize = serialization.shardSize;
      if (shardSize === undefined || shardSize <= 0) {
        throw modelSealError(
          'INVALID_OPTIONS',
          'shard size must be a positive integer',
        );
      }
      // Empty files have no shard (oms-format.md §10.2): the format cannot record them.
      for (let start = 0; start < file.size; start += shardSize)
        ranges.push([start, Math.min(start + shardSize, file.size)]);
    }
    for (const [start, end] of ranges) {
      tasks.push({
        id: tasks.length,
        path: file.path,
        name: file.name === '.' ? file.path.toString('utf8') : file.name,
        start,
        end,
        size: file.size,
        algorithm: serialization.hashType,
        noFollow: !file.viaSymlink,
      });
      const name =
        serialization.method === 'files'
          ? file.name
          : shardName(file.name, start, end);
      keys.push({
        parts,
        start: serialization.method === 'files' ? 0 : start,
        end: serialization.method === 'files' ? 0 : end,
        name,
      });
    }
  }

  const bytesTotal = tasks.reduce((sum, t) => sum + t.end - t.start, 0);
  const filesTotal = files.length;
  let bytesDone = 0;
  let filesDone = 0;
  let lastEmit = 0;
  const doneByFile = new Map<Uint8Array, number>();
  const tasksPerFile = new Map<Uint8Array, number>();
  for (const task of tasks)
    tasksPerFile.set(task.path, (tasksPerFile.get(task.path) ?? 0) + 1);
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
  const nameOf = new Map<Uint8Array, string>(
    files.map((f) => [f.path, f.name]),
  );
  emit(true);
  const digests = await runHashTasks(tasks, {
    concurrency: options.concurrency,
    signal: options.signal,
    onBytes: (n) => {
      bytesDone += n;
      emit(false);
    },
    onTaskDone: (task) => {
      // Files with no shard (empty, in shard mode) never report; they count as done at the end.
      const done = (doneByFile.get(task.path) ?? 0) + 1;
      doneByFile.set(task.path, done);
      if (done === tasksPerFile.get(task.path)) {
        filesDone += 1;
        // Never throttled: a file finished is one line of --progress plain.
        emit(true, nameOf.get(task.path));
      }
    },
  });
  bytesDone = bytesTotal;
  filesDone = filesTotal;
  emit(true);

  const order = keys
    .map((_, index) => index)
    .sort((a, b) => compareResourceKeys(keys[a]!, keys[b]!));
  const resources = order.map((index) => ({
    name: keys[index]!.name,
    algorithm,
    digest: digests[index]!,
  }));
  return { resources, bytes: bytesTotal };
}
