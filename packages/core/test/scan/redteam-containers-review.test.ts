// SPDX-License-Identifier: Apache-2.0
// Red-team review of the scan gate on containers (zip, npz, torch zip). Each
// `it.fails` is a bypass: bytes that Python's `zipfile` (numpy.load, keras)
// or PyTorch's miniz reader loads and runs while the scan reports nothing at
// high or above. The numpy cases were checked against numpy 2.4 on Python
// 3.11 (numpy.load(..., allow_pickle=True) reached posix.system); the miniz
// case follows miniz's mz_zip_reader_locate_header_sig.
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';
import type { FileScanResult } from '../../src/scan/types.js';
import { buildZip, shiftLocalOffsets } from './helpers/zip-builder.js';
import { KERAS_LAMBDA_MEMBERS } from './helpers/keras-lambda.js';
import { highs } from './helpers/findings.js';

/** A protocol 2 pickle that calls `posix.system('id')`. */
const EVIL = Buffer.from("\x80\x02cposix\nsystem\n(S'id'\ntR.", 'latin1');

/** A protocol 2 pickle of `None` exactly `length` bytes long (NONE/POP pairs). */
function benignPickle(length: number): Buffer {
  const b = Buffer.alloc(length, 0x30); // POP
  b[0] = 0x80;
  b[1] = 0x02;
  for (let i = 2; i < length - 2; i += 2) b[i] = 0x4e; // NONE, then POP
  if ((length - 2) % 2 === 1) b[length - 3] = 0x4e; // odd tail: NONE NONE POP...
  b[length - 2] = 0x4e;
  b[length - 1] = 0x2e; // STOP
  return b;
}

/** A version 1.0 `.npy` with an object dtype whose body is `body`. */
function objectNpy(body: Buffer): Buffer {
  let h = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }";
  while ((10 + h.length + 1) % 64 !== 0) h += ' ';
  h += '\n';
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  pre.writeUInt16LE(h.length, 8);
  return Buffer.concat([pre, Buffer.from(h, 'latin1'), body]);
}

const scan = (data: Buffer, name: string): Promise<FileScanResult> =>
  scanSource(bufferSource(data), name);

/**
 * `benign` (a whole zip), whose end-record comment holds a second archive:
 * `hidden`'s members rebased to absolute offsets, its central directory, and
 * an end record that is the last 22 bytes of the file but declares a comment
 * longer than what follows it.
 */
function hideInComment(benign: Buffer, hidden: Buffer): Buffer {
  const base = benign.length;
  const inner = Buffer.from(hidden);
  const count = inner.readUInt16LE(inner.length - 12);
  const cdOff = inner.readUInt32LE(inner.length - 6);
  shiftLocalOffsets(inner, cdOff, count, base);
  inner.writeUInt32LE(cdOff + base, inner.length - 6);
  inner.writeUInt16LE(7, inner.length - 2); // runs past the end of the file
  const file = Buffer.concat([benign, inner]);
  file.writeUInt16LE(inner.length, base - 2); // the real comment covers it all
  return file;
}

/**
 * Two ZIP64 end records: the locator points at `decoy`'s, while the record
 * right before the locator describes `real`'s directory. Members of both
 * are kept, `real`'s rebased after `decoy`'s.
 */
