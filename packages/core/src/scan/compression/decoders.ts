// SPDX-License-Identifier: Apache-2.0
/**
 * Streaming decoders for the compression wrappers: each takes the compressed
 * bytes as an async sequence of chunks and yields the decoded bytes chunk by
 * chunk, so the caller can stop at any limit without the decoder ever holding
 * more than one block. A corrupt or truncated stream yields everything that
 * decoded before the break and then throws a {@link DecodeError} (the nullifAI
 * pattern hides the payload before the break).
 *
 * Libraries, and why:
 * - gzip, zlib, zstd: `node:zlib` (Node's bundled zlib and zstd).
 * - xz and LZMA "alone": `node-liblzma` (5.1.3, maintained, LGPL-3.0), only
 *   its WebAssembly build of liblzma, the library Python's `lzma` module
 *   wraps: the same auto decoder (`lzma_auto_decoder`) joblib's
 *   `LZMAFile(format=FORMAT_AUTO)` uses, a step-by-step `lzma_code` API that
 *   bounds each output step, a decoder memory limit, and no native code or
 *   install step (its native prebuilds and install script are never used:
 *   pnpm blocks dependency scripts).
 * - bzip2: `seek-bzip` (2.0.0, MIT, pure JavaScript, used by the `decompress`
 *   family): it decodes one block at a time into a byte sink, so output is
 *   bounded by one block (at most ~46 MB) and the event loop is free between
 *   blocks.
 * - LZ4 frame: `lz4js` (0.2.0, ISC, pure JavaScript) for block decoding; the
 *   frame layer (magic, descriptor, block sizes, linked-block window,
 *   skippable frames) is parsed here, and each block is checked for bounds
 *   before `lz4js` (which has no bounds checks) decodes it.
 */
import { Readable, pipeline, type Duplex } from 'node:stream';
import {
  crc32,
  createInflate,
  createInflateRaw,
  createZstdDecompress,
  constants as zc,
  type Inflate,
  type InflateRaw,
} from 'node:zlib';

// The decoder libraries load on first use: importing the scanner costs nothing.
type LzmaWasm = typeof import('node-liblzma/wasm');
let lzmaWasm: Promise<LzmaWasm> | undefined;
const loadLzma = (): Promise<LzmaWasm> =>
  (lzmaWasm ??= import('node-liblzma/wasm'));

/** Why a stream stopped decoding. */
export type DecodeFailure = 'corrupt' | 'truncated' | 'memory';

/** A compressed stream that cannot be decoded to its end. */
export class DecodeError extends Error {
  readonly reason: DecodeFailure;
  /** For `memory`: the decoder memory limit that was hit, in bytes. */
  readonly limit: number | undefined;
  /**
   * False when the break is in a stream or member after the first one: what
   * the loaders decode there is not what a probe of the file's first bytes
   * shows, so "nothing decodes" cannot be proved from them.
   */
  readonly firstStream: boolean;
  constructor(
    message: string,
    reason: DecodeFailure,
    limit?: number,
    firstStream = true,
  ) {
    super(message);
    this.name = 'DecodeError';
    this.reason = reason;
    this.limit = limit;
    this.firstStream = firstStream;
  }
}

/** `e` again, marked as a break after the first stream when `later`. */
function inStream(e: unknown, later: boolean): unknown {
  return later && e instanceof DecodeError && e.firstStream
    ? new DecodeError(e.message, e.reason, e.limit, false)
    : e;
}

/** Options of a {@link Decoder}. */
export interface DecodeOptions {
  /** Most memory the decoder itself may allocate (dictionary, window), in bytes. */
  memoryLimit: number;
  signal?: AbortSignal | undefined;
}

/** Decodes a stream of compressed chunks into a stream of decoded chunks. */
export type Decoder = (
  input: AsyncIterable<Buffer>,
  options: DecodeOptions,
) => AsyncGenerator<Buffer, void, undefined>;

/** An operating-system I/O error from the source: passed through, never a decode error. */
export function isIoError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

function errorText(e: unknown): string {
  return String((e as Error)?.message ?? e).slice(0, 160);
}

// ---------------------------------------------------------------------------
// node:zlib (gzip, zlib, zstd)

const ZLIB_CHUNK = 64 * 1024;

