// SPDX-License-Identifier: Apache-2.0
// Archives that Python's zipfile opens (numpy.load reads them, and unpickles
// an object array's body) while the zip reader gave up with a medium finding
// and scanned no member. Found by a differential fuzz (stop 30): mutated
// .npz files run through numpy 2.4 with allow_pickle=True on one side and
// `modelseal scan` on the other; each case here ran the payload there and
// scanned with nothing at high or above.
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';
import type { FileScanResult } from '../../src/scan/types.js';
import { buildZip } from './helpers/zip-builder.js';
import { highs, ruleIds } from './helpers/findings.js';

/** A protocol 2 pickle that calls `posix.system('id')`. */
const EVIL = Buffer.from("\x80\x02cposix\nsystem\n(S'id'\ntR.", 'latin1');

/** A version 1.0 `.npy` with an object dtype whose body is `body`. */
function objectNpy(body: Buffer): Buffer {
  let h = "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }";
  while ((10 + h.length + 1) % 64 !== 0) h += ' ';
  h += '\n';
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0, 0]);
  pre.writeUInt16LE(h.length, 8);
  return Buffer.concat([pre, Buffer.from(h, 'latin1'), body]);
}

const scan = (data: Buffer): Promise<FileScanResult> =>
  scanSource(bufferSource(data), 'arrays.npz');

/** An npz with a benign first member and the evil object array second. */
function npz(deflate: boolean): Buffer {
  return buildZip([
    {
      name: 'a.npy',
      data: objectNpy(Buffer.from('\x80\x02N.', 'latin1')),
      deflate,
    },
    { name: 'b.npy', data: objectNpy(EVIL), deflate },
  ]);
}

/** Offset of the `n`-th central directory record. */
function centralRecord(zip: Buffer, n: number): number {
  let p = zip.readUInt32LE(zip.length - 6);
  for (let i = 0; i < n; i++)
    p +=
      46 +
      zip.readUInt16LE(p + 28) +
      zip.readUInt16LE(p + 30) +
      zip.readUInt16LE(p + 32);
  return p;
}

describe('zip members Python reads where the reader gave up', () => {
  it('reads an archive whose end record declares a comment past the end of the file', async () => {
    // zipfile._EndRecData and miniz take the last end-record signature with
    // 22 bytes after it, whatever its comment length says.
    const z = Buffer.concat([npz(true), Buffer.alloc(42, 0x41)]);
    const eocd = z.length - 42 - 22;
    z.writeUInt16LE(32_000, eocd + 20);
    const r = await scan(z);
    expect(ruleIds(r, 'medium')).toContain('ZIP_MALFORMED');
    expect(highs(r)).toContain('PICKLE_DANGEROUS_GLOBAL');
  });

  it('still reads an earlier end record whose comment fits as another archive (ambiguous)', async () => {
    // The last record's comment runs past the file, an earlier one's fits:
    // readers that check the comment read the earlier archive.
    const inner = npz(false);
    const outer = buildZip([
      { name: 'c.npy', data: objectNpy(Buffer.from('\x80\x02N.', 'latin1')) },
    ]);
    const file = Buffer.concat([outer, inner]);
    file.writeUInt16LE(inner.length, outer.length - 2); // the outer comment covers `inner`
    // `inner`'s offsets are relative to its own start: shift them.
    const cdOff = inner.readUInt32LE(inner.length - 6);
    file.writeUInt32LE(cdOff + outer.length, file.length - 6);
    for (let i = 0; i < 2; i++) {
      const p = outer.length + centralRecord(inner, i);
      file.writeUInt32LE(file.readUInt32LE(p + 42) + outer.length, p + 42);
    }
    file.writeUInt16LE(7, file.length - 2); // runs past the end of the file
    const r = await scan(file);
    expect(highs(r)).toContain('ZIP_AMBIGUOUS');
    expect(highs(r)).toContain('PICKLE_DANGEROUS_GLOBAL');
  });

  it('reads a central directory entry whose comment runs past the directory', async () => {
    // zipfile reads the name, extra and comment with short reads from the
    // directory's bytes; miniz refuses the archive.
    const z = npz(true);
    z.writeUInt16LE(20, centralRecord(z, 1) + 32);
    const r = await scan(z);
    expect(ruleIds(r, 'medium')).toContain('ZIP_MALFORMED');
    expect(highs(r)).toContain('PICKLE_DANGEROUS_GLOBAL');
  });

  it('reads a stored member whose compressed size runs past the end of the file', async () => {
    // zipfile reads a stored member up to its uncompressed size.
    const z = npz(false);
    z.writeUInt32LE(1_573_181, centralRecord(z, 1) + 20);
    const r = await scan(z);
    expect(ruleIds(r, 'medium')).toContain('ZIP_ENTRY_OUT_OF_BOUNDS');
    expect(highs(r)).toContain('PICKLE_DANGEROUS_GLOBAL');
  });

  it('fails closed on a DEFLATE member whose data runs past the end of the file', async () => {
    const z = npz(true);
    z.writeUInt32LE(1_573_181, centralRecord(z, 1) + 20);
    const r = await scan(z);
    expect(highs(r).length).toBeGreaterThan(0);
  });
});
