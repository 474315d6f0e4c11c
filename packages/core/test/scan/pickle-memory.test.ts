// SPDX-License-Identifier: Apache-2.0
// Issue 11 item 4: the pickle VM keeps the memo and large containers packed.
// Values read back from them equal the values pushed (every kind, across
// chunk boundaries), values with an identity stay the same objects, a pickle
// of a million memoised str -> int entries retains a bounded heap, and a
// dangerous global reached through a memo of a million entries is still
// found. Fixtures are built at run time in os.tmpdir().
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, describe, expect, it } from 'vitest';
import { scanFile } from '../../src/scan/engine.js';
import {
  analysePickleSource,
  type PickleValue,
} from '../../src/scan/pickle/vm.js';
import { bufferSource, openFileSource } from '../../src/scan/source.js';
import { u8, u32, i32, f64be as f64 } from '../helpers/bytes.js';

const MiB = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'modelseal-pickle-memory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** BINUNICODE. */
const str = (s: string): Buffer => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([u8(0x58), u32(b.length), b]);
};
/** BININT1 / BININT2 / BININT. */
const int = (v: number): Buffer =>
  v >= 0 && v < 256
    ? u8(0x4b, v)
    : v >= 0 && v < 65536
      ? Buffer.concat([u8(0x4d), Buffer.from([v & 0xff, v >> 8])])
      : Buffer.concat([u8(0x4a), i32(v)]);
/** LONG1 of a bigint (two's complement, little endian). */
const long1 = (v: bigint): Buffer => {
  const bytes: number[] = [];
  let x = v;
  for (;;) {
    bytes.push(Number(x & 0xffn));
    x >>= 8n;
    const last = bytes[bytes.length - 1]!;
    if ((x === 0n && (last & 0x80) === 0) || (x === -1n && (last & 0x80) !== 0))
      break;
  }
  return Buffer.concat([u8(0x8a, bytes.length), Buffer.from(bytes)]);
};
/** LONG_BINPUT / LONG_BINGET. */
const put = (i: number): Buffer => Buffer.concat([u8(0x72), u32(i)]);
const get = (i: number): Buffer => Buffer.concat([u8(0x6a), u32(i)]);

/** A plain JS picture of a value (what the assertions compare). */
function plain(v: PickleValue | undefined): unknown {
  if (v === undefined) return 'undefined';
  switch (v.k) {
    case 'none':
      return null;
    case 'bool':
      return v.v;
    case 'float':
      return Object.is(v.v, -0) ? '-0' : Number.isNaN(v.v) ? 'NaN' : v.v;
    case 'int':
      return `${v.v}n`;
    case 'str':
      return { str: v.v, at: v.offset };
    case 'bytes':
      return v.v === undefined
        ? { unkept: v.length, at: v.offset, data: v.dataOffset }
        : { bytes: v.v.toString('hex'), at: v.offset };
    case 'tuple':
      return { tuple: v.items.map(plain) };
    case 'list':
      return v.items.map(plain);
    case 'set':
      return { [v.frozen ? 'frozenset' : 'set']: v.items.map(plain) };
    case 'dict':
      return { dict: v.entries.map(([k, x]) => [plain(k), plain(x)]) };
    case 'global':
      return `${v.module}.${v.name}`;
    case 'call':
      return { call: plain(v.fn), args: plain(v.args) };
    case 'pid':
      return { pid: plain(v.id) };
    case 'ext':
    case 'buffer':
    case 'unknown':
      return v.k;
  }
}

/**
 * Builds a pickle op by op and, beside it, the plain picture of each value
 * pushed (what reading it back must give).
 */
