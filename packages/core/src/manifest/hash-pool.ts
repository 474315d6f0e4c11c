// SPDX-License-Identifier: Apache-2.0
/**
 * Runs hash tasks on worker threads (one per core by default, no more than
 * the work keeps busy) with a dynamic queue: the largest ranges first, small
 * files handed out in batches. Each hashing thread owns one 1 MiB buffer,
 * so peak memory does not grow with the model.
 */
import { availableParallelism } from 'node:os';
import { setImmediate } from 'node:timers/promises';
import type { Worker } from 'node:worker_threads';
import { modelSealError } from '../errors.js';
import { digestHexLength } from './algorithms.js';
import {
  HashTaskError,
  RangeHasher,
  packTasks,
  type FromWorker,
  type HashTask,
  type ToWorker,
} from './hash-worker.js';
import {
  endPrestartedWorkers,
  prestartedWorkers,
  spawnHashWorker,
  takeLive,
  takePrestartedWorker,
  watchWaiting,
  workersFor,
  workersForRanges,
} from './worker-spawn.js';

/** Options of {@link runHashTasks}. */
export interface HashPoolOptions {
  /** Worker threads; 0 hashes on the calling thread. Default: available parallelism. */
  concurrency?: number | undefined;
  signal?: AbortSignal | undefined;
  /** Called with the number of bytes hashed since the last call. */
  onBytes?: ((bytes: number) => void) | undefined;
  /** Called when a task finishes. */
  onTaskDone?: ((task: HashTask) => void) | undefined;
  /** Workers started ahead ({@link WorkerReserve}); taken before new ones are started. */
  reserve?: WorkerReserve | undefined;
  /**
   * Called with each task's digest (hex), and the file state it is bound to
   * when the task asked (`bindStat`) and nothing changed while it was read.
   */
  onDigest: (id: number, digest: string, state: string | undefined) => void;
}

/** A worker's batch: up to this many bytes or ranges (a larger range goes alone). */
const BATCH_BYTES = 8 * 1024 * 1024;
const BATCH_COUNT = 64;
/**
 * The calling thread hashes too, in slices this size, returning to its event
 * loop in between (to feed the workers, and so that a service stays
 * responsive: about 3 ms a slice).
 */
const MAIN_SLICE_BYTES = 4 * 1024 * 1024;
const MAIN_BATCH_COUNT = 16;

function aborted(): never {
  throw modelSealError('ABORTED', 'hashing was cancelled');
}

function toModelSealError(error: {
  code: HashTaskError['code'];
  message: string;
}): Error {
  return modelSealError(error.code, error.message);
}

/**
 * Worker threads started early, while the model is still being listed: a
 * worker takes about 0.1 s of CPU to start (Node compiles its internals for
 * the new thread), which then overlaps the walk instead of delaying the
 * hashing (issue 11 item 3). Workers not taken are ended by {@link close}.
 */
export class WorkerReserve {
  private readonly ready: Worker[] = [];
  private spawned = 0;
  private closed = false;

  /**
   * @param concurrency - the hashing threads wanted (the calling thread included)
   * @param shardSize - the shard size when the model is hashed in shards
   */
  constructor(
    private readonly concurrency: number | undefined,
    private readonly shardSize?: number | undefined,
  ) {}

  /**
   * Starts the workers the model listed so far needs (nothing after
   * {@link close}): `files` files of `bytes` in all, the largest of
   * `largest` bytes. None for small files on two threads, none beyond what
   * the work keeps busy (workersFor). Called again as the model grows, it
   * starts only the workers still missing.
   */
  start(files: number, bytes: number, largest?: number): void {
    if (this.closed) return;
    const threads = this.concurrency ?? defaultConcurrency();
    let tasks = files;
    let biggest = largest;
    const shard = this.shardSize;
    if (shard !== undefined && shard > 0) {
      // Shards: at least one range a shard, none larger than a shard.
      tasks = Math.max(files, Math.ceil(bytes / shard));
      if (biggest !== undefined) biggest = Math.min(biggest, shard);
    }
    // As many as the model listed so far needs, unless it would need fewer
    // at twice the size: many small files come to be paced by the calling
    // thread, which lists and hands out each one, and take fewer workers
    // the more there are (4,096 files of 4 KiB: 6 workers on 16 threads;
    // 8,192 or more: 3), and a worker started cannot be taken back. The
    // pool starts any still missing when the listing ends.
    // Workers already started ahead (prestartHashWorkers) count.
    const wanted = Math.min(
      workersFor(tasks, bytes, threads, biggest),
      workersFor(2 * tasks, 2 * bytes, threads, biggest),
    );
    const count = wanted - this.spawned - prestartedWorkers();
    for (let i = 0; i < count; i++) {
      const worker = spawnHashWorker();
      // A worker waiting here must not keep the process alive, nor end it
      // with an uncaught error if it fails before it is taken.
      worker.unref();
      watchWaiting(worker);
      this.ready.push(worker);
      this.spawned++;
    }
  }

