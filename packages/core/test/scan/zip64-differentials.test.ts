// SPDX-License-Identifier: Apache-2.0
// ZIP64 records that the loaders' zip readers read otherwise than a reader
// that takes the last of two ZIP64 extra fields or follows the ZIP64 locator
// wherever it points.
//
// Duplicate ZIP64 extra fields: Python's zipfile (`ZipInfo._decodeExtra`,
// 3.11 to 3.14) reads each field only for values still 0xffffffff, so the
// first field's values stand; miniz (`mz_zip_file_stat_internal`, torch.load)
// stops at the first field.
//
// Split ZIP64 locator: zipfile before the CVE-2025-8291 fix (3.11.7 checked,
// numpy.load ran the hidden member) reads the ZIP64 end record in the 56
// bytes just before the locator and keeps the plain end record when none is
// there; miniz follows the locator; the fixed zipfile refuses a record that
// does not end at the locator.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';
import type { FileScanResult } from '../../src/scan/types.js';
import { readZipDirectory } from '../../src/scan/zip/reader.js';
import { REPO_ROOT } from '../helpers/vectors.js';
import { ruleIds } from './helpers/findings.js';
import { buildZip } from './helpers/zip-builder.js';

/** A protocol 2 pickle that calls `posix.system('id')`. */
const EVIL = Buffer.from("\x80\x02cposix\nsystem\n(S'id'\ntR.", 'latin1');
/** A protocol 2 pickle of an empty dict. */
const CLEAN = Buffer.from('\x80\x02}q\x00.', 'latin1');

/** A version 1.0 `.npy` with header `dict` and body `body`. */
function npy(dict: string, body: Buffer): Buffer {
  let h = dict;
  while ((10 + h.length + 1) % 64 !== 0) h += ' ';
  h += '\n';
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  pre.writeUInt16LE(h.length, 8);
  return Buffer.concat([pre, Buffer.from(h, 'latin1'), body]);
}
const EVIL_NPY = npy(
  "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
  EVIL,
);
const CLEAN_NPY = npy(
  "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
  Buffer.from([0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]),
);

const scan = (data: Buffer, name: string): Promise<FileScanResult> =>
  scanSource(bufferSource(data), name);

function localHeader(name: Buffer, data: Buffer): Buffer {
  const h = Buffer.alloc(30);
  h.writeUInt32LE(0x04034b50, 0);
  h.writeUInt16LE(45, 4);
  h.writeUInt32LE(crc32(data) >>> 0, 14);
  h.writeUInt32LE(data.length, 18);
  h.writeUInt32LE(data.length, 22);
  h.writeUInt16LE(name.length, 26);
  return Buffer.concat([h, name, data]);
}

function centralHeader(
  name: Buffer,
  data: Buffer,
  fields: { csize: number; usize: number; lho: number },
  extra: Buffer = Buffer.alloc(0),
  comment: Buffer = Buffer.alloc(0),
): Buffer {
  const h = Buffer.alloc(46);
  h.writeUInt32LE(0x02014b50, 0);
  h.writeUInt16LE(45, 4);
  h.writeUInt16LE(45, 6);
  h.writeUInt32LE(crc32(data) >>> 0, 16);
  h.writeUInt32LE(fields.csize, 20);
  h.writeUInt32LE(fields.usize, 24);
  h.writeUInt16LE(name.length, 28);
  h.writeUInt16LE(extra.length, 30);
  h.writeUInt16LE(comment.length, 32);
  h.writeUInt32LE(fields.lho, 42);
  return Buffer.concat([h, name, extra, comment]);
}

function endRecord(count: number, cdSize: number, cdOffset: number): Buffer {
  const e = Buffer.alloc(22);
  e.writeUInt32LE(0x06054b50, 0);
  e.writeUInt16LE(count, 8);
  e.writeUInt16LE(count, 10);
  e.writeUInt32LE(cdSize, 12);
  e.writeUInt32LE(cdOffset, 16);
  return e;
}

/** A ZIP64 extra field holding the compressed size and local header offset. */
function zip64Extra(csize: number, lho: number): Buffer {
  const f = Buffer.alloc(20);
  f.writeUInt16LE(0x0001, 0);
  f.writeUInt16LE(16, 2);
  f.writeBigUInt64LE(BigInt(csize), 4);
  f.writeBigUInt64LE(BigInt(lho), 12);
  return f;
}

/**
 * One central entry named `main` with its compressed size and local header
 * offset saturated and two ZIP64 extra fields: the first pointing at
 * `first`'s local header, the second at `second`'s (the same name). `others`
 * are plain members after them.
 */
