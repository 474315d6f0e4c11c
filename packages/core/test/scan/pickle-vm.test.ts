// SPDX-License-Identifier: Apache-2.0
// The symbolic pickle VM, opcode by opcode (protocols 0-5), stacked streams,
// window refills and limits.
import { describe, expect, it } from 'vitest';
import {
  analysePickleSource,
  pickleOpcodeName,
  type PickleAnalysis,
  type PickleValue,
} from '../../src/scan/pickle/vm.js';
import { bufferSource } from '../../src/scan/source.js';
import type { ByteSource } from '../../src/scan/types.js';

const b = (...parts: (string | number[] | Buffer)[]): Buffer =>
  Buffer.concat(
    parts.map((p) =>
      typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p),
    ),
  );
const u32 = (n: number): number[] => [
  n & 0xff,
  (n >>> 8) & 0xff,
  (n >>> 16) & 0xff,
  (n >>> 24) & 0xff,
];
const u64 = (n: number): number[] => [...u32(n), 0, 0, 0, 0];
const run = (buf: Buffer, opts = {}): Promise<PickleAnalysis> =>
  analysePickleSource(bufferSource(buf), opts);
const rules = (a: PickleAnalysis): string[] => a.anomalies.map((x) => x.ruleId);

function plain(v: PickleValue | undefined): unknown {
  if (v === undefined) return undefined;
  switch (v.k) {
    case 'none':
      return null;
    case 'bool':
    case 'float':
      return v.v;
    case 'int':
      return Number(v.v);
    case 'str':
      return v.v;
    case 'bytes':
      return v.v?.toString('latin1');
    case 'tuple':
      return { tuple: v.items.map(plain) };
    case 'list':
      return v.items.map(plain);
    case 'set':
      return { [v.frozen ? 'frozenset' : 'set']: v.items.map(plain) };
    case 'dict':
      return Object.fromEntries(
        v.entries.map(([k, x]) => [String(plain(k)), plain(x)]),
      );
    case 'global':
      return `${v.module}.${v.name}`;
    case 'call':
      return { call: plain(v.fn), args: plain(v.args), kind: v.kind };
    case 'pid':
      return { pid: plain(v.id) };
    case 'buffer':
    case 'ext':
    case 'unknown':
      return v.k;
  }
}

