// SPDX-License-Identifier: Apache-2.0
/**
 * TFLite (flatbuffer, identifier `TFL3`): header sanity, bounds of every table
 * and vector followed, buffer ranges, and custom operators (informational;
 * `Flex*` ops are TensorFlow ops and are classified like SavedModel ops).
 */
import type { ByteSource, FormatScanner, ScanContext } from '../types.js';
import { readWholeSource } from '../read-whole-source.js';
import { classifyTensorFlowOp } from '../savedmodel/savedmodel-scanner.js';
import { readString, walkProto, type ProtoSchema } from '../onnx/proto-walk.js';

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

/** Subgraphs and operators walked to find the nodes behind `Flex*` codes. */
const MAX_SUBGRAPHS = 100_000;
const MAX_OPERATORS = 10_000_000;
/** Distinct TensorFlow ops kept per `Flex*` code. */
const MAX_FLEX_OPS = 64;

/** What the nodes that use one `Flex*` custom code run. */
interface FlexUse {
  /** `op` of each node's NodeDef, the op the Flex delegate really runs. */
  ops: Set<string>;
  /** Nodes whose custom options hold no readable NodeDef. */
  unreadable: number;
}

/**
 * Reads the TensorFlow op of every node that uses a `Flex*` code. The Flex
 * delegate runs the op named in the NodeDef serialised in the node's custom
 * options, not the one after `Flex` in the custom code.
 */
function readFlexNodes(
  view: FlatView,
  buf: Buffer,
  model: number,
  flexCodes: ReadonlyMap<number, string>,
  flex: Map<string, FlexUse>,
): void {
  const subgraphsAt = view.field(model, 2);
  if (subgraphsAt === undefined) return;
  for (const [, subgraph] of view.tables(subgraphsAt, MAX_SUBGRAPHS)) {
    const operatorsAt = view.field(subgraph, 3);
    if (operatorsAt === undefined) continue;
    for (const [, operator] of view.tables(operatorsAt, MAX_OPERATORS)) {
      const indexAt = view.field(operator, 0);
      const name = flexCodes.get(indexAt === undefined ? 0 : view.u32(indexAt));
      if (name === undefined) continue;
      let use = flex.get(name);
      if (use === undefined) {
        use = { ops: new Set(), unreadable: 0 };
        flex.set(name, use);
      }
      // InterpreterBuilder::ParseNodes: custom_options, else the large
      // custom options stored past the flatbuffer.
      let options: Buffer | undefined;
      const optionsAt = view.field(operator, 5);
      if (optionsAt !== undefined) {
        const { length, start } = view.vector(optionsAt, 1, 0x7fffffff);
        options = buf.subarray(start, start + length);
      } else {
        const offsetAt = view.field(operator, 9);
        const sizeAt = view.field(operator, 10);
        const offset = offsetAt === undefined ? 0n : view.u64(offsetAt);
        const size = sizeAt === undefined ? 0n : view.u64(sizeAt);
        if (offset > 1n && offset + size <= BigInt(buf.length))
          options = buf.subarray(Number(offset), Number(offset + size));
      }
      const nodeDef = options === undefined ? undefined : flexNodeDef(options);
      const op = nodeDef === undefined ? undefined : nodeDefOp(nodeDef);
      if (op === undefined) use.unreadable++;
      else if (use.ops.size < MAX_FLEX_OPS) use.ops.add(op);
    }
  }
}

/** An unsigned little-endian integer of `width` bytes, undefined when out of range. */
function flexUInt(data: Buffer, at: number, width: number): number | undefined {
  if (at < 0 || at + width > data.length) return undefined;
  if (width === 8) {
    const value = data.readBigUInt64LE(at);
    return value > BigInt(Number.MAX_SAFE_INTEGER) ? undefined : Number(value);
  }
  return data.readUIntLE(at, width);
}

const FLEX_KEY = 4;
const FLEX_STRING = 5;
const FLEX_MAP = 9;
const FLEX_VECTOR = 10;

/**
 * The serialised NodeDef of a Flex node: element 1 of the flexbuffer vector
 * `[op name, NodeDef]` (flex/kernel.cc reads it with `AsVector()[1].AsString()`,
 * which accept a vector or a map, and a string or a key). Anything else reads
 * as empty there, and here as unreadable.
 */
