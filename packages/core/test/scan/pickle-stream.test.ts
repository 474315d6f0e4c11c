// SPDX-License-Identifier: Apache-2.0
// Issue 9: the pickle VM streams. A 300 MiB operand before the payload is
// skipped by its length (never materialised) and the payload is found; a
// PyTorch zip whose 300 MiB data.pkl exceeds maxMemberBytes is scanned to its
// end, stored (a slice of the file) and deflated (a bounded inflating
// stream). Fixtures are built at run time in os.tmpdir() (sparse writes).
import { mkdtempSync, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, createDeflateRaw } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { scanFile, scanSource } from '../../src/scan/engine.js';
import { analysePickleSource } from '../../src/scan/pickle/vm.js';
import { bufferSource, openFileSource } from '../../src/scan/source.js';
import type {
  ByteSource,
  FileScanResult,
  Finding,
} from '../../src/scan/types.js';
import {
  expectNestedOsSystem,
  expectRetainedBytesIncomplete,
} from '../helpers/pickle-findings.js';

const MiB = 1024 * 1024;
const BIG = 300 * MiB;
const dir = mkdtempSync(join(tmpdir(), 'modelseal-pickle-stream-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `os.system('id')` called, protocol 0 opcodes. */
const PAYLOAD = Buffer.from("cos\nsystem\n(S'id'\ntR.", 'latin1');

/** PROTO 4, BINBYTES8 of `n` bytes: the zeros follow, then {@link PAYLOAD}. */
function bigBytesHead(n: number): Buffer {
  const h = Buffer.alloc(11);
  h[0] = 0x80;
  h[1] = 0x04;
  h[2] = 0x8e;
  h.writeBigUInt64LE(BigInt(n), 3);
  return h;
}

const payloadFound = (fs: Finding[]): boolean =>
  fs.some(
    (f) =>
      f.ruleId === 'PICKLE_DANGEROUS_GLOBAL' &&
      f.severity === 'critical' &&
      f.evidence?.['global'] === 'os.system',
  );
const atLeastHigh = (r: FileScanResult): string[] =>
  r.findings
    .filter((f) => f.severity === 'high' || f.severity === 'critical')
    .map((f) => f.ruleId);

/** Peak RSS growth (bytes) while `run` runs, sampled every few ms. */
async function peakRssGrowth<T>(
  run: () => Promise<T>,
): Promise<{ value: T; growth: number }> {
  const base = process.memoryUsage.rss();
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 5);
  try {
    const value = await run();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { value, growth: peak - base };
  } finally {
    clearInterval(timer);
  }
}

function counting(src: ByteSource): ByteSource & { bytesRead: number } {
  const c = {
    size: src.size,
    bytesRead: 0,
    read: async (o: number, n: number): Promise<Buffer> => {
      const b = await src.read(o, n);
      c.bytesRead += b.length;
      return b;
    },
  };
  return c;
}

/** CRC-32 of `n` zero bytes continuing `crc`. */
function crcZeros(crc: number, n: number): number {
  const zeros = Buffer.alloc(MiB);
  for (let left = n; left > 0; left -= MiB)
    crc = crc32(left >= MiB ? zeros : zeros.subarray(0, left), crc);
  return crc;
}

/** Raw DEFLATE of head + `n` zeros + tail, streamed. */
async function deflateBig(
  head: Buffer,
  n: number,
  tail: Buffer,
): Promise<Buffer> {
  const z = createDeflateRaw({ level: 1 });
  const out: Buffer[] = [];
  z.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<void>((resolve, reject) => {
    z.on('end', resolve);
    z.on('error', reject);
  });
  const zeros = Buffer.alloc(4 * MiB);
  z.write(head);
  for (let left = n; left > 0; left -= zeros.length) {
    const piece = left >= zeros.length ? zeros : zeros.subarray(0, left);
    if (!z.write(piece))
      await new Promise<void>((r) => z.once('drain', () => r()));
  }
  z.end(tail);
  await done;
  return Buffer.concat(out);
}

interface BigMember {
  name: string;
  /** Bytes before the zero run. */
  head: Buffer;
  zeros: number;
  tail: Buffer;
  deflate: boolean;
}

/** Writes a zip of one big member (zeros left as a sparse hole when stored) and `archive/version`. */
async function writeBigZip(path: string, m: BigMember): Promise<void> {
  const size = m.head.length + m.zeros + m.tail.length;
  const crc = crc32(m.tail, crcZeros(crc32(m.head), m.zeros));
  const compressed = m.deflate
    ? await deflateBig(m.head, m.zeros, m.tail)
    : undefined;
  const fh = await open(path, 'w');
  const central: Buffer[] = [];
  let pos = 0;
  const local = async (
    name: string,
    method: number,
    c: number,
    csize: number,
    usize: number,
  ): Promise<number> => {
    const n = Buffer.from(name);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(method, 8);
    lh.writeUInt32LE(c >>> 0, 14);
    lh.writeUInt32LE(csize, 18);
    lh.writeUInt32LE(usize, 22);
    lh.writeUInt16LE(n.length, 26);
    await fh.write(Buffer.concat([lh, n]), 0, 30 + n.length, pos);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(method, 10);
    ch.writeUInt32LE(c >>> 0, 16);
    ch.writeUInt32LE(csize, 20);
    ch.writeUInt32LE(usize, 24);
    ch.writeUInt16LE(n.length, 28);
    ch.writeUInt32LE(pos, 42);
    central.push(ch, n);
    pos += 30 + n.length;
    return pos;
  };
  try {
    if (compressed !== undefined) {
      const at = await local(m.name, 8, crc, compressed.length, size);
      await fh.write(compressed, 0, compressed.length, at);
      pos = at + compressed.length;
    } else {
      const at = await local(m.name, 0, crc, size, size);
      await fh.write(m.head, 0, m.head.length, at);
      // The zeros stay a hole in a sparse file.
      await fh.write(m.tail, 0, m.tail.length, at + m.head.length + m.zeros);
      pos = at + size;
    }
    const version = Buffer.from('3\n');
    const vat = await local('archive/version', 0, crc32(version), 2, 2);
    await fh.write(version, 0, 2, vat);
    pos = vat + 2;
    const cd = Buffer.concat(central);
    const eocd = Buffer.alloc(22);
    eocd.writeUInt32LE(0x06054b50, 0);
    eocd.writeUInt16LE(2, 8);
    eocd.writeUInt16LE(2, 10);
    eocd.writeUInt32LE(cd.length, 12);
    eocd.writeUInt32LE(pos, 16);
    const end = Buffer.concat([cd, eocd]);
    await fh.write(end, 0, end.length, pos);
  } finally {
    await fh.close();
  }
}

describe('pickle VM streams large operands', () => {
  it('a 300 MiB BINBYTES8 first operand, then the payload: found, operand never read', async () => {
    const path = join(dir, 'big-operand.pkl');
    const fh = await open(path, 'w');
    const head = bigBytesHead(BIG);
    await fh.write(head, 0, head.length, 0);
    await fh.write(PAYLOAD, 0, PAYLOAD.length, head.length + BIG);
    await fh.close();

    const file = await openFileSource(path);
    const src = counting(file);
    try {
      const { value: r, growth } = await peakRssGrowth(() =>
        scanSource(src, 'big-operand.pkl'),
      );
      expect(payloadFound(r.findings)).toBe(true);
      expect(r.findings.some((f) => f.ruleId === 'SCAN_INCOMPLETE')).toBe(
        false,
      );
      expect(r.complete).toBe(true);
      // The 300 MiB operand is skipped by length: a few windows are read.
      expect(src.bytesRead).toBeLessThan(4 * MiB);
      expect(growth).toBeLessThan(100 * MiB);
    } finally {
      await file.close();
    }
  });

  it('a huge raw pickle passed to pickle.loads is scanned in place as a nested payload', async () => {
    // pickle.loads(<20 MiB bytes: PROTO 4, BINBYTES8 of zeros, then os.system>)
    const inner = Buffer.concat([
      bigBytesHead(20 * MiB),
      Buffer.alloc(20 * MiB),
      PAYLOAD,
    ]);
    const outer = Buffer.concat([
      Buffer.from('\x80\x04cpickle\nloads\n', 'latin1'),
      Buffer.from([0x8e]),
      (() => {
        const b = Buffer.alloc(8);
        b.writeBigUInt64LE(BigInt(inner.length));
        return b;
      })(),
      inner,
      Buffer.from('\x85R.', 'latin1'),
    ]);
    const r = await scanSource(bufferSource(outer), 'loads.pkl');
    expectNestedOsSystem(r.findings);
    expect(r.findings.some((f) => f.ruleId === 'SCAN_INCOMPLETE')).toBe(false);
  });

  it('a huge encoded payload that cannot be kept is a high SCAN_INCOMPLETE (pickleRetainedBytes)', async () => {
    // pickle.loads(base64.b64decode(<20 MiB str>)): too large to keep and decode.
    const text = Buffer.alloc(20 * MiB, 0x41);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(text.length));
    const data = Buffer.concat([
      Buffer.from('\x80\x04cpickle\nloads\ncbase64\nb64decode\n', 'latin1'),
      Buffer.from([0x8d]),
      len,
      text,
      Buffer.from('\x85R\x85R.', 'latin1'),
    ]);
    const r = await scanSource(bufferSource(data), 'b64.pkl');
    expectRetainedBytesIncomplete(r);
  });
});