/** A node:zlib stream's failure as a DecodeError (I/O errors and ours pass through). */
function zlibFailure(name: string, e: unknown): unknown {
  if (isIoError(e) || e instanceof DecodeError) return e;
  const msg = errorText(e);
  return new DecodeError(
    `${name}: ${msg}`,
    /unexpected end/i.test(msg) ? 'truncated' : 'corrupt',
  );
}

function nodeStreamDecoder(name: string, make: () => Duplex): Decoder {
  return async function* decode(input) {
    const z = make();
    // Errors of the source (I/O) reach `z` through the pipeline.
    pipeline(Readable.from(input), z, () => undefined);
    try {
      for await (const chunk of z as AsyncIterable<Buffer>) yield chunk;
    } catch (e) {
      throw zlibFailure(name, e);
    } finally {
      z.destroy();
    }
  };
}

/** One zstd frame at a time (Node's decoder stops after the first frame). */
const zstdFrameDecoder: Decoder = nodeStreamDecoder('zstd', () =>
  createZstdDecompress({
    chunkSize: ZLIB_CHUNK,
    params: { [zc.ZSTD_d_windowLogMax]: 27 },
  }),
);

// ---------------------------------------------------------------------------
// Pulling exact byte counts from a chunk sequence

class ChunkReader {
  private buf: Buffer = Buffer.alloc(0);
  private done = false;
  private readonly it: AsyncIterator<Buffer>;
  constructor(input: AsyncIterable<Buffer>) {
    this.it = input[Symbol.asyncIterator]();
  }
  /** Buffers at least `n` bytes unless the input ends first; returns how many are buffered. */
  async fill(n: number): Promise<number> {
    const parts: Buffer[] = [this.buf];
    let have = this.buf.length;
    while (have < n && !this.done) {
      const r = await this.it.next();
      if (r.done === true) this.done = true;
      else {
        parts.push(r.value);
        have += r.value.length;
      }
    }
    if (parts.length > 1) this.buf = Buffer.concat(parts, have);
    return this.buf.length;
  }
  /** Exactly `n` bytes, or a truncation error. */
  async read(n: number, what: string): Promise<Buffer> {
    if ((await this.fill(n)) < n)
      throw new DecodeError(`${what} is truncated`, 'truncated');
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  async atEnd(): Promise<boolean> {
    return (await this.fill(1)) === 0;
  }
  /** Bytes buffered now (without reading more). */
  get buffered(): Buffer {
    return this.buf;
  }
  consume(n: number): void {
    this.buf = this.buf.subarray(n);
  }
  get inputDone(): boolean {
    return this.done;
  }
  async close(): Promise<void> {
    await this.it.return?.();
  }
}

// ---------------------------------------------------------------------------
// gzip and zlib: members and streams split here, each decoded by node:zlib.
// Node's own gunzip stops at NUL padding after a member and its inflate after
// the first zlib stream, where Python's readers go on.

/**
 * One raw deflate or zlib stream from `reader`, decoded by `z`; the bytes
 * after its end stay in `reader`. Input is written one buffered piece at a
 * time, and `z.bytesWritten` (the input zlib consumed) tells where the
 * stream ended within the last piece.
 */
async function* inflateOne(
  reader: ChunkReader,
  name: string,
  z: Inflate | InflateRaw,
): AsyncGenerator<Buffer, void, undefined> {
  let stopped = false;
  const write = (piece: Buffer): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        z.off('close', done);
        resolve();
      };
      z.once('close', done);
      z.write(piece, done);
    });
  const feed = async (): Promise<void> => {
    for (;;) {
      if (stopped || z.destroyed) return;
      if (reader.buffered.length === 0 && (await reader.atEnd())) {
        if (!stopped && !z.destroyed) z.end();
        return;
      }
      if (stopped || z.destroyed) return;
      const piece = reader.buffered;
      const before = z.bytesWritten;
      await write(piece);
      const used = z.bytesWritten - before;
      reader.consume(used);
      // Input left over with output room: the stream ended inside the piece.
      if (used < piece.length || z.destroyed) return;
    }
  };
  const feeding = feed().catch((e: unknown) => {
    z.destroy(e as Error);
  });
  try {
    for await (const chunk of z as AsyncIterable<Buffer>) yield chunk;
  } catch (e) {
    throw zlibFailure(name, e);
  } finally {
    stopped = true;
    z.destroy();
    await feeding;
  }
}

