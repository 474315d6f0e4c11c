// SPDX-License-Identifier: Apache-2.0
// Every compression wrapper joblib and PyTorch users meet (gzip, zlib, bzip2,
// xz, LZMA alone, zstd, LZ4 frame, joblib's legacy ZF), recognised by content
// and decoded as a bounded stream. Fixtures are made here: bzip2, xz and
// LZMA-alone by CPython's own modules (the writers joblib uses), gzip, zlib
// and zstd by node:zlib, LZ4 frames by lz4js.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants, deflateSync, gzipSync, zstdCompressSync } from 'node:zlib';
import lz4 from 'lz4js';
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';
import {
  BOMB_FLOOR_BYTES,
  COMPRESSION_SCANNERS,
} from '../../src/scan/compression/wrappers.js';
import type {
  FileScanResult,
  Finding,
  FormatScanner,
} from '../../src/scan/types.js';
import { severityAtLeast } from '../../src/scan/types.js';
import {
  WRAPPER_KINDS,
  type WrapperKind,
} from '../../src/scan/compression/kinds.js';

const evil = Buffer.from(
  '\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R.',
  'latin1',
);
const clean = Buffer.from('\x80\x02}q\x00X\x01\x00\x00\x00aK\x01s.', 'latin1');

type Kind = WrapperKind;
const KINDS: Kind[] = [...WRAPPER_KINDS];
const MEMBER: Record<Kind, string> = {
  gzip: 'gunzip',
  zlib: 'inflate',
  bzip2: 'bunzip2',
  xz: 'unxz',
  lzma: 'unlzma',
  zstd: 'unzstd',
  lz4: 'unlz4',
  'joblib-zf': 'joblib-zf',
};

function python(code: string, input?: Buffer): Buffer {
  return execFileSync('python3', ['-c', code], {
    ...(input !== undefined ? { input } : {}),
    maxBuffer: 1 << 30,
  });
}

const PY: Partial<Record<Kind, string>> = {
  bzip2: 'bz2.compress(d)',
  xz: 'lzma.compress(d, preset=1)',
  lzma: 'lzma.compress(d, format=lzma.FORMAT_ALONE, preset=1)',
};

/** joblib's legacy z-file: `ZF`, hex length left-justified to 19, zlib data. */
function zfile(data: Buffer, py2Space = false): Buffer {
  const length = `0x${data.length.toString(16)}`.padEnd(19, ' ');
  return Buffer.concat([
    Buffer.from(`ZF${length}${py2Space ? ' ' : ''}`, 'latin1'),
    deflateSync(data, { level: 1 }),
  ]);
}

function compress(kind: Kind, data: Buffer): Buffer {
  switch (kind) {
    case 'gzip':
      return gzipSync(data, { level: 1 });
    case 'zlib':
      return deflateSync(data, { level: 1 });
    case 'zstd':
      return zstdCompressSync(data);
    case 'lz4':
      return Buffer.from(lz4.compress(data));
    case 'joblib-zf':
      return zfile(data);
    default:
      return python(
        `import sys, bz2, lzma\nd = sys.stdin.buffer.read()\nsys.stdout.buffer.write(${PY[kind]!})`,
        data,
      );
  }
}

