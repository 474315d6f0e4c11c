// SPDX-License-Identifier: Apache-2.0
/**
 * A zip reader for scanners, reading archives the way PyTorch (miniz) and
 * Python's `zipfile` read them: from the central directory, never from local
 * headers; ZIP64 records; data descriptors (sizes come from the central
 * directory); DEFLATE and stored members; CRCs and local names compared but
 * not trusted (threats.md §7 and §8).
 *
 * The reader works on a {@link ByteSource} with positioned reads: listing an
 * archive reads its end records and central directory only, and a member is
 * read only when asked for. Everything odd about the archive is returned as a
 * {@link ZipAnomaly}, never thrown.
 */
import { crc32, inflateRawSync } from 'node:zlib';
import type { ByteSource, Severity } from '../types.js';
import {
  CENTRAL,
  EOCD,
  u64,
  ZIP64_EOCD,
  ZIP64_LOCATOR,
  zip64Sizes,
} from './records.js';

/** One central-directory entry. */
export interface ZipEntry {
  /** Index in the central directory. */
  index: number;
  /** Name decoded as UTF-8 (flag bit 11) or CP437-compatible latin1. */
  name: string;
  /** Compression method: 0 stored, 8 DEFLATE, others unsupported. */
  method: number;
  /** General-purpose flag bits. */
  flags: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  /** Offset of the local file header. */
  localHeaderOffset: number;
  /** External attributes (Unix mode in the high 16 bits). */
  externalAttributes: number;
  /** Offset of the member data, once the local header was read; `undefined` when it could not be. */
  dataOffset?: number;
  /** Name in the local header when it differs from the central one. */
  localName?: string;
}

/** Something odd about an archive or a member. */
export interface ZipAnomaly {
  ruleId: string;
  severity: Severity;
  message: string;
  /** Entry name, when the anomaly is about one member. */
  entry?: string;
  offset?: number;
  evidence?: Record<string, unknown>;
}

/** A listed archive. */
export interface ZipDirectory {
  entries: ZipEntry[];
  anomalies: ZipAnomaly[];
  /** Offset of the central directory. */
  centralDirectoryOffset: number;
  zip64: boolean;
}

/** Limits of {@link readZipDirectory}. */
export interface ZipReadOptions {
  /** Most entries listed. Default 100,000. */
  maxEntries?: number;
}

const LOCAL = 0x04034b50;

/** True when `head` starts with a local header or an empty archive's end record. */
export function isZipHead(head: Buffer): boolean {
  return (
    head.length >= 4 &&
    head[0] === 0x50 &&
    head[1] === 0x4b &&
    ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6))
  );
}

/**
 * Lists an archive from its central directory. Returns `undefined` when no
 * end-of-central-directory record exists (not a zip). Reads the local header
 * of every entry to find its data offset and compare names.
 */
export async function readZipDirectory(
  source: ByteSource,
  options: ZipReadOptions = {},
): Promise<ZipDirectory | undefined> {
  const maxEntries = options.maxEntries ?? 100_000;
  const size = source.size;
  if (size < 22) return undefined;
  const tailLen = Math.min(size, 22 + 65535 + 20);
  const tailStart = size - tailLen;
  const tail = await source.read(tailStart, tailLen);
  // miniz and zipfile both take the last end-record signature with 22 bytes
  // after it, whatever its comment length says (CPython's _EndRecData:
  // `rfind`; miniz's mz_zip_reader_locate_header_sig). Read that one.
  let eocd = -1;
  for (let i = tail.length - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) return undefined;
  const fits = (i: number): boolean =>
    i + 22 + tail.readUInt16LE(i + 20) <= tail.length;
  const at = (i: number, anomalies: ZipAnomaly[]): Promise<ZipDirectory> =>
    directoryAt(source, tail, tailStart, i, maxEntries, anomalies);
  if (fits(eocd)) return at(eocd, []);
  // A reader that checks the comment length takes an earlier record whose
  // comment fits (Go's archive/zip, among others).
  let earlier = -1;
  for (let i = eocd - 1; i >= 0; i--) {
    if (tail.readUInt32LE(i) === EOCD && fits(i)) {
      earlier = i;
      break;
    }
  }
  if (earlier < 0)
    // The comment merely runs past the end of the file, which neither
    // miniz nor zipfile minds (stop 30).
    return at(eocd, [
      {
        ruleId: 'ZIP_MALFORMED',
        severity: 'medium',
        message:
          'the end record declares a comment longer than the bytes after it',
        offset: tailStart + eocd,
      },
    ]);
  const last = await at(eocd, [
    {
      ruleId: 'ZIP_AMBIGUOUS',
      severity: 'high',
      message:
        "two end-of-central-directory records: miniz and Python's zipfile read the last, whose comment runs past the end of the file; readers that check the comment read the earlier one",
      offset: tailStart + earlier,
      evidence: { read: tailStart + eocd, other: tailStart + earlier },
    },
  ]);
  // A second archive hidden in the comment of the first (stop 21 red team)
  // is what miniz and zipfile read. A signature that lists nothing (the
  // bytes "PK\x05\x06" in a comment) leaves them nothing to load: the
  // earlier record's archive is what any reader loads.
  if (last.entries.length > 0) return last;
  return at(earlier, [
    {
      ruleId: 'ZIP_MALFORMED',
      severity: 'medium',
      message:
        "the end record's comment holds an end-record signature that lists no entries (miniz and Python's zipfile read that one and load nothing)",
      offset: tailStart + eocd,
    },
  ]);
}

