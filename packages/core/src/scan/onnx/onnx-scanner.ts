// SPDX-License-Identifier: Apache-2.0
/**
 * ONNX (`threats.md` §2): walks everything reachable from ModelProto with the
 * bounded {@link walkProto}, reports non-standard operator domains, external
 * data that escapes the model directory, and tensors whose size is absurd or
 * disagrees with their data.
 */
import { lstat, realpath, stat } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import type {
  ByteSource,
  FindingInput,
  FormatScanner,
  ScanContext,
} from '../types.js';
import { readRange } from '../archive/byte-source.js';
import { SourceCursor, TruncatedError } from '../archive/cursor.js';
import { boundedProduct } from '../bounded-product.js';
import { cappedReporter } from '../capped-report.js';
import { reportIncomplete } from '../incomplete.js';
import {
  readInt64,
  readBytes,
  readLength,
  readString,
  walkProto,
  type ProtoFrame,
  type ProtoReader,
  type ProtoSchema,
} from './proto-walk.js';
import { WireWindow, walkFields } from './proto-detect.js';
import { SavedModelScanner } from '../savedmodel/savedmodel-scanner.js';

/** Message nesting cap (a subgraph costs three levels: node, attribute, graph). */
const MAX_MESSAGE_DEPTH = 192;
/** Subgraph nesting cap (`threats.md` §9: depth cap 64). */
const MAX_GRAPH_DEPTH = 64;
/** Bytes of an external_data value kept; a longer `location` is reported, not checked. */
const MAX_ENTRY_VALUE = 4096;
/** Protobuf's own limit on a serialized message. */
const PROTOBUF_LIMIT = 2 * 1024 * 1024 * 1024 - 1;
const ABSURD_TENSOR_BYTES = 1n << 40n;
/** Distinct custom operators (and domains) kept; the rest are counted. */
const MAX_CUSTOM_OPS = 10_000;
/** Products past this many bits are not computed (they are absurd anyway). */
const ABSURD_TENSOR_BITS = ABSURD_TENSOR_BYTES * 8n;

/** Field numbers from onnx.proto (`threats.md` §2, "Walker field numbers"). */
const SCHEMA: ProtoSchema = {
  Model: { 7: 'Graph', 8: 'OpsetId', 20: 'TrainingInfo', 25: 'Function' },
  Graph: { 1: 'Node', 5: 'Tensor', 15: 'SparseTensor' },
  Node: { 5: 'Attribute' },
  Attribute: {
    5: 'Tensor',
    6: 'Graph',
    10: 'Tensor',
    11: 'Graph',
    22: 'SparseTensor',
    23: 'SparseTensor',
  },
  Tensor: { 13: 'Entry' },
  SparseTensor: { 1: 'Tensor', 2: 'Tensor' },
  Function: { 7: 'Node', 11: 'Attribute' },
  TrainingInfo: { 1: 'Graph', 2: 'Graph' },
  OpsetId: {},
  Entry: {},
};

/** Domains whose operators the standard runtimes implement themselves (`threats.md` §2). */
const STANDARD_DOMAINS: ReadonlySet<string> = new Set([
  '',
  'ai.onnx',
  'ai.onnx.ml',
  'ai.onnx.training',
  'ai.onnx.preview.training',
  'com.microsoft',
  'com.ms.internal.nhwc',
  'org.pytorch.aten',
]);

/** Bits per element by TensorProto.DataType; strings (8) and unknown types are not size-checked. */
const ELEMENT_BITS: Readonly<Record<number, number>> = {
  1: 32,
  2: 8,
  3: 8,
  4: 16,
  5: 16,
  6: 32,
  7: 64,
  9: 8,
  10: 16,
  11: 64,
  12: 32,
  13: 64,
  14: 64,
  15: 128,
  16: 16,
  17: 8,
  18: 8,
  19: 8,
  20: 8,
  21: 4,
  22: 4,
  23: 4,
  24: 8,
  25: 2,
  26: 2,
};

function isStandardDomain(domain: string): boolean {
  return STANDARD_DOMAINS.has(domain) || domain.startsWith('com.microsoft.');
}

