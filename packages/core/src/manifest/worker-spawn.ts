// SPDX-License-Identifier: Apache-2.0
/**
 * Starting hash worker threads. `node:worker_threads` is loaded only when a
 * worker is started: a small model, hashed on the calling thread, never
 * loads it (docs/performance.md, "Start-up").
 *
 * A worker takes 50-100 ms to start on a small machine (Node bootstraps a
 * new isolate). Workers can be started ahead of need, before the model is
 * listed or even before the command's modules are loaded
 * ({@link prestartHashWorkers}); the next hashing takes them first.
 */
import { createRequire } from 'node:module';
import type { Worker } from 'node:worker_threads';

/** hash-worker.ts's HASH_WORKER_MARK (a test checks they are equal): not imported, so that prestarting loads no hashing module. */
export const HASH_WORKER_MARK = 'modelseal-hash-worker';

/** Below this many bytes in all, starting workers costs more than it saves… */
export const INLINE_BYTES: number = 16 * 1024 * 1024;
/** …when there are at most this many ranges. */
export const INLINE_FILES: number = 64;

/**
 * Ranges of this many bytes on average or fewer are "small files". Their
 * cost is per file (open, read, close), and the calling thread also lists
 * the model and feeds the workers, so with two threads a worker took only a
 * small share: 20,000 files of 4 KiB took 0.46 s without it and 0.43 s with
 * it, which cost 17-20 MiB (docs/performance.md, "Many small files").
 */
export const SMALL_AVERAGE: number = 64 * 1024;

/**
 * What a range costs beyond its bytes, in bytes of hashing: opening,
 * checking and closing a file takes about 30 µs, as long as hashing 36 KB.
 */
export const RANGE_COST: number = 64 * 1024;

/** Slack of the rule: a thread less when the work then ends at most 1/32 later. */
const SLACK = 1.03125;

/**
 * What starting a worker costs before it hashes anything, in bytes of
 * hashing: Node boots a new isolate, about 35 ms of CPU on the 2-core
 * machine. Workers started together slow each other down (about 100 ms
 * of CPU each when 15 start at once on 16 cores, though in parallel): each
 * one started beside it adds a sixteenth ({@link evenTime}; an eighth cut
 * shards of one file to 13 threads on 16 cores, 13 % slower than 16). Work
 * smaller than this is done sooner without the worker.
 */
export const WORKER_START_COST: number = 64 * 1024 * 1024;

/**
 * What the calling thread spends on every range besides hashing it, in
 * bytes of hashing: it lists the file and hands the range out and takes its
 * digest back, about half of what a worker spends on a small file. No
 * number of workers makes that part faster: on 16 cores, 20,000 files of
 * 4 KiB took 0.30 s on 4 threads (109 MiB), 0.33 s on 8 and 0.37 s on 16
 * (302 MiB).
 */
export const MAIN_RANGE_COST: number = 32 * 1024;

/**
 * How long `threads` hashing threads take over `tasks` ranges of `bytes`,
 * work spread evenly (no range is too large to share): the calling thread
 * begins with its per-range work ({@link MAIN_RANGE_COST}), each worker with
 * its start ({@link WORKER_START_COST}, a sixteenth more for each other
 * worker starting with it).
 */
function evenTime(tasks: number, bytes: number, threads: number): number {
  const main = tasks * MAIN_RANGE_COST;
  const work = bytes + tasks * RANGE_COST;
  if (threads <= 1) return main + work;
  const start = WORKER_START_COST * (1 + (threads - 2) / 16);
  const even = (work + main + (threads - 1) * start) / threads;
  // The calling thread's own part is a floor: beyond it, workers only wait.
  return Math.max(main, even);
}

/**
 * The fewest hashing threads (1 to `threads`) that take at most 1/32 longer
 * than the best count over `tasks` ranges of `bytes`, counting what a
 * worker costs to start and what the calling thread spends on every range
 * ({@link evenTime}). Small work is done sooner on the calling thread alone,
 * and many small files stop gaining threads once the calling thread is
 * busy with them all.
 */
export function worthThreads(
  tasks: number,
  bytes: number,
  threads: number,
): number {
  if (!(threads >= 1) || !(tasks >= 0) || !(bytes >= 0)) return 1;
  const most = Math.min(Math.floor(threads), 4096);
  let best = Infinity;
  for (let n = 1; n <= most; n++)
    best = Math.min(best, evenTime(tasks, bytes, n));
  for (let n = 1; n <= most; n++)
    if (evenTime(tasks, bytes, n) <= best * SLACK) return n;
  return most;
}

