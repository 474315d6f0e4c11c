// SPDX-License-Identifier: Apache-2.0
/**
 * A bounded, iterative walk over protobuf wire format, shared by the ONNX and
 * TensorFlow scanners. Only the fields named in a {@link ProtoSchema} are
 * descended into; everything else (tensor payloads included) is skipped by
 * length. The walk keeps an explicit stack, so a deeply nested file costs heap,
 * not call stack, and stops descending at `maxDepth`.
 *
 * The generated `onnx-proto` decoders recurse per nesting level and overflow the
 * stack on crafted files (`threats.md` §9), hence this walker.
 */
import { createRequire } from 'node:module';
import type * as Protobuf from 'protobufjs/minimal.js';

/**
 * protobufjs, loaded on the first walk: it costs about 20 ms to load, which
 * every `scan` paid at start-up, whatever the format (issue 11 item 1).
 */
let protobuf: typeof Protobuf | undefined;
function protobufjs(): typeof Protobuf {
  protobuf ??= createRequire(import.meta.url)(
    'protobufjs/minimal.js',
  ) as typeof Protobuf;
  return protobuf;
}

/** For each message type, the length-delimited fields that are sub-messages, and their type. */
export type ProtoSchema = Readonly<
  Record<string, Readonly<Record<number, string>>>
>;

/** One message being walked. */
export interface ProtoFrame {
  /** Schema type name. */
  readonly type: string;
  /** Field number in the parent (0 for the root). */
  readonly field: number;
  /** Offset of the first byte of the message body. */
  readonly start: number;
  /** Offset one past the last byte of the body. */
  readonly end: number;
  /** Message nesting depth: 0 for the root. */
  readonly depth: number;
  readonly parent: ProtoFrame | undefined;
  /** Free slot for the visitor's per-message state. */
  state: unknown;
}

/** Callbacks of {@link walkProto}. */
export interface ProtoVisitor {
  /** A sub-message starts; return false to skip it. */
  enter?(frame: ProtoFrame): boolean | void;
  /** A message (root included) ends. */
  exit?(frame: ProtoFrame): void;
  /**
   * A field that is not a schema sub-message. Read it through `reader` and
   * return true, or return false to have it skipped.
   */
  field?(
    frame: ProtoFrame,
    field: number,
    wireType: number,
    reader: ProtoReader,
  ): boolean;
  /** A sub-message would exceed `maxDepth`; it is skipped. */
  tooDeep?(frame: ProtoFrame, field: number, offset: number): void;
}

/** Result of {@link walkProto}. */
export interface ProtoWalkResult {
  /** Set when the bytes are not valid wire format; the walk stopped there. */
  error?: { offset: number; reason: string };
}

/** The protobufjs reader as used here. */
export type ProtoReader = Protobuf.Reader;

function longBits(value: number | { low: number; high: number }): bigint {
  if (typeof value === 'number') return BigInt.asUintN(64, BigInt(value));
  return (BigInt(value.high >>> 0) << 32n) | BigInt(value.low >>> 0);
}

/** Reads a varint as a non-negative safe integer, or throws `RangeError`. */
export function readLength(reader: ProtoReader): number {
  const n = Number(longBits(reader.uint64()));
  if (!Number.isSafeInteger(n) || n < 0)
    throw new RangeError('length varint out of range');
  return n;
}

/** Reads a varint as a signed 64-bit `bigint`. */
export function readInt64(reader: ProtoReader): bigint {
  return BigInt.asIntN(64, longBits(reader.int64()));
}

/** Reads a length-delimited UTF-8 string, at most `max` bytes (longer ones are cut). */
export function readString(reader: ProtoReader, max = 4096): string {
  const length = readLength(reader);
  const start = reader.pos;
  if (start + length > reader.len)
    throw new RangeError('string runs past its message');
  reader.pos = start + length;
  return Buffer.from(
    reader.buf.buffer,
    reader.buf.byteOffset + start,
    Math.min(length, max),
  ).toString('utf8');
}

/** A length-delimited field's bytes, as a view of the walked buffer (no copy). */
export function readBytes(reader: ProtoReader): Buffer {
  const length = readLength(reader);
  const start = reader.pos;
  if (start + length > reader.len)
    throw new RangeError('field runs past its message');
  reader.pos = start + length;
  return Buffer.from(reader.buf.buffer, reader.buf.byteOffset + start, length);
}

