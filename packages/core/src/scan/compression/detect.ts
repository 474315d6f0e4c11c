// SPDX-License-Identifier: Apache-2.0
/**
 * Compression wrappers recognised by their first bytes, never by the file
 * name: the prefixes joblib's `_detect_compressor` tests (joblib/compressor.py
 * and numpy_pickle_utils.py) plus zstd and 7z. Each test is as strict as the
 * format's own decoder, so that arbitrary data is not mistaken for a wrapper
 * (a wrapper that then fails to decode is a high finding).
 */

import type { WrapperKind } from './kinds.js';

export type { WrapperKind };

/** True for a gzip member header (`1f 8b 08`). */
export function isGzipHead(head: Buffer): boolean {
  return (
    head.length >= 10 &&
    head[0] === 0x1f &&
    head[1] === 0x8b &&
    head[2] === 0x08
  );
}

/**
 * True for a zlib header with the 32 KiB window (`78 01`, `78 5e`, `78 9c`,
 * `78 da`): joblib detects zlib by the `78` byte alone, and these four are the
 * only second bytes with a valid check and no preset dictionary.
 */
export function isZlibHead(head: Buffer): boolean {
  return (
    head.length >= 3 &&
    head[0] === 0x78 &&
    [0x01, 0x5e, 0x9c, 0xda].includes(head[1]!)
  );
}

/** True for `BZh1`..`BZh9` (bzip2 stream header). */
export function isBzip2Head(head: Buffer): boolean {
  return (
    head.length >= 4 &&
    head[0] === 0x42 &&
    head[1] === 0x5a &&
    head[2] === 0x68 &&
    head[3]! >= 0x31 &&
    head[3]! <= 0x39
  );
}

const XZ_MAGIC = [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];

/** True for the xz stream header magic. */
export function isXzHead(head: Buffer): boolean {
  return head.length >= 6 && XZ_MAGIC.every((b, i) => head[i] === b);
}

/**
 * True for an LZMA "alone" header (`.lzma`, Python's `FORMAT_ALONE`): the
 * properties byte joblib tests for (`5d`: lc=3, lp=0, pb=2), a dictionary size
 * whose low byte is 0 (joblib's `5d 00` prefix; every power-of-two dictionary
 * of at least 256 bytes), and an uncompressed size that is unknown (all ones)
 * or below 2^48.
 */
export function isLzmaAloneHead(head: Buffer): boolean {
  if (head.length < 13 || head[0] !== 0x5d || head[1] !== 0x00) return false;
  const size = head.subarray(5, 13);
  if (size.every((b) => b === 0xff)) return true;
  return size[6] === 0 && size[7] === 0;
}

/** True for a zstd frame (`28 b5 2f fd`). */
function isZstdMagic(b: Buffer): boolean {
  return (
    b.length >= 4 &&
    b[0] === 0x28 &&
    b[1] === 0xb5 &&
    b[2] === 0x2f &&
    b[3] === 0xfd
  );
}

/**
 * Skips the skippable frames (`5?  2a 4d 18`, shared by zstd and LZ4) at the
 * start of `head`: the bytes after them, `head` itself when there are none,
 * or an empty buffer when they run past `head`.
 */
function afterSkippable(head: Buffer): Buffer {
  let pos = 0;
  while (
    head.length - pos >= 8 &&
    (head[pos]! & 0xf0) === 0x50 &&
    head[pos + 1] === 0x2a &&
    head[pos + 2] === 0x4d &&
    head[pos + 3] === 0x18
  ) {
    const end = pos + 8 + head.readUInt32LE(pos + 4);
    if (end > head.length) return Buffer.alloc(0);
    pos = end;
  }
  return head.subarray(pos);
}

function startsSkippable(head: Buffer): boolean {
  return (
    head.length >= 8 &&
    (head[0]! & 0xf0) === 0x50 &&
    head[1] === 0x2a &&
    head[2] === 0x4d &&
    head[3] === 0x18
  );
}

/** True for zstd frames, also behind leading skippable frames (pzstd writes one first). */
export function isZstdHead(head: Buffer): boolean {
  return isZstdMagic(afterSkippable(head));
}