/**
 * How many hashing threads `tasks` ranges of `bytes` in all can keep busy
 * when the largest is `largest` bytes: one thread hashes a range from start
 * to end, so the largest takes as long as it takes however many threads
 * there are, and more threads than the work over the largest only wait.
 * Each costs about 12 MiB and 40 ms of CPU to start (16 cores, 4 files of
 * 512 MiB and 10 small ones: 16 threads peaked at 234 MiB where 4 keep
 * the same pace). A bound from the total and the largest alone, for the
 * workers started while the model is listed: ranges are whole, and the
 * pool checks the bound against their schedule ({@link workersForRanges}).
 */
export function usefulThreads(
  tasks: number,
  bytes: number,
  largest: number,
): number {
  if (!(largest >= 0) || !(bytes >= 0)) return Infinity;
  // A thread less when the work then takes at most 1/32 longer than the
  // largest range alone (two large files and a config file: two threads).
  const cost = bytes + tasks * RANGE_COST;
  return Math.max(1, Math.ceil(cost / ((largest + RANGE_COST) * SLACK)));
}

/**
 * How many worker threads to hash `tasks` ranges of `bytes` in all with
 * `threads` hashing threads (the calling thread included), the pool's rule:
 * none for a small model (at most 64 ranges under 16 MiB), none for small
 * files on two threads, else one per thread but the calling one, at most
 * one per range but the first, none that would not pay for its start
 * ({@link worthThreads}) and, when the largest range is known, no more than
 * {@link usefulThreads} keeps busy.
 */
export function workersFor(
  tasks: number,
  bytes: number,
  threads: number,
  largest?: number,
): number {
  if (!Number.isSafeInteger(threads) || threads < 2 || tasks < 2) return 0;
  if (bytes < INLINE_BYTES && tasks <= INLINE_FILES) return 0;
  if (threads <= 2 && bytes < tasks * SMALL_AVERAGE) return 0;
  const useful =
    largest === undefined ? Infinity : usefulThreads(tasks, bytes, largest);
  const worth = worthThreads(tasks, bytes, threads);
  return Math.max(0, Math.min(threads - 1, tasks - 1, useful - 1, worth - 1));
}

/**
 * When `threads` threads finish ranges of `sorted` bytes (largest first),
 * each range hashed whole by the thread that is free first, as the pool
 * hands them out: the largest load, counting {@link RANGE_COST} a range.
 */
function finishTime(sorted: Float64Array, threads: number): number {
  // A binary min-heap of the threads' loads.
  const heap = new Float64Array(threads);
  for (let i = 0; i < sorted.length; i++) {
    heap[0] = heap[0]! + sorted[i]! + RANGE_COST;
    // Sift the grown root down.
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= threads) break;
      const right = left + 1;
      const child =
        right < threads && heap[right]! < heap[left]! ? right : left;
      if (heap[child]! >= heap[at]!) break;
      const t = heap[at]!;
      heap[at] = heap[child]!;
      heap[child] = t;
      at = child;
    }
  }
  let most = 0;
  for (let i = 0; i < threads; i++) if (heap[i]! > most) most = heap[i]!;
  return most;
}

/**
 * The pool's rule over the ranges themselves: how many worker threads to
 * hash `count` ranges of `sizeOf(i)` bytes with `threads` hashing threads
 * (the calling thread included). {@link workersFor} from the total and the
 * largest, and, where that leaves threads idle, the fewest threads whose
 * largest-first schedule ends within 1/32 of the schedule on every thread
 * the ranges can use: ranges are whole, so 40 equal ranges need 40 threads,
 * not the 39 that their bytes over the largest allow.
 */
export function workersForRanges(
  count: number,
  sizeOf: (index: number) => number,
  threads: number,
): number {
  let bytes = 0;
  let largest = 0;
  for (let i = 0; i < count; i++) {
    const size = sizeOf(i);
    bytes += size;
    if (size > largest) largest = size;
  }
  const bound = workersFor(count, bytes, threads, largest);
  const uncut = workersFor(count, bytes, threads);
  if (bound >= uncut) return bound;
  const sorted = new Float64Array(count);
  for (let i = 0; i < count; i++) sorted[i] = sizeOf(i);
  sorted.sort().reverse();
  const most = uncut + 1;
  const limit = finishTime(sorted, most) * SLACK;
  // The fewest threads within the limit, by halving (a thread count that
  // passes is kept, so the answer passes even where more threads would not
  // always finish sooner).
  let low = Math.max(1, Math.ceil((bytes + count * RANGE_COST) / limit));
  let high = most;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (finishTime(sorted, mid) <= limit) high = mid;
    else low = mid + 1;
  }
  return Math.min(uncut, high - 1);
}

let workerClass: typeof Worker | undefined;

function workerURL(): URL {
  // From source (tests) the sibling is a .ts file that Node runs with its type stripping.
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return new URL(`./hash-worker.${ext}`, import.meta.url);
}