function duplicateZip64Extras(
  main: string,
  first: Buffer,
  second: Buffer,
  others: [string, Buffer][] = [],
): Buffer {
  const name = Buffer.from(main);
  const parts: Buffer[] = [];
  let at = 0;
  const add = (b: Buffer): number => {
    const here = at;
    parts.push(b);
    at += b.length;
    return here;
  };
  const offFirst = add(localHeader(name, first));
  const offSecond = add(localHeader(name, second));
  const offOthers = others.map(([n, d]) => add(localHeader(Buffer.from(n), d)));
  const extra = Buffer.concat([
    zip64Extra(first.length, offFirst),
    zip64Extra(second.length, offSecond),
  ]);
  const cd = Buffer.concat([
    centralHeader(
      name,
      first,
      { csize: 0xffffffff, usize: first.length, lho: 0xffffffff },
      extra,
    ),
    ...others.map(([n, d], i) =>
      centralHeader(Buffer.from(n), d, {
        csize: d.length,
        usize: d.length,
        lho: offOthers[i]!,
      }),
    ),
  ]);
  const cdOffset = at;
  return Buffer.concat([
    ...parts,
    cd,
    endRecord(1 + others.length, cd.length, cdOffset),
  ]);
}

/**
 * The split-locator npz: a ZIP64 end record after the members, the locator
 * naming it (followed by the benign directory it describes), and a second
 * directory for the hidden member right before the plain end record, whose
 * only entry's comment ends with the locator. No ZIP64 record lies in the
 * 56 bytes before the locator.
 */
function splitLocatorNpz(): Buffer {
  const name = Buffer.from('arr_0.npy');
  const benign = localHeader(name, CLEAN_NPY);
  const hidden = localHeader(name, EVIL_NPY);
  const offBenign = 0;
  const offHidden = benign.length;
  const cdM = centralHeader(name, CLEAN_NPY, {
    csize: CLEAN_NPY.length,
    usize: CLEAN_NPY.length,
    lho: offBenign,
  });
  const z64At = offHidden + hidden.length;
  const rec = Buffer.alloc(56);
  rec.writeUInt32LE(0x06064b50, 0);
  rec.writeBigUInt64LE(44n, 4);
  rec.writeUInt16LE(45, 12);
  rec.writeUInt16LE(45, 14);
  rec.writeBigUInt64LE(1n, 24);
  rec.writeBigUInt64LE(1n, 32);
  rec.writeBigUInt64LE(BigInt(cdM.length), 40);
  rec.writeBigUInt64LE(BigInt(z64At + 56), 48);
  const loc = Buffer.alloc(20);
  loc.writeUInt32LE(0x07064b50, 0);
  loc.writeBigUInt64LE(BigInt(z64At), 8);
  loc.writeUInt32LE(1, 16);
  const cdP = centralHeader(
    name,
    EVIL_NPY,
    { csize: EVIL_NPY.length, usize: EVIL_NPY.length, lho: offHidden },
    Buffer.alloc(0),
    Buffer.concat([Buffer.alloc(1), loc]),
  );
  expect(cdP.length).toBe(76);
  const cdPAt = z64At + 56 + cdM.length;
  return Buffer.concat([
    benign,
    hidden,
    rec,
    cdM,
    cdP,
    endRecord(1, cdP.length, cdPAt),
  ]);
}

/**
 * A hidden directory (`arr_0.npy`, the object array) that only the ZIP64
 * record before the locator describes, then a plain directory (`arr_1.npy`)
 * whose entry's comment is that record and the locator, the locator naming
 * byte 0 (a local header, no ZIP64 record).
 */
function locatorNamingNoRecord(): Buffer {
  const hiddenName = Buffer.from('arr_0.npy');
  const plainName = Buffer.from('arr_1.npy');
  const hidden = localHeader(hiddenName, EVIL_NPY);
  const benign = localHeader(plainName, CLEAN_NPY);
  const cdZ = centralHeader(hiddenName, EVIL_NPY, {
    csize: EVIL_NPY.length,
    usize: EVIL_NPY.length,
    lho: 0,
  });
  const cdZAt = hidden.length + benign.length;
  const cdPAt = cdZAt + cdZ.length;
  const rec = Buffer.alloc(56);
  rec.writeUInt32LE(0x06064b50, 0);
  rec.writeBigUInt64LE(44n, 4);
  rec.writeUInt16LE(45, 12);
  rec.writeUInt16LE(45, 14);
  rec.writeBigUInt64LE(1n, 24);
  rec.writeBigUInt64LE(1n, 32);
  // Up to the record (zipfile's concat is then 0): the hidden entry and
  // the plain entry's fixed part and name.
  rec.writeBigUInt64LE(BigInt(cdZ.length + 46 + plainName.length), 40);
  rec.writeBigUInt64LE(BigInt(cdZAt), 48);
  const loc = Buffer.alloc(20);
  loc.writeUInt32LE(0x07064b50, 0);
  loc.writeBigUInt64LE(0n, 8);
  loc.writeUInt32LE(1, 16);
  const cdP = centralHeader(
    plainName,
    CLEAN_NPY,
    { csize: CLEAN_NPY.length, usize: CLEAN_NPY.length, lho: hidden.length },
    Buffer.alloc(0),
    Buffer.concat([rec, loc]),
  );
  return Buffer.concat([
    hidden,
    benign,
    cdZ,
    cdP,
    endRecord(1, cdP.length, cdPAt),
  ]);
}

const ambiguous = (r: FileScanResult): boolean =>
  r.findings.some((f) => f.ruleId === 'ZIP_AMBIGUOUS' && f.severity === 'high');