interface NodeState {
  opType: string;
  domain: string;
  name: string;
  offset: number;
  path: string;
}
interface AttributeState {
  name: string;
  path: string;
}
interface GraphState {
  path: string;
  graphDepth: number;
}
interface TensorState {
  name: string;
  dims: bigint[];
  dataType: number;
  rawLength: number | undefined;
  external: Map<string, string>;
  /** Byte length of the `location` entry when it was too long to keep whole. */
  locationOverLong: number | undefined;
  dataLocation: number;
  offset: number;
  path: string;
}
interface EntryState {
  key: string;
  value: string;
  /** Full byte length of a value longer than {@link MAX_ENTRY_VALUE} (kept truncated). */
  overLong: number | undefined;
}
interface FunctionState {
  name: string;
  domain: string;
}
interface ExternalRef {
  tensor: string;
  location: string;
  locationOverLong: number | undefined;
  offset: bigint;
  length: bigint | undefined;
  declaredBytes: bigint | undefined;
  at: number;
  path: string;
}

/** Nearest enclosing frame of a type. */
function ancestor(
  frame: ProtoFrame | undefined,
  type: string,
): ProtoFrame | undefined {
  let current = frame;
  while (current !== undefined && current.type !== type)
    current = current.parent;
  return current;
}

/** Path of a frame for messages: the graph path of its enclosing graph, function or model. */
function containerPath(frame: ProtoFrame | undefined): string {
  for (let current = frame; current !== undefined; current = current.parent) {
    if (current.type === 'Graph') return (current.state as GraphState).path;
    if (current.type === 'Function')
      return `functions/${(current.state as FunctionState).name}`;
  }
  return 'model';
}

/**
 * Lexical check of an external-data location: `\` counts as a separator, and
 * absolute, drive-letter, UNC and escaping `..` paths are rejected. Returns the
 * normalised relative path, or undefined when the location escapes.
 */
export function normaliseExternalLocation(
  location: string,
): string | undefined {
  if (location.length === 0 || location.includes('\0')) return undefined;
  const slashed = location.replace(/\\/g, '/');
  if (slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed)) return undefined;
  const parts: string[] = [];
  for (const segment of slashed.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (parts.length === 0) return undefined;
      parts.pop();
      continue;
    }
    parts.push(segment);
  }
  return parts.length === 0 ? undefined : parts.join('/');
}

/** Whether the writer's usual start is there: ir_version (field 1), then a ModelProto field. */
function writerOrderStart(head: Buffer): boolean {
  // ModelProto serialises ir_version (field 1, varint) first; IR versions run
  // from 3 upwards (SavedModel also starts with `08 01`, so 1 is left to it).
  if (head.length < 4 || head[0] !== 0x08) return false;
  const ir = head[1] as number;
  if (ir < 2 || ir > 32) return false;
  const next = head[2] as number;
  const field = next >>> 3;
  const wire = next & 7;
  return (
    (wire === 2 && [2, 3, 4, 6, 7, 8, 14, 20, 25].includes(field)) ||
    (wire === 0 && field === 5)
  );
}

/** GraphProto fields read to check a graph payload is wire format. */
const GRAPH_FIELDS_CHECKED = 64;

/** Whether the first fields of `[start, end)` are valid wire format. */
async function looksLikeMessage(
  win: WireWindow,
  start: number,
  end: number,
): Promise<boolean> {
  let seen = 0;
  const result = await walkFields(win, start, end, () =>
    ++seen >= GRAPH_FIELDS_CHECKED ? 'stop' : 'continue',
  );
  return result !== 'invalid';
}

/**
 * Order-independent detection: the top-level fields of the whole file must be
 * valid wire format up to its end, with a graph (field 7, a message) and
 * ir_version (field 1, varint) or an opset_import (field 8) among them.
 * Parsers accept fields in any order, unknown fields, and known fields of
 * another wire type (kept as unknown), so none of these rejects a file.
 */
async function modelProtoFields(
  head: Buffer,
  source: ByteSource,
): Promise<boolean> {
  if (head.length < 2) return false;
  const win = new WireWindow(head, source);
  let graph: { start: number; length: number } | undefined;
  let version = false;
  let savedModelShaped = true;
  const result = await walkFields(win, 0, source.size, (f) => {
    if (f.field === 7 && f.wireType === 2)
      graph ??= { start: f.start as number, length: f.length as number };
    else if (
      (f.field === 1 && f.wireType === 0) ||
      (f.field === 8 && f.wireType === 2)
    )
      version = true;
    // SavedModel: saved_model_schema_version (1, varint), meta_graphs (2).
    if (
      !(f.field === 1 && f.wireType === 0) &&
      !(f.field === 2 && f.wireType === 2)
    )
      savedModelShaped = false;
    return 'continue';
  });
  // A million valid fields is protobuf beyond doubt: claimed rather than let
  // through, unless it is shaped like a SavedModel (the next scanner's).
  if (result === 'budget') return !savedModelShaped;
  if (result !== 'end' || graph === undefined || !version) return false;
  return looksLikeMessage(win, graph.start, graph.start + graph.length);
}

