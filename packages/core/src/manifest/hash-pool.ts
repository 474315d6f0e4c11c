// SPDX-License-Identifier: Apache-2.0
/**
 * Runs hash tasks on worker threads (one per core by default) with a dynamic
 * queue: the largest ranges first, small files handed out in batches. Each
 * worker owns two 1 MiB buffers, so peak memory does not grow with the model.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { modelSealError } from '../errors.js';
import {
  HASH_WORKER_MARK,
  HashTaskError,
  RangeHasher,
  type FromWorker,
  type HashTask,
  type ToWorker,
} from './hash-worker.js';

/** Options of {@link runHashTasks}. */
export interface HashPoolOptions {
  /** Worker threads; 0 hashes on the calling thread. Default: available parallelism. */
  concurrency?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Called with the number of bytes hashed since the last call. */
  onBytes?: ((bytes: number) => void) | undefined;
  /** Called when a task finishes. */
  onTaskDone?: ((task: HashTask) => void) | undefined;
  /** Called with the file state a `bindStat` task's digest is bound to. */
  onState?: ((id: number, state: string, digest: string) => void) | undefined;
}

/** Below this many bytes in all, starting workers costs more than it saves. */
const INLINE_BYTES = 16 * 1024 * 1024;
/** …and at most this many ranges: the calling thread uses async I/O, about 150 µs a file. */
const INLINE_FILES = 64;
const BATCH_BYTES = 8 * 1024 * 1024;
const BATCH_COUNT = 64;

function workerURL(): URL {
  // From source (tests) the sibling is a .ts file that Node runs with its type stripping.
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return new URL(`./hash-worker.${ext}`, import.meta.url);
}

function aborted(): never {
  throw modelSealError('ABORTED', 'hashing was cancelled');
}

function toModelSealError(error: {
  code: HashTaskError['code'];
  message: string;
}): Error {
  return modelSealError(error.code, error.message);
}

/** The default number of hashing threads: one per available core. */
export function defaultConcurrency(): number {
  return availableParallelism();
}

/**
 * Tasks made on demand: a large model is not held as one object per range
 * while it is hashed (issue 12 item 6), only the batches in flight are.
 */
export interface HashTaskSource {
  /** How many tasks. */
  readonly count: number;
  /** Bytes of task `index` (its range length). */
  bytes(index: number): number;
  /** Task `index`, built when it is sent; its `id` must be `index`. */
  task(index: number): HashTask;
}

/** A task source over an array of tasks whose ids are their indexes. */
export function taskArray(tasks: readonly HashTask[]): HashTaskSource {
  return {
    count: tasks.length,
    bytes: (i) => tasks[i]!.end - tasks[i]!.start,
    task: (i) => tasks[i]!,
  };
}

/**
 * Hashes every task and returns the hex digests in task order.
 *
 * @throws IO_ERROR, UNSUPPORTED_FILE_TYPE, SYMLINK_NOT_ALLOWED for a file that
 *   cannot be read or changed under us; ABORTED when `signal` fires
 */
export async function runHashTasks(
  tasks: readonly HashTask[] | HashTaskSource,
  options: HashPoolOptions = {},
): Promise<string[]> {
  const source = Array.isArray(tasks)
    ? taskArray(tasks as readonly HashTask[])
    : (tasks as HashTaskSource);
  if (options.signal?.aborted) aborted();
  let totalBytes = 0;
  for (let i = 0; i < source.count; i++) totalBytes += source.bytes(i);
  const requested = options.concurrency ?? defaultConcurrency();
  const workers = Math.min(requested, source.count);
  // Workers cost a few tens of milliseconds to start; a small model of few files is hashed here.
  if (
    workers <= 0 ||
    (totalBytes < INLINE_BYTES && source.count <= INLINE_FILES)
  )
    return hashInline(source, options);
  return hashOnWorkers(source, workers, options);
}

async function hashInline(
  source: HashTaskSource,
  options: HashPoolOptions,
): Promise<string[]> {
  const hasher = new RangeHasher();
  const digests: string[] = new Array<string>(source.count);
  const onBytes = options.onBytes ?? ((): void => {});
  for (let index = 0; index < source.count; index++) {
    if (options.signal?.aborted) aborted();
    const task = source.task(index);
    try {
      const result = await hasher.hashBound(task, onBytes, false);
      digests[index] = result.digest;
      if (result.state !== undefined)
        options.onState?.(index, result.state, result.digest);
    } catch (error) {
      if (error instanceof HashTaskError) throw toModelSealError(error);
      throw error;
    }
    options.onTaskDone?.(task);
  }
  return digests;
}

function hashOnWorkers(
  source: HashTaskSource,
  count: number,
  options: HashPoolOptions,
): Promise<string[]> {
  // Longest ranges first, so that one large file does not finish last alone.
  // Indexes in a typed array: four bytes a task.
  const queue = new Uint32Array(source.count);
  for (let i = 0; i < queue.length; i++) queue[i] = i;
  queue.sort((a, b) => source.bytes(b) - source.bytes(a));
  let head = 0;
  let tail = queue.length;
  const digests: string[] = new Array<string>(source.count);
  let remaining = source.count;

  return new Promise<string[]>((resolve, reject) => {
    const pool: Worker[] = [];
    let settled = false;
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      for (const worker of pool) void worker.terminate();
      if (error) reject(error);
      else resolve(digests);
    };
    const onAbort = (): void =>
      finish(modelSealError('ABORTED', 'hashing was cancelled'));
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const nextBatch = (): HashTask[] => {
      const batch: HashTask[] = [];
      let bytes = 0;
      while (
        head < tail &&
        batch.length < BATCH_COUNT &&
        (batch.length === 0 || bytes < BATCH_BYTES)
      ) {
        // Large ranges go out alone; small ones are batched from the tail (smallest first).
        const index = batch.length === 0 ? queue[head++]! : queue[--tail]!;
        const task = source.task(index);
        batch.push(task);
        bytes += task.end - task.start;
        if (bytes >= BATCH_BYTES) break;
      }
      return batch;
    };

    for (let i = 0; i < count; i++) {
      const worker = new Worker(workerURL(), { workerData: HASH_WORKER_MARK });
      pool.push(worker);
      const inFlight = new Map<number, HashTask>();
      const send = (batch: HashTask[]): void => {
        if (batch.length === 0) {
          void worker.terminate();
          return;
        }
        for (const task of batch) inFlight.set(task.id, task);
        worker.postMessage({ type: 'tasks', tasks: batch } satisfies ToWorker);
      };
      // A worker that dies with work in hand must not leave the caller waiting forever.
      worker.on('exit', (code) => {
        if (inFlight.size > 0)
          finish(
            modelSealError(
              'INTERNAL_ERROR',
              `hash worker exited with code ${code}`,
            ),
          );
      });
      worker.on('message', (message: FromWorker) => {
        if (settled) return;
        switch (message.type) {
          case 'batch':
            for (const { id, digest, state } of message.digests) {
              const task = inFlight.get(id)!;
              inFlight.delete(id);
              digests[id] = digest;
              if (state !== undefined) options.onState?.(id, state, digest);
              remaining -= 1;
              options.onTaskDone?.(task);
            }
            if (remaining === 0) finish();
            else send(nextBatch());
            break;
          case 'error':
            finish(toModelSealError(message));
            break;
          case 'progress':
            options.onBytes?.(message.bytes);
            break;
        }
      });
      worker.on('error', (error: Error) =>
        finish(
          modelSealError(
            'INTERNAL_ERROR',
            `hash worker failed: ${error.message}`,
            { cause: error },
          ),
        ),
      );
      send(nextBatch());
    }
  });
}
