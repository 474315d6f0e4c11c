// SPDX-License-Identifier: Apache-2.0
// Scanner fail-opens in ONNX external data and TFLite operator codes:
// - an external data location that climbs with `..` after a symlinked
//   directory (the kernel climbs from the link's target, the scanner's text
//   normalisation from the model directory), `..` that stays inside, and a
//   location too long to keep whole;
// - an OperatorCode whose builtin_code and deprecated_builtin_code disagree
//   (TFLite takes the larger), and a Flex node whose NodeDef runs another op
//   than the one its custom code names.
import {
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  scanBytes,
  scanFile,
  type HarnessResult,
} from './archive/format-harness.js';

const gen = (await import(
  join(REPO_ROOT, 'scripts/fixtures/gen-format-fixtures.mjs')
)) as {
  onnxModel(o: { graph: Buffer }): Buffer;
  onnxGraph(o: { initializers: Buffer[] }): Buffer;
  onnxTensor(o: {
    name?: string;
    dims: number[];
    external: Record<string, string | number>;
  }): Buffer;
};

const onnx = (location: string): Buffer =>
  gen.onnxModel({
    graph: gen.onnxGraph({
      initializers: [gen.onnxTensor({ dims: [4], external: { location } })],
    }),
  });

const pairs = (result: HarnessResult): [string, string][] =>
  result.findings.map((f) => [f.ruleId, f.severity]);