/** Starts one hash worker thread. */
export function spawnHashWorker(): Worker {
  workerClass ??= (
    createRequire(import.meta.url)('node:worker_threads') as {
      Worker: typeof Worker;
    }
  ).Worker;
  const worker = new workerClass(workerURL(), {
    argv: [HASH_WORKER_MARK],
    workerData: HASH_WORKER_MARK,
    // A worker holds one 1 MiB buffer and one batch: a small young
    // generation keeps each isolate's heap a few MiB (issue 11 item 4).
    resourceLimits: { maxYoungGenerationSizeMb: 2 },
  });
  trackLoading(worker);
  return worker;
}

/** Workers started whose module is not loaded yet. */
const loading = new Set<Worker>();
/** Called when {@link loading} empties. */
let onLoaded: (() => void)[] = [];

/**
 * Its 'message' listener is added before the caller can `unref()` the
 * worker: Node refs a worker's port when the first listener is added, and a
 * worker unref'd before that would keep the process alive.
 */
function trackLoading(worker: Worker): void {
  loading.add(worker);
  const settle = (): void => {
    worker.off('message', onMessage);
    worker.off('exit', settle);
    if (!loading.delete(worker) || loading.size > 0) return;
    const waiting = onLoaded;
    onLoaded = [];
    for (const resolve of waiting) resolve();
  };
  const onMessage = (message: { type?: unknown } | null): void => {
    if (message?.type === 'ready') settle();
  };
  worker.on('message', onMessage);
  worker.once('exit', settle);
}

/**
 * Resolves once no hash worker is loading its module: at once when none is,
 * else when every worker started so far, and any started meanwhile, has
 * loaded it (or ended). For a process that changes V8's flags at run time
 * (`v8.setFlagsFromString`): V8 then rejects the code caches made under the
 * old flags, and a worker still loading compiles Node's internals from
 * source instead, about 45 ms more CPU on the 2-core machine
 * (docs/performance.md). Never rejects. It does not keep the process alive:
 * workers started ahead are unref'd, so a script that only awaits this at
 * its top level can end first.
 */
export function whenHashWorkersLoaded(): Promise<void> {
  if (loading.size === 0) return Promise.resolve();
  return new Promise((resolve) => onLoaded.push(resolve));
}

/** Called when the next model is listed ({@link whenListingStarts}). */
let onListing: (() => void)[] = [];

/**
 * Resolves when the next hashing in this process starts to list the model
 * (`hashModel`, also under `checkModel` and `verifyModelSignature`): what
 * comes before it (a bundle's signature checked, a scan gate) is done and
 * its modules loaded. Never rejects; pending for as long as nothing is
 * listed.
 */
export function whenListingStarts(): Promise<void> {
  return new Promise((resolve) => onListing.push(resolve));
}

/** hashModel's signal for {@link whenListingStarts}. */
export function listingStarted(): void {
  const waiting = onListing;
  onListing = [];
  for (const resolve of waiting) resolve();
}

/** Workers started ahead by {@link prestartHashWorkers}, not yet taken. */
const prestarted: Worker[] = [];

/** Workers that failed or ended while waiting to be taken. */
const dead = new WeakSet<Worker>();

/**
 * Watches a worker that waits to be taken: a failure then marks it dead
 * instead of ending the process with an uncaught error, and {@link isLive}
 * lets the taker start a fresh one in its place (a dead worker would never
 * answer its batch).
 */
export function watchWaiting(worker: Worker): void {
  const mark = (): void => {
    dead.add(worker);
  };
  worker.once('error', mark);
  worker.once('exit', mark);
}

/** Whether a waiting worker is still usable (see {@link watchWaiting}). */
export function isLive(worker: Worker): boolean {
  return !dead.has(worker);
}

/**
 * Starts `count` hash workers now, for the next hashing in this process to
 * take (it takes only as many as it uses). They do not keep the process
 * alive, and {@link endPrestartedWorkers} (called when a hashing ends) ends
 * those left over. For a process that is about to hash a large model: the
 * workers' start then overlaps whatever comes before the hashing.
 */
export function prestartWorkers(count: number): void {
  for (let i = prestarted.length; i < count; i++) {
    const worker = spawnHashWorker();
    worker.unref();
    watchWaiting(worker);
    prestarted.push(worker);
  }
}

/** A worker started ahead, if one is left (it then keeps the process alive again). */
export function takePrestartedWorker(): Worker | undefined {
  return takeLive(prestarted);
}

/**
 * The last live worker of `waiting` (dead ones are dropped), which then keeps
 * the process alive again; undefined when none is left.
 */
export function takeLive(waiting: Worker[]): Worker | undefined {
  for (let worker = waiting.pop(); worker; worker = waiting.pop()) {
    if (!isLive(worker)) continue;
    worker.ref();
    return worker;
  }
  return undefined;
}

/** How many workers started ahead are waiting. */
export function prestartedWorkers(): number {
  return prestarted.filter(isLive).length;
}

/** Ends the workers started ahead that nobody took. */
export function endPrestartedWorkers(): void {
  for (const worker of prestarted.splice(0)) void worker.terminate();
}