/**
 * gzip members or zlib streams read from one file at most: each costs a
 * decoder object and a round of promises (a million empty members took 36 s
 * where CPython takes 4), and no writer makes so many. Past it, the rest is
 * not scanned: a high `compression-error`.
 */
const MAX_MEMBERS = 100_000;

const tooManyMembers = (what: string): DecodeError =>
  new DecodeError(
    `more than ${MAX_MEMBERS.toLocaleString('en-US')} ${what}: the rest was not decoded`,
    'corrupt',
    undefined,
    false,
  );

const notGzip = (): DecodeError =>
  new DecodeError(
    'gzip: not a gzipped file (bytes after a member start no member)',
    'corrupt',
  );

/** Skips a NUL-terminated header field, or to the end of the input (as Python does). */
async function skipCString(reader: ChunkReader): Promise<void> {
  while ((await reader.fill(1)) > 0) {
    const b = reader.buffered;
    const end = b.indexOf(0);
    if (end >= 0) {
      reader.consume(end + 1);
      return;
    }
    reader.consume(b.length);
  }
}

/**
 * A gzip member header, read as CPython's `gzip._read_gzip_header` reads it:
 * false at the end of the input; the magic and method 8 are required;
 * reserved flag bits and the header CRC (FHCRC) are not checked.
 */
async function readGzipHeader(reader: ChunkReader): Promise<boolean> {
  const have = await reader.fill(2);
  if (have === 0) return false;
  const b = reader.buffered;
  if (have < 2 || b[0] !== 0x1f || b[1] !== 0x8b) throw notGzip();
  reader.consume(2);
  const h = await reader.read(8, 'gzip header');
  if (h[0] !== 8)
    throw new DecodeError('gzip: unknown compression method', 'corrupt');
  const flags = h[1]!;
  if ((flags & 4) !== 0) {
    const len = (await reader.read(2, 'gzip header')).readUInt16LE(0);
    await reader.read(len, 'gzip header');
  }
  if ((flags & 8) !== 0) await skipCString(reader);
  if ((flags & 16) !== 0) await skipCString(reader);
  if ((flags & 2) !== 0) await reader.read(2, 'gzip header');
  return true;
}

/**
 * gzip members, read as CPython's `gzip._GzipReader` reads them: after each
 * member's trailer (CRC and length checked, as Python does once it has handed
 * out the member's bytes), a run of NUL bytes is skipped; then the input ends
 * or the next member starts. Any other byte is `BadGzipFile` in Python, after
 * the bytes decoded so far: here a corrupt stream, after those bytes.
 */
export const gunzipDecoder: Decoder = async function* decode(input, options) {
  const reader = new ChunkReader(input);
  try {
    for (let member = 0; ; member++) {
      if (member === MAX_MEMBERS) throw tooManyMembers('gzip members');
      const later = member > 0;
      try {
        if (later) {
          // _read_eof: "Gzip files can be padded with zeroes".
          for (;;) {
            if (options.signal?.aborted === true) return;
            if ((await reader.fill(1)) === 0) return;
            const b = reader.buffered;
            let i = 0;
            while (i < b.length && b[i] === 0) i++;
            reader.consume(i);
            if (i < b.length) break;
          }
        }
        if (!(await readGzipHeader(reader))) return;
        let crc = 0;
        let size = 0;
        const z = createInflateRaw({ chunkSize: ZLIB_CHUNK });
        for await (const chunk of inflateOne(reader, 'gzip', z)) {
          crc = crc32(chunk, crc);
          size = (size + chunk.length) % 0x100000000;
          yield chunk;
        }
        const trailer = await reader.read(8, 'gzip member trailer');
        if (trailer.readUInt32LE(0) !== crc)
          throw new DecodeError('gzip: CRC check failed', 'corrupt');
        if (trailer.readUInt32LE(4) !== size)
          throw new DecodeError(
            'gzip: incorrect length of data produced',
            'corrupt',
          );
      } catch (e) {
        throw inStream(e, later);
      }
    }
  } finally {
    await reader.close();
  }
};

/**
 * Whether `b` starts with a zlib header that `zlib.decompressobj()` (window
 * bits 15, no preset dictionary) accepts.
 */