/**
 * Writes a protocol 4 pickle of about `bytes` bytes: a list of 1 KiB
 * `BINBYTES` (each memoised, appended by 1,000), popped, then {@link PAYLOAD}.
 * Returns the number of list items.
 */
async function writeManyOperands(path: string, bytes: number): Promise<number> {
  const item = 1 + 4 + 1024 + 1; // BINBYTES, length, data, MEMOIZE
  const group = Buffer.alloc(1 + 1000 * item + 1, 0x5a);
  group[0] = 0x28; // MARK
  for (let i = 0; i < 1000; i++) {
    const at = 1 + i * item;
    group[at] = 0x42;
    group.writeUInt32LE(1024, at + 1);
    group[at + 5 + 1024] = 0x94;
  }
  group[group.length - 1] = 0x65; // APPENDS
  const fh = await open(path, 'w');
  try {
    await fh.write(Buffer.from([0x80, 0x04, 0x5d, 0x94])); // PROTO 4, EMPTY_LIST, MEMOIZE
    const groups = Math.ceil(bytes / group.length);
    for (let g = 0; g < groups; g++) await fh.write(group);
    await fh.write(Buffer.concat([Buffer.from([0x30]), PAYLOAD])); // POP, then the payload
    return groups * 1000;
  } finally {
    await fh.close();
  }
}