async function detectOnnx(head: Buffer, source: ByteSource): Promise<boolean> {
  if (writerOrderStart(head)) return true;
  return modelProtoFields(head, source);
}

async function scanOnnx(source: ByteSource, ctx: ScanContext): Promise<void> {
  await scanModel(source, ctx);
  // A file both parsers read (a SavedModel whose schema version looks like an
  // IR version, or a polyglot): what TensorFlow would run is scanned too.
  const head = await source.read(0, Math.min(4096, source.size));
  if (await SavedModelScanner.detect(head, source))
    await SavedModelScanner.scan(source, ctx);
}

async function scanModel(source: ByteSource, ctx: ScanContext): Promise<void> {
  ctx.recognise('onnx');
  const limit = Math.min(ctx.limits.maxMemberBytes, PROTOBUF_LIMIT);
  if (source.size <= limit) {
    await analyseModel(await readRange(source, 0, source.size), ctx, false);
    return;
  }
  // Too big to hold: rebuild the model without tensor payloads (raw_data of
  // initializers), which is where the bulk of a large model lies.
  let reduced: Buffer | undefined;
  let reason = '';
  if (source.size <= PROTOBUF_LIMIT) {
    try {
      reduced = await reduceModel(source, limit);
    } catch (error) {
      if (!(error instanceof StillTooLarge)) {
        ctx.report({
          ruleId: 'ONNX_MALFORMED',
          severity: 'high',
          ...(error instanceof TruncatedError ? { offset: error.offset } : {}),
          message: 'invalid protobuf wire format, model not scanned',
          evidence: {
            reason: error instanceof Error ? error.message : String(error),
          },
        });
        return;
      }
      reason = error.message;
    }
  }
  if (reduced === undefined) {
    // The graph (operators, external data paths) is what a loader acts on.
    reportIncomplete(ctx, {
      limit: 'maxMemberBytes',
      value: limit,
      message:
        'onnx model larger than the in-memory scan limit even without its tensor payloads',
      evidence: { size: source.size, ...(reason === '' ? {} : { reason }) },
    });
    return;
  }
  // Offsets inside the rebuilt model are not file offsets: drop them.
  const withoutOffsets: ScanContext = Object.create(ctx, {
    report: {
      value: (finding: FindingInput): void => {
        const { offset: _offset, ...rest } = finding;
        ctx.report(rest);
      },
    },
  }) as ScanContext;
  await analyseModel(reduced, withoutOffsets, true);
}

/** Field number standing for a skipped raw_data in a rebuilt model (not an ONNX field). */
const RAW_LENGTH_MARKER = 536_870_911;
/** Typed payload fields of TensorProto (float_data … uint64_data), dropped in a rebuilt model. */
const TYPED_DATA_FIELDS: ReadonlySet<number> = new Set([4, 5, 6, 7, 10, 11]);

function encodeVarint(value: bigint): Buffer {
  const out: number[] = [];
  let n = BigInt.asUintN(64, value);
  do {
    let byte = Number(n & 0x7fn);
    n >>= 7n;
    if (n !== 0n) byte |= 0x80;
    out.push(byte);
  } while (n !== 0n);
  return Buffer.from(out);
}

async function readVarint(cur: SourceCursor): Promise<bigint> {
  let value = 0n;
  for (let i = 0; i < 10; i++) {
    const byte = await cur.u8();
    value |= BigInt(byte & 0x7f) << BigInt(7 * i);
    if (byte < 0x80) return value;
  }
  throw new RangeError('varint longer than 10 bytes');
}

class StillTooLarge extends Error {}

/** Sub-messages smaller than this are copied whole when rebuilding a model. */
const REDUCE_COPY_BELOW = 4 * 1024;

/**
 * Copies the ModelProto in `source` without tensor payloads: wherever a
 * TensorProto is reachable (initializers, node attributes, subgraphs,
 * functions), raw_data becomes a marker carrying its length and typed data
 * fields are dropped. Large sub-messages are rebuilt the same way down to
 * {@link MAX_MESSAGE_DEPTH}; small ones are copied whole. Throws when the
 * result still exceeds `limit`.
 */
