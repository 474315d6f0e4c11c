// SPDX-License-Identifier: Apache-2.0
// The zip reader reads archives the way torch and zipfile do (central
// directory first) and reports every disagreement as an anomaly.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bufferSource } from '../../src/scan/source.js';
import {
  isZipHead,
  readZipDirectory,
  readZipEntry,
} from '../../src/scan/zip/reader.js';
import { REPO_ROOT } from '../helpers/vectors.js';
import { buildZip } from './helpers/zip-builder.js';

const vector = (p: string): Buffer =>
  readFileSync(join(REPO_ROOT, 'test-vectors', 'pickle', p));
const ids = (a: { ruleId: string }[]): string[] => a.map((x) => x.ruleId);

describe('zip reader', () => {
  it('lists and reads stored and DEFLATE members', async () => {
    const zip = buildZip([
      { name: 'a.txt', data: Buffer.from('hello') },
      { name: 'b.bin', data: Buffer.alloc(1000, 7), deflate: true },
    ]);
    expect(isZipHead(zip)).toBe(true);
    const dir = await readZipDirectory(bufferSource(zip));
    expect(dir?.anomalies).toEqual([]);
    expect(
      dir?.entries.map((e) => [e.name, e.method, e.uncompressedSize]),
    ).toEqual([
      ['a.txt', 0, 5],
      ['b.bin', 8, 1000],
    ]);
    const b = await readZipEntry(bufferSource(zip), dir!.entries[1]!, 1 << 20);
    expect(b.ok && b.data.equals(Buffer.alloc(1000, 7))).toBe(true);
  });

  it('reads ZIP64 records and data descriptors written by Python', async () => {
    for (const f of [
      'benign/torch-state-dict-zip64.pt',
      'benign/torch-state-dict-descriptors.pt',
    ]) {
      const dir = await readZipDirectory(bufferSource(vector(f)));
      expect(dir?.anomalies, f).toEqual([]);
      expect(
        dir?.entries.some((e) => e.name === 'archive/data.pkl'),
        f,
      ).toBe(true);
    }
    const z64 = buildZip(
      [
        { name: 'a/data.pkl', data: Buffer.from('\x80\x02N.', 'latin1') },
        { name: 'a/b', data: Buffer.alloc(300, 3), deflate: true },
      ],
      { zip64: true },
    );
    const dir = (await readZipDirectory(bufferSource(z64)))!;
    expect(dir.zip64).toBe(true);
    expect(dir.anomalies).toEqual([]);
    expect(dir.entries.map((e) => [e.name, e.uncompressedSize])).toEqual([
      ['a/data.pkl', 4],
      ['a/b', 300],
    ]);
    const b = await readZipEntry(bufferSource(z64), dir.entries[1]!, 1 << 20);
    expect(b.ok && b.data.length).toBe(300);
  });

  it('returns undefined for data that is not a zip', async () => {
    expect(
      await readZipDirectory(
        bufferSource(Buffer.from('not a zip at all, no end record here')),
      ),
    ).toBeUndefined();
    expect(
      await readZipDirectory(bufferSource(Buffer.alloc(5))),
    ).toBeUndefined();
  });

  it('reports duplicate names, overlaps, name mismatches, flags and CRC mismatches', async () => {
    const zip = buildZip([
      { name: 'x/data.pkl', data: Buffer.from('one') },
      { name: 'x/data.pkl', data: Buffer.from('two') },
      { name: 'x/alias', data: Buffer.from('one'), sameLocalAs: 0 },
      { name: 'x/local', data: Buffer.from('abc'), localName: 'x/other' },
      { name: 'x/flag', data: Buffer.from('abc'), flags: 0x41 },
      { name: 'x/crc', data: Buffer.from('abc'), crc: 1234 },
    ]);
    const dir = (await readZipDirectory(bufferSource(zip)))!;
    expect(ids(dir.anomalies)).toEqual(
      expect.arrayContaining([
        'ZIP_DUPLICATE_ENTRY',
        'ZIP_OVERLAPPING_ENTRIES',
        'ZIP_NAME_MISMATCH',
        'ZIP_SUSPICIOUS_FLAGS',
      ]),
    );
    const crc = await readZipEntry(
      bufferSource(zip),
      dir.entries.find((e) => e.name === 'x/crc')!,
      1 << 20,
    );
    expect(crc.ok && ids(crc.anomalies)).toEqual(['ZIP_CRC_MISMATCH']);
  });

  it('reports members outside the file, unsupported methods, size lies and limits', async () => {
    const zip = buildZip([
      {
        name: 'a',
        data: Buffer.alloc(100, 1),
        deflate: true,
        declaredSize: 10,
      },
      { name: 'b', data: Buffer.alloc(50, 2) },
    ]);
    const dir = (await readZipDirectory(bufferSource(zip)))!;
    const a = await readZipEntry(bufferSource(zip), dir.entries[0]!, 1 << 20);
    expect(a.ok ? ids(a.anomalies) : [a.anomaly.ruleId]).toContain(
      'ZIP_INFLATE_ERROR',
    );
    const big = await readZipEntry(bufferSource(zip), dir.entries[1]!, 10);
    expect(!big.ok && big.anomaly.ruleId).toBe('SCAN_LIMIT_EXCEEDED');
    const weird = await readZipEntry(
      bufferSource(zip),
      { ...dir.entries[1]!, method: 12 },
      1 << 20,
    );
    expect(!weird.ok && weird.anomaly.ruleId).toBe('ZIP_UNSUPPORTED_METHOD');
    const cut = zip.subarray(0, 40);
    expect(await readZipDirectory(bufferSource(cut))).toBeUndefined();
    // Central directory recorded past where it is: zipfile shifts every
    // offset back by the difference, miniz refuses the archive (a high
    // ZIP_AMBIGUOUS, was a medium ZIP_MALFORMED). Offsets that the shift
    // would take below 0 (zipfile cannot read those) are read as recorded.
    const broken = Buffer.from(zip);
    broken.writeUInt32LE(0xfffff, broken.length - 22 + 16);
    const d2 = await readZipDirectory(bufferSource(broken));
    expect(ids(d2?.anomalies ?? [])).toContain('ZIP_AMBIGUOUS');
    expect(d2?.entries.map((e) => e.localHeaderOffset)).toEqual(
      dir.entries.map((e) => e.localHeaderOffset),
    );
  });

  it('finds the end record behind a comment and tolerates prepended data', async () => {
    const zip = buildZip([{ name: 'a', data: Buffer.from('x') }], {
      comment: 'PK\u0005\u0006 fake inside comment',
      prefix: Buffer.from('#!/bin/sh stub\n'),
    });
    const dir = await readZipDirectory(bufferSource(zip));
    expect(dir?.entries.map((e) => e.name)).toEqual(['a']);
  });
});
