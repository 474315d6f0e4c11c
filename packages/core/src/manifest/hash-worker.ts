// SPDX-License-Identifier: Apache-2.0
/**
 * Hashes byte ranges of files, on a worker thread or on the calling thread.
 *
 * This module imports only Node built-ins and the BLAKE3 binding so that it can
 * run as a worker from source (Node strips the types) and from `dist`; the
 * calling thread does not load `node:worker_threads` through it. It
 * reads into page-aligned buffers (a `WebAssembly.Memory` view): the kernel
 * copies into buffers 16 bytes past a page boundary several times more slowly
 * (docs/performance.md). The thread that hashes a chunk also reads it (one
 * synchronous pread), so the bytes are still in its cache when they are hashed.
 */
import { createHash, hash as hashOnce } from 'node:crypto';
import {
  constants,
  closeSync,
  fdatasyncSync,
  fstatSync,
  openSync,
  readFileSync,
  readSync,
  readvSync,
  statfsSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import type * as WorkerThreads from 'node:worker_threads';

/** The BLAKE3 binding's hasher class (the optional native package, loaded on first use). */
interface Blake3HasherLike {
  update(data: Buffer): unknown;
  digest(encoding: 'hex'): string;
}
type Blake3HasherClass = new () => Blake3HasherLike;

/** npm package of the BLAKE3 binding (an optional native dependency). */
export const BLAKE3_PACKAGE = '@napi-rs/blake-hash';

let blake3Class: Blake3HasherClass | undefined;
let blake3Problem: string | undefined;

/**
 * Loads the BLAKE3 binding on first use, so that sha256 and blake2b never need
 * it (an install with `--omit=optional` has no binding). Returns a one-line
 * reason when it cannot be loaded.
 */
export function blake3Unavailable(): string | undefined {
  if (blake3Class !== undefined) return undefined;
  if (blake3Problem !== undefined) return blake3Problem;
  try {
    const mod = createRequire(import.meta.url)(BLAKE3_PACKAGE) as {
      Blake3Hasher?: Blake3HasherClass;
    };
    if (typeof mod.Blake3Hasher !== 'function')
      throw new Error('no Blake3Hasher export');
    blake3Class = mod.Blake3Hasher;
    return undefined;
  } catch {
    blake3Problem = `blake3 needs ${BLAKE3_PACKAGE}'s native package for this platform (${process.platform}-${process.arch}), which npm leaves out with --omit=optional or when the platform has none; reinstall with optional dependencies, or use sha256`;
    return blake3Problem;
  }
}

/**
 * One range to hash. `path` is the absolute path: a string (the engine's
 * names are valid UTF-8, so it encodes to the bytes on disk; strings cost no
 * native allocation per task) or the path's bytes.
 */
export interface HashTask {
  id: number;
  path: string | Uint8Array;
  /** Name shown in errors: the resource path relative to the model root. */
  name: string;
  start: number;
  end: number;
  /** Size the file had when it was enumerated; a change is an error. */
  size: number;
  algorithm: 'sha256' | 'blake2b' | 'blake3';
  /** Open without following a final symlink. */
  noFollow: boolean;
  /**
   * Also return the open file's state ({@link fileState}) when it was the
   * same before and after hashing: the digest is then bound to exactly the
   * inode state that was read (the verification cache records it).
   */
  bindStat?: boolean;
}

/** A stat result with nanosecond times, as `fstat(fd, { bigint: true })` gives it. */
export interface FileStateStats {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

/** `dev:ino:size:mtimeNs:ctimeNs`: any change of the file's content or metadata changes it. */
export function fileState(s: FileStateStats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

/** A digest, and the file state it is bound to when the task asked and nothing changed. */
export interface BoundDigest {
  digest: string;
  state?: string;
}

/** Failure of one task, mapped to a ModelSealError by the caller. */
export class HashTaskError extends Error {
  readonly code:
    | 'IO_ERROR'
    | 'UNSUPPORTED_FILE_TYPE'
    | 'SYMLINK_NOT_ALLOWED'
    | 'UNSUPPORTED_ALGORITHM';
  constructor(code: HashTaskError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/** An incremental hash with a hex result. */
export interface Hasher {
  update(data: Uint8Array): void;
  hex(): string;
}

/** Node's name of a manifest hash algorithm other than BLAKE3 (BLAKE2b is BLAKE2b-512). */
function nodeAlgorithm(algorithm: HashTask['algorithm']): string {
  if (algorithm === 'blake3')
    throw new HashTaskError(
      'UNSUPPORTED_ALGORITHM',
      'blake3 is hashed by its binding, not by node:crypto',
    );
  return algorithm === 'blake2b' ? 'blake2b512' : 'sha256';
}

/** An incremental hasher for a manifest hash algorithm (BLAKE2b is BLAKE2b-512). */
export function createHasher(algorithm: HashTask['algorithm']): Hasher {
  if (algorithm === 'blake3') {
    const problem = blake3Unavailable();
    if (problem !== undefined || blake3Class === undefined) {
      throw new HashTaskError(
        'UNSUPPORTED_ALGORITHM',
        problem ?? 'blake3 is unavailable',
      );
    }
    const h = new blake3Class();
    return {
      update: (data) =>
        void h.update(
          Buffer.from(data.buffer, data.byteOffset, data.byteLength),
        ),
      hex: () => h.digest('hex'),
    };
  }
  const h = createHash(nodeAlgorithm(algorithm));
  return { update: (data) => void h.update(data), hex: () => h.digest('hex') };
}

// The ES lib has no WebAssembly types; this is the one member we use.
declare const WebAssembly: {
  Memory: new (descriptor: { initial: number; maximum?: number }) => {
    buffer: ArrayBuffer;
  };
};

/** Chunk size of one read. 1 MiB is where throughput stops growing (docs/performance.md). */
export const CHUNK_SIZE: number = 1024 * 1024;
const PAGE = 65536;

function alignedBuffer(size: number): Buffer {
  const pages = Math.ceil(size / PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  return Buffer.from(memory.buffer, 0, size);
}

/** The task's path: the string, or its bytes as a Buffer view (no copy; a worker receives a plain Uint8Array). */
function pathOf(task: HashTask): string | Buffer {
  const p = task.path;
  if (typeof p === 'string' || Buffer.isBuffer(p)) return p;
  return Buffer.from(p.buffer, p.byteOffset, p.byteLength);
}

function openFlags(task: HashTask): number {
  // O_NONBLOCK: a FIFO swapped in after enumeration must not hang us; it is
  // rejected by the fstat check below. No effect on regular files.
  let flags = constants.O_RDONLY | constants.O_NONBLOCK;
  if (task.noFollow) flags |= constants.O_NOFOLLOW;
  return flags;
}

function ioError(task: HashTask, error: unknown): HashTaskError {
  const code = (error as { code?: string }).code;
  const name = task.name;
  if (code === 'ELOOP')
    return new HashTaskError(
      'SYMLINK_NOT_ALLOWED',
      `${name}: became a symlink while hashing`,
    );
  if (code === 'ENOENT')
    return new HashTaskError(
      'IO_ERROR',
      `${name}: file disappeared while hashing`,
    );
  if (code === 'EACCES' || code === 'EPERM')
    return new HashTaskError('IO_ERROR', `${name}: permission denied`);
  const text = error instanceof Error ? error.message : String(error);
  return new HashTaskError('IO_ERROR', `${name}: cannot read: ${text}`);
}

function checkStat(
  task: HashTask,
  stat: { isFile(): boolean; size: number },
): void {
  if (!stat.isFile()) {
    throw new HashTaskError(
      'UNSUPPORTED_FILE_TYPE',
      `${task.name}: no longer a regular file`,
    );
  }
  if (stat.size !== task.size) {
    throw new HashTaskError(
      'IO_ERROR',
      `${task.name}: file changed size while hashing`,
    );
  }
}

/**
 * File systems on which a write through a shared mapping may leave no
 * trace in mtime or ctime, so nothing is bound to a state there: tmpfs,
 * ramfs and hugetlbfs never write pages back (the page stays writable);
 * overlayfs reports its own type whatever its upper layer is, and a file
 * written there lives on that layer, tmpfs in many containers (stop 29
 * review); NFS, FUSE, SMB/CIFS and 9p keep times the server or daemon
 * chooses.
 */
const NO_WRITEBACK: ReadonlySet<number> = new Set([
  0x01021994, // tmpfs
  0x858458f6, // ramfs
  0x958458f6, // hugetlbfs
  0x794c7630, // overlayfs
  0x6969, // NFS
  0x65735546, // FUSE
  0xff534d42, // CIFS
  0xfe534d42, // SMB2
  0x01021997, // 9p (v9fs)
]);

let settledNs: bigint | undefined;

/**
 * How long after its last change a file's pages are written back for sure:
 * four times the kernel's dirty expiry plus its flusher interval
 * (`/proc/sys/vm`, 30 s and 5 s by default), at least 10 minutes. A page
 * dirtied at time T moved ctime to T, and the flusher writes it back about
 * expiry + interval later; only a stalled system keeps it dirty longer.
 */
function settledAfterNs(): bigint {
  if (settledNs !== undefined) return settledNs;
  let ms = 0;
  try {
    const cs = (name: string): number =>
      Number(readFileSync(`/proc/sys/vm/${name}`, 'latin1').trim());
    const sum = cs('dirty_expire_centisecs') + cs('dirty_writeback_centisecs');
    if (Number.isFinite(sum) && sum > 0) ms = 4 * sum * 10;
  } catch {
    // Not Linux, or /proc unreadable: the floor.
  }
  settledNs = BigInt(Math.max(600_000, ms)) * 1_000_000n;
  return settledNs;
}

/**
 * The state to bind a digest to (`bindStat`, the verify cache), taken when
 * no page of the file can still be dirty: Linux updates mtime and ctime on
 * the first write to a clean page of a shared mapping only, so a page
 * dirtied before the state was taken could be changed again, through the
 * same mapping, with no trace in the state (stop 29 red team). A file whose
 * ctime is older than {@link settledAfterNs} has had its pages written back
 * since (write-protected again: the next write through any mapping moves
 * ctime); a younger one is written back now (`fdatasync`, about 80 µs a
 * file even when clean, so only for those). None (nothing bound, nothing
 * cached) where that cannot be done: a failed sync, or a file system that
 * never writes back.
 */
function writtenBackState(fd: number): string | undefined {
  try {
    if (
      process.platform === 'linux' &&
      NO_WRITEBACK.has(Number(statfsSync(`/proc/self/fd/${fd}`).type))
    )
      return undefined;
    const st = fstatSync(fd, { bigint: true });
    const now = BigInt(Date.now()) * 1_000_000n;
    const newest = st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs;
    if (now - newest > settledAfterNs()) return fileState(st);
    fdatasyncSync(fd);
  } catch {
    return undefined;
  }
  return fileState(fstatSync(fd, { bigint: true }));
}

/** A reusable hashing context with its own page-aligned buffer. */
export class RangeHasher {
  // One byte more than a chunk: a last read asks for one byte past the end.
  private readonly buffer: Buffer = alignedBuffer(CHUNK_SIZE + 1);
  /**
   * The buffer's first CHUNK_SIZE bytes, the chunk of every full read, made
   * once: a view made per read was 10 % of the calling thread's garbage
   * while it hashed, and that garbage touches more of the young generation
   * the longer a model takes (the CLI runs it without an optimising
   * compiler, which would have removed some of it).
   */
  private readonly full: Buffer = this.buffer.subarray(0, CHUNK_SIZE);
  /** {@link full} as `readvSync` takes it: one argument check, not four. */
  private readonly fullList: readonly Buffer[] = [this.full];

  /**
   * Hashes `task.path[start, end)` to its end, synchronously: open, stat,
   * read and close on this thread (a worker's whole task; no thread-pool
   * round trip per file or per chunk). The calling thread instead hashes in
   * slices with {@link openRange} and {@link step}, returning to its event
   * loop in between.
   */
  hashWhole(task: HashTask, onBytes: (n: number) => void): BoundDigest {
    const range = this.openRange(task);
    try {
      this.step(range, Infinity, onBytes);
      return this.finish(range);
    } finally {
      closeSync(range.fd);
    }
  }

  /**
   * Opens `task` for {@link step}: the file is open until {@link finish} or
   * {@link abandon}.
   */
  openRange(task: HashTask): OpenRange {
    // Offsets past 2^53 bytes (8 PiB) are not exact as numbers, and
    // readvSync would take one that is not a safe integer as "the current
    // position" instead of refusing it as readSync does: such a range is
    // refused before anything is read.
    const { start, end, size } = task;
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(end) ||
      !Number.isSafeInteger(size) ||
      start < 0 ||
      start > end ||
      end > size
    )
      throw new HashTaskError(
        'IO_ERROR',
        `${task.name}: cannot read bytes ${start} to ${end} of a file of ${size} bytes (offsets are exact up to 2^53)`,
      );
    let fd: number;
    try {
      fd = openSync(pathOf(task), openFlags(task));
    } catch (error) {
      throw ioError(task, error);
    }
    try {
      checkStat(task, fstatSync(fd));
      const before = task.bindStat ? writtenBackState(fd) : undefined;
      return {
        task,
        fd,
        // Made on the first read that is not the whole range (a range read
        // in one piece is hashed in one call: no hash object per small
        // file). BLAKE3's now, so that a missing binding fails at once.
        hasher:
          task.algorithm === 'blake3'
            ? createHasher(task.algorithm)
            : undefined,
        position: task.start,
        before,
      };
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /**
   * Reads and hashes up to `maxBytes` more of the range (at least one chunk),
   * one synchronous pread per chunk on the thread that hashes: the cost per
   * byte of a C loop, with no thread-pool round trip or wake-up per chunk
   * (issue 11 item 2). Returns true when the range is read to its end.
   */
  step(
    range: OpenRange,
    maxBytes: number,
    onBytes: (n: number) => void,
  ): boolean {
    const { task, fd } = range;
    const buffer = this.buffer;
    // A range that ends where the file ends asks its last read for one byte
    // more: getting exactly the rest proves the file still ends there, with
    // no fstat after the read (one system call a file fewer). Not when the
    // file's state is bound (bindStat): that needs the fstat anyway.
    const toEnd = task.end === task.size && task.bindStat !== true;
    const stop = Math.min(task.end, range.position + Math.max(maxBytes, 1));
    while (range.position < stop) {
      const rest = task.end - range.position;
      const last = toEnd && rest <= CHUNK_SIZE;
      let bytesRead: number;
      try {
        // A full chunk through readvSync (the same pread): readSync checks
        // its arguments in four calls that each leave garbage, 35 % of the
        // calling thread's while it hashed (one 8 GiB file in shards: 3.7
        // MB of garbage, 2.0 MB with both changes).
        bytesRead =
          !last && rest >= CHUNK_SIZE
            ? readvSync(fd, this.fullList, range.position)
            : readSync(fd, buffer, 0, last ? rest + 1 : rest, range.position);
      } catch (error) {
        throw ioError(task, error);
      }
      if (bytesRead === 0)
        throw new HashTaskError(
          'IO_ERROR',
          `${task.name}: file shrank while hashing`,
        );
      if (last && bytesRead > rest)
        throw new HashTaskError(
          'IO_ERROR',
          `${task.name}: file changed size while hashing`,
        );
      if (last && bytesRead === rest) range.endChecked = true;
      const chunk =
        bytesRead === CHUNK_SIZE ? this.full : buffer.subarray(0, bytesRead);
      if (
        range.hasher === undefined &&
        range.position === task.start &&
        range.position + bytesRead === task.end
      )
        range.digest = hashOnce(nodeAlgorithm(task.algorithm), chunk, 'hex');
      else (range.hasher ??= createHasher(task.algorithm)).update(chunk);
      range.position += bytesRead;
      onBytes(bytesRead);
    }
    return range.position >= task.end;
  }

  /** The digest of a range read to its end; the file stays open (close it with {@link abandon}). */
  finish(range: OpenRange): BoundDigest {
    // Unless the last read already found the file's end where it was.
    if (range.endChecked !== true) checkStat(range.task, fstatSync(range.fd));
    const after = range.task.bindStat
      ? fileState(fstatSync(range.fd, { bigint: true }))
      : undefined;
    const digest =
      range.digest ??
      (range.hasher ?? createHasher(range.task.algorithm)).hex();
    return bound(digest, range.before, after);
  }

  /** Closes the range's file. */
  abandon(range: OpenRange): void {
    closeSync(range.fd);
  }
}

/** A range being hashed in steps ({@link RangeHasher.openRange}). */
export interface OpenRange {
  readonly task: HashTask;
  readonly fd: number;
  /** Made on the first read of a range that takes more than one. */
  hasher: Hasher | undefined;
  /** The digest of a range read in one piece. */
  digest?: string;
  position: number;
  readonly before: string | undefined;
  /** The last read found the end of the file at the size it was listed with. */
  endChecked?: boolean;
}

function bound(
  digest: string,
  before: string | undefined,
  after: string | undefined,
): BoundDigest {
  return before !== undefined && before === after
    ? { digest, state: before }
    : { digest };
}

/**
 * A batch of tasks as a worker receives it: a few flat values instead of an
 * object and two strings per task, so that neither thread makes garbage per
 * file (at 200,000 files, promoted task copies were most of the calling
 * thread's heap; issue 11 item 4). Task `i` is `nums[4i..4i+3]` (id, start,
 * end, size), `flags[i]` ({@link NO_FOLLOW}, {@link BIND_STAT}) and the
 * `2i`-th and `2i+1`-th NUL-separated parts of `text` (path, name).
 */
export interface PackedTasks {
  nums: Float64Array;
  flags: Uint8Array;
  text: string;
  algorithm: HashTask['algorithm'];
}

const NO_FOLLOW = 1;
const BIND_STAT = 2;

/**
 * Packs a batch for a worker; undefined when it cannot be packed (a path
 * given as bytes, a NUL in a path or name, mixed algorithms): the batch then
 * goes as objects.
 */
export function packTasks(tasks: readonly HashTask[]): PackedTasks | undefined {
  const algorithm = tasks[0]?.algorithm;
  if (algorithm === undefined) return undefined;
  const nums = new Float64Array(tasks.length * 4);
  const flags = new Uint8Array(tasks.length);
  let text = '';
  for (let i = 0; i < tasks.length; i++) {
    const task = tasks[i]!;
    if (typeof task.path !== 'string' || task.algorithm !== algorithm)
      return undefined;
    if (task.path.includes('\0') || task.name.includes('\0')) return undefined;
    nums[4 * i] = task.id;
    nums[4 * i + 1] = task.start;
    nums[4 * i + 2] = task.end;
    nums[4 * i + 3] = task.size;
    flags[i] =
      (task.noFollow ? NO_FOLLOW : 0) |
      (task.bindStat === true ? BIND_STAT : 0);
    text +=
      i === 0 ? `${task.path}\0${task.name}` : `\0${task.path}\0${task.name}`;
  }
  return { nums, flags, text, algorithm };
}

/** The tasks of a packed batch (see {@link PackedTasks}). */
export function unpackTasks(packed: PackedTasks): HashTask[] {
  const { nums, flags, text, algorithm } = packed;
  const tasks: HashTask[] = [];
  let at = 0;
  const part = (): string => {
    const end = text.indexOf('\0', at);
    const value = text.slice(at, end === -1 ? text.length : end);
    at = end === -1 ? text.length : end + 1;
    return value;
  };
  for (let i = 0; i < flags.length; i++) {
    const path = part();
    const name = part();
    const task: HashTask = {
      id: nums[4 * i]!,
      path,
      name,
      start: nums[4 * i + 1]!,
      end: nums[4 * i + 2]!,
      size: nums[4 * i + 3]!,
      algorithm,
      noFollow: (flags[i]! & NO_FOLLOW) !== 0,
    };
    if ((flags[i]! & BIND_STAT) !== 0) task.bindStat = true;
    tasks.push(task);
  }
  return tasks;
}

/** Messages from the pool to a worker. */
export type ToWorker =
  | { type: 'tasks'; seq: number; tasks: HashTask[] }
  | { type: 'packed'; seq: number; packed: PackedTasks };
/** Messages from a worker to the pool. */
export type FromWorker =
  /**
   * Every task of a batch, answered in one message in the batch's order (the
   * worker is then idle): the batch's number as it was sent, the digests' hex
   * texts one after the other, and each task's bound file state (null when
   * none) only when some task has one.
   */
  | { type: 'batch'; seq: number; hex: string; states?: (string | null)[] }
  | { type: 'error'; id: number; code: HashTaskError['code']; message: string }
  | { type: 'progress'; bytes: number }
  /**
   * Sent once, when the worker's module is loaded and it listens
   * (whenHashWorkersLoaded): Node's modules for hashing with node:crypto are
   * loaded by then; the BLAKE3 binding only when a task first asks for it.
   */
  | { type: 'ready' };

/**
 * Marks the worker threads the pool starts (their `argv` and `workerData`):
 * only those answer hash requests, so that an application that imports the
 * library inside its own worker thread gets no listener on its port.
 * worker-spawn.ts has the same value (this module imports nothing of ours, so
 * that a worker can run it from source).
 */
export const HASH_WORKER_MARK = 'modelseal-hash-worker';

/** A worker reports progress every this many bytes. */
const PROGRESS_STEP: number = 32 * 1024 * 1024;

if (process.argv[2] === HASH_WORKER_MARK) {
  // Cheap first test (no module load on the calling thread), then the real one.
  const threads = createRequire(import.meta.url)(
    'node:worker_threads',
  ) as typeof WorkerThreads;
  if (threads.parentPort !== null && threads.workerData === HASH_WORKER_MARK) {
    listen(threads.parentPort);
    threads.parentPort.postMessage({ type: 'ready' } satisfies FromWorker);
  }
}

function listen(port: WorkerThreads.MessagePort): void {
  const hasher = new RangeHasher();
  let unreported = 0;
  const onBytes = (n: number): void => {
    unreported += n;
    if (unreported >= PROGRESS_STEP) {
      port.postMessage({
        type: 'progress',
        bytes: unreported,
      } satisfies FromWorker);
      unreported = 0;
    }
  };
  port.on('message', (message: ToWorker) => {
    const tasks =
      message.type === 'packed' ? unpackTasks(message.packed) : message.tasks;
    let hex = '';
    let states: (string | null)[] | undefined;
    for (let i = 0; i < tasks.length; i++) {
      const task = tasks[i]!;
      try {
        const { digest, state } = hasher.hashWhole(task, onBytes);
        hex += digest;
        if (state !== undefined) {
          states ??= new Array<string | null>(tasks.length).fill(null);
          states[i] = state;
        }
      } catch (error) {
        const e = error instanceof HashTaskError ? error : ioError(task, error);
        port.postMessage({
          type: 'error',
          id: task.id,
          code: e.code,
          message: e.message,
        } satisfies FromWorker);
        return;
      }
    }
    if (unreported > 0) {
      port.postMessage({
        type: 'progress',
        bytes: unreported,
      } satisfies FromWorker);
      unreported = 0;
    }
    port.postMessage(
      (states === undefined
        ? { type: 'batch', seq: message.seq, hex }
        : {
            type: 'batch',
            seq: message.seq,
            hex,
            states,
          }) satisfies FromWorker,
    );
  });
}
