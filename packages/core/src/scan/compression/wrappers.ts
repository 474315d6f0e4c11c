// SPDX-License-Identifier: Apache-2.0
/**
 * Compression wrappers (threats.md §1.1, "Wrappers"; every compressor joblib
 * and PyTorch users meet): gzip, zlib, bzip2, xz, LZMA "alone", zstd, LZ4
 * frame and joblib's legacy `ZF` files, recognised by content and decoded as
 * a bounded stream. The decoded bytes are scanned as a nested artifact (so a
 * wrapper inside a wrapper is decoded in turn), from memory when small and
 * from a private temporary file when large.
 *
 * Fail closed: decoding stops at the expanded-bytes budget of the file
 * (`maxExpandedBytes`) and at a ratio above {@link BOMB_RATIO}:1 past
 * {@link BOMB_FLOOR_BYTES} (a decompression bomb); a corrupt or truncated
 * stream is scanned up to the break. Each of these is a high finding, and
 * what decoded before it is still scanned. 7z cannot be decoded here and is a
 * high `COMPRESSION_UNSUPPORTED`.
 */
import {
  constants as zlibConstants,
  gunzipSync,
  inflateRawSync,
  inflateSync,
} from 'node:zlib';
import { reportIncomplete } from '../incomplete.js';
import type { ByteSource, FormatScanner, ScanContext } from '../types.js';
import {
  DecodeError,
  bunzip2Decoder,
  gunzipDecoder,
  inflateDecoder,
  lz4Decoder,
  lzmaDecoder,
  zstdDecoder,
  type Decoder,
} from './decoders.js';
import {
  isBzip2Head,
  isGzipHead,
  isLz4FrameHead,
  isLzmaAloneHead,
  isXzHead,
  isZlibHead,
  isZstdHead,
  parseZfHeader,
  undecodableKind,
  type WrapperKind,
} from './detect.js';
import { OutputSpool, SPILL_BYTES } from './spool.js';

export { isGzipHead, isZlibHead } from './detect.js';

/** Expansion ratio above which a stream is a bomb (past {@link BOMB_FLOOR_BYTES}). */
export const BOMB_RATIO: number = 100;
/** Decoded size below which the ratio is not checked (real sparse arrays compress well). */
export const BOMB_FLOOR_BYTES: number = 64 * 1024 * 1024;
/** Compressed bytes probed when a stream decodes to nothing. */
const PROBE_BYTES = 64;

/**
 * True when zlib fails within `probe` (flushing what it can): the stream
 * breaks inside the first bytes, which every reader decodes in one call.
 */
function brokenWithin(
  probe: Buffer,
  decode: (b: Buffer, o: { finishFlush: number }) => Buffer,
): boolean {
  try {
    decode(probe, { finishFlush: zlibConstants.Z_SYNC_FLUSH });
    return false;
  } catch {
    return true;
  }
}

/** Where a gzip member's deflate data start in `b`, or undefined when its header is not whole there. */
function gzipDataStart(b: Buffer): number | undefined {
  if (b.length < 10 || b[0] !== 0x1f || b[1] !== 0x8b || b[2] !== 8)
    return undefined;
  const flags = b[3]!;
  let at = 10;
  if (flags & 4) {
    if (at + 2 > b.length) return undefined;
    at += 2 + b.readUInt16LE(at);
  }
  for (const flag of [8, 16]) {
    if (flags & flag) {
      const end = b.indexOf(0, at);
      if (end < 0) return undefined;
      at = end + 1;
    }
  }
  if (flags & 2) at += 2;
  return at <= b.length ? at : undefined;
}

/**
 * gzip: true when the first member's deflate data in `probe` decode to
 * nothing, its trailer and what follows it unread. Python's `gzip` (and
 * joblib's reader) hands out a member's bytes before it checks the CRC and
 * length and before it reads past the member, so a pickle in a member with
 * a wrong trailer or garbage after it still runs (stop 21 red team), while
 * `gunzipSync` fails on it and keeps nothing.
 */
