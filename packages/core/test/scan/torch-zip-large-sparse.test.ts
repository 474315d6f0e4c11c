// SPDX-License-Identifier: Apache-2.0
// A 4 GiB PyTorch-style checkpoint (sparse file) scans in well under a second
// and without reading tensor data (issue: speed).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scanFile, scanSource } from '../../src/scan/engine.js';
import { openFileSource } from '../../src/scan/source.js';
import type { ByteSource } from '../../src/scan/types.js';
import { writeSparseTorchCheckpoint } from './helpers/large-torch.js';

const dir = mkdtempSync(join(tmpdir(), 'modelseal-large-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('large torch checkpoint', () => {
  it('scans 4 GiB without reading the storage', async () => {
    const path = join(dir, 'big.pt');
    await writeSparseTorchCheckpoint(path, 4 * 1024 * 1024 * 1024);
    const start = performance.now();
    const r = await scanFile(path, { root: dir });
    const ms = performance.now() - start;
    expect(r.error).toBeUndefined();
    expect(r.formats).toEqual(['pytorch-zip', 'pickle']);
    expect(r.findings.map((f) => `${f.ruleId} ${f.message}`)).toEqual([]);
    expect(r.bytes).toBeGreaterThan(4 * 1024 * 1024 * 1024);
    expect(ms).toBeLessThan(1000);

    const file = await openFileSource(path);
    let bytesRead = 0;
    const counting: ByteSource = {
      size: file.size,
      read: (o, n) => file.read(o, n).then((b) => ((bytesRead += b.length), b)),
    };
    try {
      await scanSource(counting, 'big.pt');
    } finally {
      await file.close();
    }
    expect(bytesRead).toBeLessThan(200 * 1024);
  });

  it('flags the same layout when data.pkl claims more than the record holds', async () => {
    const path = join(dir, 'small.pt');
    await writeSparseTorchCheckpoint(path, 4096, 8 * 1024 * 1024 * 1024);
    const r = await scanFile(path, { root: dir });
    expect(r.findings.map((f) => f.ruleId)).toEqual(['TORCH_STORAGE_OOB']);
    expect(r.findings[0]?.evidence).toMatchObject({
      key: '0',
      recordBytes: 4096,
      elementSize: 4,
    });
  });
});