async function reduceModel(source: ByteSource, limit: number): Promise<Buffer> {
  const cur = new SourceCursor(source);
  let total = 0;
  const take = (parts: Buffer[], b: Buffer): void => {
    total += b.length;
    if (total > limit)
      throw new StillTooLarge(
        'model without tensor payloads still exceeds the limit',
      );
    parts.push(b);
  };
  const reduce = async (
    end: number,
    kind: string,
    depth: number,
  ): Promise<Buffer[]> => {
    const parts: Buffer[] = [];
    while (cur.pos < end) {
      const tag = await readVarint(cur);
      const field = Number(tag >> 3n);
      const wire = Number(tag & 7n);
      if (wire === 0) {
        take(
          parts,
          Buffer.concat([
            encodeVarint(tag),
            encodeVarint(await readVarint(cur)),
          ]),
        );
      } else if (wire === 1 || wire === 5) {
        take(
          parts,
          Buffer.concat([
            encodeVarint(tag),
            Buffer.from(await cur.bytes(wire === 1 ? 8 : 4)),
          ]),
        );
      } else if (wire === 2) {
        const length = await readVarint(cur);
        if (length > BigInt(end - cur.pos))
          throw new RangeError('field runs past its message');
        const fieldEnd = cur.pos + Number(length);
        const child = SCHEMA[kind]?.[field];
        if (kind === 'Tensor' && field === 9) {
          cur.skip(length);
          take(
            parts,
            Buffer.concat([
              encodeVarint(BigInt(RAW_LENGTH_MARKER) << 3n),
              encodeVarint(length),
            ]),
          );
        } else if (kind === 'Tensor' && TYPED_DATA_FIELDS.has(field)) {
          cur.skip(length);
        } else if (
          child !== undefined &&
          length >= BigInt(REDUCE_COPY_BELOW) &&
          depth < MAX_MESSAGE_DEPTH
        ) {
          const sub = await reduce(fieldEnd, child, depth + 1);
          const size = sub.reduce((n, b) => n + b.length, 0);
          take(
            parts,
            Buffer.concat([encodeVarint(tag), encodeVarint(BigInt(size))]),
          );
          // Not push(...sub): a graph of 200,000 small nodes overflows the argument stack.
          for (const part of sub) parts.push(part);
        } else {
          take(
            parts,
            Buffer.concat([
              encodeVarint(tag),
              encodeVarint(length),
              Buffer.from(await cur.bytes(length)),
            ]),
          );
        }
      } else {
        throw new RangeError(`unsupported wire type ${wire}`);
      }
    }
    if (cur.pos !== end) throw new RangeError('field runs past its message');
    return parts;
  };
  return Buffer.concat(await reduce(source.size, 'Model', 0));
}

