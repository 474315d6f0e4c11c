// SPDX-License-Identifier: Apache-2.0
/**
 * Tar and gzip (`threats.md` §7): tar-stream parses, we cap entries, names and
 * expansion, simulate links across members, and scan every regular member as
 * its own artifact. gzip is inflated as a stream with a hard cap; a gzip that
 * does not hold a tar is scanned as one nested artifact.
 */
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import tarStream from 'tar-stream';
import type { ByteSource, FormatScanner, ScanContext } from '../types.js';
import { bufferSource } from '../source.js';
import {
  checkEntryName,
  checkHardlink,
  checkSymlink,
  LinkTracker,
} from './entry-paths.js';
import { BOMB_RATIO, MAX_ARCHIVE_ENTRIES } from './zip-scanner.js';

const CHUNK = 1024 * 1024;

class ExpansionLimit extends Error {
  constructor(readonly produced: number) {
    super('expansion limit');
  }
}

function sourceStream(source: ByteSource): Readable {
  return Readable.from(
    (async function* chunks(): AsyncGenerator<Buffer> {
      for (let pos = 0; pos < source.size;) {
        const chunk = await source.read(
          pos,
          Math.min(CHUNK, source.size - pos),
        );
        if (chunk.length === 0) return;
        pos += chunk.length;
        yield chunk;
      }
    })(),
  );
}

/** Counts bytes flowing through and fails the stream past `limit`. */
function limiter(limit: number): Transform & { produced: number } {
  const stream = new Transform({
    transform(
      chunk: Buffer,
      _encoding: BufferEncoding,
      callback: TransformCallback,
    ): void {
      stream.produced += chunk.length;
      if (stream.produced > limit)
        callback(new ExpansionLimit(stream.produced));
      else callback(null, chunk);
    },
  }) as Transform & { produced: number };
  stream.produced = 0;
  return stream;
}

/** Largest PAX or GNU long-name record accepted (tar-stream buffers them whole). */
const MAX_META_ENTRY = 1024 * 1024;

class TarLimit extends Error {}

/** Size field of a tar header: octal, or base-256 when the high bit is set. */
function headerSize(block: Buffer): number {
  if (((block[124] as number) & 0x80) !== 0) {
    let value = 0;
    for (let i = 125; i < 136; i++) value = value * 256 + (block[i] as number);
    return value;
  }
  const text = block
    .toString('latin1', 124, 136)
    .replace(/[\0 ]+$/g, '')
    .trim();
  const value = Number.parseInt(text === '' ? '0' : text, 8);
  return Number.isFinite(value) ? value : 0;
}

/**
 * Watches tar headers as they stream past and fails the stream on PAX or GNU
 * long-name records above {@link MAX_META_ENTRY}: tar-stream buffers those in
 * memory without a limit (`threats.md` §9).
 */
function tarHeaderGuard(): Transform {
  let skip = 0;
  let partial: Buffer = Buffer.alloc(0);
  return new Transform({
    transform(
      chunk: Buffer,
      _encoding: BufferEncoding,
      callback: TransformCallback,
    ): void {
      const data = partial.length > 0 ? Buffer.concat([partial, chunk]) : chunk;
      partial = Buffer.alloc(0);
      let pos = 0;
      while (pos < data.length) {
        if (skip > 0) {
          const n = Math.min(skip, data.length - pos);
          skip -= n;
          pos += n;
          continue;
        }
        if (data.length - pos < 512) {
          partial = Buffer.from(data.subarray(pos));
          break;
        }
        const block = data.subarray(pos, pos + 512);
        pos += 512;
        if (block[0] === 0 && block.every((b) => b === 0)) continue;
        const type = String.fromCharCode(block[156] as number);
        const size = headerSize(block);
        if ('xgLK'.includes(type) && size > MAX_META_ENTRY) {
          callback(new TarLimit(`${type} header record of ${size} bytes`));
          return;
        }
        // Directories, links and devices carry no data even when a size is set.
        const hasData = !'12345'.includes(type);
        skip = hasData ? Math.ceil(size / 512) * 512 : 0;
      }
      callback(null, chunk);
    },
  });
}

/** True when the block looks like a tar header: `ustar` magic or a valid v7 checksum. */
export function isTarHeader(block: Buffer): boolean {
  if (block.length < 512) return false;
  if (block.toString('latin1', 257, 262) === 'ustar') return true;
  const stored = Number.parseInt(
    block
      .toString('latin1', 148, 156)
      .replace(/[\0 ]+/g, ' ')
      .trim(),
    8,
  );
  if (!Number.isFinite(stored) || block[0] === 0) return false;
  let sum = 0;
  for (let i = 0; i < 512; i++)
    sum += i >= 148 && i < 156 ? 0x20 : (block[i] as number);
  return sum === stored;
}