class Builder {
  private readonly parts: Buffer[] = [];
  size = 0;
  op(...bufs: Buffer[]): number {
    const at = this.size;
    for (const b of bufs) {
      this.parts.push(b);
      this.size += b.length;
    }
    return at;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

describe('pickle VM packed memo and containers', () => {
  it('every kind of value reads back equal from a large list, set, tuple, dict and the memo', async () => {
    const p = new Builder();
    // The retention budget (maxRetainedBytes), followed as the VM does: kept
    // bytes and strings over 4 KiB are charged; past it they are not kept.
    const budget = 1 * MiB;
    let used = 0;
    const charge = (n: number): boolean =>
      used + n <= budget ? ((used += n), true) : false;
    p.op(u8(0x80, 0x04, 0x28)); // PROTO 4, MARK (the top tuple)
    /** One value of each kind: writes its opcode(s), returns its picture. */
    const kinds: (() => unknown)[] = [
      () => (p.op(u8(0x4e)), null),
      () => (p.op(u8(0x88)), true),
      () => (p.op(u8(0x89)), false),
      ...[0, 1, 255, 256, 65535, 65536, 7_000_000, -1, -257, -(2 ** 31)].map(
        (n) => () => (p.op(int(n)), `${n}n`),
      ),
      ...[
        2n ** 50n - 1n,
        -(2n ** 50n) + 1n,
        2n ** 50n,
        -(2n ** 50n),
        2n ** 63n,
        -(2n ** 70n),
      ].map((n) => () => (p.op(long1(n)), `${n}n`)),
      ...[1.5, -0, Number.NaN, Number.POSITIVE_INFINITY, 1e-310].map(
        (x) => () => (
          p.op(u8(0x47), f64(x)),
          Object.is(x, -0) ? '-0' : Number.isNaN(x) ? 'NaN' : x
        ),
      ),
      ...[
        '',
        'a',
        'k00000001',
        'café',
        'Ωmega',
        '😀 emoji',
        'x'.repeat(4000),
      ].map((s) => () => ({ str: s, at: p.op(str(s)) })),
      // A lone surrogate (raw-unicode-escape, protocol 0 UNICODE): not UTF-8.
      () => ({
        str: '\ud800!',
        at: p.op(Buffer.from('V\\ud800!\n', 'latin1')),
      }),
      // Longer than an arena record: kept as a value of its own, while the
      // budget lasts; then a str of unknown content.
      () => {
        const at = p.op(str('y'.repeat(70_000)));
        return charge(70_000) ? { str: 'y'.repeat(70_000), at } : 'unknown';
      },
      // Bytes kept, then past the budget not kept (a record of the arena).
      () => {
        const at = p.op(u8(0x43, 6), Buffer.from('abcdef'));
        return charge(6)
          ? { bytes: '616263646566', at }
          : { unkept: 6, at, data: at + 2 };
      },
      () => {
        const at = p.op(u8(0x42), u32(300), Buffer.alloc(300, 7));
        return charge(300)
          ? { bytes: '07'.repeat(300), at }
          : { unkept: 300, at, data: at + 5 };
      },
      () => (p.op(str('os'), str('getcwd'), u8(0x93)), 'os.getcwd'),
      () => (p.op(u8(0x29)), { tuple: [] }),
      () => (p.op(int(3), int(4), u8(0x86)), { tuple: ['3n', '4n'] }),
      () => (p.op(u8(0x5d)), []),
      () => {
        const at = p.op(u8(0x7d));
        p.op(str('a'), int(1), u8(0x73));
        return { dict: [[{ str: 'a', at: at + 1 }, '1n']] };
      },
    ];
    const N = 6000; // past the largest chunk of a packed sequence
    const expected: unknown[] = [];
    let memo = 0;
    const memoised: { idx: number; picture: unknown }[] = [];
    p.op(u8(0x5d), put(memo++), u8(0x28)); // EMPTY_LIST, PUT 0, MARK
    for (let i = 0; i < N; i++) {
      const picture = kinds[(i * 7) % kinds.length]!();
      expected.push(picture);
      if (i % 3 === 0) {
        p.op(put(memo));
        memoised.push({ idx: memo++, picture });
      }
      if (i % 500 === 499) p.op(u8(0x65, 0x28)); // APPENDS, MARK
    }
    p.op(u8(0x65)); // APPENDS
    // Every memoised value read back, in a LIST, a TUPLE, a FROZENSET, a set
    // (ADDITEMS), a dict (SETITEMS) and a DICT.
    const memoPictures = memoised.map((m) => m.picture);
    const gets = (): void => {
      for (const m of memoised) p.op(get(m.idx));
    };
    for (const close of [[0x6c], [0x74], [0x91]]) {
      p.op(u8(0x28));
      gets();
      p.op(u8(...close));
    }
    p.op(u8(0x8f, 0x28));
    gets();
    p.op(u8(0x90));
    p.op(u8(0x7d, 0x28));
    for (const [j, m] of memoised.entries()) p.op(int(j), get(m.idx));
    p.op(u8(0x75));
    p.op(u8(0x28));
    for (const [j, m] of memoised.entries()) p.op(int(j), get(m.idx));
    p.op(u8(0x64));
    // A short str read twice from the memo: one object, not a copy per GET.
    const key = memoised.find(
      (m) => (m.picture as { str?: string } | null)?.str === 'k00000001',
    )!;
    p.op(get(key.idx), get(key.idx), u8(0x86));
    p.op(u8(0x74, 0x2e)); // TUPLE, STOP
    expect(used).toBeGreaterThan(budget - 70_000); // the budget ran out
    const a = await analysePickleSource(bufferSource(p.bytes()), {
      limits: { maxRetainedBytes: budget },
    });
    expect(a.anomalies).toEqual([]);
    const top = a.results[0];
    const [list, l, t, fs, s, d1, d2, twice] =
      top?.k === 'tuple' ? top.items : [];
    const [k1, k2] = twice?.k === 'tuple' ? twice.items : [];
    expect(plain(k1)).toEqual(key.picture);
    expect(k2).toBe(k1);
    expect(plain(list)).toEqual(expected);
    expect(plain(l)).toEqual(memoPictures);
    expect(plain(t)).toEqual({ tuple: memoPictures });
    expect(plain(fs)).toEqual({ frozenset: memoPictures });
    expect(plain(s)).toEqual({ set: memoPictures });
    const dict = { dict: memoPictures.map((x, j) => [`${j}n`, x]) };
    expect(plain(d1)).toEqual(dict);
    expect(plain(d2)).toEqual(dict);
    // Values with an identity are the objects the VM made, wherever they are
    // read from: the memo, a packed list, tuple or set; so are long strings
    // (a memo GET of one is not a copy).
    const identities = (v: PickleValue | undefined): PickleValue[] =>
      v?.k === 'list' || v?.k === 'tuple' || v?.k === 'set'
        ? v.items.filter(
            (x) =>
              x.k === 'global' ||
              x.k === 'list' ||
              x.k === 'dict' ||
              (x.k === 'str' && x.v.length > 1000),
          )
        : [];
    const fromList = identities(l);
    expect(fromList.length).toBeGreaterThan(100);
    for (const other of [list, t, s]) {
      const xs = identities(other);
      if (other === list) {
        // The memoised ones are every third of the first list's.
        const memoisedOnes = xs.filter((x) => fromList.includes(x));
        expect(memoisedOnes).toHaveLength(fromList.length);
      } else for (const [j, x] of xs.entries()) expect(x).toBe(fromList[j]);
    }
  });
});

/**
 * The bench's `small` case: protocol 2, `{'d': {'k%08d': 7 i}, 'l': [i %
 * 100000]}` with a million keys (each memoised) and 1.5 million ints.
 */
function smallCase(): Buffer {
  const parts: Buffer[] = [];
  let memo = 0;
  const bput = (): Buffer => {
    const m = memo++;
    return m < 256 ? u8(0x71, m) : put(m);
  };
  parts.push(u8(0x80, 2, 0x7d), bput(), u8(0x28), str('d'), bput());
  parts.push(u8(0x7d), bput());
  for (let i = 0; i < 1_000_000; i += 1000) {
    parts.push(u8(0x28));
    for (let j = i; j < i + 1000; j++)
      parts.push(str(`k${String(j).padStart(8, '0')}`), bput(), int(j * 7));
    parts.push(u8(0x75));
  }
  parts.push(str('l'), bput(), u8(0x5d), bput());
  for (let i = 0; i < 1_500_000; i += 1000) {
    parts.push(u8(0x28));
    for (let j = i; j < i + 1000; j++) parts.push(int(j % 100_000));
    parts.push(u8(0x65));
  }
  parts.push(u8(0x75, 0x2e));
  return Buffer.concat(parts);
}

/** The garbage collector, exposed in this process. */
function gcFunction(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** Heap and array buffers in use (bytes). */
function retained(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

describe('pickle VM memory on a million memoised entries (issue 11 item 4)', () => {
  it('the small case: complete, clean, retained heap under 64 MiB (about 250 MiB unpacked)', async () => {
    const path = join(dir, 'small.pkl');
    writeFileSync(path, smallCase());
    const gc = gcFunction();
    const file = await openFileSource(path);
    try {
      gc();
      const before = retained();
      const a = await analysePickleSource(file);
      gc();
      const growth = retained() - before;
      expect(a.anomalies).toEqual([]);
      expect(growth).toBeLessThan(64 * MiB);
      // Still exact: the last key and value, the list's length and last item.
      const top = a.results[0];
      const entries = top?.k === 'dict' ? top.entries : [];
      expect(entries.map(([k]) => plain(k))).toEqual([
        { str: 'd', at: 6 },
        { str: 'l', at: expect.any(Number) },
      ]);
      const d = entries[0]?.[1];
      const dEntries = d?.k === 'dict' ? d.entries : [];
      expect(dEntries).toHaveLength(1_000_000);
      const [k, v] = dEntries[999_999]!;
      expect(k?.k === 'str' ? k.v : undefined).toBe('k00999999');
      expect(v?.k === 'int' ? v.v : undefined).toBe(6_999_993n);
      const l = entries[1]?.[1];
      const lItems = l?.k === 'list' ? l.items : [];
      expect(lItems).toHaveLength(1_500_000);
      expect(plain(lItems[1_499_999])).toBe('99999n');
    } finally {
      await file.close();
    }
    const r = await scanFile(path);
    expect(r.complete).toBe(true);
    expect(r.findings).toEqual([]);
  }, 60_000);

  it('os.system reached through a memo of a million entries: critical', async () => {
    const parts: Buffer[] = [u8(0x80, 2)];
    // 'os' and 'system' memoised first, and the global itself.
    parts.push(str('os'), put(0), str('system'), put(1), u8(0x93), put(2));
    parts.push(u8(0x30)); // POP: only the memo holds them
    parts.push(u8(0x7d), put(3));
    let memo = 4;
    for (let i = 0; i < 1_000_000; i += 1000) {
      parts.push(u8(0x28));
      for (let j = i; j < i + 1000; j++)
        parts.push(str(`k${String(j).padStart(8, '0')}`), put(memo++), int(j));
      parts.push(u8(0x75));
    }
    // d['a'] = os.system('id') from the memoised strings; d['b'] = the
    // memoised global called: both after a million memo entries.
    // STACK_GLOBAL, TUPLE1, REDUCE, SETITEM; then STOP.
    parts.push(
      str('a'),
      get(0),
      get(1),
      u8(0x93),
      str('id'),
      u8(0x85, 0x52, 0x73),
    );
    parts.push(str('b'), get(2), str('id'), u8(0x85, 0x52, 0x73), u8(0x2e));
    const path = join(dir, 'memo-global.pkl');
    writeFileSync(path, Buffer.concat(parts));
    const r = await scanFile(path);
    expect(r.complete).toBe(true);
    expect(r.findings.map((f) => f.ruleId)).toEqual([
      'PICKLE_DANGEROUS_GLOBAL',
    ]);
    const critical = r.findings.filter(
      (f) =>
        f.ruleId === 'PICKLE_DANGEROUS_GLOBAL' && f.severity === 'critical',
    );
    expect(critical.map((f) => f.evidence?.['global'])).toEqual(['os.system']);
    expect(critical[0]?.message).toContain('call of');
    // Two import sites (the STACK_GLOBALs), both calls.
    expect(critical[0]?.evidence?.['occurrences']).toBe(2);
  }, 60_000);
});