  /** A started worker, if one is left. */
  take(): Worker | undefined {
    return takeLive(this.ready) ?? takePrestartedWorker();
  }

  /** Ends the workers nobody took. */
  close(): void {
    this.closed = true;
    for (const worker of this.ready.splice(0)) void worker.terminate();
  }
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

/**
 * Hashes every task and hands each digest to `options.onDigest` (no array of
 * digests is kept here: the caller stores them compactly).
 *
 * The calling thread is one of the hashers: `concurrency` N means the
 * calling thread and N - 1 workers (a worker thread costs about 15 MiB).
 *
 * @throws IO_ERROR, UNSUPPORTED_FILE_TYPE, SYMLINK_NOT_ALLOWED for a file that
 *   cannot be read or changed under us; ABORTED when `signal` fires
 */
export async function runHashTasks(
  source: HashTaskSource,
  options: HashPoolOptions,
): Promise<void> {
  if (options.signal?.aborted) aborted();
  // Workers cost a few tens of milliseconds to start and about 12 MiB each:
  // none for a small model, nor for small files on two threads, nor more
  // than the work keeps busy (workersForRanges).
  const workers = workersForRanges(
    source.count,
    (i) => source.bytes(i),
    options.concurrency ?? defaultConcurrency(),
  );
  try {
    return await hashOnPool(source, workers, options);
  } finally {
    options.reserve?.close();
    endPrestartedWorkers();
  }
}

function hashOnPool(
  source: HashTaskSource,
  count: number,
  options: HashPoolOptions,
): Promise<void> {
  // Longest ranges first, so that one large file does not finish last alone.
  // Indexes in a typed array: four bytes a task.
  const queue = new Uint32Array(source.count);
  for (let i = 0; i < queue.length; i++) queue[i] = i;
  // Sorted only when not already largest first (a stable sort leaves such a
  // queue as it is): one file's shards, and files of one size, are. The
  // comparator's tens of thousands of calls on 2,048 shards made the task
  // source hot enough for TurboFan before the CLI turns it off (4.5 MiB of
  // the `node` binary paged in: 82.5 MiB against 74.8 for 512 MiB shards).
  let ordered = true;
  for (let i = 1, last = source.bytes(0); ordered && i < queue.length; i++) {
    const size = source.bytes(i);
    ordered = last >= size;
    last = size;
  }
  if (!ordered) queue.sort((a, b) => source.bytes(b) - source.bytes(a));
  let head = 0;
  let tail = queue.length;
  let remaining = source.count;
  const onBytes = options.onBytes ?? ((): void => {});
  if (remaining === 0) return Promise.resolve();

  return new Promise<void>((resolve, reject) => {
    const pool: Worker[] = [];
    let settled = false;
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      options.signal?.removeEventListener('abort', onAbort);
      for (const worker of pool) void worker.terminate();
      if (error) reject(error);
      else resolve();
    };
    const onAbort = (): void =>
      finish(modelSealError('ABORTED', 'hashing was cancelled'));
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const nextBatch = (maxBytes: number, maxCount: number): HashTask[] => {
      const batch: HashTask[] = [];
      let bytes = 0;
      while (head < tail && batch.length < maxCount) {
        // Large ranges go out alone; small ones are batched from the tail (smallest first).
        const index = batch.length === 0 ? queue[head++]! : queue[--tail]!;
        const task = source.task(index);
        batch.push(task);
        bytes += task.end - task.start;
        if (bytes >= maxBytes) break;
      }
      return batch;
    };
    const done = (task: HashTask, digest: string, state?: string): void => {
      options.onDigest(task.id, digest, state);
      remaining -= 1;
      options.onTaskDone?.(task);
    };

    for (let i = 0; i < count; i++) {
      const worker =
        options.reserve?.take() ?? takePrestartedWorker() ?? spawnHashWorker();
      pool.push(worker);
      // Batches sent and not yet answered, in order (a worker answers in order).
      const sent: { seq: number; tasks: HashTask[] }[] = [];
      let seq = 0;
      let inFlightBytes = 0;
      // Two batches of small files in flight: the next is there when one
      // ends, whatever the calling thread is doing. A large range goes alone.
      const fill = (): void => {
        while (sent.length < 2 && inFlightBytes < BATCH_BYTES) {
          const batch = nextBatch(BATCH_BYTES, BATCH_COUNT);
          if (batch.length === 0) break;
          for (const task of batch) inFlightBytes += task.end - task.start;
          seq += 1;
          sent.push({ seq, tasks: batch });
          const packed = packTasks(batch);
          worker.postMessage(
            (packed === undefined
              ? { type: 'tasks', seq, tasks: batch }
              : { type: 'packed', seq, packed }) satisfies ToWorker,
          );
        }
        if (sent.length === 0) void worker.terminate();
      };
      // A worker that dies with work in hand must not leave the caller waiting forever.
      worker.on('exit', (code) => {
        if (sent.length > 0)
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
          case 'batch': {
            // The answer to the oldest batch sent, or the run fails: a
            // digest is never given to a task it was not computed for.
            const expected = sent[0];
            let hexDigits = 0;
            for (const task of expected?.tasks ?? [])
              hexDigits += digestHexLength(task.algorithm);
            if (
              expected === undefined ||
              message.seq !== expected.seq ||
              message.hex.length !== hexDigits
            ) {
              finish(
                modelSealError(
                  'INTERNAL_ERROR',
                  `hash worker answered batch ${message.seq} with ${message.hex.length} hex digits; expected batch ${expected?.seq ?? 'none'} with ${hexDigits}`,
                ),
              );
              break;
            }
            sent.shift();
            const batch = expected.tasks;
            let at = 0;
            for (let i = 0; i < batch.length; i++) {
              // A caller's onDigest may have ended the run (an abort).
              if (settled) return;
              const task = batch[i]!;
              const length = digestHexLength(task.algorithm);
              inFlightBytes -= task.end - task.start;
              done(
                task,
                message.hex.slice(at, at + length),
                message.states?.[i] ?? undefined,
              );
              at += length;
            }
            if (settled) return;
            if (remaining === 0) finish();
            else fill();
            break;
          }
          case 'error':
            finish(toModelSealError(message));
            break;
          case 'progress':
            onBytes(message.bytes);
            break;
          case 'ready':
            // Loaded (worker-spawn.ts tracks it); nothing to do here.
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
      fill();
    }

    // The calling thread takes its share from the same queue.
    const hashHere = async (): Promise<void> => {
      const hasher = new RangeHasher();
      while (!settled) {
        const batch = nextBatch(MAIN_SLICE_BYTES, MAIN_BATCH_COUNT);
        if (batch.length === 0) return;
        for (const task of batch) {
          if (settled) return;
          const range = hasher.openRange(task);
          try {
            while (!hasher.step(range, MAIN_SLICE_BYTES, onBytes)) {
              await setImmediate();
              if (settled) return;
            }
            const result = hasher.finish(range);
            done(task, result.digest, result.state);
          } finally {
            hasher.abandon(range);
          }
        }
        if (remaining === 0) finish();
        else await setImmediate();
      }
    };
    hashHere().catch((error: unknown) =>
      finish(
        error instanceof HashTaskError
          ? toModelSealError(error)
          : error instanceof Error
            ? error
            : new Error(String(error)),
      ),
    );
  });
}