/** Lists the archive whose end record is at `eocd` in `tail`. */
async function directoryAt(
  source: ByteSource,
  tail: Buffer,
  tailStart: number,
  eocd: number,
  maxEntries: number,
  anomalies: ZipAnomaly[],
): Promise<ZipDirectory> {
  const size = source.size;
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  let zip64 = false;
  if (eocd >= 20 && tail.readUInt32LE(eocd - 20) === ZIP64_LOCATOR) {
    const locatorAt = tailStart + eocd - 20;
    const z64Offset = u64(tail, eocd - 20 + 8);
    const rec = await source.read(z64Offset, 56);
    // zipfile before the CVE-2025-8291 fix (3.11 and older, early 3.12 and
    // 3.13) reads the ZIP64 record in the 56 bytes just before the locator,
    // whatever the locator says, and keeps the plain end record's values
    // when no record is there; the fixed zipfile reads the record the
    // locator names only when it ends at the locator (its size counting any
    // extensible data) and refuses the archive otherwise. miniz, and this
    // reader, follow the locator.
    const before = locatorAt - 56;
    const other =
      before >= 0 && before !== z64Offset
        ? await source.read(before, 56)
        : undefined;
    const otherIsRecord =
      other !== undefined &&
      other.length === 56 &&
      other.readUInt32LE(0) === ZIP64_EOCD;
    if (rec.length === 56 && rec.readUInt32LE(0) === ZIP64_EOCD) {
      zip64 = true;
      count = u64(rec, 32);
      cdSize = u64(rec, 40);
      cdOffset = u64(rec, 48);
      if (before !== z64Offset) {
        // Two records that disagree are two archives; no record before the
        // locator is the plain end record's archive for the older zipfile
        // (and the record named elsewhere one the fixed zipfile refuses
        // or reads with extensible data the older one does not skip).
        const recordEnd = z64Offset + 12 + u64(rec, 4);
        const disagree =
          otherIsRecord && !other.subarray(24, 56).equals(rec.subarray(24, 56));
        anomalies.push({
          ruleId: 'ZIP_AMBIGUOUS',
          severity: 'high',
          message: disagree
            ? 'the zip64 end record before the locator is not the one the locator names'
            : otherIsRecord
              ? 'the zip64 locator names a zip64 end record other than the one before it'
              : recordEnd === locatorAt
                ? "the zip64 end record has extensible data: Python's zipfile before the CVE-2025-8291 fix reads no zip64 record before the locator and takes the plain end record's directory"
                : "the zip64 end record the locator names does not end at the locator: Python's zipfile before the CVE-2025-8291 fix reads the plain end record's directory instead, the fixed one refuses the archive",
          offset: otherIsRecord ? before : z64Offset,
          evidence: { locator: locatorAt, zip64Record: z64Offset, recordEnd },
        });
      }
    } else {
      anomalies.push({
        ruleId: 'ZIP_MALFORMED',
        severity: 'medium',
        message: 'zip64 locator points at no zip64 end record',
        offset: z64Offset,
      });
      // zipfile then reads the record before the locator (the older one
      // always, the fixed one when the locator's offset holds no record);
      // miniz, and this reader, the plain end record.
      if (otherIsRecord)
        anomalies.push({
          ruleId: 'ZIP_AMBIGUOUS',
          severity: 'high',
          message:
            "the zip64 locator names no zip64 end record but one lies before the locator: Python's zipfile reads its directory, PyTorch's miniz the plain end record's",
          offset: before,
          evidence: { locator: locatorAt, zip64Record: z64Offset },
        });
    }
  }
  const eocdAbs = tailStart + eocd;
  // Bytes between the directory and the end record (the ZIP64 records
  // aside): zipfile takes them as bytes before the archive and shifts every
  // offset by as many, so it reads other local headers than the ones here.
  const gap = eocdAbs - (zip64 ? 76 : 0) - (cdOffset + cdSize);
  if (gap > 0)
    anomalies.push({
      ruleId: 'ZIP_AMBIGUOUS',
      severity: 'high',
      message: `${gap} bytes between the central directory and the end record: Python's zipfile shifts every offset by them`,
      evidence: { cdOffset, cdSize, eocd: eocdAbs },
    });
  // Offsets recorded past where the records are: zipfile shifts every one
  // of them back by the difference (its "concat" below 0), local headers
  // included, while miniz refuses the archive. Read as zipfile reads it.
  let backShift = 0;
  const directoryEnd = eocdAbs - (zip64 ? 76 : 0);
  if (cdOffset + cdSize > directoryEnd) {
    if (cdSize <= directoryEnd) {
      backShift = cdOffset + cdSize - directoryEnd;
      cdOffset = directoryEnd - cdSize;
    }
    anomalies.push({
      ruleId: 'ZIP_AMBIGUOUS',
      severity: 'high',
      message: `the records put the central directory past where it is${backShift > 0 ? ` (by ${backShift} bytes)` : ''}: Python's zipfile shifts every offset back by as much, PyTorch's miniz refuses the archive`,
      evidence: { cdOffset, cdSize, eocd: eocdAbs },
    });
  }
  const capped = count > maxEntries;
  if (capped) {
    anomalies.push({
      ruleId: 'SCAN_LIMIT_EXCEEDED',
      severity: 'medium',
      message: `zip lists ${count} entries, more than the limit`,
      evidence: { count, limit: maxEntries },
    });
    count = maxEntries;
  }
  const cd = await source.read(cdOffset, Math.min(cdSize, size - cdOffset));
  const entries: ZipEntry[] = [];
  let p = 0;
  // By the count, as miniz reads the directory, and on past it while more
  // entries follow within the directory's size, as zipfile reads it.
  const beyondCount = (i: number): boolean =>
    i >= count &&
    i < maxEntries &&
    p + 46 <= cd.length &&
    cd.readUInt32LE(p) === CENTRAL;
  for (let i = 0; i < count || beyondCount(i); i++) {
    if (i === count && !capped)
      anomalies.push({
        ruleId: 'ZIP_AMBIGUOUS',
        severity: 'high',
        message: `the central directory holds more than the ${count} entries its end record counts`,
        offset: cdOffset + p,
      });
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== CENTRAL) {
      anomalies.push({
        ruleId: 'ZIP_MALFORMED',
        severity: 'medium',
        message: `central directory ends after ${i} of ${count} entries`,
        offset: cdOffset + p,
      });
      break;
    }
    const flags = cd.readUInt16LE(p + 8);
    const method = cd.readUInt16LE(p + 10);
    const crc = cd.readUInt32LE(p + 16);
    let csize = cd.readUInt32LE(p + 20);
    let usize = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    const ext = cd.readUInt32LE(p + 38);
    let lho = cd.readUInt32LE(p + 42);
    // An entry whose name, extra field or comment runs past the directory:
    // miniz refuses the archive, zipfile reads what is there (short reads
    // from the directory's bytes) and stops after the entry (stop 30).
    const pastDirectory = p + 46 + nameLen + extraLen + commentLen > cd.length;
    if (pastDirectory)
      anomalies.push({
        ruleId: 'ZIP_MALFORMED',
        severity: 'medium',
        message: 'central directory entry runs past the directory',
        offset: cdOffset + p,
      });
    const nameBytes = cd.subarray(
      p + 46,
      Math.min(cd.length, p + 46 + nameLen),
    );
    const extra = cd.subarray(
      Math.min(cd.length, p + 46 + nameLen),
      Math.min(cd.length, p + 46 + nameLen + extraLen),
    );
    const name =
      (flags & 0x800) !== 0
        ? nameBytes.toString('utf8')
        : nameBytes.toString('latin1');
    const wide = zip64Sizes(extra, { usize, csize, lho });
    if (wide !== undefined) {
      ({ usize, csize, lho } = wide);
      zip64 = true;
      // Read from the first field, as miniz and zipfile read it; a second
      // one is there for a reader that takes the last, or (a first field
      // holding 0xffffffff) for zipfile, which then reads on where miniz
      // stops.
      if (wide.fields > 1)
        anomalies.push({
          ruleId: 'ZIP_AMBIGUOUS',
          severity: 'high',
          message: `${JSON.stringify(name)} has ${wide.fields} ZIP64 extra fields: readers that take another than the first read other sizes or another local header`,
          entry: name,
          offset: cdOffset + p,
          evidence: { zip64Fields: wide.fields },
        });
    }
    entries.push({
      index: i,
      name,
      method,
      flags,
      crc32: crc,
      compressedSize: csize,
      uncompressedSize: usize,
      localHeaderOffset: lho,
      externalAttributes: ext,
    });
    p += 46 + nameLen + extraLen + commentLen;
    if (pastDirectory) break;
  }

  // Local headers: data offsets, name agreement, bounds.
  for (const e of entries) {
    // Where zipfile reads it; an offset the shift would take below 0
    // (zipfile fails on that member) is read as recorded.
    if (backShift > 0 && e.localHeaderOffset >= backShift)
      e.localHeaderOffset -= backShift;
    const lh = await source.read(e.localHeaderOffset, 30);
    if (lh.length < 30 || lh.readUInt32LE(0) !== LOCAL) {
      anomalies.push({
        ruleId: 'ZIP_ENTRY_OUT_OF_BOUNDS',
        severity: 'medium',
        message: `no local header for ${e.name}`,
        entry: e.name,
        offset: e.localHeaderOffset,
      });
      continue;
    }
    const nameLen = lh.readUInt16LE(26);
    const extraLen = lh.readUInt16LE(28);
    const localNameBytes = await source.read(e.localHeaderOffset + 30, nameLen);
    const localName =
      (e.flags & 0x800) !== 0
        ? localNameBytes.toString('utf8')
        : localNameBytes.toString('latin1');
    if (localName !== e.name) {
      e.localName = localName;
      anomalies.push({
        ruleId: 'ZIP_NAME_MISMATCH',
        severity: 'medium',
        message: `local header names ${JSON.stringify(localName)}, central directory ${JSON.stringify(e.name)}`,
        entry: e.name,
        offset: e.localHeaderOffset,
        evidence: { local: localName, central: e.name },
      });
    }
    const dataOffset = e.localHeaderOffset + 30 + nameLen + extraLen;
    // Data past the end of the file: miniz refuses the member, zipfile
    // reads what is there (a stored member's bytes up to its size, a DEFLATE
    // stream until it breaks off), and a pickle runs as far as it is read.
    // So it is read to the end of the file and scanned (stop 30).
    if (dataOffset + e.compressedSize > size) {
      anomalies.push({
        ruleId: 'ZIP_ENTRY_OUT_OF_BOUNDS',
        severity: 'medium',
        message: `data of ${e.name} runs past the end of the file`,
        entry: e.name,
        offset: dataOffset,
        evidence: {
          compressedSize: e.compressedSize,
          available: size - dataOffset,
        },
      });
      if (dataOffset >= size) continue;
    }
    e.dataOffset = dataOffset;
    if ((e.flags & 0x61) !== 0) {
      anomalies.push({
        ruleId: 'ZIP_SUSPICIOUS_FLAGS',
        severity: 'medium',
        message: `${e.name} has flag bits 0x${(e.flags & 0x61).toString(16)} (encryption or patched data)`,
        entry: e.name,
        evidence: { flags: e.flags },
      });
    }
  }

  // Duplicates and overlaps.
  const byName = new Map<string, number>();
  for (const e of entries) byName.set(e.name, (byName.get(e.name) ?? 0) + 1);
  for (const [name, n] of byName) {
    if (n > 1)
      anomalies.push({
        ruleId: 'ZIP_DUPLICATE_ENTRY',
        severity: 'high',
        message: `${n} entries named ${JSON.stringify(name)}`,
        entry: name,
        evidence: { count: n },
      });
  }
  const spans = entries
    .filter((e) => e.dataOffset !== undefined)
    .map((e) => ({
      name: e.name,
      start: e.localHeaderOffset,
      end: e.dataOffset! + e.compressedSize,
    }))
    .sort((a, b) => a.start - b.start);
  let overlaps = 0;
  for (let i = 1; i < spans.length; i++) {
    if (spans[i]!.start < spans[i - 1]!.end) {
      if (overlaps++ < 10) {
        anomalies.push({
          ruleId: 'ZIP_OVERLAPPING_ENTRIES',
          severity: 'high',
          message: `${spans[i]!.name} overlaps ${spans[i - 1]!.name}`,
          entry: spans[i]!.name,
          offset: spans[i]!.start,
        });
      }
    }
  }
  return { entries, anomalies, centralDirectoryOffset: cdOffset, zip64 };
}