function isZlibStreamHead(b: Buffer): boolean {
  if (b.length < 2) return false;
  const cmf = b[0]!;
  const flg = b[1]!;
  return (
    (cmf & 15) === 8 &&
    cmf >> 4 <= 7 &&
    (flg & 0x20) === 0 &&
    (cmf * 256 + flg) % 31 === 0
  );
}

/**
 * zlib streams (RFC 1950), one after another. No loader reads past the
 * first (joblib 1.6's `BinaryZlibFile` feeds the rest back to its finished
 * decompressor and fails with MemoryError on the next read; `zlib.decompress`
 * ignores it), so this reads more than they do: a later stream is scanned
 * rather than trusted to stay unread (stop 29 review). Bytes after a stream
 * that cannot start one decode to nothing in any reader and are ignored;
 * bytes that start a stream are decoded, and a break in them is a corrupt
 * stream.
 */
export const inflateDecoder: Decoder = async function* decode(input, options) {
  const reader = new ChunkReader(input);
  try {
    for (let stream = 0; ; stream++) {
      if (stream === MAX_MEMBERS) throw tooManyMembers('zlib streams');
      const later = stream > 0;
      if (later) {
        if (options.signal?.aborted === true) return;
        if ((await reader.fill(2)) === 0) return;
        if (!isZlibStreamHead(reader.buffered)) return;
      }
      try {
        const z = createInflate({ chunkSize: ZLIB_CHUNK });
        yield* inflateOne(reader, 'zlib', z);
      } catch (e) {
        throw inStream(e, later);
      }
    }
  } finally {
    await reader.close();
  }
};

// ---------------------------------------------------------------------------
// xz and LZMA "alone": liblzma (WebAssembly)

/** The WebAssembly heap of node-liblzma is capped at 256 MiB; keep headroom for buffers. */
export const LZMA_MAX_MEMLIMIT: number = 192 * 1024 * 1024;
const LZMA_IN = 1 << 20;
const LZMA_OUT = 1 << 20;

// One liblzma stream at a time: the WebAssembly heap is shared by the whole
// process, and concurrent files with large dictionaries would exhaust it.
let lzmaQueue: Promise<void> = Promise.resolve();
function lockLzma(): Promise<() => void> {
  let release!: () => void;
  const held = new Promise<void>((r) => {
    release = r;
  });
  const previous = lzmaQueue;
  lzmaQueue = previous.then(() => held);
  return previous.then(() => release);
}

function lzmaFailure(w: LzmaWasm, ret: number, memlimit: number): DecodeError {
  if (ret === w.LZMA_MEMLIMIT_ERROR || ret === w.LZMA_MEM_ERROR)
    return new DecodeError(
      'xz/lzma: the stream needs more decoder memory than allowed',
      'memory',
      memlimit,
    );
  return new DecodeError(`xz/lzma: liblzma error ${ret}`, 'corrupt');
}

/**
 * xz and LZMA-alone streams, one after another (Python's `LZMAFile` reads
 * concatenated streams and ignores trailing bytes that do not start one).
 */
