// SPDX-License-Identifier: Apache-2.0
// scanPaths / scanFile: directories, paths relative to the root, per-file
// errors, limits, failOn helper.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  reportReaches,
  scanFile,
  scanPaths,
  scanSource,
} from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';
import type { ByteSource, FormatScanner } from '../../src/scan/types.js';

const evil = Buffer.from(
  '\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R.',
  'latin1',
);
const clean = Buffer.from('\x80\x02}q\x00X\x01\x00\x00\x00aK\x01s.', 'latin1');

function tree(): string {
  const root = mkdtempSync(join(tmpdir(), 'modelseal-engine-'));
  mkdirSync(join(root, 'models', 'sub'), { recursive: true });
  writeFileSync(join(root, 'models', 'evil.bin'), evil);
  writeFileSync(join(root, 'models', 'sub', 'clean.pkl'), clean);
  writeFileSync(join(root, 'models', 'README.md'), '# a model\n');
  symlinkSync(
    join(root, 'models', 'evil.bin'),
    join(root, 'models', 'link.bin'),
  );
  return root;
}

describe('scan engine', () => {
  it('scans directories recursively, relative to the root, without following links', async () => {
    const root = tree();
    const r = await scanPaths([join(root, 'models')], { root, concurrency: 2 });
    expect(r.schemaVersion).toBe(1);
    expect(r.files.map((f) => f.file).sort()).toEqual([
      'models/README.md',
      'models/evil.bin',
      'models/link.bin',
      'models/sub/clean.pkl',
    ]);
    const evilResult = r.files.find((f) => f.file === 'models/evil.bin')!;
    expect(evilResult.formats).toEqual(['pickle']);
    expect(evilResult.findings[0]).toMatchObject({
      ruleId: 'PICKLE_DANGEROUS_GLOBAL',
      severity: 'critical',
      file: 'models/evil.bin',
      member: [],
      offset: 2,
    });
    expect(
      r.files.find((f) => f.file === 'models/link.bin')?.findings[0]?.ruleId,
    ).toBe('SCAN_SYMLINK_SKIPPED');
    expect(r.summary).toMatchObject({
      files: 4,
      errors: 0,
      highest: 'critical',
    });
    expect(r.summary.bySeverity.critical).toBe(1);
    expect(r.rules.map((x) => x.id)).toEqual([
      'PICKLE_DANGEROUS_GLOBAL',
      'SCAN_SYMLINK_SKIPPED',
    ]);
    expect(reportReaches(r, 'high')).toBe(true);
  });

  it('records unreadable files as errors instead of throwing', async () => {
    const root = tree();
    const r = await scanPaths(
      [join(root, 'nope.pt'), join(root, 'models', 'sub', 'clean.pkl')],
      { root },
    );
    expect(r.files[0]).toMatchObject({
      file: 'nope.pt',
      error: { code: 'IO_ERROR' },
    });
    expect(r.summary.errors).toBe(1);
    expect(r.summary.highest).toBeNull();
    expect(reportReaches(r, 'info')).toBe(false);
    const single = await scanFile(join(root, 'missing'), { root });
    expect(single.error?.code).toBe('IO_ERROR');
  });

  it('rejects invalid options with INVALID_OPTIONS', async () => {
    await expect(scanPaths([])).rejects.toHaveCode('INVALID_OPTIONS');
    await expect(scanPaths(['.'], { concurrency: 0 })).rejects.toHaveCode(
      'INVALID_OPTIONS',
    );
    await expect(
      scanPaths(['.'], { limits: { maxNestingDepth: -1 } }),
    ).rejects.toHaveCode('INVALID_OPTIONS');
    await expect(
      scanPaths(['.'], { policy: { profiles: ['bogus' as never] } }),
    ).rejects.toHaveCode('INVALID_OPTIONS');
  });

  it('uses the base name for a file given as the root itself and marks paths outside the root absolute', async () => {
    const root = tree();
    const file = join(root, 'models', 'evil.bin');
    expect((await scanFile(file, { root: file })).file).toBe('evil.bin');
    expect(
      (await scanFile(file, { root: join(root, 'models', 'sub') })).file,
    ).toBe(file.split('\\').join('/'));
  });

  it('caps nesting depth (gzip inside gzip ...) with a finding', async () => {
    let data = evil;
    for (let i = 0; i < 12; i++) data = gzipSync(data);
    const r = await scanSource(bufferSource(data), 'deep.gz', {
      limits: { maxNestingDepth: 4 },
    });
    expect(r.findings.map((f) => f.ruleId)).toEqual(['SCAN_INCOMPLETE']);
    expect(r.findings[0]).toMatchObject({
      severity: 'high',
      evidence: { limit: 'maxNestingDepth', value: 4 },
    });
    expect(r.findings[0]?.member).toHaveLength(5);
    expect(r.complete).toBe(false);
    const shallow = await scanSource(
      bufferSource(gzipSync(gzipSync(evil))),
      'two.gz',
    );
    expect(shallow.findings[0]).toMatchObject({
      ruleId: 'PICKLE_DANGEROUS_GLOBAL',
      member: ['gunzip', 'gunzip'],
    });
  });

  it('caps expanded bytes and member size', async () => {
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024));
    // A decoded stream is not held in memory as one member: the member limit
    // does not stop it (the 8 MiB of zeros are decoded and are nothing).
    const r = await scanSource(bufferSource(bomb), 'bomb.gz', {
      limits: { maxMemberBytes: 1024 * 1024 },
    });
    expect(r.findings).toEqual([]);
    expect(r.complete).toBe(true);
    const r2 = await scanSource(bufferSource(bomb), 'bomb.gz', {
      limits: { maxExpandedBytes: 1024 },
    });
    expect(r2.findings).toMatchObject([
      {
        ruleId: 'SCAN_INCOMPLETE',
        severity: 'high',
        evidence: { limit: 'maxExpandedBytes', value: 1024 },
      },
    ]);
    expect(r2.complete).toBe(false);
  });

  it('turns a scanner crash into a finding', async () => {
    const crashing: FormatScanner = {
      id: 'boom',
      detect: () => true,
      scan: () => Promise.reject(new Error('bug')),
    };
    const r = await scanSource(bufferSource(clean), 'x', {
      scanners: [crashing],
    });
    expect(r.findings).toMatchObject([
      { ruleId: 'SCAN_INTERNAL_ERROR', evidence: { scanner: 'boom' } },
    ]);
  });

  it('records an I/O failure in the middle of a scan as an error', async () => {
    const failing: ByteSource = {
      size: 100,
      read: () =>
        Promise.reject(Object.assign(new Error('EIO'), { code: 'EIO' })),
    };
    const r = await scanSource(failing, 'broken.bin');
    expect(r.error).toEqual({
      code: 'IO_ERROR',
      message: 'cannot read broken.bin: EIO',
    });
  });
});