describe('pickle VM streams a large pickle of many operands (issue 11)', () => {
  it('300 MiB of 1 KiB operands: read once through to the payload at its end, RSS bounded', async () => {
    const path = join(dir, 'many-operands.pkl');
    const items = await writeManyOperands(path, BIG);
    const file = await openFileSource(path);
    // Counts both read paths: the VM reads a file through readInto (reused buffers).
    let bytesRead = 0;
    const src: ByteSource = {
      size: file.size,
      read: async (o, n) => {
        const b = await file.read(o, n);
        bytesRead += b.length;
        return b;
      },
      readInto: async (t, o) => {
        const n = await file.readInto!(t, o);
        bytesRead += n;
        return n;
      },
    };
    try {
      const { value: r, growth } = await peakRssGrowth(() =>
        scanSource(src, 'many-operands.pkl'),
      );
      expect(items).toBeGreaterThan(300_000);
      expect(payloadFound(r.findings)).toBe(true);
      expect(atLeastHigh(r)).toEqual(['PICKLE_DANGEROUS_GLOBAL']);
      expect(r.complete).toBe(true);
      // Every byte is read about once: windows overlap by a few KiB only.
      expect(bytesRead).toBeGreaterThan(file.size * 0.99);
      expect(bytesRead).toBeLessThan(file.size * 1.1);
      // Bounded buffers: what grows is the symbolic list (300,000 values), not the data.
      expect(growth).toBeLessThan(100 * MiB);
    } finally {
      await file.close();
      rmSync(path, { force: true });
    }
  }, 30_000);
});

describe('pickle VM reads ahead only while it reads in order', () => {
  it('a list of 200 operands of 1 MiB past the retention budget: the skipped data is not read', async () => {
    const path = join(dir, 'arrays.pkl');
    const fh = await open(path, 'w');
    let pos = 0;
    const put = async (b: Buffer): Promise<void> => {
      await fh.write(b, 0, b.length, pos);
      pos += b.length;
    };
    await put(Buffer.from([0x80, 0x04, 0x5d, 0x28])); // PROTO 4, EMPTY_LIST, MARK
    for (let i = 0; i < 200; i++) {
      const h = Buffer.alloc(5);
      h[0] = 0x42; // BINBYTES
      h.writeUInt32LE(MiB, 1);
      await put(h);
      pos += MiB; // the data stays a hole
    }
    await put(Buffer.from([0x65, 0x2e])); // APPENDS, STOP
    await fh.close();
    const file = await openFileSource(path);
    let bytesRead = 0;
    const src: ByteSource = {
      size: file.size,
      read: async (o, n) => {
        const b = await file.read(o, n);
        bytesRead += b.length;
        return b;
      },
      readInto: async (t, o) => {
        const n = await file.readInto!(t, o);
        bytesRead += n;
        return n;
      },
    };
    try {
      const r = await analysePickleSource(src);
      expect(r.anomalies).toEqual([]);
      const list = r.results[0];
      expect(list?.k === 'list' ? list.items.length : -1).toBe(200);
      // 16 MiB of operands kept (maxRetainedBytes), then a short read at each
      // skipped operand's end: not the 184 MiB skipped.
      expect(bytesRead).toBeLessThan(48 * MiB);
    } finally {
      await file.close();
      rmSync(path, { force: true });
    }
  });
});