/** Result of {@link readZipEntry}. */
export type ZipEntryData =
  | { ok: true; data: Buffer; anomalies: ZipAnomaly[] }
  | { ok: false; anomaly: ZipAnomaly };

/**
 * Reads and decompresses one member, bounded by `maxBytes` (output). CRC
 * mismatches are anomalies, not failures, because torch ignores CRCs.
 */
export async function readZipEntry(
  source: ByteSource,
  entry: ZipEntry,
  maxBytes: number,
): Promise<ZipEntryData> {
  if (entry.dataOffset === undefined) {
    return {
      ok: false,
      anomaly: {
        ruleId: 'ZIP_ENTRY_OUT_OF_BOUNDS',
        severity: 'medium',
        message: `${entry.name} has no readable data`,
        entry: entry.name,
      },
    };
  }
  if (entry.method !== 0 && entry.method !== 8) {
    // bzip2, LZMA and zstd: Python's zipfile decodes them (zstd from 3.14),
    // so a loader may read what was not scanned.
    const decodable =
      entry.method === 12 || entry.method === 14 || entry.method === 93;
    return {
      ok: false,
      anomaly: {
        ruleId: 'ZIP_UNSUPPORTED_METHOD',
        severity: decodable ? 'high' : 'medium',
        message: `${entry.name} uses compression method ${entry.method}`,
        entry: entry.name,
        evidence: { method: entry.method },
      },
    };
  }
  if (
    entry.uncompressedSize > maxBytes ||
    (entry.method === 0 && entry.compressedSize > maxBytes)
  ) {
    return {
      ok: false,
      anomaly: {
        ruleId: 'SCAN_LIMIT_EXCEEDED',
        severity: 'medium',
        message: `${entry.name} is larger than the member limit`,
        entry: entry.name,
        evidence: { size: entry.uncompressedSize, limit: maxBytes },
      },
    };
  }
  const raw = await source.read(entry.dataOffset, entry.compressedSize);
  const anomalies: ZipAnomaly[] = [];
  let data: Buffer;
  if (entry.method === 0) {
    data = raw;
    if (entry.compressedSize !== entry.uncompressedSize) {
      anomalies.push({
        ruleId: 'ZIP_MALFORMED',
        severity: 'medium',
        message: `stored entry ${entry.name} declares different sizes`,
        entry: entry.name,
        evidence: {
          compressedSize: entry.compressedSize,
          uncompressedSize: entry.uncompressedSize,
        },
      });
    }
  } else {
    try {
      data = inflateRawSync(raw, {
        maxOutputLength: Math.max(
          1,
          Math.min(maxBytes, entry.uncompressedSize + 1),
        ),
      });
    } catch (e) {
      return {
        ok: false,
        anomaly: {
          ruleId: 'ZIP_INFLATE_ERROR',
          severity: 'high',
          message: `${entry.name} does not inflate`,
          entry: entry.name,
          evidence: { reason: String((e as Error).message).slice(0, 120) },
        },
      };
    }
    if (data.length !== entry.uncompressedSize) {
      anomalies.push({
        ruleId: 'ZIP_INFLATE_ERROR',
        severity: 'high',
        message: `${entry.name} inflates to ${data.length} bytes, not the declared ${entry.uncompressedSize}`,
        entry: entry.name,
        evidence: { actual: data.length, declared: entry.uncompressedSize },
      });
    }
  }
  if (crc32(data) >>> 0 !== entry.crc32 >>> 0) {
    anomalies.push({
      ruleId: 'ZIP_CRC_MISMATCH',
      severity: 'low',
      message: `${entry.name} fails its CRC-32 check`,
      entry: entry.name,
    });
  }
  return { ok: true, data, anomalies };
}
