// SPDX-License-Identifier: Apache-2.0
// A zip archive after other bytes (a polyglot): Python's zipfile opens it by
// its end record, so the engine finds it the same way (ZIP_EMBEDDED) and
// scans it as the zip it is. Each bypass test below scanned clean before.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';
import { findEmbeddedZip } from '../../src/scan/zip/embedded.js';
import type { FileScanResult } from '../../src/scan/types.js';
import { buildZip } from './helpers/zip-builder.js';
import { KERAS_LAMBDA_MEMBERS, tarOf } from './helpers/keras-lambda.js';
import { ruleIds as ids } from './helpers/findings.js';

/** A protocol 2 pickle that calls `posix.system('id')`. */
const EVIL = Buffer.from("\x80\x02cposix\nsystem\n(S'id'\ntR.", 'latin1');
/** A protocol 2 pickle of `None`. */
const BENIGN_PICKLE = Buffer.from('\x80\x02N.', 'latin1');

const scan = (data: Buffer, name: string): Promise<FileScanResult> =>
  scanSource(bufferSource(data), name);

describe('a zip archive after other bytes', () => {
  it('scans a .keras written behind a shell prefix (offsets counted from the archive)', async () => {
    // `cat prefix model.keras > out.keras`: zipfile shifts every offset by the prefix.
    const prefix = Buffer.from('#!/bin/sh\nexit 0\n');
    const z = Buffer.concat([prefix, buildZip(KERAS_LAMBDA_MEMBERS)]);
    const r = await scan(z, 'model.keras');
    expect(ids(r)).toContain('KERAS_LAMBDA');
    const embedded = r.findings.find((f) => f.ruleId === 'ZIP_EMBEDDED');
    expect(embedded?.severity).toBe('medium');
    expect(embedded?.offset).toBe(prefix.length);
    const lambda = r.findings.find((f) => f.ruleId === 'KERAS_LAMBDA');
    expect(lambda?.member[0]).toBe(`<zip archive at byte ${prefix.length}>`);
  });

  it('scans a zip after a benign pickle, which the pickle scanner claimed', async () => {
    const z = Buffer.concat([
      BENIGN_PICKLE,
      buildZip([{ name: 'archive/data.pkl', data: EVIL }]),
    ]);
    const r = await scan(z, 'model.bin');
    expect(r.formats).toContain('pickle');
    expect(ids(r).length).toBeGreaterThan(0);
    expect(ids(r, 'medium')).toContain('ZIP_EMBEDDED');
  });

  it('scans a zip after a SafeTensors file', async () => {
    const header = Buffer.from('{"__metadata__":{"format":"pt"}}');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(header.length));
    const z = Buffer.concat([
      len,
      header,
      buildZip(KERAS_LAMBDA_MEMBERS, { prefix: Buffer.alloc(0) }),
    ]);
    const r = await scan(z, 'model.keras');
    expect(r.formats).toContain('safetensors');
    expect(ids(r)).toContain('KERAS_LAMBDA');
  });

  it('finds a ZIP64 archive behind a prefix', async () => {
    const prefix = Buffer.from('junk before the archive');
    const z = Buffer.concat([
      prefix,
      buildZip([{ name: 'data.pkl', data: EVIL }], { zip64: true }),
    ]);
    const found = await findEmbeddedZip(bufferSource(z));
    expect(found?.shift).toBe(prefix.length);
    const r = await scan(z, 'x.bin');
    expect(ids(r).length).toBeGreaterThan(0);
  });

  it('reports nothing for bytes with a stray end-record signature but no directory', async () => {
    const data = randomBytes(100_000);
    const sig = Buffer.from([0x50, 0x4b, 0x05, 0x06]);
    sig.copy(data, data.length - 5_000);
    expect(await findEmbeddedZip(bufferSource(data))).toBeUndefined();
    const r = await scan(data, 'weights.bin');
    expect(r.findings.map((f) => f.ruleId)).not.toContain('ZIP_EMBEDDED');
  });

  it('ignores an empty archive after a pickle (zipfile opens it; there is nothing to load)', async () => {
    const empty = Buffer.alloc(22);
    empty.writeUInt32LE(0x06054b50, 0);
    const r = await scan(Buffer.concat([BENIGN_PICKLE, empty]), 'x.pkl');
    expect(r.findings.map((f) => f.ruleId)).not.toContain('ZIP_EMBEDDED');
  });

  it('a tar whose last member is a zip: scanned once, as the member', async () => {
    const inner = buildZip([{ name: 'a.txt', data: Buffer.from('hello') }]);
    const t = await tarOf([
      { name: 'README', data: Buffer.from('model\n') },
      { name: 'extra.zip', data: inner },
    ]);
    // zipfile.is_zipfile says yes to this tar too (the end record is in its
    // last 64 KiB), but that archive is the member the tar scan scanned.
    expect(await findEmbeddedZip(bufferSource(t))).toBeDefined();
    const r = await scan(t, 'model.tar');
    expect(ids(r, 'medium')).toEqual([]);
  });

  it("a zip appended after a tar's end is reported and scanned", async () => {
    const t = await tarOf([{ name: 'README', data: Buffer.from('model\n') }]);
    const z = Buffer.concat([t, buildZip(KERAS_LAMBDA_MEMBERS)]);
    const r = await scan(z, 'model.keras');
    expect(ids(r)).toContain('KERAS_LAMBDA');
    expect(ids(r, 'medium')).toContain('ZIP_EMBEDDED');
  });

  it('a plain zip at byte 0 is not reported as embedded', async () => {
    const r = await scan(buildZip(KERAS_LAMBDA_MEMBERS), 'model.keras');
    expect(r.findings.map((f) => f.ruleId)).not.toContain('ZIP_EMBEDDED');
    expect(ids(r)).toContain('KERAS_LAMBDA');
  });

  it('bounds a chain of archives each behind a prefix by the nesting limit', async () => {
    let z = buildZip([{ name: 'data.pkl', data: EVIL }]);
    for (let i = 0; i < 12; i++)
      z = buildZip([
        { name: `layer${i}.bin`, data: Buffer.concat([BENIGN_PICKLE, z]) },
      ]);
    const r = await scanSource(bufferSource(z), 'deep.zip', {
      limits: { maxNestingDepth: 4 },
    });
    expect(ids(r)).toContain('SCAN_INCOMPLETE');
  });
});
