// SPDX-License-Identifier: Apache-2.0
// Legacy (pre-1.6) PyTorch tar: torch.load unpickles one record per declared
// tensor and reads any ndim; a record after a tensor of more than 64
// dimensions was never scanned (the walk stopped there).
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';

function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'latin1');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write('0', 156, 'latin1');
  h.write('ustar\x0000', 257, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

function tar(members: [string, Buffer][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, data] of members) {
    parts.push(tarHeader(name, data.length), data);
    const pad = (512 - (data.length % 512)) % 512;
    parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

const p = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('legacy torch tar records', () => {
  it('a tensor record of 100 dimensions does not hide the next record pickle', async () => {
    const ndim = 100;
    const dims = Buffer.alloc(8 + 16 * ndim + 8);
    dims.writeInt32LE(ndim, 0);
    const tensors = Buffer.concat([
      p('\x80\x02K\x02.'), // two records
      p('\x80\x02X\x01\x00\x00\x00kK\x00N\x87.'), // (key, storage id, type)
      dims,
      p("\x80\x02cos\nsystem\n(S'id'\ntR."),
    ]);
    const data = tar([
      ['sys_info', p('\x80\x02}.')],
      ['tensors', tensors],
    ]);
    const r = await scanSource(bufferSource(data), 'legacy.tar');
    expect(r.formats).toContain('pytorch-legacy-tar');
    const hit = r.findings.find(
      (f) =>
        f.ruleId === 'PICKLE_DANGEROUS_GLOBAL' &&
        f.evidence?.['global'] === 'os.system',
    );
    expect(hit?.severity).toBe('critical');
    expect(hit?.member).toEqual(['tensors']);
  });
});
