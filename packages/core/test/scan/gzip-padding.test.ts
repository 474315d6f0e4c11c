// SPDX-License-Identifier: Apache-2.0
// gzip members and zlib streams are read as Python's readers read them
// (red team: NUL padding between gzip members). CPython's
// `gzip._GzipReader._read_eof` skips a run of NUL bytes after a member's
// trailer and reads the next member (`BadGzipFile` when the next bytes are
// not one, after the bytes decoded so far); Node's gunzip stopped at the
// padding, so the scanner saw a truncated pickle (medium) while
// `pickle.load(gzip.open(f))` ran the call. Concatenated zlib streams are
// all read too: more than joblib's `BinaryZlibFile` reads (it fails after
// the first), so nothing there is trusted to stay unread.
import { crc32, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';
import type { FileScanResult, Finding } from '../../src/scan/types.js';
import { severityAtLeast } from '../../src/scan/types.js';

const evil = Buffer.from(
  '\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R.',
  'latin1',
);
const clean = Buffer.from('\x80\x02}q\x00X\x01\x00\x00\x00aK\x01s.', 'latin1');
const nul = (n: number): Buffer => Buffer.alloc(n);

function scan(data: Buffer): Promise<FileScanResult> {
  return scanSource(bufferSource(data), 'model.pkl.gz');
}

function summary(r: FileScanResult): string {
  return r.findings
    .map(
      (f) => `${f.severity} ${f.ruleId} [${f.member.join(' > ')}] ${f.message}`,
    )
    .join('\n');
}

function payload(r: FileScanResult): Finding | undefined {
  return r.findings.find(
    (f) => f.ruleId === 'PICKLE_DANGEROUS_GLOBAL' && f.severity === 'critical',
  );
}

function incomplete(r: FileScanResult): Finding | undefined {
  return r.findings.find(
    (f) =>
      f.ruleId === 'SCAN_INCOMPLETE' &&
      f.severity === 'high' &&
      f.evidence?.limit === 'compression-error',
  );
}

function expectClean(r: FileScanResult): void {
  expect(
    r.findings.filter((f) => severityAtLeast(f.severity, 'medium')),
    summary(r),
  ).toEqual([]);
  expect(r.complete, summary(r)).toBe(true);
}

/** A gzip member with a hand-made header (flags, extra fields) around `data`. */
function member(data: Buffer, header: Buffer): Buffer {
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32(data), 0);
  trailer.writeUInt32LE(data.length, 4);
  return Buffer.concat([header, deflateRawSync(data), trailer]);
}