describe('duplicate ZIP64 extra fields', () => {
  it('reads an npz member from the first ZIP64 field, as zipfile does', async () => {
    const z = duplicateZip64Extras('arr_0.npy', EVIL_NPY, CLEAN_NPY);
    const dir = (await readZipDirectory(bufferSource(z)))!;
    expect(dir.entries.map((e) => e.localHeaderOffset)).toEqual([0]);
    expect(dir.entries[0]!.compressedSize).toBe(EVIL_NPY.length);
    const r = await scan(z, 'arrays.npz');
    expect(ambiguous(r)).toBe(true);
    expect(ruleIds(r, 'critical')).not.toEqual([]);
  });

  it('reads a torch data.pkl from the first ZIP64 field, as miniz does', async () => {
    const z = duplicateZip64Extras('archive/data.pkl', EVIL, CLEAN, [
      ['archive/version', Buffer.from('3\n')],
      ['archive/byteorder', Buffer.from('little')],
    ]);
    const r = await scan(z, 'model.pt');
    expect(ambiguous(r)).toBe(true);
    expect(ruleIds(r, 'critical')).not.toEqual([]);
  });

  it('flags two fields even when the first one is the benign member', async () => {
    // A reader that takes the last field would load the hidden one.
    const z = duplicateZip64Extras('arr_0.npy', CLEAN_NPY, EVIL_NPY);
    const r = await scan(z, 'arrays.npz');
    expect(ambiguous(r)).toBe(true);
  });
});

describe('ZIP64 locator that names a record away from it', () => {
  it('flags the split-locator npz (zipfile 3.11 reads the plain end record)', async () => {
    const z = splitLocatorNpz();
    const dir = (await readZipDirectory(bufferSource(z)))!;
    expect(
      dir.anomalies.some(
        (a) => a.ruleId === 'ZIP_AMBIGUOUS' && a.severity === 'high',
      ),
    ).toBe(true);
    expect(ambiguous(await scan(z, 'arrays.npz'))).toBe(true);
  });

  it('flags a locator naming no record while one lies before the locator', async () => {
    // zipfile before the fix reads the ZIP64 record before the locator: a
    // directory listing the hidden member (and, as its size runs on, the
    // benign entry's header); miniz finds no record where the locator
    // points and reads the plain end record's directory (the benign entry,
    // whose comment holds the ZIP64 record and the locator).
    const z = locatorNamingNoRecord();
    const dir = (await readZipDirectory(bufferSource(z)))!;
    expect(dir.entries.map((e) => e.name)).toEqual(['arr_1.npy']);
    expect(
      dir.anomalies.some(
        (a) => a.ruleId === 'ZIP_AMBIGUOUS' && a.severity === 'high',
      ),
    ).toBe(true);
    expect(ambiguous(await scan(z, 'arrays.npz'))).toBe(true);
  });
});

describe('controls', () => {
  it('a ZIP64 archive written by Python is not ambiguous', async () => {
    for (const f of [
      'benign/torch-state-dict-zip64.pt',
      'benign/torch-state-dict-descriptors.pt',
    ]) {
      const data = readFileSync(join(REPO_ROOT, 'test-vectors', 'pickle', f));
      const dir = (await readZipDirectory(bufferSource(data)))!;
      expect(dir.anomalies, f).toEqual([]);
      expect(
        (await scan(data, 'model.pt')).findings.map((x) => x.ruleId),
        f,
      ).not.toContain('ZIP_AMBIGUOUS');
    }
  });

  it('a ZIP64 archive with one extra field per entry is not ambiguous', async () => {
    const z = buildZip(
      [
        { name: 'a/data.pkl', data: CLEAN },
        { name: 'a/b', data: Buffer.alloc(300, 3), deflate: true },
      ],
      { zip64: true },
    );
    const dir = (await readZipDirectory(bufferSource(z)))!;
    expect(dir.zip64).toBe(true);
    expect(dir.anomalies).toEqual([]);
    expect(dir.entries.map((e) => e.localHeaderOffset)).toEqual([
      0,
      30 + 10 + CLEAN.length,
    ]);
  });

  it('a single ZIP64 extra field among other extra fields is read', async () => {
    const name = Buffer.from('arr_0.npy');
    const pad = Buffer.alloc(4 + 6);
    pad.writeUInt16LE(0x5455, 0); // extended timestamp
    pad.writeUInt16LE(6, 2);
    const extra = Buffer.concat([pad, zip64Extra(EVIL_NPY.length, 0)]);
    const cd = centralHeader(
      name,
      EVIL_NPY,
      { csize: 0xffffffff, usize: EVIL_NPY.length, lho: 0xffffffff },
      extra,
    );
    const lh = localHeader(name, EVIL_NPY);
    const z = Buffer.concat([lh, cd, endRecord(1, cd.length, lh.length)]);
    const dir = (await readZipDirectory(bufferSource(z)))!;
    expect(dir.anomalies).toEqual([]);
    expect(dir.entries[0]!.compressedSize).toBe(EVIL_NPY.length);
  });
});