export const lzmaDecoder: Decoder = async function* decode(input, options) {
  const w = await loadLzma();
  const m = await w.initModule();
  const release = await lockLzma();
  const reader = new ChunkReader(input);
  const memlimit = Math.max(
    1024 * 1024,
    Math.min(options.memoryLimit, LZMA_MAX_MEMLIMIT),
  );
  let stream: InstanceType<LzmaWasm['WasmLzmaStream']> | undefined;
  const inPtr = m._malloc(LZMA_IN);
  const outPtr = m._malloc(LZMA_OUT);
  const close = (): void => {
    if (stream !== undefined) {
      w.end(stream);
      stream.free();
      stream = undefined;
    }
  };
  try {
    if (inPtr === 0 || outPtr === 0)
      throw new DecodeError('xz/lzma: no decoder memory', 'memory', memlimit);
    stream = new w.WasmLzmaStream(m);
    w.autoDecoderInit(stream, memlimit);
    let next = false; // decoding a stream after the first one
    let producedInStream = 0;
    for (;;) {
      if (options.signal?.aborted === true) return;
      if (reader.buffered.length === 0 && !reader.inputDone)
        await reader.fill(1);
      const pending = reader.buffered;
      const n = Math.min(pending.length, LZMA_IN);
      const action =
        reader.inputDone && n === pending.length ? w.LZMA_FINISH : w.LZMA_RUN;
      m.HEAPU8.set(pending.subarray(0, n), inPtr);
      stream.setInput(inPtr, n);
      stream.setOutput(outPtr, LZMA_OUT);
      const ret = w.code(stream, action);
      const consumed = n - stream.availIn;
      const produced = LZMA_OUT - stream.availOut;
      reader.consume(consumed);
      if (produced > 0) {
        producedInStream += produced;
        yield Buffer.from(m.HEAPU8.subarray(outPtr, outPtr + produced));
      }
      if (ret === w.LZMA_STREAM_END) {
        close();
        if (await reader.atEnd()) return;
        stream = new w.WasmLzmaStream(m);
        w.autoDecoderInit(stream, memlimit);
        next = true;
        producedInStream = 0;
        continue;
      }
      if (ret !== w.LZMA_OK) {
        // Bytes after a stream that do not decode are ignored (Python's trailing_error).
        if (next && producedInStream === 0) return;
        throw lzmaFailure(w, ret, memlimit);
      }
      if (
        action === w.LZMA_FINISH &&
        consumed === 0 &&
        produced < LZMA_OUT &&
        reader.buffered.length === 0
      ) {
        if (next && producedInStream === 0) return;
        throw new DecodeError('xz/lzma stream is truncated', 'truncated');
      }
    }
  } finally {
    close();
    if (inPtr !== 0) m._free(inPtr);
    if (outPtr !== 0) m._free(outPtr);
    release();
    await reader.close();
  }
};

// ---------------------------------------------------------------------------
// bzip2: seek-bzip, one block at a time

/** Input kept ahead of each block: more than any valid compressed bzip2 block (< 3 MB). */
const BZIP2_AHEAD = 8 * 1024 * 1024;
const BZIP2_OUT = 1 << 20;

/** bzip2 streams, one after another (as Python's `BZ2File` reads them). */
export const bunzip2Decoder: Decoder = async function* decode(input, options) {
  const { default: Bunzip } = await import('seek-bzip');
  const it = input[Symbol.asyncIterator]();
  let buf: Buffer = Buffer.alloc(0);
  let base = 0; // absolute offset of buf[0]
  let pos = 0; // absolute offset of the next byte the decoder reads
  let inputDone = false;
  const refill = async (): Promise<void> => {
    if (pos > base) {
      buf = buf.subarray(pos - base);
      base = pos;
    }
    while (!inputDone && buf.length < BZIP2_AHEAD) {
      const r = await it.next();
      if (r.done === true) inputDone = true;
      else buf = buf.length === 0 ? r.value : Buffer.concat([buf, r.value]);
    }
  };
  const atEnd = (): boolean => inputDone && pos - base >= buf.length;
  const inStream = new Bunzip.Stream();
  inStream.readByte = (): number => {
    const i = pos - base;
    if (i >= buf.length)
      throw inputDone
        ? new DecodeError('bzip2 stream is truncated', 'truncated')
        : new DecodeError('bzip2 block longer than any valid block', 'corrupt');
    pos++;
    return buf[i]!;
  };
  let chunks: Buffer[] = [];
  let out: Buffer = Buffer.allocUnsafe(BZIP2_OUT);
  let outPos = 0;
  const outStream = new Bunzip.Stream();
  outStream.writeByte = (b: number): void => {
    out[outPos++] = b;
    if (outPos === BZIP2_OUT) {
      chunks.push(out);
      out = Buffer.allocUnsafe(BZIP2_OUT);
      outPos = 0;
    }
  };
  const take = (): Buffer[] => {
    const r = chunks;
    chunks = [];
    if (outPos > 0) {
      r.push(Buffer.from(out.subarray(0, outPos)));
      outPos = 0;
    }
    return r;
  };
  const failure = (e: unknown): Error =>
    e instanceof DecodeError || isIoError(e)
      ? (e as Error)
      : new DecodeError(`bzip2: ${errorText(e)}`, 'corrupt');
  try {
    await refill();
    let bz;
    try {
      bz = new Bunzip(inStream, outStream);
    } catch (e) {
      throw failure(e);
    }
    let next = false;
    let producedInStream = 0;
    for (;;) {
      if (options.signal?.aborted === true) return;
      await refill();
      let more: boolean;
      let error: Error | undefined;
      try {
        more = bz._init_block();
        if (more) bz._read_bunzip();
        else if (bz.reader.read(32) >>> 0 !== bz.streamCRC)
          throw new DecodeError('bzip2 stream CRC mismatch', 'corrupt');
      } catch (e) {
        error = failure(e);
        more = false;
      }
      for (const c of take()) {
        producedInStream += c.length;
        yield c;
      }
      if (error !== undefined) {
        if (next && producedInStream === 0 && !isIoError(error)) return;
        throw error;
      }
      if (!more) {
        await refill();
        if (atEnd()) return;
        try {
          bz._start_bunzip(inStream, outStream);
        } catch (e) {
          if (isIoError(e)) throw e;
          return; // trailing bytes that are not a bzip2 stream: ignored, as Python does
        }
        next = true;
        producedInStream = 0;
      }
    }
  } finally {
    await it.return?.();
  }
};