function flexNodeDef(data: Buffer): Buffer | undefined {
  const n = data.length;
  if (n < 3) return undefined;
  const rootWidth = data[n - 1] as number;
  const rootType = data[n - 2] as number;
  if (![1, 2, 4, 8].includes(rootWidth)) return undefined;
  if (rootType >> 2 !== FLEX_VECTOR && rootType >> 2 !== FLEX_MAP)
    return undefined;
  const rootAt = n - 2 - rootWidth;
  const rootOffset = flexUInt(data, rootAt, rootWidth);
  if (rootOffset === undefined) return undefined;
  const vector = rootAt - rootOffset;
  const width = 1 << (rootType & 3);
  const length = flexUInt(data, vector - width, width);
  if (length === undefined || length < 2) return undefined;
  const packed = data[vector + length * width + 1];
  if (packed === undefined) return undefined;
  const element = vector + width;
  const stringOffset = flexUInt(data, element, width);
  if (stringOffset === undefined) return undefined;
  const string = element - stringOffset;
  if (string < 0 || string >= n) return undefined;
  if (packed >> 2 === FLEX_KEY) {
    // A key reads as a string up to its NUL.
    const end = data.indexOf(0, string);
    return end < 0 ? undefined : data.subarray(string, end);
  }
  if (packed >> 2 !== FLEX_STRING) return undefined;
  const stringWidth = 1 << (packed & 3);
  const stringLength = flexUInt(data, string - stringWidth, stringWidth);
  if (stringLength === undefined || string + stringLength > n) return undefined;
  return data.subarray(string, string + stringLength);
}

/** NodeDef's fields that are sub-messages: none walked (only `op` is read). */
const NODE_DEF_SCHEMA: ProtoSchema = { NodeDef: {} };

/**
 * NodeDef.op (field 2; the last one wins, as protobuf merges), or undefined
 * when the message does not parse or holds a group (not followed here: the
 * node is then reported unreadable, high). Read with the walker the
 * SavedModel scanner uses (protobufjs underneath).
 */
function nodeDefOp(data: Buffer): string | undefined {
  let op = '';
  let group = false;
  const result = walkProto(
    data,
    'NodeDef',
    NODE_DEF_SCHEMA,
    {
      field(_frame, field, wireType, reader) {
        if (wireType === 3) group = true;
        if (field !== 2 || wireType !== 2) return false;
        op = readString(reader);
        return true;
      },
    },
    1,
  );
  return result.error === undefined && !group ? op : undefined;
}

function reportFlex(
  ctx: ScanContext,
  name: string,
  at: number,
  use: FlexUse | undefined,
): void {
  const op = name.slice(4);
  const nodeDefOps = [...(use?.ops ?? [])];
  const evidence = {
    customCode: name,
    op,
    ...(use === undefined ? {} : { nodeDefOps, unreadable: use.unreadable }),
  };
  const effect = (kind: string): string =>
    kind === 'file' ? 'touches the file system' : 'calls host python';
  const nameKind = classifyTensorFlowOp(op);
  if (nameKind === 'file' || nameKind === 'python') {
    ctx.report({
      ruleId: 'TFLITE_FLEX_OP',
      severity: 'critical',
      offset: at,
      message: `flex operator ${op} ${effect(nameKind)}`,
      evidence,
    });
    return;
  }
  for (const real of nodeDefOps) {
    const kind = classifyTensorFlowOp(real);
    if (kind === 'file' || kind === 'python') {
      ctx.report({
        ruleId: 'TFLITE_FLEX_OP',
        severity: 'critical',
        offset: at,
        message: `flex operator ${op} runs TensorFlow op ${real}, which ${effect(kind)}`,
        evidence,
      });
      return;
    }
  }
  if (use !== undefined && use.unreadable > 0) {
    ctx.report({
      ruleId: 'TFLITE_FLEX_OP',
      severity: 'high',
      offset: at,
      message: `flex operator ${op}: the TensorFlow op of ${use.unreadable} node(s) cannot be read from their custom options`,
      evidence,
    });
    return;
  }
  ctx.report({
    ruleId: 'TFLITE_FLEX_OP',
    severity: 'medium',
    offset: at,
    message: `flex operator ${op}`,
    evidence,
  });
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
  const flex = new Map<string, FlexUse>();
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
    /** Operator code index → custom code, for `Flex*` codes. */
    const flexCodes = new Map<number, string>();
    if (codesAt !== undefined) {
      for (const [i, code] of view.tables(codesAt, MAX_OPERATOR_CODES)) {
        const builtinAt = view.field(code, 3);
        const deprecatedAt = view.field(code, 0);
        // schema_utils.cc GetBuiltinCode: the larger of builtin_code (int32)
        // and deprecated_builtin_code (int8), each 0 when absent.
        const builtin = Math.max(
          builtinAt === undefined ? 0 : view.int(builtinAt, 4),
          deprecatedAt === undefined ? 0 : view.int(deprecatedAt, 1),
        );
        if (builtin === BUILTIN_CUSTOM) {
          const customAt = view.field(code, 1);
          const name = customAt === undefined ? '' : view.string(customAt);
          customs.set(name, code);
          if (name.startsWith('Flex')) flexCodes.set(i, name);
        }
      }
    }
    if (flexCodes.size > 0) readFlexNodes(view, buf, model, flexCodes, flex);
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
      reportFlex(ctx, name, at, flex.get(name));
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