/** Walks a serialized ModelProto (or one rebuilt by {@link reduceModel}) and reports. */
async function analyseModel(
  bytes: Buffer,
  ctx: ScanContext,
  reduced: boolean,
): Promise<void> {
  // Tensor findings, at most 100 per rule (a model may hold millions of tensors).
  const listed: FindingInput[] = [];
  const capped = cappedReporter({ report: (f) => listed.push(f) });
  const findings = { push: capped.report };
  const usedDomains = new Set<string>();
  const customOps = new Map<
    string,
    { first: NodeState; count: number; locations: string[] }
  >();
  let customOpsNotListed = 0;
  const localFunctions = new Set<string>();
  const opsetDomains = new Set<string>();
  const externals: ExternalRef[] = [];
  let sawGraph = false;
  let tooDeepReported = false;
  const reportTooDeep = (offset: number): void => {
    if (tooDeepReported) return;
    tooDeepReported = true;
    findings.push({
      ruleId: 'ONNX_NESTING_TOO_DEEP',
      severity: 'high',
      offset,
      message: `graph nesting deeper than ${MAX_GRAPH_DEPTH} subgraph levels, deeper parts not scanned`,
    });
  };

  const result = walkProto(
    bytes,
    'Model',
    SCHEMA,
    {
      enter(frame) {
        const parent = frame.parent;
        switch (frame.type) {
          case 'Graph': {
            let path = 'graph';
            let graphDepth = 0;
            if (frame.parent?.type === 'Attribute') {
              const attr = frame.parent.state as AttributeState;
              const outer = ancestor(frame.parent, 'Graph');
              graphDepth =
                outer === undefined
                  ? 1
                  : (outer.state as GraphState).graphDepth + 1;
              path = `${attr.path}`;
            } else if (frame.parent?.type === 'TrainingInfo') {
              path = `training_info/${frame.field === 1 ? 'initialization' : 'algorithm'}`;
            } else {
              sawGraph = true;
            }
            if (graphDepth > MAX_GRAPH_DEPTH) {
              reportTooDeep(frame.start);
              return false;
            }
            frame.state = { path, graphDepth } satisfies GraphState;
            return true;
          }
          case 'Node': {
            frame.state = {
              opType: '',
              domain: '',
              name: '',
              offset: frame.start,
              path: containerPath(parent),
            } satisfies NodeState;
            return true;
          }
          case 'Attribute': {
            const node =
              parent?.type === 'Node' ? (parent.state as NodeState) : undefined;
            const base =
              node === undefined
                ? containerPath(parent)
                : `${node.path}/${node.name || node.opType || 'node'}`;
            frame.state = { name: '', path: base } satisfies AttributeState;
            return true;
          }
          case 'Tensor':
            frame.state = {
              name: '',
              dims: [],
              dataType: 0,
              rawLength: undefined,
              external: new Map(),
              locationOverLong: undefined,
              dataLocation: 0,
              offset: frame.start,
              path: containerPath(parent),
            } satisfies TensorState;
            return true;
          case 'Entry':
            frame.state = {
              key: '',
              value: '',
              overLong: undefined,
            } satisfies EntryState;
            return true;
          case 'Function':
            frame.state = { name: '', domain: '' } satisfies FunctionState;
            return true;
          case 'OpsetId':
            frame.state = { domain: '' };
            return true;
          default:
            return true;
        }
      },
      field(frame, field, wireType, reader: ProtoReader) {
        switch (frame.type) {
          case 'Node': {
            const node = frame.state as NodeState;
            if (wireType !== 2) return false;
            if (field === 4) node.opType = readString(reader, 256);
            else if (field === 7) node.domain = readString(reader, 256);
            else if (field === 3) node.name = readString(reader, 256);
            else return false;
            return true;
          }
          case 'Attribute': {
            const attr = frame.state as AttributeState;
            if (field === 1 && wireType === 2) {
              attr.name = readString(reader, 256);
              attr.path = `${attr.path}/${attr.name}`;
              return true;
            }
            return false;
          }
          case 'Tensor': {
            const tensor = frame.state as TensorState;
            if (field === 1) {
              if (wireType === 0) tensor.dims.push(readInt64(reader));
              else if (wireType === 2) {
                // Read the length before taking the position: the varint moves it.
                const length = readLength(reader);
                const end = reader.pos + length;
                if (end > reader.len)
                  throw new RangeError('packed dims run past the tensor');
                while (reader.pos < end) tensor.dims.push(readInt64(reader));
                if (reader.pos !== end)
                  throw new RangeError('packed dims misaligned');
              } else return false;
              return true;
            }
            if (field === 2 && wireType === 0) {
              tensor.dataType = reader.int32();
              return true;
            }
            if (field === 8 && wireType === 2) {
              tensor.name = readString(reader, 256);
              return true;
            }
            if (field === 9 && wireType === 2) {
              // raw_data: skipped by length, never copied.
              const length = readLength(reader);
              reader.skip(length);
              tensor.rawLength = (tensor.rawLength ?? 0) + length;
              return true;
            }
            if (reduced && field === RAW_LENGTH_MARKER && wireType === 0) {
              tensor.rawLength = (tensor.rawLength ?? 0) + readLength(reader);
              return true;
            }
            if (field === 14 && wireType === 0) {
              tensor.dataLocation = reader.int32();
              return true;
            }
            return false;
          }
          case 'Entry': {
            const entry = frame.state as EntryState;
            if (wireType !== 2) return false;
            if (field === 1) entry.key = readString(reader, 256);
            else if (field === 2) {
              // Read whole so a location too long to keep is seen, not cut
              // down to a harmless-looking prefix.
              const bytes = readBytes(reader);
              entry.value = bytes.toString(
                'utf8',
                0,
                Math.min(bytes.length, MAX_ENTRY_VALUE),
              );
              entry.overLong =
                bytes.length > MAX_ENTRY_VALUE ? bytes.length : undefined;
            } else return false;
            return true;
          }
          case 'Function': {
            const fn = frame.state as FunctionState;
            if (wireType !== 2) return false;
            if (field === 1) fn.name = readString(reader, 256);
            else if (field === 10) fn.domain = readString(reader, 256);
            else return false;
            return true;
          }
          case 'OpsetId':
            if (field === 1 && wireType === 2) {
              (frame.state as { domain: string }).domain = readString(
                reader,
                256,
              );
              return true;
            }
            return false;
          default:
            return false;
        }
      },
      exit(frame) {
        switch (frame.type) {
          case 'Node': {
            // Grouped as they come: a model may hold millions of nodes.
            const node = frame.state as NodeState;
            if (usedDomains.size < MAX_CUSTOM_OPS) usedDomains.add(node.domain);
            if (isStandardDomain(node.domain)) return;
            const key = `${node.domain}\u0000${node.opType}`;
            const op = customOps.get(key);
            if (op !== undefined) {
              op.count++;
              if (op.locations.length < 10) op.locations.push(node.path);
            } else if (customOps.size < MAX_CUSTOM_OPS) {
              customOps.set(key, {
                first: node,
                count: 1,
                locations: [node.path],
              });
            } else customOpsNotListed++;
            return;
          }
          case 'Entry': {
            const entry = frame.state as EntryState;
            const tensor = frame.parent?.state as TensorState | undefined;
            tensor?.external.set(entry.key, entry.value);
            if (tensor !== undefined && entry.key === 'location')
              tensor.locationOverLong = entry.overLong;
            return;
          }
          case 'Function': {
            const fn = frame.state as FunctionState;
            localFunctions.add(`${fn.domain}\u0000${fn.name}`);
            return;
          }
          case 'OpsetId':
            opsetDomains.add((frame.state as { domain: string }).domain);
            return;
          case 'Tensor':
            checkTensor(frame.state as TensorState, findings, externals);
            return;
          default:
            return;
        }
      },
      tooDeep(_frame, _field, offset) {
        reportTooDeep(offset);
      },
    },
    MAX_MESSAGE_DEPTH,
  );

  capped.flush();
  for (const finding of listed) ctx.report(finding);
  if (result.error !== undefined) {
    ctx.report({
      ruleId: 'ONNX_MALFORMED',
      severity: 'high',
      offset: result.error.offset,
      message: 'invalid protobuf wire format, rest of the model not scanned',
      evidence: { reason: result.error.reason },
    });
  } else if (!sawGraph) {
    ctx.report({
      ruleId: 'ONNX_MALFORMED',
      severity: 'high',
      offset: 0,
      message: 'model has no graph',
    });
  }

  for (const [key, op] of customOps) {
    if (localFunctions.has(key)) continue;
    const first = op.first;
    ctx.report({
      ruleId: 'ONNX_CUSTOM_DOMAIN',
      severity: 'high',
      offset: first.offset,
      message: `custom operator ${first.domain}::${first.opType} used by ${op.count} node(s)`,
      evidence: {
        domain: first.domain,
        opType: first.opType,
        count: op.count,
        locations: op.locations,
      },
    });
  }
  if (customOpsNotListed > 0) {
    ctx.report({
      ruleId: 'ONNX_CUSTOM_DOMAIN',
      severity: 'high',
      message: `${customOpsNotListed} more node(s) use custom operators beyond the first ${MAX_CUSTOM_OPS} distinct ones`,
      evidence: { notListed: customOpsNotListed },
    });
  }
  for (const domain of opsetDomains) {
    if (!isStandardDomain(domain) && !usedDomains.has(domain)) {
      ctx.report({
        ruleId: 'ONNX_UNUSED_CUSTOM_OPSET',
        severity: 'info',
        message: `opset ${domain} imported but unused`,
        evidence: { domain },
      });
    }
  }
  await checkExternalData(externals, ctx);
}