function scan(
  data: Buffer,
  options: Parameters<typeof scanSource>[2] = {},
): Promise<FileScanResult> {
  return scanSource(bufferSource(data), 'model.bin', options);
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

function incomplete(r: FileScanResult, limit: string): Finding | undefined {
  return r.findings.find(
    (f) =>
      f.ruleId === 'SCAN_INCOMPLETE' &&
      f.severity === 'high' &&
      f.evidence?.limit === limit,
  );
}

describe('compression wrappers', () => {
  describe.each(KINDS)('%s', (kind) => {
    it('finds a malicious pickle inside and names the decoded member', async () => {
      const r = await scan(compress(kind, evil));
      expect(payload(r), summary(r)).toMatchObject({
        member: [MEMBER[kind]],
      });
      expect(r.formats).toEqual([kind, 'pickle']);
      expect(r.complete).toBe(true);
    });

    it('keeps a benign pickle inside clean', async () => {
      const r = await scan(compress(kind, clean));
      expect(
        r.findings.filter((f) => severityAtLeast(f.severity, 'medium')),
        summary(r),
      ).toEqual([]);
      expect(r.formats).toEqual([kind, 'pickle']);
      expect(r.complete).toBe(true);
    });

    it('scans what decodes before a truncation and fails closed', async () => {
      // The payload comes first (the nullifAI pattern); the stream is cut
      // 512 KiB before its end.
      // LZ4 frames from lz4js have 4 MiB blocks; 1.5 MiB is past the first
      // block of the others.
      const junk = (kind === 'lz4' ? 5 : 1.5) * 1024 * 1024;
      const full = compress(kind, Buffer.concat([evil, randomBytes(junk)]));
      const r = await scan(full.subarray(0, full.length - 512 * 1024));
      expect(payload(r), summary(r)).toMatchObject({
        member: [MEMBER[kind]],
      });
      expect(incomplete(r, 'compression-error'), summary(r)).toMatchObject({
        evidence: { compression: kind },
      });
      expect(r.complete).toBe(false);
    });

    it('stops at the expanded-bytes budget with a high finding', async () => {
      const r = await scan(compress(kind, Buffer.alloc(8 * 1024 * 1024)), {
        limits: { maxExpandedBytes: 1024 * 1024 },
      });
      expect(incomplete(r, 'maxExpandedBytes'), summary(r)).toMatchObject({
        evidence: { value: 1024 * 1024, compression: kind },
      });
      expect(r.complete).toBe(false);
    });

    it('finds the payload through two levels of wrappers', async () => {
      const inner = kind === 'gzip' ? 'xz' : 'gzip';
      const r1 = await scan(compress(kind, compress(inner, evil)));
      expect(payload(r1), summary(r1)).toMatchObject({
        member: [MEMBER[kind], MEMBER[inner]],
      });
      const r2 = await scan(compress(inner, compress(kind, evil)));
      expect(payload(r2), summary(r2)).toMatchObject({
        member: [MEMBER[inner], MEMBER[kind]],
      });
    });
  });

  it.each(KINDS)(
    'reports a %s stream expanding past 100:1 as a bomb without decoding it all',
    async (kind) => {
      // 80 MiB of zeros; formats that read concatenated streams get ten
      // streams of 8 MiB (cheaper to make, decoded the same way).
      const part = 8 * 1024 * 1024;
      const single = kind === 'zlib' || kind === 'joblib-zf';
      const data = single
        ? compress(kind, Buffer.alloc(10 * part))
        : Buffer.concat(Array(10).fill(compress(kind, Buffer.alloc(part))));
      expect(10 * part).toBeGreaterThan(BOMB_FLOOR_BYTES);
      const r = await scan(data);
      expect(
        r.findings.find((f) => f.ruleId === 'ARCHIVE_DECOMPRESSION_BOMB'),
        summary(r),
      ).toMatchObject({ severity: 'high', evidence: { compression: kind } });
      expect(incomplete(r, 'maxCompressionRatio'), summary(r)).toBeDefined();
      expect(r.complete).toBe(false);
    },
  );

  it('reads joblib z-files with the Python 2 header and any int(x, 16) length text', async () => {
    const py2 = await scan(zfile(evil, true));
    expect(payload(py2)).toMatchObject({ member: ['joblib-zf'] });
    const bare = Buffer.concat([
      Buffer.from(`ZF${'  1e'.padEnd(19, ' ')}`, 'latin1'),
      deflateSync(evil),
    ]);
    expect(payload(await scan(bare))).toMatchObject({ member: ['joblib-zf'] });
    // Not a z-file: the length text is not a number.
    const text = Buffer.from(`ZF${'hello world'.padEnd(40, ' ')}`, 'latin1');
    expect((await scan(text)).formats).not.toContain('joblib-zf');
  });

  it('reads concatenated streams as Python does and ignores trailing bytes', async () => {
    for (const kind of [
      'gzip',
      'bzip2',
      'xz',
      'lzma',
      'zstd',
      'lz4',
    ] as const) {
      const two = Buffer.concat([compress(kind, clean), compress(kind, evil)]);
      const r = await scan(two);
      expect(payload(r), `${kind}\n${summary(r)}`).toMatchObject({
        member: [MEMBER[kind]],
      });
      expect(r.complete, `${kind}\n${summary(r)}`).toBe(true);
    }
    for (const kind of ['bzip2', 'xz', 'lzma', 'zstd', 'lz4'] as const) {
      const r = await scan(
        Buffer.concat([compress(kind, clean), Buffer.from('trailing junk')]),
      );
      expect(r.findings, `${kind}\n${summary(r)}`).toEqual([]);
    }
  });

  it('reads zstd and LZ4 frames behind leading skippable frames', async () => {
    const skippable = (n: number): Buffer => {
      const b = Buffer.alloc(8 + n, 0x41);
      b.writeUInt32LE(0x184d2a50, 0);
      b.writeUInt32LE(n, 4);
      return b;
    };
    for (const kind of ['zstd', 'lz4'] as const) {
      const r = await scan(
        Buffer.concat([skippable(16), compress(kind, evil)]),
      );
      expect(payload(r), `${kind}\n${summary(r)}`).toMatchObject({
        member: [MEMBER[kind]],
      });
    }
    // A skippable frame longer than the detection window, then zstd: read by
    // the LZ4 reader, which fails closed on the zstd frame it cannot read.
    const r = await scan(
      Buffer.concat([skippable(8192), compress('zstd', evil)]),
    );
    expect(incomplete(r, 'compression-error'), summary(r)).toBeDefined();
  });

  it('fails closed on corrupt data inside a checked stream', async () => {
    for (const kind of [
      'bzip2',
      'xz',
      'lzma',
      'zstd',
      'gzip',
      'zlib',
    ] as const) {
      const data = Buffer.concat([
        evil,
        Buffer.from(randomBytes(64 * 1024).toString('hex')),
      ]);
      const good =
        kind === 'zstd'
          ? zstdCompressSync(data, {
              params: { [constants.ZSTD_c_checksumFlag]: 1 },
            })
          : compress(kind, data);
      const bad = Buffer.from(good);
      // Corrupt past the first 64 bytes: a reader gets data before the break.
      for (let i = 200; i < bad.length - 16; i += 7) bad[i] = bad[i]! ^ 0x5a;
      const r = await scan(bad);
      expect(
        incomplete(r, 'compression-error')?.evidence,
        `${kind}\n${summary(r)}`,
      ).toMatchObject({ compression: kind });
    }
    // A small stream whose check fails at its end: Node's zlib drops the
    // output of the failing step, so nothing decodes here, yet a reader that
    // returns data before the check could run it: high, not medium.
    const tail = deflateSync(
      Buffer.concat([evil, Buffer.from(randomBytes(2048).toString('hex'))]),
    );
    tail[tail.length - 1] = tail[tail.length - 1]! ^ 0xff;
    const r = await scan(tail);
    expect(incomplete(r, 'compression-error'), summary(r)).toBeDefined();
  });

  it('fails closed on a malformed lz4 frame and checks blocks before decoding them', async () => {
    const frame = Buffer.from(lz4.compress(Buffer.concat([evil, evil])));
    // Block size above the frame's declared maximum.
    const big = Buffer.from(frame);
    big.writeUInt32LE(0x7fffffff, 7);
    expect(incomplete(await scan(big), 'compression-error')).toBeDefined();
    // A compressed block whose match points before the start of the output.
    const block = Buffer.from([0x1f, 0x41, 0x10, 0x00, 0x10]);
    const header = frame.subarray(0, 7);
    const forged = Buffer.concat([
      header,
      Buffer.from([block.length, 0, 0, 0]),
      block,
      Buffer.alloc(4),
    ]);
    const r = await scan(forged);
    expect(incomplete(r, 'compression-error')?.message).toContain('lz4');
  });

  it('fails closed when an xz stream needs more decoder memory than allowed', async () => {
    const xz = python(
      "import sys, lzma\nd = sys.stdin.buffer.read()\nsys.stdout.buffer.write(lzma.compress(d, filters=[{'id': lzma.FILTER_LZMA2, 'dict_size': 64 << 20}]))",
      evil,
    );
    expect(payload(await scan(xz))).toBeDefined();
    const r = await scan(xz, { limits: { maxMemberBytes: 8 * 1024 * 1024 } });
    expect(incomplete(r, 'decoder-memory'), summary(r)).toMatchObject({
      evidence: { value: 8 * 1024 * 1024, compression: 'xz' },
    });
  });

  it('reports data that only looks like a wrapper and decodes to nothing at medium', async () => {
    // Text that starts with a zlib header ("x^") and a bare gzip header:
    // zlib itself decodes nothing from them, so nothing can be loaded.
    for (const data of [
      Buffer.from('x^2 + y^2 = r^2, the circle of radius r\n'),
      gzipSync(evil).subarray(0, 10),
    ]) {
      const r = await scan(data);
      expect(r.findings, summary(r)).toMatchObject([
        {
          ruleId: 'SCAN_INCOMPLETE',
          severity: 'medium',
          evidence: { limit: 'compression-error', decoded: 0 },
        },
      ]);
    }
  });

  it.each([
    ['7z', [0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0x00, 0x04]],
    ['rar', [0x52, 0x61, 0x72, 0x21, 0x1a, 0x07, 0x01, 0x00]],
    ['lzip', [0x4c, 0x5a, 0x49, 0x50, 0x01, 0x0c]],
    ['lz4-legacy', [0x02, 0x21, 0x4c, 0x18]],
    ['compress', [0x1f, 0x9d, 0x90]],
  ])('reports %s as unscannable at high severity', async (kind, magic) => {
    const r = await scan(Buffer.concat([Buffer.from(magic), randomBytes(200)]));
    expect(r.findings).toMatchObject([
      {
        ruleId: 'COMPRESSION_UNSUPPORTED',
        severity: 'high',
        evidence: { compression: kind },
      },
    ]);
    expect(r.complete).toBe(false);
  });

  it('does not take a protocol 1 pickle starting with EMPTY_LIST for LZMA', async () => {
    const p1 = python(
      'import sys, pickle\nsys.stdout.buffer.write(pickle.dumps([1, 2], protocol=1))',
    );
    expect(p1[0]).toBe(0x5d);
    const r = await scan(p1);
    expect(r.formats).not.toContain('lzma');
    expect(r.findings.filter((f) => f.severity !== 'info')).toEqual([]);
  });

  it('spools a large decoded stream to a private temporary file and removes it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelseal-spool-test-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = dir;
    const seen: { mode: number; size: number }[] = [];
    const probe: FormatScanner = {
      id: 'probe',
      detect: (head) => head[0] === 0xab,
      scan: (source) => {
        for (const d of readdirSync(dir)) {
          const st = statSync(join(dir, d, 'stream'));
          seen.push({ mode: st.mode & 0o777, size: st.size });
        }
        expect(source.size).toBe(80 * 1024 * 1024);
        return Promise.resolve();
      },
    };
    try {
      // 80 MiB of incompressible data (under the bomb ratio) past the 64 MiB spill threshold.
      const data = Buffer.concat([
        Buffer.from([0xab]),
        randomBytes(80 * 1024 * 1024 - 1),
      ]);
      const r = await scanSource(
        bufferSource(gzipSync(data, { level: 0 })),
        'big.gz',
        {
          scanners: [...COMPRESSION_SCANNERS, probe],
        },
      );
      expect(r.findings).toEqual([]);
      expect(seen).toEqual([{ mode: 0o600, size: 80 * 1024 * 1024 }]);
      expect(readdirSync(dir)).toEqual([]);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