const root = mkdtempSync(join(tmpdir(), 'modelseal-stop29-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * `m/model.onnx` beside a decoy `m/x` (16 bytes, what a 4-float tensor needs),
 * `m/sub/`, and `m/link -> ../outside/sub`, with `outside/x` the secret.
 */
function layout(location: string): string {
  const base = mkdtempSync(join(root, 'case-'));
  const dir = join(base, 'm');
  mkdirSync(join(base, 'outside', 'sub'), { recursive: true });
  writeFileSync(join(base, 'outside', 'x'), Buffer.alloc(16));
  mkdirSync(join(dir, 'sub'), { recursive: true });
  writeFileSync(join(dir, 'x'), Buffer.alloc(16));
  symlinkSync(join('..', 'outside', 'sub'), join(dir, 'link'));
  const path = join(dir, 'model.onnx');
  writeFileSync(path, onnx(location));
  return path;
}

describe('onnx external data: `..` after a symlink, `..` inside, long locations', () => {
  it('flags a location that climbs out through a symlinked directory as critical', async () => {
    const result = await scanFile(layout('link/../x'));
    expect(pairs(result)).toEqual([['ONNX_EXTERNAL_DATA_ESCAPE', 'critical']]);
    expect(result.findings[0]?.evidence?.resolved).toMatch(/outside[\\/]x$/);
  });

  it('flags `..` that stays inside as high, on disk and in an archive', async () => {
    expect(pairs(await scanFile(layout('sub/../x')))).toEqual([
      ['ONNX_EXTERNAL_DATA_ESCAPE', 'high'],
    ]);
    expect(pairs(await scanBytes(onnx('sub/../x')))).toEqual([
      ['ONNX_EXTERNAL_DATA_ESCAPE', 'high'],
    ]);
  });

  it.skipIf(process.platform === 'win32')(
    'resolves the raw name, where `\\` is a name character, as well as the normalised one',
    async () => {
      const path = layout('sub/x');
      const dir = join(path, '..');
      // The normalised path is a plain file inside; the raw one a symlink out.
      writeFileSync(join(dir, 'sub', 'x'), Buffer.alloc(16));
      symlinkSync(join('..', 'outside', 'x'), join(dir, 'evil\\x'));
      mkdirSync(join(dir, 'evil'));
      writeFileSync(join(dir, 'evil', 'x'), Buffer.alloc(16));
      expect(pairs(await scanFile(path))).toEqual([]);
      writeFileSync(join(dir, 'model.onnx'), onnx('evil\\x'));
      expect(pairs(await scanFile(join(dir, 'model.onnx')))).toEqual([
        ['ONNX_EXTERNAL_DATA_ESCAPE', 'critical'],
      ]);
    },
  );

  it('flags a location too long to keep whole as high, not as a missing file', async () => {
    const long = `${'a'.repeat(4096)}/../../../etc/passwd`;
    expect(pairs(await scanFile(layout(long)))).toEqual([
      ['ONNX_EXTERNAL_DATA_ESCAPE', 'high'],
    ]);
    expect(pairs(await scanBytes(onnx(long)))).toEqual([
      ['ONNX_EXTERNAL_DATA_ESCAPE', 'high'],
    ]);
    // A prefix that already escapes stays critical.
    expect(pairs(await scanBytes(onnx(`../${'a'.repeat(5000)}`)))).toEqual([
      ['ONNX_EXTERNAL_DATA_ESCAPE', 'critical'],
    ]);
  });

  it('leaves the controls as they were', async () => {
    expect(pairs(await scanFile(layout('x')))).toEqual([]);
    expect(pairs(await scanFile(layout('./sub/../../x')))).toEqual([
      ['ONNX_EXTERNAL_DATA_ESCAPE', 'critical'],
    ]);
    expect(pairs(await scanFile(layout('link/x')))).toEqual([
      ['ONNX_EXTERNAL_DATA_MISSING', 'low'],
    ]);
    expect(pairs(await scanFile(layout(`${'a'.repeat(4096)}`)))).toEqual([
      ['ONNX_EXTERNAL_DATA_MISSING', 'low'],
    ]);
  });
});

// ---------------------------------------------------------------- TFLite

type Field =
  | { kind: 'u32' | 'i32' | 'i8'; value: number }
  | { kind: 'ref'; value: () => number }
  | undefined;

/** A TFLite flatbuffer with operator codes and one subgraph of operators. */
function tflite({
  opcodes,
  operators = [],
}: {
  opcodes: { builtin?: number; deprecated?: number; custom?: string }[];
  operators?: { opcode: number; options?: Buffer | undefined }[] | undefined;
}): Buffer {
  const out: Buffer[] = [];
  let size = 0;
  const push = (b: Buffer): void => {
    out.push(b);
    size += b.length;
  };
  const pad4 = (): void => {
    if (size % 4) push(Buffer.alloc(4 - (size % 4)));
  };
  const patches: { pos: number; target: number }[] = [];
  const u32 = (n: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n >>> 0);
    return b;
  };
  const table = (fields: Field[]): number => {
    pad4();
    const vt = Buffer.alloc(4 + 2 * fields.length);
    const vtPos = size;
    push(vt);
    pad4();
    const tablePos = size;
    const soff = Buffer.alloc(4);
    soff.writeInt32LE(tablePos - vtPos);
    push(soff);
    vt.writeUInt16LE(vt.length, 0);
    const refs: { pos: number; make: () => number }[] = [];
    fields.forEach((f, i) => {
      if (f === undefined) return;
      vt.writeUInt16LE(size - tablePos, 4 + 2 * i);
      if (f.kind === 'ref') {
        refs.push({ pos: size, make: f.value });
        push(Buffer.alloc(4));
      } else if (f.kind === 'i8') push(Buffer.from([f.value & 0xff, 0, 0, 0]));
      else {
        const b = Buffer.alloc(4);
        if (f.kind === 'i32') b.writeInt32LE(f.value);
        else b.writeUInt32LE(f.value);
        push(b);
      }
    });
    vt.writeUInt16LE(size - tablePos, 2);
    for (const r of refs) patches.push({ pos: r.pos, target: r.make() });
    return tablePos;
  };
  const vector = (items: (() => number)[]) => (): number => {
    pad4();
    const pos = size;
    push(u32(items.length));
    const slots = items.map(() => {
      const p = size;
      push(Buffer.alloc(4));
      return p;
    });
    items.forEach((make, i) =>
      patches.push({ pos: slots[i] as number, target: make() }),
    );
    return pos;
  };
  const bytes = (b: Buffer) => (): number => {
    pad4();
    const pos = size;
    push(u32(b.length));
    push(Buffer.concat([b, Buffer.from([0])]));
    return pos;
  };
  push(Buffer.alloc(4));
  push(Buffer.from('TFL3'));
  const model = table([
    { kind: 'u32', value: 3 },
    {
      kind: 'ref',
      value: vector(
        opcodes.map(
          (o) => () =>
            table([
              o.deprecated === undefined
                ? undefined
                : { kind: 'i8', value: o.deprecated },
              o.custom === undefined
                ? undefined
                : { kind: 'ref', value: bytes(Buffer.from(o.custom)) },
              { kind: 'i32', value: 1 },
              o.builtin === undefined
                ? undefined
                : { kind: 'i32', value: o.builtin },
            ]),
        ),
      ),
    },
    {
      kind: 'ref',
      value: vector([
        () =>
          table([
            undefined,
            undefined,
            undefined,
            {
              kind: 'ref',
              value: vector(
                operators.map(
                  (op) => () =>
                    table([
                      { kind: 'u32', value: op.opcode },
                      undefined,
                      undefined,
                      undefined,
                      undefined,
                      op.options === undefined
                        ? undefined
                        : { kind: 'ref', value: bytes(op.options) },
                    ]),
                ),
              ),
            },
          ]),
      ]),
    },
  ]);
  const buf = Buffer.concat(out);
  buf.writeUInt32LE(model, 0);
  for (const p of patches) buf.writeUInt32LE(p.target - p.pos, p.pos);
  return buf;
}

/** A flexbuffer vector of strings, 1-byte widths (how the converter writes Flex options). */
function flexStrings(strings: Buffer[]): Buffer {
  const b: number[] = [];
  const starts = strings.map((s) => {
    b.push(s.length);
    const start = b.length;
    b.push(...s, 0);
    return start;
  });
  b.push(strings.length);
  const vec = b.length;
  starts.forEach((start, i) => b.push(vec + i - start));
  for (const _ of strings) b.push(5 << 2); // FBT_STRING, 8-bit
  const rootAt = b.length;
  b.push(rootAt - vec, 10 << 2, 1); // FBT_VECTOR, 8-bit; root width 1
  return Buffer.from(b);
}

/** Serialised NodeDef { name = 1, op = 2 }. */
const nodeDef = (name: string, op: string): Buffer =>
  Buffer.concat([
    Buffer.from([0x0a, name.length]),
    Buffer.from(name),
    Buffer.from([0x12, op.length]),
    Buffer.from(op),
  ]);

const flexOptions = (op: string): Buffer =>
  flexStrings([Buffer.from(op), nodeDef('n', op)]);

describe('tflite operator codes: the larger code wins, Flex runs the NodeDef op', () => {
  it('flags builtin 5 / deprecated 32 (CUSTOM) FlexWriteFile as critical', async () => {
    const result = await scanBytes(
      tflite({
        opcodes: [{ builtin: 5, deprecated: 32, custom: 'FlexWriteFile' }],
      }),
    );
    expect(pairs(result)).toEqual([['TFLITE_FLEX_OP', 'critical']]);
  });

  it('flags a Flex code whose node runs WriteFile under another name as critical', async () => {
    const result = await scanBytes(
      tflite({
        opcodes: [{ builtin: 32, deprecated: 32, custom: 'FlexIdentity' }],
        operators: [
          { opcode: 0, options: flexOptions('Identity') },
          {
            opcode: 0,
            options: flexStrings([
              Buffer.from('Identity'),
              nodeDef('n', 'WriteFile'),
            ]),
          },
        ],
      }),
    );
    expect(pairs(result)).toEqual([['TFLITE_FLEX_OP', 'critical']]);
    expect(result.findings[0]?.message).toContain('WriteFile');
  });

  it('flags a Flex node whose NodeDef cannot be read as high', async () => {
    for (const options of [
      undefined,
      Buffer.from([1, 2, 3]),
      flexStrings([Buffer.from('Identity')]),
      flexStrings([Buffer.from('Identity'), Buffer.from([0x12, 0x40])]),
    ]) {
      const result = await scanBytes(
        tflite({
          opcodes: [{ builtin: 32, deprecated: 32, custom: 'FlexIdentity' }],
          operators: [{ opcode: 0, options }],
        }),
      );
      expect(pairs(result)).toEqual([['TFLITE_FLEX_OP', 'high']]);
    }
  });

  it('leaves the controls as they were', async () => {
    const scan = async (
      opcodes: { builtin?: number; deprecated?: number; custom?: string }[],
      operators?: { opcode: number; options?: Buffer | undefined }[],
    ): Promise<[string, string][]> =>
      pairs(await scanBytes(tflite({ opcodes, operators })));
    expect(
      await scan([{ builtin: 32, deprecated: 32, custom: 'FlexWriteFile' }]),
    ).toEqual([['TFLITE_FLEX_OP', 'critical']]);
    expect(await scan([{ deprecated: 32, custom: 'FlexWriteFile' }])).toEqual([
      ['TFLITE_FLEX_OP', 'critical'],
    ]);
    // builtin_code past 127 (deprecated holds the placeholder): not CUSTOM.
    expect(
      await scan([{ builtin: 150, deprecated: 127, custom: 'FlexWriteFile' }]),
    ).toEqual([]);
    expect(await scan([{ builtin: 5, deprecated: 5 }])).toEqual([]);
    expect(
      await scan(
        [{ builtin: 32, deprecated: 32, custom: 'FlexIdentity' }],
        [{ opcode: 0, options: flexOptions('Identity') }],
      ),
    ).toEqual([['TFLITE_FLEX_OP', 'medium']]);
    expect(
      await scan(
        [
          { builtin: 3, deprecated: 3 },
          { builtin: 32, deprecated: 32, custom: 'MyOp' },
        ],
        [{ opcode: 0 }, { opcode: 1 }],
      ),
    ).toEqual([['TFLITE_CUSTOM_OP', 'info']]);
  });
});