// ---------------------------------------------------------------------------
// LZ4 frame: frame layer here, blocks by lz4js

const LZ4_MAGIC = 0x184d2204;
const LZ4_WINDOW = 64 * 1024;

/**
 * Checks that an LZ4 block decodes within `limit` output bytes with every
 * match inside the window, without copying anything (lz4js trusts its input).
 * @param start output position where the block starts (the window before it may be referenced)
 */
function checkLz4Block(src: Uint8Array, start: number, limit: number): void {
  const bad = (): never => {
    throw new DecodeError('lz4 block is corrupt', 'corrupt');
  };
  const n = src.length;
  let s = 0;
  let d = start;
  while (s < n) {
    const token = src[s++]!;
    let lit = token >> 4;
    if (lit === 15) {
      let b;
      do {
        if (s >= n) bad();
        b = src[s++]!;
        lit += b;
      } while (b === 255);
    }
    if (s + lit > n) bad();
    s += lit;
    d += lit;
    if (d > limit) bad();
    if (s === n) break;
    if (s + 2 > n) bad();
    const offset = src[s]! | (src[s + 1]! << 8);
    s += 2;
    if (offset === 0 || offset > d) bad();
    let ml = token & 15;
    if (ml === 15) {
      let b;
      do {
        if (s >= n) bad();
        b = src[s++]!;
        ml += b;
      } while (b === 255);
    }
    d += ml + 4;
    if (d > limit) bad();
  }
}

/** LZ4 frames (and skippable frames), one after another, as `lz4.frame` reads them. */
export const lz4Decoder: Decoder = async function* decode(input, options) {
  const { default: lz4 } = await import('lz4js');
  const reader = new ChunkReader(input);
  let frames = 0;
  try {
    for (;;) {
      if (await reader.atEnd()) return;
      if ((await reader.fill(4)) < 4) {
        if (frames > 0) return;
        throw new DecodeError('lz4 frame is truncated', 'truncated');
      }
      const magic = reader.buffered.readUInt32LE(0);
      if (isSkippableMagic(magic)) {
        await skipFrame(reader, 'lz4 skippable frame');
        continue;
      }
      if (magic !== LZ4_MAGIC) {
        if (frames > 0) return; // trailing bytes after a frame
        throw new DecodeError('not an lz4 frame', 'corrupt');
      }
      reader.consume(4);
      const desc = await reader.read(2, 'lz4 frame header');
      const flg = desc[0]!;
      const bd = desc[1]!;
      if (flg >> 6 !== 1 || (flg & 0x02) !== 0 || (bd & 0x8f) !== 0)
        throw new DecodeError('lz4 frame descriptor is invalid', 'corrupt');
      const code = (bd >> 4) & 7;
      if (code < 4)
        throw new DecodeError('lz4 block size code is invalid', 'corrupt');
      const blockMax = 1 << (8 + 2 * code);
      const linked = (flg & 0x20) === 0;
      const blockChecksum = (flg & 0x10) !== 0;
      const contentChecksum = (flg & 0x04) !== 0;
      await reader.read(
        ((flg & 0x08) !== 0 ? 8 : 0) + ((flg & 0x01) !== 0 ? 4 : 0) + 1,
        'lz4 frame header',
      );
      const window = new Uint8Array(LZ4_WINDOW + blockMax);
      let prefix = 0;
      for (;;) {
        if (options.signal?.aborted === true) return;
        const word = (await reader.read(4, 'lz4 frame')).readUInt32LE(0);
        if (word === 0) break;
        const stored = (word & 0x80000000) !== 0;
        const len = word & 0x7fffffff;
        if (len > blockMax)
          throw new DecodeError(
            'lz4 block larger than the frame allows',
            'corrupt',
          );
        const data = await reader.read(len, 'lz4 block');
        if (blockChecksum) await reader.read(4, 'lz4 block checksum');
        let end: number;
        if (stored) {
          window.set(data, prefix);
          end = prefix + len;
        } else {
          checkLz4Block(data, prefix, prefix + blockMax);
          end = lz4.decompressBlock(data, window, 0, len, prefix);
        }
        yield Buffer.from(window.subarray(prefix, end));
        if (linked) {
          const keep = Math.min(LZ4_WINDOW, end);
          window.copyWithin(0, end - keep, end);
          prefix = keep;
        }
      }
      if (contentChecksum) await reader.read(4, 'lz4 content checksum');
      frames++;
    }
  } finally {
    await reader.close();
  }
};