function checkTensor(
  tensor: TensorState,
  findings: { push: (finding: FindingInput) => void },
  externals: ExternalRef[],
): void {
  const negative = tensor.dims.some((d) => d < 0n);
  const bits = ELEMENT_BITS[tensor.dataType];
  // Bounded: a hostile tensor lists thousands of huge dims.
  const totalBits =
    bits === undefined || negative
      ? undefined
      : boundedProduct([bits, ...tensor.dims], ABSURD_TENSOR_BITS);
  const declaredBytes =
    bits === undefined || negative
      ? undefined
      : totalBits === undefined
        ? ABSURD_TENSOR_BYTES + 1n
        : (totalBits + 7n) / 8n;
  const label = tensor.name || '(unnamed)';
  // An external tensor's bytes live in the data file (ONNX loaders replace
  // raw_data with them), so an empty raw_data beside it is not a mismatch.
  const isExternal = tensor.external.size > 0 || tensor.dataLocation === 1;
  if (
    negative ||
    (declaredBytes !== undefined && declaredBytes > ABSURD_TENSOR_BYTES)
  ) {
    findings.push({
      ruleId: 'ONNX_TENSOR_ABSURD_SIZE',
      severity: 'high',
      offset: tensor.offset,
      message: `tensor ${label} declares ${negative ? 'a negative dimension' : declaredBytes === ABSURD_TENSOR_BYTES + 1n ? `more than ${ABSURD_TENSOR_BYTES} bytes` : `${declaredBytes} bytes`}`,
      evidence: {
        tensor: label,
        dims: tensor.dims.map(String),
        dataType: tensor.dataType,
        path: tensor.path,
      },
    });
  } else if (
    !isExternal &&
    declaredBytes !== undefined &&
    tensor.rawLength !== undefined &&
    BigInt(tensor.rawLength) !== declaredBytes
  ) {
    findings.push({
      ruleId: 'ONNX_TENSOR_SIZE_MISMATCH',
      severity: 'high',
      offset: tensor.offset,
      message: `tensor ${label} declares ${declaredBytes} bytes but raw_data holds ${tensor.rawLength}`,
      evidence: {
        tensor: label,
        dims: tensor.dims.map(String),
        dataType: tensor.dataType,
        declaredBytes: declaredBytes.toString(),
        rawBytes: tensor.rawLength,
        path: tensor.path,
      },
    });
  }
  const location = tensor.external.get('location');
  if (isExternal) {
    const parse = (value: string | undefined): bigint | undefined =>
      value !== undefined && /^\d{1,19}$/.test(value)
        ? BigInt(value)
        : undefined;
    externals.push({
      tensor: label,
      location: location ?? '',
      locationOverLong: tensor.locationOverLong,
      offset: parse(tensor.external.get('offset')) ?? 0n,
      length: parse(tensor.external.get('length')),
      declaredBytes: negative ? undefined : declaredBytes,
      at: tensor.offset,
      path: tensor.path,
    });
  }
}

