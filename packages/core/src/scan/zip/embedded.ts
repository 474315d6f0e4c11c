// SPDX-License-Identifier: Apache-2.0
/**
 * A zip archive that does not start at byte 0. Python's `zipfile` finds an
 * archive by its end record alone (`zipfile.is_zipfile`, `ZipFile`): it takes
 * the last end-of-central-directory signature in the file's final 64 KiB with
 * 22 bytes after it, reads the central directory just before that record, and
 * shifts every offset by the bytes in front of the archive. So a file that
 * starts as something else (a shebang, a pickle, a SafeTensors header) may
 * still open as a zip, and `keras.saving.load_model` opens any `.keras` path
 * that way. Content detection claims zips by the local header at byte 0; this
 * finds the archive the way `zipfile` does, so the engine can scan it too.
 */
import { sliceSource } from '../source.js';
import type { ByteSource } from '../types.js';
import {
  CENTRAL,
  EOCD,
  u64,
  ZIP64_EOCD,
  ZIP64_LOCATOR,
  zip64Sizes,
} from './records.js';

/** Where an archive found by its end record lies in a file. */
export interface EmbeddedZip {
  /**
   * What `zipfile` adds to every offset the archive records: the bytes in
   * front of the archive (0 when its offsets already count from the file's
   * start; below 0 when they count from before it, which zipfile accepts
   * as long as the directory it then reads starts in the file).
   */
  shift: number;
  /** Offset in the file of the first member's local header, as the directory records it (plus `shift`). */
  firstLocalHeader: number;
  /** Offset of the central directory in the file. */
  directory: number;
  /** Offset of the end record. */
  endRecord: number;
}

/** The directory's size and recorded offset, and where it ends. */
interface Directory {
  size: number;
  offset: number;
  end: number;
}

/**
 * The ZIP64 end record that a locator just before the end record names, as
 * either CPython reads it: the fixed `_EndRecData64` (CVE-2025-8291) first
 * where the locator points, when the signature is there and nothing but
 * extensible data lies between it and the locator; every version 56 bytes
 * before the locator. Neither: the plain end record's values (older CPython
 * keeps them; the fixed one refuses the file).
 */
async function zip64Directory(
  source: ByteSource,
  endRecord: number,
  plain: Directory,
): Promise<Directory> {
  if (endRecord < 20) return plain;
  const locator = await source.read(endRecord - 20, 20);
  if (locator.length !== 20 || locator.readUInt32LE(0) !== ZIP64_LOCATOR)
    return plain;
  const before = endRecord - 20 - 56;
  const named = u64(locator, 8);
  for (const at of named <= before ? [named, before] : [before]) {
    if (at < 0) continue;
    const rec = await source.read(at, 56);
    if (rec.length === 56 && rec.readUInt32LE(0) === ZIP64_EOCD)
      return { size: u64(rec, 40), offset: u64(rec, 48), end: at };
  }
  return plain;
}

/**
 * The archive `zipfile` would open in `source`, or `undefined` when it would
 * open none: no end record, an empty directory (nothing to load), or no
 * central directory where `zipfile` looks for it (it raises `BadZipFile`).
 * The entry counts are not read: zipfile walks the directory by its size.
 * Reads the tail (at most 64 KiB + 22 bytes) and a few small records.
 */
export async function findEmbeddedZip(
  source: ByteSource,
): Promise<EmbeddedZip | undefined> {
  const size = source.size;
  if (size < 22) return undefined;
  const tailLen = Math.min(size, 22 + 65535);
  const tailStart = size - tailLen;
  const tail = await source.read(tailStart, tailLen);
  if (tail.length !== tailLen) return undefined;
  // zipfile: the last 22 bytes when they are an end record with no comment,
  // else the last signature in the tail with a whole record after it.
  const last = tail.length - 22;
  const eocd =
    tail.readUInt32LE(last) === EOCD && tail.readUInt16LE(last + 20) === 0
      ? last
      : tail.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]), last);
  if (eocd < 0) return undefined;
  const endRecord = tailStart + eocd;
  const dir = await zip64Directory(source, endRecord, {
    size: tail.readUInt32LE(eocd + 12),
    offset: tail.readUInt32LE(eocd + 16),
    end: endRecord,
  });
  if (dir.size === 0) return undefined;
  const directory = dir.end - dir.size;
  if (directory < 0) return undefined; // zipfile: "Bad offset for central directory"
  const shift = directory - dir.offset;
  const first = await source.read(directory, 46);
  if (first.length !== 46 || first.readUInt32LE(0) !== CENTRAL)
    return undefined;
  return {
    shift,
    firstLocalHeader:
      shift + (await localHeaderOffset(source, directory, first)),
    directory,
    endRecord,
  };
}

/** The local header offset a central entry records (from its ZIP64 extra field when the 32-bit one is saturated). */
async function localHeaderOffset(
  source: ByteSource,
  at: number,
  entry: Buffer,
): Promise<number> {
  const lho = entry.readUInt32LE(42);
  if (lho !== 0xffffffff) return lho;
  const extra = await source.read(
    at + 46 + entry.readUInt16LE(28),
    entry.readUInt16LE(30),
  );
  const fields = {
    usize: entry.readUInt32LE(24),
    csize: entry.readUInt32LE(20),
    lho,
  };
  return (zip64Sizes(extra, fields) ?? fields).lho;
}

/**
 * The archive as `zipfile` reads it: position `p` of the result is byte
 * `p + shift` of `source` (a slice when `shift` is positive; with a negative
 * shift, the first `-shift` bytes read as zeros).
 */
export function archiveView(source: ByteSource, shift: number): ByteSource {
  if (shift >= 0)
    return shift === 0
      ? source
      : sliceSource(source, shift, source.size - shift);
  const pad = -shift;
  return {
    size: source.size + pad,
    async read(offset: number, length: number): Promise<Buffer> {
      const start = Math.max(0, offset);
      const end = Math.min(start + Math.max(0, length), source.size + pad);
      if (end <= start) return Buffer.alloc(0);
      if (end <= pad) return Buffer.alloc(end - start);
      if (start >= pad) return source.read(start - pad, end - start);
      const tail = await source.read(0, end - pad);
      return Buffer.concat([Buffer.alloc(pad - start), tail]);
    },
  };
}