describe('gzip members as CPython gzip reads them', () => {
  it('reads the member after NUL padding (the red-team file)', async () => {
    for (const pad of [1, 8, 3 * 1024 * 1024]) {
      const data = Buffer.concat([
        gzipSync(evil.subarray(0, 4)),
        nul(pad),
        gzipSync(evil.subarray(4)),
      ]);
      const r = await scan(data);
      expect(payload(r), `${pad}\n${summary(r)}`).toMatchObject({
        member: ['gunzip'],
      });
      expect(r.complete, summary(r)).toBe(true);
    }
  });

  it('reads members after padding behind an empty member', async () => {
    const data = Buffer.concat([
      gzipSync(Buffer.alloc(0)),
      nul(16),
      gzipSync(evil),
    ]);
    expect(payload(await scan(data))).toBeDefined();
  });

  it('fails closed when bytes after a member and its padding start no member', async () => {
    for (const tail of [
      Buffer.from('garbage after the member'),
      Buffer.concat([nul(8), Buffer.from('garbage')]),
      Buffer.concat([nul(8), Buffer.from([0x1f])]),
      Buffer.concat([nul(3), Buffer.from([0x1f, 0x8b, 0x07, 0, 0, 0, 0, 0])]),
    ]) {
      // Python returns the member's bytes, then raises BadGzipFile: they are
      // scanned, and the file is a corrupt stream (high), never clean.
      const head = await scan(Buffer.concat([gzipSync(evil), tail]));
      expect(payload(head), summary(head)).toBeDefined();
      const r = await scan(Buffer.concat([gzipSync(clean), tail]));
      expect(
        incomplete(r),
        `${tail.toString('hex')}\n${summary(r)}`,
      ).toMatchObject({ evidence: { compression: 'gzip' } });
      expect(r.complete).toBe(false);
      // A pickle cut at the padding is never only a medium truncation.
      const cut = await scan(
        Buffer.concat([gzipSync(evil.subarray(0, 4)), tail]),
      );
      expect(incomplete(cut), summary(cut)).toBeDefined();
    }
  });

  it('fails closed on a truncated member after the padding', async () => {
    const second = gzipSync(evil.subarray(4));
    const r = await scan(
      Buffer.concat([
        gzipSync(evil.subarray(0, 4)),
        nul(8),
        second.subarray(0, 12),
      ]),
    );
    expect(incomplete(r), summary(r)).toBeDefined();
  });

  it('is high, not medium, when a later member breaks before any output', async () => {
    const second = gzipSync(evil);
    const broken = Buffer.from(second);
    broken[10] = 0xff; // an invalid deflate block type at once
    const r = await scan(
      Buffer.concat([gzipSync(Buffer.alloc(0)), nul(4), broken]),
    );
    expect(incomplete(r), summary(r)).toBeDefined();
  });

  it('reads headers as Python does: header CRC and reserved flag bits unchecked', async () => {
    const base = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    // FHCRC with a wrong header CRC (zlib rejects it, Python skips it).
    const fhcrc = Buffer.from([...base, 0xde, 0xad]);
    fhcrc[3] = 0x02;
    // Reserved flag bits set, with FEXTRA, FNAME and FCOMMENT.
    const extra = Buffer.concat([
      Buffer.from(base),
      Buffer.from([3, 0, 1, 2, 3]),
      Buffer.from('model.pkl\0a comment\0', 'latin1'),
    ]);
    extra[3] = 0xe0 | 4 | 8 | 16;
    for (const header of [fhcrc, extra]) {
      const r = await scan(member(evil, header));
      expect(payload(r), summary(r)).toBeDefined();
      expect(r.complete, summary(r)).toBe(true);
      expectClean(await scan(member(clean, header)));
    }
  });

  it('fails closed on a wrong member CRC (Python raises there and reads no further)', async () => {
    const bad = gzipSync(clean);
    bad[bad.length - 8] = bad[bad.length - 8]! ^ 1;
    const r = await scan(Buffer.concat([bad, gzipSync(clean)]));
    expect(incomplete(r), summary(r)).toBeDefined();
  });

  it('keeps benign multi-member files and trailing NUL padding clean', async () => {
    expectClean(
      await scan(
        Buffer.concat([
          gzipSync(clean.subarray(0, 4)),
          gzipSync(clean.subarray(4)),
        ]),
      ),
    );
    expectClean(await scan(Buffer.concat([gzipSync(clean), nul(8)])));
    expectClean(await scan(Buffer.concat([gzipSync(clean), nul(70_000)])));
    expectClean(
      await scan(
        Buffer.concat([
          gzipSync(clean.subarray(0, 4)),
          nul(512),
          gzipSync(clean.subarray(4)),
          nul(512),
        ]),
      ),
    );
  });
});

describe('zlib streams one after another, and the member limit', () => {
  it('more than 100,000 gzip members: the rest is not decoded, a high finding', async () => {
    const empty = gzipSync(Buffer.alloc(0));
    const file = Buffer.concat(new Array<Buffer>(100_001).fill(empty));
    const r = await scanSource(bufferSource(file), 'many.gz');
    const inc = r.findings.find((f) => f.ruleId === 'SCAN_INCOMPLETE');
    expect(inc?.severity).toBe('high');
    expect(JSON.stringify(inc)).toMatch(/100,000 gzip members/);
  }, 60_000);

  it('reads a second zlib stream after the first (more than joblib, which fails there: scanned, not trusted to stay unread)', async () => {
    const data = Buffer.concat([
      deflateSync(evil.subarray(0, 4)),
      deflateSync(evil.subarray(4)),
    ]);
    const r = await scan(data);
    expect(payload(r), summary(r)).toMatchObject({ member: ['inflate'] });
    expect(r.complete).toBe(true);
  });

  it('ignores trailing bytes that start no zlib stream and fails closed on a broken one', async () => {
    expectClean(
      await scan(
        Buffer.concat([deflateSync(clean), Buffer.from('trailing junk')]),
      ),
    );
    expectClean(await scan(Buffer.concat([deflateSync(clean), nul(8)])));
    const second = deflateSync(evil);
    const r = await scan(
      Buffer.concat([deflateSync(clean), second.subarray(0, 8)]),
    );
    expect(incomplete(r), summary(r)).toBeDefined();
  });
});