function isInside(child: string, parent: string): boolean {
  return (
    child === parent ||
    child.startsWith(parent.endsWith(sep) ? parent : parent + sep)
  );
}

/** Whether a location has a `..` component (either separator). */
function climbsWithDotDot(location: string): boolean {
  return location.split(/[\\/]/).includes('..');
}

async function checkExternalData(
  externals: readonly ExternalRef[],
  ctx: ScanContext,
): Promise<void> {
  // External data resolves against the model's directory on disk; inside an
  // archive there is none, so only the lexical check applies.
  const onDisk = ctx.member.length === 0 && ctx.absolutePath !== '';
  const modelDir = onDisk ? dirname(ctx.absolutePath) : '';
  const realDir: { value?: string } = {};
  for (const ref of externals) {
    const relative = normaliseExternalLocation(ref.location);
    const evidence = {
      tensor: ref.tensor,
      location: ref.location,
      path: ref.path,
    };
    if (relative === undefined) {
      ctx.report({
        ruleId: 'ONNX_EXTERNAL_DATA_ESCAPE',
        severity: 'critical',
        offset: ref.at,
        message: `tensor ${ref.tensor} reads external data from ${JSON.stringify(ref.location)} outside the model directory`,
        evidence,
      });
      continue;
    }
    if (ref.locationOverLong !== undefined) {
      // Only a prefix was kept: where the whole path leads is unknown.
      ctx.report({
        ruleId: 'ONNX_EXTERNAL_DATA_ESCAPE',
        severity: 'high',
        offset: ref.at,
        message: `tensor ${ref.tensor} has an external data location of ${ref.locationOverLong} bytes, too long to check`,
        evidence: {
          ...evidence,
          location: `${ref.location}…`,
          locationBytes: ref.locationOverLong,
        },
      });
      continue;
    }
    const escaped =
      onDisk &&
      (await checkExternalFile(
        ref,
        relative,
        modelDir,
        realDir,
        evidence,
        ctx,
      ));
    if (!escaped && climbsWithDotDot(ref.location)) {
      // onnx >= 1.16 refuses `..`; older loaders and runtimes join and open
      // the raw path, which the kernel resolves through any symlink on the way.
      ctx.report({
        ruleId: 'ONNX_EXTERNAL_DATA_ESCAPE',
        severity: 'high',
        offset: ref.at,
        message: `external data location ${JSON.stringify(ref.location)} of tensor ${ref.tensor} climbs with ..`,
        evidence,
      });
    }
  }
}