describe('pickle VM', () => {
  it('knows every opcode byte of pickletools (protocols 0-5)', () => {
    // sorted(set(o.code[0] for o in pickletools.opcodes)), CPython 3.11
    const codes = '()*.012FGIJKLMNPQRSTUVXabcdeghijlopqrstu}]'.replace('*', '');
    for (const c of codes)
      expect(pickleOpcodeName(c.charCodeAt(0)), c).toBeDefined();
    for (let i = 0x80; i <= 0x98; i++)
      expect(pickleOpcodeName(i)).toBeDefined();
    for (const c of 'BC')
      expect(pickleOpcodeName(c.charCodeAt(0))).toBeDefined();
    expect(pickleOpcodeName(0x99)).toBeUndefined();
    expect(pickleOpcodeName(0x00)).toBeUndefined();
  });

  it('decodes protocol 0 text forms', async () => {
    const a = await run(
      b(
        "(dp0\nS'a'\np1\nI42\nsS'b'\nL12345678901234567890L\nsS'c'\nF1.5\nsS'd'\nVcaf\\u00e9\nsS'e'\nI01\nsS'f'\nS'x\\ny\\'z'\nsS'g'\ng1\nsS'h'\n(lp2\nI1\naI2\nas.",
      ),
    );
    expect(a.anomalies).toEqual([]);
    expect(plain(a.results[0])).toEqual({
      a: 42,
      b: Number(12345678901234567890n),
      c: 1.5,
      d: 'café',
      e: true,
      f: "x\ny'z",
      g: 'a',
      h: [1, 2],
    });
  });

  it('decodes protocol 2 binary forms', async () => {
    const a = await run(
      b(
        [0x80, 2],
        '}q\x00(X\x01\x00\x00\x00aJ\xff\xff\xff\xffX\x01\x00\x00\x00bK\x07X\x01\x00\x00\x00cM\x00\x01X\x01\x00\x00\x00d\x8a\x02\x00\x80X\x01\x00\x00\x00e\x88X\x01\x00\x00\x00f\x89X\x01\x00\x00\x00gNX\x01\x00\x00\x00hG?\xf8\x00\x00\x00\x00\x00\x00X\x01\x00\x00\x00iK\x01K\x02\x86X\x01\x00\x00\x00jK\x01\x85X\x01\x00\x00\x00kK\x01K\x02K\x03\x87X\x01\x00\x00\x00l)X\x01\x00\x00\x00mT\x02\x00\x00\x00hiu.',
      ),
    );
    expect(a.anomalies).toEqual([]);
    expect(plain(a.results[0])).toEqual({
      a: -1,
      b: 7,
      c: 256,
      d: -32768,
      e: true,
      f: false,
      g: null,
      h: 1.5,
      i: { tuple: [1, 2] },
      j: { tuple: [1] },
      k: { tuple: [1, 2, 3] },
      l: { tuple: [] },
      m: 'hi',
    });
  });

  it('decodes protocol 3-5 forms: bytes, sets, frames, memoize, bytearray', async () => {
    const body = b(
      '\x8c\x01a\x94C\x03abc\x94\x8c\x01b\x94B\x02\x00\x00\x00xy\x8c\x01c\x8e',
      u64(1),
      'z\x8c\x01d\x8f(K\x01K\x02\x90\x8c\x01e(K\x03\x91\x8c\x01f\x96',
      u64(2),
      'qq\x98\x8c\x01g\x8d',
      u64(2),
      'hi\x8c\x01hh\x00u.',
    );
    const buf = b([0x80, 5, 0x95], u64(body.length + 2), '}(', body);
    const a = await run(buf);
    expect(a.anomalies).toEqual([]);
    expect(a.protocol).toBe(5);
    expect(plain(a.results[0])).toEqual({
      a: 'abc',
      b: 'xy',
      c: 'z',
      d: { set: [1, 2] },
      e: { frozenset: [3] },
      f: 'qq',
      g: 'hi',
      h: 'a',
    });
  });

  it('records imports, calls of every kind, builds and persistent ids', async () => {
    const a = await run(
      b(
        [0x80, 4],
        '\x8c\x03mod\x8c\x01F\x93)R0', // REDUCE
        '(\x8c\x01x\x8c\x03mod\x8c\x01G\x93o0', // OBJ (class after MARK... class first)
        '(X\x01\x00\x00\x00yimod\nH\n0', // INST
        '\x8c\x03mod\x8c\x01I\x93)\x81}b0', // NEWOBJ + BUILD
        '\x8c\x03mod\x8c\x01J\x93)}\x92', // NEWOBJ_EX
        '0\x8c\x02id\x85Q0Pabc\n.',
      ),
    );
    expect(rules(a)).toEqual([]);
    expect(a.imports.map((i) => `${i.module}.${i.name}:${i.opcode}`)).toEqual([
      'mod.F:STACK_GLOBAL',
      'mod.G:STACK_GLOBAL',
      'mod.H:INST',
      'mod.I:STACK_GLOBAL',
      'mod.J:STACK_GLOBAL',
    ]);
    expect(a.calls.map((c) => c.value.kind)).toEqual([
      'REDUCE',
      'OBJ',
      'INST',
      'NEWOBJ',
      'NEWOBJ_EX',
    ]);
    expect(a.builds).toHaveLength(1);
    expect(a.persistentIds.map((p) => plain(p.value.id))).toEqual([
      { tuple: ['id'] },
      'abc',
    ]);
  });

  it('uses the real stack top for PUT and MEMOIZE (no memo desync)', async () => {
    // 'os' pushed, decoy pushed and popped, MEMOIZE stores 'os'.
    const a = await run(
      b(
        [0x80, 4],
        '\x8c\x02os\x8c\x05decoy0\x94\x8c\x06system\x94h\x00h\x01\x93.',
      ),
    );
    expect(a.imports.map((i) => `${i.module}.${i.name}`)).toEqual([
      'os.system',
    ]);
  });

  it('runs every stacked stream and resynchronises over junk', async () => {
    const one = b([0x80, 2], 'K\x01.');
    const a = await run(b(one, one, 'garbage!!', one, 'I5\n.'));
    expect(a.results.map(plain)).toEqual([1, 1, 1, 5]);
    expect(rules(a)).toContain('PICKLE_TRAILING_DATA');
  });

  it('stops after streamLimit streams without reading further', async () => {
    const one = b([0x80, 2], 'K\x01.');
    const a = await run(b(one, one, one), { streamLimit: 2 });
    expect(a.results).toHaveLength(2);
    expect(a.end).toBe(one.length * 2);
  });

  it('reports malformed input as anomalies, never throws', async () => {
    expect(rules(await run(b([0x80, 2], '0.')))).toContain('PICKLE_MALFORMED'); // pop on empty stack
    expect(rules(await run(b([0x80, 2], 't.')))).toContain('PICKLE_MALFORMED'); // no mark
    expect(rules(await run(b([0x80, 9], 'N.')))).toContain('PICKLE_MALFORMED'); // bad protocol
    expect(rules(await run(b([0x80, 2], 'X\xff\xff\xff\x00ab')))).toContain(
      'PICKLE_TRUNCATED',
    );
    expect(rules(await run(b([0x80, 2], 'h\x05.')))).toContain(
      'PICKLE_MEMO_MISSING',
    );
    expect(rules(await run(b([0x80, 4], 'K\x01K\x02\x93.')))).toContain(
      'PICKLE_MALFORMED',
    ); // non-str STACK_GLOBAL
    expect(rules(await run(b([0x80, 2], '(K\x01K\x02K\x03d.')))).toContain(
      'PICKLE_MALFORMED',
    ); // odd DICT
    expect(rules(await run(b("S'unterminated\n.")))).toContain(
      'PICKLE_MALFORMED',
    );
    expect(rules(await run(b('Inot-a-number\n.')))).toContain(
      'PICKLE_MALFORMED',
    );
  });

  it('flags frames that opcodes straddle and frames past the data', async () => {
    const straddle = await run(b([0x80, 4, 0x95], u64(2), '\x8c\x05hello.'));
    expect(rules(straddle)).toContain('PICKLE_FRAME_VIOLATION');
    const past = await run(b([0x80, 4, 0x95], u64(1000), 'N.'));
    expect(rules(past)).toContain('PICKLE_FRAME_VIOLATION');
    const nested = await run(b([0x80, 4, 0x95], u64(12), '\x95', u64(1), 'N.'));
    expect(rules(nested)).toContain('PICKLE_FRAME_VIOLATION');
  });

  it('flags PROTO after the first opcode and extension codes', async () => {
    expect(rules(await run(b([0x80, 2], 'N0\x80\x02N.')))).toContain(
      'PICKLE_PROTO_MISPLACED',
    );
    expect(
      rules(
        await run(
          b([0x80, 2], '\x82\x01\x83\x01\x00\x84\x01\x00\x00\x00\x87.'),
        ),
      ),
    ).toEqual([
      'PICKLE_EXTENSION_CODE',
      'PICKLE_EXTENSION_CODE',
      'PICKLE_EXTENSION_CODE',
    ]);
  });

  it('enforces the opcode, stack and memo limits as high SCAN_INCOMPLETE naming the limit', async () => {
    const limitOf = (a: PickleAnalysis): unknown[] =>
      a.anomalies
        .filter((x) => x.ruleId === 'SCAN_INCOMPLETE')
        .map((x) => [x.severity, x.evidence?.['limit'], x.evidence?.['value']]);
    const many = b([0x80, 2], 'N0'.repeat(1000), 'N.');
    expect(limitOf(await run(many, { limits: { maxOpcodes: 100 } }))).toEqual([
      ['high', 'maxPickleOpcodes', 100],
    ]);
    const deep = b([0x80, 2], '('.repeat(200), 'N.');
    expect(limitOf(await run(deep, { limits: { maxStack: 50 } }))).toEqual([
      ['high', 'maxPickleStack', 50],
    ]);
    const memo = b([0x80, 4], 'N', '\x94'.repeat(100), '.');
    expect(limitOf(await run(memo, { limits: { maxMemo: 10 } }))).toEqual([
      ['high', 'maxPickleMemo', 10],
    ]);
    // Exactly at the limits: complete, no anomaly.
    expect(limitOf(await run(many, { limits: { maxOpcodes: 2003 } }))).toEqual(
      [],
    );
  });

  it('refills its window across large operands and reads only what it needs', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024, 0x41);
    const stream = b(
      [0x80, 4],
      '\x8e',
      u64(big.length),
      big,
      '\x8c\x03mod\x8c\x04name\x93.',
    );
    const a = await run(stream);
    expect(a.anomalies).toEqual([]);
    expect(a.imports.map((i) => i.name)).toEqual(['name']);
    expect(
      a.constants[0]?.value.k === 'bytes' && a.constants[0].value.length,
    ).toBe(big.length);
  });

  it('skips raw bytes a build hook declares without reading them', async () => {
    let read = 0;
    const head = b([0x80, 2], '\x8c\x01m\x8c\x01W\x93)\x81}b');
    const tail = b('N.');
    const gap = 50 * 1024 * 1024;
    const source: ByteSource = {
      size: head.length + gap + tail.length,
      read(offset: number, length: number): Promise<Buffer> {
        read += length;
        const out = Buffer.alloc(
          Math.max(
            0,
            Math.min(length, head.length + gap + tail.length - offset),
          ),
        );
        for (let i = 0; i < out.length; i++) {
          const o = offset + i;
          out[i] =
            o < head.length
              ? head[o]!
              : o >= head.length + gap
                ? tail[o - head.length - gap]!
                : 0xee;
        }
        return Promise.resolve(out);
      },
    };
    const a = await analysePickleSource(source, {
      onBuild: () => ({ skip: gap }),
    });
    expect(a.anomalies).toEqual([]);
    expect(a.results).toHaveLength(1);
    expect(read).toBeLessThan(3 * 1024 * 1024);
  });
});

describe('pickle VM mark boundaries', () => {
  it('cannot pop below the innermost mark, as in CPython', async () => {
    const r = (s: string): Promise<string[]> =>
      analysePickleSource(bufferSource(Buffer.from(s, 'latin1'))).then((a) =>
        a.anomalies.map((x) => x.ruleId),
      );
    expect(await r('\x80\x02]N(a.')).toEqual(['PICKLE_MALFORMED']); // APPEND right after MARK
    expect(await r('\x80\x02N(R.')).toEqual(['PICKLE_MALFORMED']);
    expect(await r('\x80\x02N(0N.')).toEqual([]); // POP right after MARK pops the mark
  });
});