/** Walks a tar stream; `compressedSize` is the size of the archive on disk, for the bomb ratio. */
async function walkTar(
  input: Readable,
  ctx: ScanContext,
  compressedSize: number,
  expansion: (Transform & { produced: number }) | undefined,
): Promise<void> {
  // v7 tars have no ustar magic; a plain object avoids a quirk of the typings (WritableOptions generics).
  const options = { allowUnknownFormat: true, highWaterMark: 64 * 1024 };
  const extract = tarStream.extract(options);
  const links = new LinkTracker();
  const names = new Map<string, number>();
  let index = 0;
  let expanded = 0;
  const guard = tarHeaderGuard();
  input.on('error', (error) => guard.destroy(error));
  guard.on('error', (error) => extract.destroy(error));
  input.pipe(guard).pipe(extract);
  try {
    for await (const entry of extract) {
      const header = entry.header;
      if (index >= MAX_ARCHIVE_ENTRIES) {
        ctx.report({
          ruleId: 'SCAN_LIMIT_EXCEEDED',
          severity: 'medium',
          message: `more than ${MAX_ARCHIVE_ENTRIES} entries, the rest not scanned`,
          evidence: { limit: MAX_ARCHIVE_ENTRIES },
        });
        entry.resume();
        input.destroy();
        break;
      }
      const i = index++;
      const name = header.name;
      const normal = checkEntryName(ctx, name, links, undefined);
      const key = normal ?? name;
      if (header.type !== 'directory' && names.has(key)) {
        ctx.report({
          ruleId: 'ARCHIVE_DUPLICATE_ENTRY',
          severity: 'high',
          message: `entry ${name} appears more than once`,
          evidence: { name, first: names.get(key), index: i },
        });
      }
      names.set(key, i);
      const type = header.type ?? 'file';
      if (type === 'symlink') {
        checkSymlink(ctx, name, header.linkname ?? '', links, undefined);
      } else if (type === 'link') {
        checkHardlink(ctx, name, header.linkname ?? '', links, undefined);
      } else if (
        type === 'character-device' ||
        type === 'block-device' ||
        type === 'fifo'
      ) {
        ctx.report({
          ruleId: 'ARCHIVE_SPECIAL_FILE',
          severity: 'medium',
          message: `entry ${name} is a ${type}`,
          evidence: { name, type },
        });
      }
      const size = header.size ?? 0;
      const isFile = type === 'file' || type === 'contiguous-file';
      if (!isFile || size === 0) {
        for await (const _chunk of entry) void _chunk;
        continue;
      }
      if (
        size > ctx.limits.maxMemberBytes ||
        expanded + size > ctx.limits.maxExpandedBytes
      ) {
        ctx.report({
          ruleId: 'SCAN_LIMIT_EXCEEDED',
          severity: 'medium',
          message: `entry ${name} of ${size} bytes not scanned`,
          evidence: { name, size, limit: ctx.limits.maxMemberBytes },
        });
        for await (const _chunk of entry) void _chunk;
        continue;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      const data = Buffer.concat(chunks);
      expanded += data.length;
      await ctx.scanNested(bufferSource(data), name);
    }
  } catch (error) {
    if (
      error instanceof ExpansionLimit ||
      (expansion !== undefined &&
        expansion.produced > ctx.limits.maxExpandedBytes)
    ) {
      const produced =
        error instanceof ExpansionLimit
          ? error.produced
          : (expansion?.produced ?? 0);
      const bomb = produced / Math.max(1, compressedSize) > BOMB_RATIO;
      ctx.report({
        ruleId: bomb ? 'ARCHIVE_DECOMPRESSION_BOMB' : 'SCAN_LIMIT_EXCEEDED',
        severity: bomb ? 'high' : 'medium',
        message: `decompressed stream passed ${ctx.limits.maxExpandedBytes} bytes, rest not scanned`,
        evidence: {
          limit: ctx.limits.maxExpandedBytes,
          compressedBytes: compressedSize,
        },
      });
    } else if (error instanceof TarLimit) {
      ctx.report({
        ruleId: 'SCAN_LIMIT_EXCEEDED',
        severity: 'medium',
        message: `tar ${error.message}, rest not scanned`,
        evidence: { limit: MAX_META_ENTRY },
      });
    } else {
      ctx.report({
        ruleId: 'ARCHIVE_MALFORMED',
        severity: 'medium',
        message: `invalid or truncated tar: ${error instanceof Error ? error.message : String(error)}`,
      });
    }
  } finally {
    input.destroy();
    guard.destroy();
    extract.destroy();
  }
}

function detectTar(head: Buffer): boolean {
  return isTarHeader(head.subarray(0, 512));
}

function detectGzip(head: Buffer): boolean {
  return (
    head.length >= 10 && head[0] === 0x1f && head[1] === 0x8b && head[2] === 8
  );
}

/** Scanner for tar archives (`threats.md` §7). */
export const TarArchiveScanner: FormatScanner = Object.freeze({
  id: 'tar',
  detect: detectTar,
  async scan(source: ByteSource, ctx: ScanContext): Promise<void> {
    ctx.recognise('tar');
    await walkTar(sourceStream(source), ctx, source.size, undefined);
  },
});

/** Name of the original file from the gzip header (FNAME), if any. */
function gzipMemberName(head: Buffer): string {
  const flags = head[3] as number;
  if ((flags & 0x08) === 0) return '(gunzipped)';
  let p = 10;
  if ((flags & 0x04) !== 0) p += 2 + head.readUInt16LE(10);
  const end = head.indexOf(0, p);
  const name =
    end < 0 ? '' : head.toString('latin1', p, Math.min(end, p + 255));
  return name === '' || /[/\\]/.test(name) ? '(gunzipped)' : name;
}

/**
 * Scanner for gzip streams: a tar inside is walked as a tar (tar.gz); any other
 * content is scanned as one nested artifact. Inflation is capped at
 * `maxExpandedBytes` (and `maxMemberBytes` for non-tar content).
 */
export const GzipScanner: FormatScanner = Object.freeze({
  id: 'gzip',
  detect: detectGzip,
  async scan(source: ByteSource, ctx: ScanContext): Promise<void> {
    ctx.recognise('gzip');
    const head = await source.read(0, Math.min(source.size, 4096));
    const expansion = limiter(ctx.limits.maxExpandedBytes);
    const gunzip = createGunzip();
    const raw = sourceStream(source);
    raw.on('error', (error) => gunzip.destroy(error));
    gunzip.on('error', (error) => expansion.destroy(error));
    const inflated = raw.pipe(gunzip).pipe(expansion);
    // Peek the first block to tell tar from other content.
    const first: Buffer[] = [];
    let firstLength = 0;
    const failed = (error: unknown): void => {
      const over = error instanceof ExpansionLimit;
      const bomb =
        over && error.produced / Math.max(1, source.size) > BOMB_RATIO;
      ctx.report(
        over
          ? {
              ruleId: bomb
                ? 'ARCHIVE_DECOMPRESSION_BOMB'
                : 'SCAN_LIMIT_EXCEEDED',
              severity: bomb ? 'high' : 'medium',
              message: `gzip stream passed ${ctx.limits.maxExpandedBytes} bytes, rest not scanned`,
              evidence: {
                limit: ctx.limits.maxExpandedBytes,
                compressedBytes: source.size,
              },
            }
          : {
              ruleId: 'ARCHIVE_MALFORMED',
              severity: 'medium',
              message: `invalid or truncated gzip: ${error instanceof Error ? error.message : String(error)}`,
            },
      );
    };
    const iterator = inflated[Symbol.asyncIterator]();
    try {
      while (firstLength < 512) {
        const next = (await iterator.next()) as IteratorResult<Buffer>;
        if (next.done === true) break;
        first.push(next.value);
        firstLength += next.value.length;
      }
    } catch (error) {
      failed(error);
      inflated.destroy();
      return;
    }
    const prefix = Buffer.concat(first);
    const rest = Readable.from(
      (async function* remaining(): AsyncGenerator<Buffer> {
        yield prefix;
        for (;;) {
          const next = (await iterator.next()) as IteratorResult<Buffer>;
          if (next.done === true) return;
          yield next.value;
        }
      })(),
    );
    if (isTarHeader(prefix.subarray(0, 512))) {
      ctx.recognise('tar');
      await walkTar(rest, ctx, source.size, expansion);
      return;
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of rest) {
        total += (chunk as Buffer).length;
        if (total > ctx.limits.maxMemberBytes) {
          ctx.report({
            ruleId: 'SCAN_LIMIT_EXCEEDED',
            severity: 'medium',
            message: `gzip content larger than ${ctx.limits.maxMemberBytes} bytes, not scanned`,
            evidence: { limit: ctx.limits.maxMemberBytes },
          });
          rest.destroy();
          return;
        }
        chunks.push(chunk as Buffer);
      }
    } catch (error) {
      failed(error);
      return;
    }
    await ctx.scanNested(
      bufferSource(Buffer.concat(chunks)),
      gzipMemberName(head),
    );
  },
});