/** Checks one external data file on disk; true when an escape was reported. */
async function checkExternalFile(
  ref: ExternalRef,
  relative: string,
  modelDir: string,
  realDir: { value?: string },
  evidence: { tensor: string; location: string; path: string },
  ctx: ScanContext,
): Promise<boolean> {
  const escape = (resolved: string, shown: string): true => {
    ctx.report({
      ruleId: 'ONNX_EXTERNAL_DATA_ESCAPE',
      severity: 'critical',
      offset: ref.at,
      message: `external data ${shown} of tensor ${ref.tensor} resolves through a symlink outside the model directory`,
      evidence: { ...evidence, resolved },
    });
    return true;
  };
  // Loaders join the raw location and let the kernel resolve it: `..` after
  // a symlinked directory climbs from the link's target, not from the model
  // directory, and `\` is an ordinary name character on POSIX. Both the raw
  // join (not path.join, which normalises `..` as text) and the normalised
  // path must stay inside.
  const rawTarget = modelDir.endsWith(sep)
    ? modelDir + ref.location
    : modelDir + sep + ref.location;
  let rawReal: string | undefined;
  try {
    rawReal = await realpath(rawTarget);
  } catch {
    rawReal = undefined;
  }
  if (rawReal !== undefined) {
    try {
      realDir.value ??= await realpath(modelDir);
    } catch {
      // Judged below, where an unresolvable directory is reported.
    }
    if (realDir.value !== undefined && !isInside(rawReal, realDir.value))
      return escape(rawReal, JSON.stringify(ref.location));
  }
  const target = join(modelDir, ...relative.split('/'));
  try {
    await lstat(target);
  } catch {
    ctx.report({
      ruleId: 'ONNX_EXTERNAL_DATA_MISSING',
      severity: 'low',
      offset: ref.at,
      message: `external data file ${relative} not found`,
      evidence,
    });
    return false;
  }
  try {
    realDir.value ??= await realpath(modelDir);
    const realTarget = await realpath(target);
    if (!isInside(realTarget, realDir.value))
      return escape(realTarget, relative);
    const info = await stat(realTarget);
    const size = BigInt(info.size);
    const length = ref.length ?? ref.declaredBytes ?? size - ref.offset;
    if (ref.offset + length > size) {
      ctx.report({
        ruleId: 'ONNX_EXTERNAL_DATA_OUT_OF_RANGE',
        severity: 'high',
        offset: ref.at,
        message: `external data range of tensor ${ref.tensor} ends past the end of ${relative}`,
        evidence: {
          ...evidence,
          offset: ref.offset.toString(),
          length: length.toString(),
          fileSize: info.size,
        },
      });
    }
    if (
      ref.length !== undefined &&
      ref.declaredBytes !== undefined &&
      ref.length !== ref.declaredBytes
    ) {
      ctx.report({
        ruleId: 'ONNX_TENSOR_SIZE_MISMATCH',
        severity: 'high',
        offset: ref.at,
        message: `tensor ${ref.tensor} declares ${ref.declaredBytes} bytes but its external length is ${ref.length}`,
        evidence: {
          ...evidence,
          declaredBytes: ref.declaredBytes.toString(),
          length: ref.length.toString(),
        },
      });
    }
  } catch {
    ctx.report({
      ruleId: 'ONNX_EXTERNAL_DATA_MISSING',
      severity: 'low',
      offset: ref.at,
      message: `external data file ${relative} cannot be resolved`,
      evidence,
    });
  }
  return false;
}

/** Scanner for ONNX models (`threats.md` §2). */
export const OnnxScanner: FormatScanner = Object.freeze({
  id: 'onnx',
  detect: detectOnnx,
  scan: scanOnnx,
});
