// SPDX-License-Identifier: Apache-2.0
// Legacy (pre-1.6) PyTorch tar: torch.load unpickles one record per declared
// tensor and reads any ndim; a record after a tensor of more than 64
// dimensions was never scanned (the walk stopped there).
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';
import { tar } from './helpers/ustar.js';

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
