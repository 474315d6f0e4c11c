// SPDX-License-Identifier: Apache-2.0
// A 1 MiB .npy header listing tens of thousands of 39-digit dimensions: the
// declared size was an unbounded BigInt product (seconds of CPU per file and
// a megabyte-long message); it is now bounded.
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';

function npy(shape: string, data: Buffer): Buffer {
  const header = Buffer.from(
    `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape}), }`,
    'latin1',
  );
  const pre = Buffer.from([
    0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 2, 0, 0, 0, 0, 0,
  ]);
  pre.writeUInt32LE(header.length, 8);
  return Buffer.concat([pre, header, data]);
}

describe('numpy huge shape', () => {
  it('reports the mismatch quickly with a bounded message', async () => {
    const dim = '9'.repeat(39);
    const shape = new Array<string>(25_000).fill(dim).join(', ');
    const started = Date.now();
    const r = await scanSource(
      bufferSource(npy(shape, Buffer.alloc(8))),
      'a.npy',
    );
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(r.findings.map((f) => f.ruleId)).toEqual(['NUMPY_SIZE_MISMATCH']);
    expect(r.findings[0]!.message.length).toBeLessThan(200);
  });

  it('still computes an empty array after huge dimensions', async () => {
    const dim = '9'.repeat(39);
    const r = await scanSource(
      bufferSource(npy(`${dim}, ${dim}, 0`, Buffer.alloc(0))),
      'a.npy',
    );
    expect(r.findings).toEqual([]);
  });
});
