// SPDX-License-Identifier: Apache-2.0
// Issue 9's case: a gzip'd pickle whose first operand is 300 MiB, followed by
// an os.system payload. CPython's unpickler reaches the payload; the scan must
// too (or fail closed), with the decoded stream spooled to a temporary file
// rather than held in memory.
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { scanFile } from '../../src/scan/engine.js';
import { severityAtLeast } from '../../src/scan/types.js';

const OPERAND = 300 * 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'modelseal-large-operand-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Protocol 3: BINBYTES of 300 MiB, POP, then posix.system('id') and STOP. */
function* pickleParts(zeros = false): Generator<Buffer> {
  const head = Buffer.alloc(7);
  head[0] = 0x80;
  head[1] = 3;
  head[2] = 0x42; // BINBYTES
  head.writeUInt32LE(OPERAND, 3);
  yield head;
  // A 1 MiB random block repeated: far beyond gzip's 32 KiB window, so the
  // stream does not compress (no ratio cap) and must be decoded in full.
  const block = zeros ? Buffer.alloc(1024 * 1024) : randomBytes(1024 * 1024);
  for (let i = 0; i < OPERAND / block.length; i++) yield block;
  yield Buffer.from('0cposix\nsystem\nX\x02\x00\x00\x00id\x85R.', 'latin1');
}

describe('a gzip-wrapped pickle with a 300 MiB first operand', () => {
  it('reaches the payload after the operand, or fails closed', async () => {
    const file = join(dir, 'big-operand.pkl.gz');
    const tmp = mkdtempSync(join(tmpdir(), 'modelseal-large-spool-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      await pipeline(
        Readable.from(pickleParts()),
        createGzip({ level: 1 }),
        createWriteStream(file),
      );
      const r = await scanFile(file, { root: dir });
      const summary = r.findings
        .map(
          (f) =>
            `${f.severity} ${f.ruleId} [${f.member.join(' > ')}] ${f.message}`,
        )
        .join('\n');
      const payload = r.findings.find(
        (f) =>
          f.ruleId === 'PICKLE_DANGEROUS_GLOBAL' && f.severity === 'critical',
      );
      if (payload !== undefined) {
        expect(payload.member).toEqual(['gunzip']);
      } else {
        // Not reached: then the scan says so at high severity.
        expect(
          r.findings.some(
            (f) =>
              f.ruleId === 'SCAN_INCOMPLETE' &&
              severityAtLeast(f.severity, 'high'),
          ),
          summary,
        ).toBe(true);
      }
      // The wrapper itself decoded the whole stream: no limit of its own was hit.
      expect(
        r.findings.filter((f) => f.evidence?.compression !== undefined),
        summary,
      ).toEqual([]);
      // The 300 MiB decoded stream went through a temporary file, now removed.
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 300_000);

  it('a zero-filled operand (1000:1) is a bomb by default, and is scanned through with maxCompressionRatio 0', async () => {
    const file = join(dir, 'zeros-operand.pkl.gz');
    await pipeline(
      Readable.from(pickleParts(true)),
      createGzip({ level: 1 }),
      createWriteStream(file),
    );
    const bomb = await scanFile(file, { root: dir });
    expect(bomb.complete).toBe(false);
    expect(
      bomb.findings.find((f) => f.ruleId === 'SCAN_INCOMPLETE')?.evidence,
    ).toMatchObject({ limit: 'maxCompressionRatio', value: 100 });
    const through = await scanFile(file, {
      root: dir,
      limits: { maxCompressionRatio: 0 },
    });
    expect(
      through.findings.find(
        (f) =>
          f.ruleId === 'PICKLE_DANGEROUS_GLOBAL' && f.severity === 'critical',
      )?.member,
    ).toEqual(['gunzip']);
    expect(through.complete).toBe(true);
  }, 300_000);
});
