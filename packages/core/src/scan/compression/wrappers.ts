// SPDX-License-Identifier: Apache-2.0
/**
 * Compression wrappers detected by magic bytes (threats.md §1.1, "Wrappers";
 * joblib's compressed forms): gzip and zlib are decoded with `node:zlib`,
 * bounded by the member and expansion limits, and their content is scanned as
 * a nested artifact. bzip2, xz, lz4 and 7z need decoders that are not
 * available here: they are reported as unscannable instead of passing
 * silently.
 */
import { constants, gunzipSync, inflateSync } from 'node:zlib';
import type { ByteSource, FormatScanner, ScanContext } from '../types.js';
import { bufferSource } from '../source.js';
import { readWholeSource } from '../read-whole-source.js';

/** True for a gzip member header (`1f 8b 08`). */
export function isGzipHead(head: Buffer): boolean {
  return (
    head.length >= 10 &&
    head[0] === 0x1f &&
    head[1] === 0x8b &&
    head[2] === 0x08
  );
}

/** True for a zlib header (`78 01`, `78 5e`, `78 9c`, `78 da`). */
export function isZlibHead(head: Buffer): boolean {
  // Only the 32 KiB window that every zlib writer uses, with its four level
  // markers: wider matching mistakes text for zlib.
  return (
    head.length >= 3 &&
    head[0] === 0x78 &&
    [0x01, 0x5e, 0x9c, 0xda].includes(head[1]!)
  );
}

const UNSUPPORTED: { name: string; magic: number[] }[] = [
  { name: 'bzip2', magic: [0x42, 0x5a, 0x68] },
  { name: 'xz', magic: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  { name: 'lz4', magic: [0x04, 0x22, 0x4d, 0x18] },
  { name: '7z', magic: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c] },
  { name: 'zstd', magic: [0x28, 0xb5, 0x2f, 0xfd] },
];

function unsupportedKind(head: Buffer): string | undefined {
  for (const u of UNSUPPORTED) {
    if (
      head.length >= u.magic.length &&
      u.magic.every((b, i) => head[i] === b)
    ) {
      // 'BZh' must be followed by a block size digit.
      if (
        u.name === 'bzip2' &&
        !(head[3] !== undefined && head[3] >= 0x31 && head[3] <= 0x39)
      )
        continue;
      return u.name;
    }
  }
  return undefined;
}

async function decodeAndScan(
  source: ByteSource,
  ctx: ScanContext,
  kind: 'gzip' | 'zlib',
): Promise<void> {
  ctx.recognise(kind);
  const input = await readWholeSource(source, ctx, {
    limit: ctx.limits.maxMemberBytes,
    limitName: 'maxMemberBytes',
    message: `${kind} stream larger than the member limit`,
  });
  if (input === undefined) return;
  const maxOutputLength = Math.max(1, ctx.limits.maxMemberBytes);
  const decode = (finishFlush?: number): Buffer => {
    const opts =
      finishFlush === undefined
        ? { maxOutputLength }
        : { maxOutputLength, finishFlush };
    return kind === 'gzip' ? gunzipSync(input, opts) : inflateSync(input, opts);
  };
  let out: Buffer;
  try {
    out = decode();
  } catch (e) {
    if (
      e instanceof RangeError ||
      (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE'
    ) {
      ctx.report({
        ruleId: 'SCAN_LIMIT_EXCEEDED',
        severity: 'medium',
        message: `${kind} stream expands beyond the member limit; not scanned`,
        evidence: { limit: maxOutputLength },
      });
      return;
    }
    // Corrupt or truncated: scan what decodes (the nullifAI pattern hides the payload before the break).
    try {
      out = decode(constants.Z_SYNC_FLUSH);
    } catch {
      out = Buffer.alloc(0);
    }
    ctx.report({
      ruleId: 'COMPRESSION_ERROR',
      severity: 'medium',
      message: `${kind} stream is corrupt or truncated; ${out.length} decoded bytes scanned`,
      evidence: {
        reason: String((e as Error).message).slice(0, 120),
        decoded: out.length,
      },
    });
  }
  if (ctx.reserveExpanded !== undefined && !ctx.reserveExpanded(out.length)) {
    ctx.report({
      ruleId: 'SCAN_LIMIT_EXCEEDED',
      severity: 'medium',
      message: 'expanded bytes exceed the limit; not scanned',
    });
    return;
  }
  if (out.length > 0)
    await ctx.scanNested(
      bufferSource(out),
      kind === 'gzip' ? 'gunzip' : 'inflate',
    );
}

/** gzip streams (also joblib `.gz` dumps). */
export const GZIP_SCANNER: FormatScanner = {
  id: 'gzip',
  detect: (head: Buffer): boolean => isGzipHead(head),
  scan: (source: ByteSource, ctx: ScanContext): Promise<void> =>
    decodeAndScan(source, ctx, 'gzip'),
};

/** zlib streams (joblib's default `compress=True` form). */
export const ZLIB_SCANNER: FormatScanner = {
  id: 'zlib',
  detect: (head: Buffer): boolean => isZlibHead(head),
  scan: (source: ByteSource, ctx: ScanContext): Promise<void> =>
    decodeAndScan(source, ctx, 'zlib'),
};

/** Compressed streams that cannot be decoded here: reported, not silently passed. */
export const UNSUPPORTED_COMPRESSION_SCANNER: FormatScanner = {
  id: 'compression-unsupported',
  detect: (head: Buffer): boolean => unsupportedKind(head) !== undefined,
  scan(source: ByteSource, ctx: ScanContext): Promise<void> {
    const kind = 'unknown';
    return source.read(0, 8).then((head) => {
      const k = unsupportedKind(head) ?? kind;
      ctx.recognise(k);
      ctx.report({
        ruleId: 'COMPRESSION_UNSUPPORTED',
        severity: 'medium',
        message: `${k} stream cannot be decompressed by the scanner; its content was not scanned`,
        evidence: { compression: k },
      });
    });
  },
};