// ---------------------------------------------------------------------------
// zstd: frames split here (block headers give every length), each decoded by
// node:zlib; Node's decoder ignores everything after the first frame, while
// zstd's own tools read every frame.

const ZSTD_MAGIC = 0xfd2fb528;
/** Largest block content a zstd block may have (Block_Maximum_Size). */
const ZSTD_BLOCK_MAX = 128 * 1024;

function isSkippableMagic(magic: number): boolean {
  return (magic & 0xfffffff0) >>> 0 === 0x184d2a50;
}

async function skipFrame(reader: ChunkReader, what: string): Promise<void> {
  reader.consume(4);
  const size = (await reader.read(4, what)).readUInt32LE(0);
  for (let left = size; left > 0;) {
    const step = Math.min(left, 1 << 20);
    await reader.read(step, what);
    left -= step;
  }
}

/** The bytes of the zstd frame at the reader's position, header and blocks, without decoding them. */
async function* zstdFrameBytes(
  reader: ChunkReader,
): AsyncGenerator<Buffer, void, undefined> {
  const head = await reader.read(5, 'zstd frame header');
  const fhd = head[4]!;
  if ((fhd & 0x08) !== 0)
    throw new DecodeError('zstd frame header is invalid', 'corrupt');
  const single = (fhd & 0x20) !== 0;
  const fcs = [single ? 1 : 0, 2, 4, 8][fhd >> 6]!;
  const dict = [0, 1, 2, 4][fhd & 3]!;
  yield Buffer.from(head);
  yield Buffer.from(
    await reader.read((single ? 0 : 1) + dict + fcs, 'zstd frame header'),
  );
  for (;;) {
    const bh = await reader.read(3, 'zstd block header');
    const v = bh[0]! | (bh[1]! << 8) | (bh[2]! << 16);
    const type = (v >> 1) & 3;
    const size = v >>> 3;
    if (type === 3 || size > ZSTD_BLOCK_MAX)
      throw new DecodeError('zstd block header is invalid', 'corrupt');
    yield Buffer.from(bh);
    yield Buffer.from(await reader.read(type === 1 ? 1 : size, 'zstd block'));
    if ((v & 1) !== 0) break;
  }
  if ((fhd & 0x04) !== 0)
    yield Buffer.from(await reader.read(4, 'zstd frame checksum'));
}

/** zstd frames and skippable frames, one after another. */
export const zstdDecoder: Decoder = async function* decode(input, options) {
  const reader = new ChunkReader(input);
  let frames = 0;
  try {
    for (;;) {
      if (options.signal?.aborted === true) return;
      if (await reader.atEnd()) return;
      if ((await reader.fill(4)) < 4) {
        if (frames > 0) return;
        throw new DecodeError('zstd frame is truncated', 'truncated');
      }
      const magic = reader.buffered.readUInt32LE(0);
      if (isSkippableMagic(magic)) {
        await skipFrame(reader, 'zstd skippable frame');
        continue;
      }
      if (magic !== ZSTD_MAGIC) {
        if (frames > 0) return; // trailing bytes after a frame
        throw new DecodeError('not a zstd frame', 'corrupt');
      }
      yield* zstdFrameDecoder(zstdFrameBytes(reader), options);
      frames++;
    }
  } finally {
    await reader.close();
  }
};