describe('pickle VM window buffers are reused, never referenced', () => {
  /** PROTO 4, a list of `n` 1 KiB BINBYTES filled with `(seed + i) % 251`, STOP: several windows long. */
  function listOfFilled(n: number, seed: number): Buffer {
    const parts = [Buffer.from([0x80, 0x04, 0x5d, 0x28])];
    for (let i = 0; i < n; i++) {
      const h = Buffer.alloc(5);
      h[0] = 0x42;
      h.writeUInt32LE(1024, 1);
      parts.push(h, Buffer.alloc(1024, (seed + i) % 251));
    }
    parts.push(Buffer.from([0x65, 0x2e]));
    return Buffer.concat(parts);
  }

  it('kept constants keep their bytes after other analyses reuse the buffers, concurrent or not', async () => {
    const n = 3000; // about 3 MiB: three windows and more
    const files = await Promise.all(
      [1, 2, 3].map(async (seed) => {
        const path = join(dir, `filled-${seed}.pkl`);
        const fh = await open(path, 'w');
        await fh.write(listOfFilled(n, seed));
        await fh.close();
        return { seed, source: await openFileSource(path) };
      }),
    );
    try {
      const [a, b] = await Promise.all(
        files.slice(0, 2).map((f) => analysePickleSource(f.source)),
      );
      // Runs after the first two gave their buffers back: it reuses one of them.
      const c = await analysePickleSource(files[2]!.source);
      for (const [i, r] of [a!, b!, c].entries()) {
        const seed = files[i]!.seed;
        const list = r.results[0];
        expect(list?.k).toBe('list');
        const items = list?.k === 'list' ? list.items : [];
        expect(items).toHaveLength(n);
        for (const [j, v] of items.entries()) {
          if (v.k !== 'bytes' || v.v === undefined)
            throw new Error(`item ${j} of pickle ${seed} not kept`);
          expect(v.v.equals(Buffer.alloc(1024, (seed + j) % 251))).toBe(true);
        }
      }
    } finally {
      for (const f of files) await f.source.close();
    }
  });
});

describe('protocol 0 pickle with lines longer than the detection head', () => {
  it('is still recognised and its payload found', async () => {
    const line = `V${'A'.repeat(100 * 1024)}\na`;
    const data = Buffer.from(
      `(l${line.repeat(3)}0${PAYLOAD.toString('latin1')}`,
      'latin1',
    );
    const r = await scanSource(bufferSource(data), 'long-lines.bin');
    expect(r.formats).toContain('pickle');
    expect(payloadFound(r.findings)).toBe(true);
  });

  it('a text file of long lines is not taken for a pickle', async () => {
    const text = Buffer.from(
      `Very ${'long '.repeat(2000)}\nand more text\n`,
      'latin1',
    );
    const r = await scanSource(bufferSource(text), 'notes.txt');
    expect(r.formats).toEqual([]);
    expect(r.findings).toEqual([]);
  });
});

describe('PyTorch zip with a data.pkl over maxMemberBytes', () => {
  for (const deflate of [false, true]) {
    it(`a 300 MiB ${deflate ? 'deflated' : 'stored'} data.pkl is scanned to its end`, async () => {
      const path = join(dir, `big-${deflate ? 'deflated' : 'stored'}.pt`);
      await writeBigZip(path, {
        name: 'archive/data.pkl',
        head: bigBytesHead(BIG),
        zeros: BIG,
        tail: PAYLOAD,
        deflate,
      });
      const { value: r, growth } = await peakRssGrowth(() =>
        scanFile(path, { root: dir }),
      );
      expect(r.formats).toContain('pytorch-zip');
      expect(payloadFound(r.findings)).toBe(true);
      const payload = r.findings.find(
        (f) => f.ruleId === 'PICKLE_DANGEROUS_GLOBAL',
      );
      expect(payload?.member).toEqual(['archive/data.pkl']);
      expect(atLeastHigh(r)).toEqual(['PICKLE_DANGEROUS_GLOBAL']);
      expect(r.complete).toBe(true);
      expect(growth).toBeLessThan(100 * MiB);
    }, 20_000);
  }

  it('past maxExpandedBytes the deflated member is a high SCAN_INCOMPLETE', async () => {
    const path = join(dir, 'big-deflated.pt');
    const r = await scanFile(path, {
      root: dir,
      limits: { maxExpandedBytes: 64 * MiB },
    });
    expect(
      r.findings
        .filter((f) => f.ruleId === 'SCAN_INCOMPLETE')
        .map((f) => [f.severity, f.evidence?.['limit'], f.member]),
    ).toEqual([['high', 'maxExpandedBytes', ['archive/data.pkl']]]);
  });
});