function splitZip64(decoy: Buffer, real: Buffer): Buffer {
  const dCount = decoy.readUInt16LE(decoy.length - 12);
  const dCdSize = decoy.readUInt32LE(decoy.length - 10);
  const dCdOff = decoy.readUInt32LE(decoy.length - 6);
  const rCount = real.readUInt16LE(real.length - 12);
  const rCdSize = real.readUInt32LE(real.length - 10);
  const rCdOff = real.readUInt32LE(real.length - 6);
  const rCd = Buffer.from(real.subarray(rCdOff, rCdOff + rCdSize));
  for (let p = 0, i = 0; i < rCount; i++) {
    rCd.writeUInt32LE(rCd.readUInt32LE(p + 42) + dCdOff, p + 42);
    p += 46 + rCd.readUInt16LE(p + 28) + rCd.readUInt16LE(p + 30);
  }
  const locals = Buffer.concat([
    decoy.subarray(0, dCdOff),
    real.subarray(0, rCdOff),
  ]);
  const record = (count: number, size: number, offset: number): Buffer => {
    const r = Buffer.alloc(56);
    r.writeUInt32LE(0x06064b50, 0);
    r.writeBigUInt64LE(44n, 4);
    r.writeUInt16LE(45, 12);
    r.writeUInt16LE(45, 14);
    r.writeBigUInt64LE(BigInt(count), 24);
    r.writeBigUInt64LE(BigInt(count), 32);
    r.writeBigUInt64LE(BigInt(size), 40);
    r.writeBigUInt64LE(BigInt(offset), 48);
    return r;
  };
  const aAt = locals.length;
  const dCdAt = aAt + 56;
  const rCdAt = dCdAt + dCdSize;
  const locator = Buffer.alloc(20);
  locator.writeUInt32LE(0x07064b50, 0);
  locator.writeBigUInt64LE(BigInt(aAt), 8);
  locator.writeUInt32LE(1, 16);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(0xffff, 8);
  eocd.writeUInt16LE(0xffff, 10);
  eocd.writeUInt32LE(0xffffffff, 12);
  eocd.writeUInt32LE(0xffffffff, 16);
  return Buffer.concat([
    locals,
    record(dCount, dCdSize, dCdAt),
    decoy.subarray(dCdOff, dCdOff + dCdSize),
    rCd,
    record(rCount, rCdSize, rCdAt),
    locator,
    eocd,
  ]);
}

describe('red team (containers): end records and offsets', () => {
  // zipfile._RealGetContents: concat = end-record position - cd size - cd
  // offset, added to the directory offset and to every header offset. Our
  // reader only corrects a directory that would run past the end record, so
  // an archive whose offsets fall SHORT of it is read at the raw offsets. Put
  // a benign local header and directory (same length) at the raw offsets and
  // the real archive after them: numpy.load sees `PK\x03\x04` first, opens it
  // with zipfile, and unpickles the hidden object array.
  it('flags an npz whose offsets zipfile shifts past a benign copy', async () => {
    const mal = objectNpy(EVIL);
    const decoy = buildZip([
      { name: 'arr.npy', data: objectNpy(benignPickle(EVIL.length)) },
    ]);
    const real = buildZip([{ name: 'arr.npy', data: mal }]);
    // The decoy's local header and directory, without its end record.
    const file = Buffer.concat([decoy.subarray(0, decoy.length - 22), real]);
    const r = await scan(file, 'arrays.npz');
    expect(highs(r)).not.toEqual([]);
  });

  // miniz (mz_zip_reader_locate_header_sig) and zipfile (_EndRecData: rfind,
  // comment truncated) both take the LAST end-record signature with 22 bytes
  // after it; neither checks that its comment fits. Our reader skips an end
  // record whose comment runs past the file and falls back to the earlier one.
  it('flags a torch zip whose last end record declares a comment past the file', async () => {
    const version = { name: 'archive/version', data: Buffer.from('3\n') };
    const benign = buildZip([
      { name: 'archive/data.pkl', data: benignPickle(EVIL.length) },
      version,
    ]);
    const hidden = buildZip([
      { name: 'archive/data.pkl', data: EVIL },
      version,
    ]);
    const r = await scan(hideInComment(benign, hidden), 'model.pt');
    expect(highs(r)).not.toEqual([]);
  });

  it('flags an npz whose last end record declares a comment past the file', async () => {
    const benign = buildZip([
      { name: 'arr.npy', data: objectNpy(benignPickle(EVIL.length)) },
    ]);
    const hidden = buildZip([{ name: 'arr.npy', data: objectNpy(EVIL) }]);
    const r = await scan(hideInComment(benign, hidden), 'arrays.npz');
    expect(highs(r)).not.toEqual([]);
  });

  // zipfile._EndRecData64 (CPython before the CVE-2025-8291 fix, 3.11.7
  // here) reads the ZIP64 end record right before the locator and ignores the
  // offset the locator holds; our reader (and miniz 3.0.2) follow the
  // locator. numpy.load reads the directory the locator does not point at.
  it('flags an npz whose ZIP64 locator points at a decoy end record', async () => {
    const decoy = buildZip([
      { name: 'arr.npy', data: objectNpy(benignPickle(EVIL.length)) },
    ]);
    const real = buildZip([{ name: 'arr.npy', data: objectNpy(EVIL) }]);
    const r = await scan(splitZip64(decoy, real), 'arrays.npz');
    expect(highs(r)).not.toEqual([]);
  });

  // zipfile._RealGetContents reads central records until the directory SIZE
  // is used up and ignores the entry count; our reader (and miniz) stop after
  // the count. With a count of 1, zipfile also lists a second `arr.npy`, and
  // a read by name takes the last one.
  it('flags an npz whose end record counts fewer entries than its directory holds', async () => {
    const z = buildZip([
      { name: 'arr.npy', data: objectNpy(benignPickle(EVIL.length)) },
      { name: 'arr.npy', data: objectNpy(EVIL) },
    ]);
    z.writeUInt16LE(1, z.length - 14);
    z.writeUInt16LE(1, z.length - 12);
    const r = await scan(z, 'arrays.npz');
    expect(highs(r)).not.toEqual([]);
  });

  // Held: torch's legacy path (not a zip at offset 0) unpickles the first
  // pickle of the file, whatever follows it.
  it('flags a pickle followed by a zip', async () => {
    const z = buildZip([{ name: 'archive/data.pkl', data: benignPickle(20) }]);
    const r = await scan(Buffer.concat([EVIL, z]), 'model.pt');
    expect(highs(r)).toContain('PICKLE_DANGEROUS_GLOBAL');
  });
});

