// SPDX-License-Identifier: Apache-2.0
// OutputSpool: decoded bytes stay in memory below the threshold and go to a
// private temporary file above it; dispose removes the file.
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OutputSpool } from '../../src/scan/compression/spool.js';

describe('OutputSpool', () => {
  it('keeps small outputs in memory', async () => {
    const spool = new OutputSpool(1024);
    await spool.write(Buffer.from('abc'));
    await spool.write(Buffer.from('def'));
    expect(spool.spilled).toBe(false);
    const src = await spool.source();
    expect((await src.read(0, 100)).toString()).toBe('abcdef');
    await spool.dispose();
  });

  it('spills past the threshold to a 0600 file that dispose removes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelseal-spool-unit-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = dir;
    try {
      const parts = [randomBytes(700), randomBytes(700), randomBytes(700)];
      const spool = new OutputSpool(1024);
      for (const p of parts) await spool.write(p);
      expect(spool.spilled).toBe(true);
      expect(spool.size).toBe(2100);
      const [sub] = readdirSync(dir);
      const file = join(dir, sub!, 'stream');
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, sub!)).mode & 0o777).toBe(0o700);
      const src = await spool.source();
      expect(src.size).toBe(2100);
      expect(await src.read(0, 2100)).toEqual(Buffer.concat(parts));
      expect(await src.read(1400, 10)).toEqual(parts[2]!.subarray(0, 10));
      await spool.dispose();
      expect(existsSync(file)).toBe(false);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
