// SPDX-License-Identifier: Apache-2.0
// Red-team review of the embedded-zip check (findEmbeddedZip, the engine's
// scanEmbeddedZip). Each test of the first block was a bypass, written as
// `it.fails` and now passing: a `.keras` path that Python's zipfile opens
// (so keras.saving.load_model reads config.json and builds the Lambda
// layer, or zipfile-based loaders reach data.pkl) while the scan reported
// nothing at high or above. The zipfile behaviour was checked by opening
// the same bytes with CPython 3.9.18, 3.11.7, 3.12.1 and 3.13.0 (is_zipfile
// True, every member read back) unless a test says otherwise.
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';
import { findEmbeddedZip } from '../../src/scan/zip/embedded.js';
import type { FileScanResult } from '../../src/scan/types.js';
import { buildZip, shiftLocalOffsets } from './helpers/zip-builder.js';
import { KERAS_LAMBDA_MEMBERS, tarOf } from './helpers/keras-lambda.js';
import { highs } from './helpers/findings.js';

const PREFIX = Buffer.from('#!/bin/sh\nexit 0\n');

const scan = (data: Buffer, name: string): Promise<FileScanResult> =>
  scanSource(bufferSource(data), name);

/** Offsets of the central entries of `z` (a zip whose end record is its last 22 bytes). */
function centralEntries(z: Buffer): number[] {
  const e = z.length - 22;
  const count = z.readUInt16LE(e + 10);
  let p = e - z.readUInt32LE(e + 12);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    out.push(p);
    p +=
      46 +
      z.readUInt16LE(p + 28) +
      z.readUInt16LE(p + 30) +
      z.readUInt16LE(p + 32);
  }
  return out;
}

/**
 * Adds `k` to the recorded directory offset and to every recorded local
 * header offset. zipfile computes concat = endRecord - cdSize - cdOffset =
 * -k, reads the directory at cdOffset + concat (its true place, >= 0 so no
 * "Bad offset") and every member at its recorded offset + concat: the true
 * local headers. Negative concat is never refused.
 */
function negativeShift(z: Buffer, k: number): Buffer {
  const out = Buffer.from(z);
  const e = out.length - 22;
  for (const p of centralEntries(out))
    out.writeUInt32LE(out.readUInt32LE(p + 42) + k, p + 42);
  out.writeUInt32LE(out.readUInt32LE(e + 16) + k, e + 16);
  return out;
}

/** Appends `comment` to the last central entry's comment (the directory grows by as much). */
function withLastEntryComment(z: Buffer, comment: Buffer): Buffer {
  const e = z.length - 22;
  const entries = centralEntries(z);
  const out = Buffer.concat([z.subarray(0, e), comment, z.subarray(e)]);
  const last = entries[entries.length - 1]!;
  out.writeUInt16LE(out.readUInt16LE(last + 32) + comment.length, last + 32);
  const ne = out.length - 22;
  out.writeUInt32LE(out.readUInt32LE(ne + 12) + comment.length, ne + 12);
  return out;
}

