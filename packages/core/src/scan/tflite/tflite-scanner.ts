// SPDX-License-Identifier: Apache-2.0
/**
 * TFLite (flatbuffer, identifier `TFL3`): header sanity, bounds of every table
 * and vector followed, buffer ranges, and custom operators (informational;
 * `Flex*` ops are TensorFlow ops and are classified like SavedModel ops).
 */
import type { ByteSource, FormatScanner, ScanContext } from '../types.js';
import { readWholeSource } from '../read-whole-source.js';
import { classifyTensorFlowOp } from '../savedmodel/savedmodel-scanner.js';

const BUILTIN_CUSTOM = 32;
const MAX_OPERATOR_CODES = 100_000;
const MAX_BUFFERS = 10_000_000;

class Bad extends Error {}

/** Bounds-checked flatbuffer accessors over the whole file. */
class FlatView {
  constructor(private readonly buf: Buffer) {}
  check(at: number, n: number): void {
    if (at < 0 || at + n > this.buf.length)
      throw new Bad(`offset ${at} + ${n} outside the file`);
  }
  u32(at: number): number {
    this.check(at, 4);
    return this.buf.readUInt32LE(at);
  }
  /** Position of field `index` of the table at `table`, or undefined when absent. */
  field(table: number, index: number): number | undefined {
    this.check(table, 4);
    const vtable = table - this.buf.readInt32LE(table);
    this.check(vtable, 4);
    const vtSize = this.buf.readUInt16LE(vtable);
    if (vtSize < 4 || vtSize % 2 !== 0)
      throw new Bad(`bad vtable at ${vtable}`);
    this.check(vtable, vtSize);
    if (4 + 2 * index + 2 > vtSize) return undefined;
    const rel = this.buf.readUInt16LE(vtable + 4 + 2 * index);
    return rel === 0 ? undefined : table + rel;
  }
  /** Follows an offset field to a table, vector or string. */
  deref(at: number): number {
    return at + this.u32(at);
  }
  /** A vector: its length (checked against the file, `elementSize` bytes each) and first element. */
  vector(
    at: number,
    elementSize: number,
    max: number,
  ): { length: number; start: number } {
    const pos = this.deref(at);
    const length = this.u32(pos);
    if (length > max) throw new Bad(`vector of ${length} elements`);
    this.check(pos + 4, length * elementSize);
    return { length, start: pos + 4 };
  }
  /** The tables of a vector of tables, with their indexes, each dereferenced when reached. */
  *tables(at: number, max: number): Generator<[number, number]> {
    const { length, start } = this.vector(at, 4, max);
    for (let i = 0; i < length; i++) yield [i, this.deref(start + 4 * i)];
  }
  string(at: number): string {
    const { length, start } = this.vector(at, 1, 1 << 20);
    return this.buf.toString('utf8', start, start + Math.min(length, 512));
  }
  int(at: number, bytes: 1 | 4): number {
    this.check(at, bytes);
    return bytes === 1 ? this.buf.readInt8(at) : this.buf.readInt32LE(at);
  }
  u64(at: number): bigint {
    this.check(at, 8);
    return this.buf.readBigUInt64LE(at);
  }
}

function detectTflite(head: Buffer): boolean {
  return head.length >= 8 && head.toString('latin1', 4, 8) === 'TFL3';
}

async function scanTflite(source: ByteSource, ctx: ScanContext): Promise<void> {
  ctx.recognise('tflite');
  const buf = await readWholeSource(source, ctx, {
    limit: ctx.limits.maxMemberBytes,
    limitName: 'maxMemberBytes',
    message: 'tflite file larger than the in-memory scan limit',
  });
  if (buf === undefined) return;
  const view = new FlatView(buf);
  const customs = new Map<string, number>();
  try {
    const model = view.deref(0);
    const versionAt = view.field(model, 0);
    const version = versionAt === undefined ? 0 : view.u32(versionAt);
    if (version !== 3) {
      ctx.report({
        ruleId: 'TFLITE_MALFORMED',
        severity: 'high',
        offset: versionAt ?? 0,
        message: `schema version ${version}, expected 3`,
        evidence: { version },
      });
    }
    const codesAt = view.field(model, 1);
    if (codesAt !== undefined) {
      for (const [, code] of view.tables(codesAt, MAX_OPERATOR_CODES)) {
        const builtinAt = view.field(code, 3);
        const deprecatedAt = view.field(code, 0);
        const builtin =
          builtinAt !== undefined
            ? view.int(builtinAt, 4)
            : deprecatedAt !== undefined
              ? view.int(deprecatedAt, 1)
              : 0;
        const customAt = view.field(code, 1);
        if (
          builtin === BUILTIN_CUSTOM ||
          (builtin === 0 &&
            customAt !== undefined &&
            deprecatedAt !== undefined &&
            view.int(deprecatedAt, 1) === BUILTIN_CUSTOM)
        ) {
          const name = customAt === undefined ? '' : view.string(customAt);
          customs.set(name, code);
        }
      }
    }
    const buffersAt = view.field(model, 4);
    if (buffersAt !== undefined) {
      for (const [i, buffer] of view.tables(buffersAt, MAX_BUFFERS)) {
        const dataAt = view.field(buffer, 0);
        if (dataAt !== undefined) view.vector(dataAt, 1, 0x7fffffff);
        const offsetAt = view.field(buffer, 1);
        const sizeAt = view.field(buffer, 2);
        if (offsetAt !== undefined && sizeAt !== undefined) {
          const offset = view.u64(offsetAt);
          const size = view.u64(sizeAt);
          if (offset > 1n && offset + size > BigInt(buf.length)) {
            ctx.report({
              ruleId: 'TFLITE_MALFORMED',
              severity: 'high',
              offset: buffer,
              message: `buffer ${i} lies outside the file`,
              evidence: {
                buffer: i,
                offset: offset.toString(),
                size: size.toString(),
              },
            });
          }
        }
      }
    }
  } catch (error) {
    if (!(error instanceof Bad)) throw error;
    ctx.report({
      ruleId: 'TFLITE_MALFORMED',
      severity: 'high',
      message: `invalid flatbuffer: ${error.message}`,
    });
  }
  for (const [name, at] of customs) {
    if (name.startsWith('Flex')) {
      const op = name.slice(4);
      const kind = classifyTensorFlowOp(op);
      const critical = kind === 'file' || kind === 'python';
      ctx.report({
        ruleId: 'TFLITE_FLEX_OP',
        severity: critical ? 'critical' : 'medium',
        offset: at,
        message: `flex operator ${op}${critical ? ` ${kind === 'file' ? 'touches the file system' : 'calls host python'}` : ''}`,
        evidence: { customCode: name, op },
      });
    } else {
      ctx.report({
        ruleId: 'TFLITE_CUSTOM_OP',
        severity: 'info',
        offset: at,
        message: `custom operator ${name || '(unnamed)'}`,
        evidence: { customCode: name },
      });
    }
  }
}

/** Scanner for TFLite flatbuffers. */
export const TfliteScanner: FormatScanner = Object.freeze({
  id: 'tflite',
  detect: detectTflite,
  scan: scanTflite,
});
