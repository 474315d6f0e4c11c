// SPDX-License-Identifier: Apache-2.0
// Zip tricks against scanners that read zips differently from torch:
// CVE-2025-1889 (non-pickle extension), CVE-2025-1944 (local/central names),
// CVE-2025-1945 (flag bits), CVE-2025-10156 (CRC), duplicate entries,
// CVE-2025-10155 (raw pickle as .bin), CVE-2025-32434 (TorchScript).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanFile, scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';
import { REPO_ROOT } from '../helpers/vectors.js';
import { buildZip } from './helpers/zip-builder.js';

const vec = (p: string): string => join(REPO_ROOT, 'test-vectors', 'pickle', p);
const evil = Buffer.from(
  '\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R.',
  'latin1',
);
const clean = Buffer.from('\x80\x02}q\x00.', 'latin1');
const summary = (r: {
  findings: { ruleId: string; member: string[] }[];
}): string[] => r.findings.map((f) => `${f.ruleId}@${f.member.join('>')}`);

describe('torch zip differentials', () => {
  it('zip-duplicate-entry: scans every copy of a duplicated data.pkl', async () => {
    for (const order of [
      [clean, evil],
      [evil, clean],
    ]) {
      const zip = buildZip([
        { name: 'archive/data.pkl', data: order[0]! },
        { name: 'archive/data.pkl', data: order[1]! },
        { name: 'archive/version', data: Buffer.from('3\n') },
      ]);
      const r = await scanSource(bufferSource(zip), 'dup.pt');
      expect(summary(r)).toEqual(
        expect.arrayContaining([
          'ZIP_DUPLICATE_ENTRY@archive/data.pkl',
          'PICKLE_DANGEROUS_GLOBAL@archive/data.pkl',
        ]),
      );
    }
  });

  it('CVE-2025-1944: reads the central name, reports the local one', async () => {
    const zip = buildZip([
      { name: 'archive/data.pkl', localName: 'archive/data.txt', data: evil },
    ]);
    const r = await scanSource(bufferSource(zip), 'x.pt');
    expect(summary(r)).toEqual(
      expect.arrayContaining([
        'ZIP_NAME_MISMATCH@archive/data.pkl',
        'PICKLE_DANGEROUS_GLOBAL@archive/data.pkl',
      ]),
    );
  });

  it('CVE-2025-1945 and CVE-2025-10156: flags and CRC do not stop the scan', async () => {
    const zip = buildZip([
      { name: 'archive/data.pkl', data: evil, flags: 0x40, crc: 0 },
    ]);
    expect(summary(await scanSource(bufferSource(zip), 'x.pt'))).toEqual(
      expect.arrayContaining([
        'ZIP_SUSPICIOUS_FLAGS@archive/data.pkl',
        'ZIP_CRC_MISMATCH@archive/data.pkl',
        'PICKLE_DANGEROUS_GLOBAL@archive/data.pkl',
      ]),
    );
  });

  it('CVE-2025-1889: a protocol 0 pickle in a member with another extension is found', async () => {
    const r = await scanFile(vec('malicious/torch-zip-member-bin.pt'));
    expect(summary(r)).toEqual(['PICKLE_DANGEROUS_GLOBAL@archive/extra.bin']);
  });

  it('CVE-2025-10155: routing is by content, whatever the extension', async () => {
    for (const name of [
      'model.bin',
      'model.pt',
      'model',
      'model.safetensors',
    ]) {
      expect(summary(await scanSource(bufferSource(evil), name))).toEqual([
        'PICKLE_DANGEROUS_GLOBAL@',
      ]);
    }
  });

  it('CVE-2025-32434: TorchScript archives are flagged and their pickles scanned', async () => {
    const zip = buildZip([
      { name: 'm/data.pkl', data: clean },
      { name: 'm/constants.pkl', data: evil },
      { name: 'm/code/__torch__/m.py', data: Buffer.from('def f(): pass\n') },
    ]);
    const r = await scanSource(bufferSource(zip), 'ts.pt');
    expect(r.formats).toEqual(['pytorch-zip', 'torchscript', 'pickle']);
    expect(summary(r)).toEqual([
      'TORCH_TORCHSCRIPT@',
      'PICKLE_DANGEROUS_GLOBAL@m/constants.pkl',
    ]);
  });

  it('DEFLATE members are inflated; storage records are never read', async () => {
    const reads: number[] = [];
    const zip = buildZip([
      { name: 'archive/data.pkl', data: evil, deflate: true },
      { name: 'archive/data/0', data: Buffer.alloc(64 * 1024, 0x80) },
      { name: 'archive/version', data: Buffer.from('3\n') },
    ]);
    const src = bufferSource(zip);
    const counting = {
      size: src.size,
      read: (o: number, n: number) => (reads.push(n), src.read(o, n)),
    };
    const r = await scanSource(counting, 'x.pt');
    expect(summary(r)).toEqual(['PICKLE_DANGEROUS_GLOBAL@archive/data.pkl']);
    expect(reads.every((n) => n < 64 * 1024 || n >= zip.length - 4096)).toBe(
      true,
    );
  });
});