function gzipInert(probe: Buffer): boolean {
  const start = gzipDataStart(probe);
  if (start === undefined) return brokenWithin(probe, gunzipSync);
  const body = probe.subarray(start);
  // Bytes decoded from the first `k` bytes of the data, or -1 on an error
  // within them (a prefix ends short, never in error, when the data are sound).
  const decoded = (k: number): number => {
    try {
      return inflateRawSync(body.subarray(0, k), {
        finishFlush: zlibConstants.Z_SYNC_FLUSH,
        maxOutputLength: 1024 * 1024,
      }).length;
    } catch (error) {
      return (error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE'
        ? 1
        : -1;
    }
  };
  // The longest prefix that decodes without an error, then what it gives.
  let low = 0;
  let high = body.length;
  while (low < high) {
    const mid = (low + high + 1) >>> 1;
    if (decoded(mid) >= 0) low = mid;
    else high = mid - 1;
  }
  return decoded(low) <= 0;
}

/** Compressed bytes read per step. */
const INPUT_CHUNK = 1024 * 1024;

interface WrapperSpec {
  kind: WrapperKind;
  /** Scanner id and recognised format. */
  format: string;
  /** Member name of the decoded stream. */
  member: string;
  detect(head: Buffer): boolean;
  /**
   * For decoders that are the library the loaders use (zlib, liblzma): given
   * the first {@link PROBE_BYTES} compressed bytes of a stream that decoded to
   * nothing, true when the loader cannot decode anything either (the stream
   * breaks within the first bytes, which every loader reads in one call).
   * Absent: a stream that decodes to nothing is still a high finding.
   */
  inert?: (probe: Buffer) => boolean;
  /** Where the compressed stream starts. */
  dataOffset(head: Buffer): number;
  decoder: Decoder;
}

const SPECS: WrapperSpec[] = [
  {
    kind: 'gzip',
    inert: gzipInert,
    format: 'gzip',
    member: 'gunzip',
    detect: isGzipHead,
    dataOffset: () => 0,
    decoder: gunzipDecoder,
  },
  {
    kind: 'zlib',
    inert: (probe) => brokenWithin(probe, inflateSync),
    format: 'zlib',
    member: 'inflate',
    detect: isZlibHead,
    dataOffset: () => 0,
    decoder: inflateDecoder,
  },
  {
    kind: 'bzip2',
    format: 'bzip2',
    member: 'bunzip2',
    detect: isBzip2Head,
    dataOffset: () => 0,
    decoder: bunzip2Decoder,
  },
  {
    kind: 'xz',
    inert: () => true,
    format: 'xz',
    member: 'unxz',
    detect: isXzHead,
    dataOffset: () => 0,
    decoder: lzmaDecoder,
  },
  {
    kind: 'lzma',
    inert: () => true,
    format: 'lzma',
    member: 'unlzma',
    detect: isLzmaAloneHead,
    dataOffset: () => 0,
    decoder: lzmaDecoder,
  },
  {
    kind: 'zstd',
    format: 'zstd',
    member: 'unzstd',
    detect: isZstdHead,
    dataOffset: () => 0,
    decoder: zstdDecoder,
  },
  {
    kind: 'lz4',
    format: 'lz4',
    member: 'unlz4',
    detect: isLz4FrameHead,
    dataOffset: () => 0,
    decoder: lz4Decoder,
  },
  {
    kind: 'joblib-zf',
    inert: (probe) => brokenWithin(probe, inflateSync),
    format: 'joblib-zf',
    member: 'joblib-zf',
    detect: (head) => parseZfHeader(head) !== undefined,
    dataOffset: (head) => parseZfHeader(head)?.dataOffset ?? 0,
    decoder: inflateDecoder,
  },
];

async function* readChunks(
  source: ByteSource,
  start: number,
  onRead: (n: number) => void,
  signal: AbortSignal | undefined,
): AsyncGenerator<Buffer, void, undefined> {
  let pos = start;
  while (pos < source.size) {
    if (signal?.aborted === true) return;
    const b = await source.read(pos, Math.min(INPUT_CHUNK, source.size - pos));
    if (b.length === 0) return;
    pos += b.length;
    onRead(b.length);
    yield b;
  }
}

function decoded(n: number): string {
  return `${n.toLocaleString('en-US')} decoded bytes`;
}

async function decodeAndScan(
  source: ByteSource,
  ctx: ScanContext,
  spec: WrapperSpec,
): Promise<void> {
  ctx.recognise(spec.format);
  const head = await source.read(0, 64);
  const start = spec.dataOffset(head);
  let consumed = 0;
  const input = readChunks(
    source,
    start,
    (n) => {
      consumed += n;
    },
    ctx.signal,
  );
  // Memory held while nested members are scanned halves with each level.
  const spool = new OutputSpool(
    Math.max(1024 * 1024, SPILL_BYTES / 2 ** ctx.depth),
  );
  let stop: 'bomb' | 'expanded' | undefined;
  let failure: DecodeError | undefined;
  const ratio = ctx.limits.maxCompressionRatio ?? BOMB_RATIO;
  try {
    try {
      for await (const chunk of spec.decoder(input, {
        memoryLimit: ctx.limits.maxMemberBytes,
        signal: ctx.signal,
      })) {
        if (ctx.signal?.aborted === true) return;
        const total = spool.size + chunk.length;
        if (
          ratio > 0 &&
          total > BOMB_FLOOR_BYTES &&
          total > ratio * Math.max(1, consumed)
        ) {
          stop = 'bomb';
          break;
        }
        if (
          ctx.reserveExpanded !== undefined &&
          !ctx.reserveExpanded(chunk.length)
        ) {
          stop = 'expanded';
          break;
        }
        await spool.write(chunk);
      }
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
      failure = e;
    }
    if (ctx.signal?.aborted === true) return;
    const n = spool.size;
    if (stop === 'bomb') {
      ctx.report({
        ruleId: 'ARCHIVE_DECOMPRESSION_BOMB',
        severity: 'high',
        message: `${spec.kind} stream expands more than ${ratio}:1 past ${BOMB_FLOOR_BYTES / 1024 / 1024} MiB; decoding stopped`,
        evidence: {
          compression: spec.kind,
          compressedBytesRead: consumed,
          decodedBytes: n,
        },
      });
      reportIncomplete(ctx, {
        limit: 'maxCompressionRatio',
        value: ratio,
        message: `${spec.kind} stream after ${decoded(n)} (decompression bomb)`,
        evidence: { compression: spec.kind, decoded: n },
      });
    } else if (stop === 'expanded') {
      reportIncomplete(ctx, {
        limit: 'maxExpandedBytes',
        value: ctx.limits.maxExpandedBytes,
        message: `${spec.kind} stream after ${decoded(n)}: the file's expanded bytes reached the limit`,
        evidence: { compression: spec.kind, decoded: n },
      });
    } else if (failure?.reason === 'memory') {
      reportIncomplete(ctx, {
        limit: 'decoder-memory',
        value: failure.limit ?? ctx.limits.maxMemberBytes,
        message: `${spec.kind} stream needs more decoder memory than allowed; ${decoded(n)} scanned`,
        evidence: { compression: spec.kind, decoded: n },
      });
    } else if (failure !== undefined) {
      const how = failure.reason === 'truncated' ? 'truncated' : 'corrupt';
      // Nothing decodes with the loaders' own library: nothing can be loaded
      // (provable only for a break in the first stream, which the probe sees).
      const inert =
        n === 0 &&
        failure.firstStream &&
        spec.inert !== undefined &&
        (failure.reason === 'truncated' ||
          spec.inert(await source.read(start, PROBE_BYTES)));
      reportIncomplete(ctx, {
        limit: 'compression-error',
        message: inert
          ? `${spec.kind} stream is ${how} before its first byte; nothing decodes`
          : `${spec.kind} stream is ${how} after ${decoded(n)}; only those were scanned`,
        evidence: {
          compression: spec.kind,
          reason: failure.message,
          decoded: n,
        },
        ...(inert ? { severity: 'medium' as const } : {}),
      });
    }
    if (n > 0) await ctx.scanNested(await spool.source(), spec.member);
  } finally {
    await spool.dispose();
  }
}

function wrapperScanner(spec: WrapperSpec): FormatScanner {
  return {
    id: spec.format,
    detect: (head: Buffer): boolean => spec.detect(head),
    scan: (source: ByteSource, ctx: ScanContext): Promise<void> =>
      decodeAndScan(source, ctx, spec),
  };
}

/** One scanner per decodable wrapper, in detection order. */
export const COMPRESSION_SCANNERS: readonly FormatScanner[] =
  SPECS.map(wrapperScanner);

/**
 * Compressed containers that cannot be decoded here (7z, rar, lzip, legacy
 * LZ4, lzop, framed snappy, Unix compress): a high finding, never a silent
 * pass.
 */
export const UNSUPPORTED_COMPRESSION_SCANNER: FormatScanner = {
  id: 'compression-unsupported',
  detect: (head: Buffer): boolean => undecodableKind(head) !== undefined,
  async scan(source: ByteSource, ctx: ScanContext): Promise<void> {
    const k = undecodableKind(await source.read(0, 16)) ?? 'unknown';
    ctx.recognise(k);
    ctx.report({
      ruleId: 'COMPRESSION_UNSUPPORTED',
      severity: 'high',
      message: `${k} data cannot be decoded by the scanner; its content was not scanned`,
      evidence: { compression: k },
    });
  },
};