describe('red team (containers): methods and prefixes zipfile accepts', () => {
  // zipfile decompresses method 12 (bzip2) and 14 (LZMA), and 93 (zstd) from
  // Python 3.14; numpy.load(npz, allow_pickle=True) then unpickles the member.
  // The scan stops at a medium ZIP_UNSUPPORTED_METHOD.
  it('flags an npz object member compressed with bzip2 (method 12)', async () => {
    // bzip2 -c of objectNpy(EVIL).
    const bz = Buffer.from(
      'QlpoOTFBWSZTWZMkPVUAADDf4HAQQOUgMAED2iCvZ91uQAAIACAASKnpBkNADTQZMgAyEUzSAaGgAAAaaeoDk7WdyUtMKgVYhgNV/Sw+IkHrSmIdCUFieBTnKaRbPNaO9i8QokJvBAmMusy2PCwG3yA5QD9mCYyUJ3cHPvxdyRThQkJMkPVU',
      'base64',
    );
    const mal = objectNpy(EVIL);
    const z = buildZip([
      {
        name: 'arr.npy',
        data: bz,
        crc: crc32(mal),
        declaredSize: mal.length,
      },
    ]);
    z.writeUInt16LE(12, 8); // local header method
    z.writeUInt16LE(12, z.readUInt32LE(z.length - 6) + 10); // central method
    const r = await scan(z, 'arrays.npz');
    expect(highs(r)).not.toEqual([]);
  });

  // keras.saving.load_model checks zipfile.is_zipfile (end record only) and
  // opens the file with zipfile, which skips any bytes before the archive.
  // Content detection wants `PK\x03\x04` at offset 0; the engine now finds the
  // archive by its end record as zipfile does (ZIP_EMBEDDED) and scans it.
  it('flags a .keras archive with a Lambda layer behind a prefix', async () => {
    const plain = await scan(buildZip(KERAS_LAMBDA_MEMBERS), 'model.keras');
    expect(highs(plain)).toContain('KERAS_LAMBDA'); // the same bytes without the prefix
    const z = buildZip(KERAS_LAMBDA_MEMBERS, {
      prefix: Buffer.from('#!/bin/sh\nexit 0\n'),
    });
    const r = await scan(z, 'model.keras');
    expect(highs(r)).not.toEqual([]);
  });
});