describe('red team: embedded zip bypasses', () => {
  it('flags a prefixed .keras whose end record counts 0 entries', async () => {
    // zipfile never reads the entry counts: _RealGetContents walks the
    // directory `while total < size_cd`, so both members are listed and read.
    // findEmbeddedZip returned undefined on count === 0 ("empty archive").
    const z = Buffer.concat([PREFIX, buildZip(KERAS_LAMBDA_MEMBERS)]);
    z.writeUInt16LE(0, z.length - 22 + 8);
    z.writeUInt16LE(0, z.length - 22 + 10);
    expect(highs(await scan(z, 'model.keras'))).toContain('KERAS_LAMBDA');
  });

  it('flags a prefixed .keras whose offsets are all shifted forward (negative concat)', async () => {
    // concat = -1000: zipfile only refuses a negative directory start, not a
    // negative shift. findEmbeddedZip returned undefined on shift < 0.
    const z = negativeShift(
      Buffer.concat([PREFIX, buildZip(KERAS_LAMBDA_MEMBERS)]),
      1000,
    );
    expect((await findEmbeddedZip(bufferSource(z)))?.shift).toBe(
      PREFIX.length - 1000,
    );
    expect(highs(await scan(z, 'model.keras'))).toContain('KERAS_LAMBDA');
  });

  it('flags a .keras at byte 0 whose offsets are all shifted forward (negative concat)', async () => {
    // The same at byte 0: the zip scanner claims it, its reader sees the
    // directory past the end record, re-seats the directory but not the local
    // headers, and reports ZIP_MALFORMED / ZIP_ENTRY_OUT_OF_BOUNDS (medium)
    // for members zipfile reads fine (numpy.load takes the same path for .npz).
    const z = negativeShift(buildZip(KERAS_LAMBDA_MEMBERS), 1000);
    const r = await scan(z, 'model.keras');
    expect(highs(r)).toContain('KERAS_LAMBDA');
  });

  it('flags a prefixed .keras with a ZIP64 locator and no ZIP64 record', async () => {
    // The last central entry's comment ends with a ZIP64 locator (20 bytes
    // before the end record). CPython up to the CVE-2025-8291 fix (3.9-3.13.0
    // checked) reads 56 bytes before the locator, finds no ZIP64 signature and
    // keeps the plain end record. findEmbeddedZip returned undefined
    // ("corrupt zip64"). Fixed CPython raises instead.
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeUInt32LE(1, 16); // one disk
    const comment = Buffer.concat([Buffer.alloc(56, 0x20), loc]);
    const z = Buffer.concat([
      PREFIX,
      withLastEntryComment(buildZip(KERAS_LAMBDA_MEMBERS), comment),
    ]);
    expect((await findEmbeddedZip(bufferSource(z)))?.shift).toBe(PREFIX.length);
    expect(highs(await scan(z, 'model.keras'))).toContain('KERAS_LAMBDA');
  });

  it('flags a prefixed ZIP64 .keras with zip64 extensible data (fixed CPython)', async () => {
    // CPython with the CVE-2025-8291 fix (gh-139700) reads the ZIP64 record
    // where the locator points, allows extensible data up to the locator
    // (sz + 12 == 56 + extra) and sets concat from that record: 0 here
    // (absolute offsets after a prefix). findEmbeddedZip only looked 56 bytes
    // before the locator. Checked by grafting the fixed _EndRecData64 onto
    // 3.11.7 (stock 3.11.7 refuses these bytes).
    const z = buildZip(KERAS_LAMBDA_MEMBERS, { prefix: PREFIX, zip64: true });
    const rec = z.length - 22 - 20 - 56;
    const extensible = Buffer.alloc(64, 0x41);
    const out = Buffer.concat([
      z.subarray(0, rec + 56),
      extensible,
      z.subarray(rec + 56),
    ]);
    out.writeBigUInt64LE(BigInt(44 + extensible.length), rec + 4);
    out.writeBigUInt64LE(BigInt(rec), out.length - 22 - 20 + 8);
    expect(highs(await scan(out, 'model.keras'))).toContain('KERAS_LAMBDA');
  });

  it('flags a tar whose last-but-one member holds the directory and a later member the local headers', async () => {
    // Member m: a central directory and end record (directory offset 0, so
    // zipfile's shift is m's first byte); member n after it: the local
    // headers and data, which the directory points at (offsets past m's end).
    // zipfile (a `.keras` path) finds the end record in m, shifts by m's
    // start and reads the members from n. The engine skipped the file-level
    // archive because it "lies within" m's range (the end record and the
    // shift do), but m's own scan finds no local header inside m (medium).
    // CPython 3.9.18, 3.11.7 and 3.12.1 load it; 3.13.0 refuses it ("Overlapped
    // entries": it bounds the last member by the directory's start).
    const zip = buildZip(KERAS_LAMBDA_MEMBERS);
    const e = zip.length - 22;
    const cdStart = e - zip.readUInt32LE(e + 12);
    const local = zip.subarray(0, cdStart);
    const m = Buffer.from(zip.subarray(cdStart));
    const nData = 512 + Math.ceil(m.length / 512) * 512 + 512;
    const delta = nData - 512;
    shiftLocalOffsets(m, 0, KERAS_LAMBDA_MEMBERS.length, delta);
    m.writeUInt32LE(0, m.length - 22 + 16);
    const t = await tarOf([
      { name: 'm', data: m },
      { name: 'n', data: local },
    ]);
    expect((await findEmbeddedZip(bufferSource(t)))?.shift).toBe(512);
    const r = await scan(t, 'model.keras');
    expect(highs(r)).toContain('KERAS_LAMBDA');
  });
});

