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
import type { ByteSource } from '../types.js';

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Where an archive found by its end record lies in a file. */
export interface EmbeddedZip {
  /**
   * Bytes before the archive: `zipfile` adds this to every offset the
   * archive records (0 when the offsets already count from the file's start).
   */
  shift: number;
  /** Offset in the file of the first member's local header, as the directory records it (plus `shift`). */
  firstLocalHeader: number;
  /** Offset of the end record. */
  endRecord: number;
}

function u64(b: Buffer, o: number): number {
  const v = b.readBigUInt64LE(o);
  return v > MAX_SAFE ? Number.MAX_SAFE_INTEGER : Number(v);
}

/**
 * The archive `zipfile` would open in `source`, or `undefined` when it would
 * open none: no end record, an empty archive (nothing to load), or no central
 * directory where `zipfile` looks for it (it raises `BadZipFile`). Reads the
 * tail (at most 64 KiB + 22 bytes) and at most three small records.
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
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  // The directory ends where the end record (or the ZIP64 end record just
  // before the locator, which is the one zipfile reads) begins.
  let directoryEnd = endRecord;
  if (endRecord >= 20) {
    const locator = await source.read(endRecord - 20, 4);
    if (locator.length === 4 && locator.readUInt32LE(0) === ZIP64_LOCATOR) {
      const at = endRecord - 20 - 56;
      const rec = at >= 0 ? await source.read(at, 56) : Buffer.alloc(0);
      if (rec.length !== 56 || rec.readUInt32LE(0) !== ZIP64_EOCD)
        return undefined; // zipfile: "Corrupt zip64 end of central directory record"
      count = u64(rec, 32);
      cdSize = u64(rec, 40);
      cdOffset = u64(rec, 48);
      directoryEnd = at;
    }
  }
  if (count === 0 || cdSize === 0) return undefined;
  const directoryStart = directoryEnd - cdSize;
  const shift = directoryStart - cdOffset;
  if (directoryStart < 0 || shift < 0) return undefined;
  const first = await source.read(directoryStart, 46);
  if (first.length !== 46 || first.readUInt32LE(0) !== CENTRAL)
    return undefined;
  return {
    shift,
    firstLocalHeader: shift + first.readUInt32LE(42),
    endRecord,
  };
}