/**
 * True for an LZ4 frame (`04 22 4d 18`) with a version-01 descriptor; also
 * for skippable frames not followed by a zstd frame within `head` (the LZ4
 * decoder skips them and fails closed on what follows if it is no LZ4 frame).
 */
export function isLz4FrameHead(head: Buffer): boolean {
  const h = afterSkippable(head);
  if (h.length === 0) return startsSkippable(head);
  return (
    h.length >= 7 &&
    h[0] === 0x04 &&
    h[1] === 0x22 &&
    h[2] === 0x4d &&
    h[3] === 0x18 &&
    (h[4]! & 0xc0) === 0x40
  );
}

/** Length of joblib's `ZF` header: `ZF` and the hexadecimal length padded to 19 characters. */
export const ZF_HEADER_LENGTH = 21;

/**
 * Parses joblib's legacy (< 0.10) z-file header: `ZF`, then the uncompressed
 * length as Python's `hex()` text left-justified to 19 characters, then (files
 * written by joblib <= 0.8.4 on Python 2) one more space, then a zlib stream.
 * `read_zfile` parses the length with `int(text, 16)`, which also accepts
 * surrounding white space and the `0x` prefix.
 * @returns where the zlib stream starts and the declared length, or undefined
 */
export function parseZfHeader(
  head: Buffer,
): { dataOffset: number; declaredLength: bigint } | undefined {
  if (head.length < ZF_HEADER_LENGTH + 2) return undefined;
  if (head[0] !== 0x5a || head[1] !== 0x46) return undefined;
  const text = head.subarray(2, ZF_HEADER_LENGTH).toString('latin1');
  const m =
    /^[ \t\n\r\v\f]*(?:0[xX])?([0-9a-fA-F](?:_?[0-9a-fA-F])*)[ \t\n\r\v\f]*$/.exec(
      text,
    );
  if (m === null) return undefined;
  const declaredLength = BigInt(`0x${m[1]!.replaceAll('_', '')}`);
  const dataOffset =
    head[ZF_HEADER_LENGTH] === 0x20 ? ZF_HEADER_LENGTH + 1 : ZF_HEADER_LENGTH;
  return { dataOffset, declaredLength };
}

/** The wrapper the bytes start with, if any. */
export function detectWrapper(head: Buffer): WrapperKind | undefined {
  if (isGzipHead(head)) return 'gzip';
  if (isZlibHead(head)) return 'zlib';
  if (isBzip2Head(head)) return 'bzip2';
  if (isXzHead(head)) return 'xz';
  if (isLzmaAloneHead(head)) return 'lzma';
  if (isZstdHead(head)) return 'zstd';
  if (isLz4FrameHead(head)) return 'lz4';
  if (parseZfHeader(head) !== undefined) return 'joblib-zf';
  return undefined;
}

const UNDECODABLE: { name: string; magic: number[] }[] = [
  // 7z: no maintained decoder that can bound its output (nullifAI packs
  // PyTorch checkpoints in 7z; fails closed).
  { name: '7z', magic: [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c] },
  { name: 'rar', magic: [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07] },
  { name: 'lzip', magic: [0x4c, 0x5a, 0x49, 0x50, 0x01] },
  { name: 'lz4-legacy', magic: [0x02, 0x21, 0x4c, 0x18] },
  { name: 'lzop', magic: [0x89, 0x4c, 0x5a, 0x4f, 0x00, 0x0d, 0x0a, 0x1a] },
  {
    name: 'snappy-framed',
    magic: [0xff, 0x06, 0x00, 0x00, 0x73, 0x4e, 0x61, 0x50, 0x70, 0x59],
  },
  // Unix compress (.Z): LZW with the block-mode flag and 9..16 bits.
  { name: 'compress', magic: [0x1f, 0x9d] },
];

/** A compressed container the scanner cannot decode, if the bytes start with one. */
export function undecodableKind(head: Buffer): string | undefined {
  for (const u of UNDECODABLE)
    if (head.length >= u.magic.length && u.magic.every((b, i) => head[i] === b))
      return u.name;
  return undefined;
}