describe('red team: embedded zip checks that hold', () => {
  it('scans an archive with absolute offsets after a prefix (shift 0, first local header not at 0)', async () => {
    const z = buildZip(KERAS_LAMBDA_MEMBERS, { prefix: PREFIX });
    const found = await findEmbeddedZip(bufferSource(z));
    expect(found?.shift).toBe(0);
    expect(found?.firstLocalHeader).toBe(PREFIX.length);
    expect(highs(await scan(z, 'model.keras'))).toContain('KERAS_LAMBDA');
  });

  it('scans an archive split across two tar members (the last member does not cover it)', async () => {
    // Local headers in the first member (its data at byte 512), directory and
    // end record in the last, the end record's directory offset set so that
    // zipfile's shift is 512: the shift lies before the last member, so that
    // member's range does not cover the archive and the skip does not apply.
    const zip = buildZip(KERAS_LAMBDA_MEMBERS);
    const e = zip.length - 22;
    const cdStart = e - zip.readUInt32LE(e + 12);
    const local = zip.subarray(0, cdStart);
    const bStart = 512 + Math.ceil(local.length / 512) * 512 + 512;
    const tail = Buffer.from(zip.subarray(cdStart));
    tail.writeUInt32LE(bStart - 512, tail.length - 22 + 16);
    const t = await tarOf([
      { name: 'a', data: local },
      { name: 'b', data: tail },
    ]);
    expect((await findEmbeddedZip(bufferSource(t)))?.shift).toBe(512);
    const r = await scan(t, 'model.keras');
    expect(highs(r)).toContain('KERAS_LAMBDA');
    expect(r.findings.map((f) => f.ruleId)).toContain('ZIP_EMBEDDED');
  });

  it('scans a .keras after a tar member that is itself prefix + zip (nested member, own check)', async () => {
    const t = await tarOf([
      {
        name: 'm',
        data: Buffer.concat([PREFIX, buildZip(KERAS_LAMBDA_MEMBERS)]),
      },
    ]);
    expect(highs(await scan(t, 'model.keras'))).toContain('KERAS_LAMBDA');
  });

  it('scans a zip after GGUF, .npy and gzip prefixes', async () => {
    const gguf = Buffer.alloc(24);
    gguf.write('GGUF', 0, 'latin1');
    gguf.writeUInt32LE(3, 4); // version 3, no tensors, no metadata
    let h = "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }";
    while ((10 + h.length + 1) % 64 !== 0) h += ' ';
    const npyPre = Buffer.from([
      0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0,
    ]);
    npyPre.writeUInt16LE(h.length + 1, 8);
    const npy = Buffer.concat([npyPre, Buffer.from(`${h}\n`), Buffer.alloc(4)]);
    const gz = gzipSync(Buffer.from('hello'));
    for (const prefix of [gguf, npy, gz]) {
      const z = Buffer.concat([prefix, buildZip(KERAS_LAMBDA_MEMBERS)]);
      expect(highs(await scan(z, 'model.keras'))).toContain('KERAS_LAMBDA');
    }
  });
});