/** Group nesting skipped at most (protobuf's own recursion limit is 100). */
const MAX_GROUP_DEPTH = 100;

/**
 * Skips a field of the given wire type without recursing. A group (wire type
 * 3, long deprecated but still skipped by protobuf parsers as an unknown
 * field) is skipped up to its matching end tag; `field` is its number.
 */
export function skipField(
  reader: ProtoReader,
  wireType: number,
  field?: number,
): void {
  switch (wireType) {
    case 0:
      reader.skip();
      return;
    case 1:
      reader.skip(8);
      return;
    case 2:
      reader.skip(readLength(reader));
      return;
    case 5:
      reader.skip(4);
      return;
    case 3:
      if (field !== undefined) {
        skipGroup(reader, field);
        return;
      }
      throw new RangeError('group without a field number');
    default:
      // An end-group tag without its start ends the walk, as it ends parsing.
      throw new RangeError(`unsupported wire type ${wireType}`);
  }
}

/** Skips the rest of group `field`, nested groups included, with an explicit stack. */
function skipGroup(reader: ProtoReader, field: number): void {
  const open: number[] = [field];
  while (open.length > 0) {
    if (reader.pos >= reader.len)
      throw new RangeError('group runs past its message');
    const tag = reader.uint32();
    const inner = tag >>> 3;
    const wireType = tag & 7;
    if (inner === 0) throw new RangeError('field number 0');
    if (wireType === 4) {
      if (open.pop() !== inner) throw new RangeError('mismatched end group');
    } else if (wireType === 3) {
      if (open.length >= MAX_GROUP_DEPTH)
        throw new RangeError('groups nested too deep');
      open.push(inner);
    } else skipField(reader, wireType);
  }
}

/**
 * Walks `bytes` as a message of type `root`.
 * @param maxDepth message nesting depth past which sub-messages are skipped
 */
export function walkProto(
  bytes: Uint8Array,
  root: string,
  schema: ProtoSchema,
  visitor: ProtoVisitor,
  maxDepth: number,
): ProtoWalkResult {
  const reader = protobufjs().Reader.create(bytes);
  const rootFrame: ProtoFrame = {
    type: root,
    field: 0,
    start: 0,
    end: bytes.length,
    depth: 0,
    parent: undefined,
    state: undefined,
  };
  const stack: ProtoFrame[] = [rootFrame];
  try {
    while (stack.length > 0) {
      const frame = stack[stack.length - 1] as ProtoFrame;
      if (reader.pos >= frame.end) {
        if (reader.pos > frame.end)
          throw new RangeError('field runs past its message');
        stack.pop();
        visitor.exit?.(frame);
        continue;
      }
      // Fields must not cross the end of the enclosing message.
      reader.len = frame.end;
      const tagOffset = reader.pos;
      const tag = reader.uint32();
      const field = tag >>> 3;
      const wireType = tag & 7;
      if (field === 0) throw new RangeError('field number 0');
      const childType = schema[frame.type]?.[field];
      if (childType !== undefined && wireType === 2) {
        const length = readLength(reader);
        const start = reader.pos;
        if (start + length > frame.end)
          throw new RangeError('sub-message runs past its parent');
        if (frame.depth + 1 > maxDepth) {
          visitor.tooDeep?.(frame, field, tagOffset);
          reader.pos = start + length;
          continue;
        }
        const child: ProtoFrame = {
          type: childType,
          field,
          start,
          end: start + length,
          depth: frame.depth + 1,
          parent: frame,
          state: undefined,
        };
        if (visitor.enter?.(child) === false) {
          reader.pos = child.end;
          continue;
        }
        stack.push(child);
        continue;
      }
      if (!(visitor.field?.(frame, field, wireType, reader) ?? false))
        skipField(reader, wireType, field);
    }
    return {};
  } catch (error) {
    return {
      error: {
        offset: reader.pos,
        reason: error instanceof Error ? error.message : String(error),
      },
    };
  } finally {
    reader.len = bytes.length;
  }
}
