// SPDX-License-Identifier: Apache-2.0
/**
 * Content detection of protobuf messages by their fields, in any order.
 *
 * Protobuf parsers (onnxruntime, TensorFlow) accept a message's fields in any
 * order, non-minimal varints, unknown fields and known fields of another wire
 * type (kept as unknown), so a detector that expects the writer's first bytes
 * is bypassed by reordering them. {@link walkFields} reads the fields of a
 * byte range through the {@link ByteSource}, skipping payloads by length
 * without reading them, and hands each one to a callback, which decides.
 */
import type { ByteSource } from '../types.js';

/** Fields (groups' contents included) one detection reads at most. */
export const MAX_DETECT_FIELDS: number = 1 << 20;
/** Group nesting accepted while skipping (protobuf's own recursion limit is 100). */
const MAX_GROUP_DEPTH = 100;
/** Bytes read from the source at a time. */
const WINDOW = 4096;

/** One field of a message, as {@link walkFields} reports it. */
export interface WireField {
  readonly field: number;
  readonly wireType: 0 | 1 | 2 | 5;
  /** Offset of the tag. */
  readonly tagOffset: number;
  /** Varint fields: the value (exact up to 2^49, saturating above). */
  readonly value?: number;
  /** Length-delimited fields: offset of the payload. */
  readonly start?: number;
  /** Length-delimited fields: payload length. */
  readonly length?: number;
}

/** Why a walk ended. */
export type WalkEnd =
  /** Every field read; the last one ended exactly at the end of the range. */
  | 'end'
  /** Not valid wire format (or a field crosses the end of the range). */
  | 'invalid'
  /** The callback returned `'stop'`. */
  | 'stopped'
  /** The field budget ran out with everything valid so far. */
  | 'budget';

/** Positioned reads of a source, cached a window at a time, starting with the head. */
export class WireWindow {
  private buf: Buffer;
  private bufStart = 0;
  /** Fields read so far, across every walk over this window. */
  fieldsRead = 0;

  constructor(
    head: Buffer,
    private readonly source: ByteSource,
  ) {
    this.buf = head;
  }

  get size(): number {
    return this.source.size;
  }

  /** Loads the window so that it holds `[pos, min(pos + n, size))`. */
  private async load(pos: number, n: number): Promise<void> {
    const end = Math.min(this.source.size, pos + n);
    if (pos >= this.bufStart && end <= this.bufStart + this.buf.length) return;
    this.buf = await this.source.read(pos, Math.max(end - pos, WINDOW));
    this.bufStart = pos;
  }

  /**
   * A varint of at most 10 bytes (non-minimal encodings included) at `pos`,
   * ending before `limit`; undefined when there is none. Values are exact up
   * to 2^49 and saturate above (enough for tags and lengths).
   */
  varint(
    pos: number,
    limit: number,
  ):
    | { value: number; next: number }
    | undefined
    | Promise<{ value: number; next: number } | undefined> {
    const n = Math.min(10, limit - pos);
    if (n <= 0) return undefined;
    const at = pos - this.bufStart;
    if (at < 0 || at + n > this.buf.length)
      return this.load(pos, n).then(() => this.decode(pos, n));
    return this.decode(pos, n);
  }

  private decode(
    pos: number,
    n: number,
  ): { value: number; next: number } | undefined {
    const buf = this.buf;
    const at = pos - this.bufStart;
    const stop = Math.min(at + n, buf.length);
    let value = 0;
    for (let i = at; i < stop; i++) {
      const byte = buf[i] as number;
      const shift = i - at;
      if (shift < 7) value += (byte & 0x7f) * 2 ** (7 * shift);
      else if ((byte & 0x7f) !== 0) value = Number.MAX_SAFE_INTEGER;
      if (byte < 0x80) return { value, next: pos + shift + 1 };
    }
    return undefined;
  }
}

/**
 * Reads the fields of the message in `[start, end)` of `win`, calling
 * `onField` for each top-level one (groups are skipped whole, as parsers skip
 * unknown groups). The callback returns `'stop'` to end the walk, `'reject'`
 * to end it as invalid, anything else to go on.
 */
export async function walkFields(
  win: WireWindow,
  start: number,
  end: number,
  onField: (
    f: WireField,
  ) => 'stop' | 'reject' | 'continue' | Promise<'stop' | 'reject' | 'continue'>,
): Promise<WalkEnd> {
  if (end > win.size || start > end) return 'invalid';
  let pos = start;
  // Open groups, innermost last.
  const groups: number[] = [];
  while (pos < end) {
    if (win.fieldsRead >= MAX_DETECT_FIELDS) return 'budget';
    win.fieldsRead++;
    const tagOffset = pos;
    let tag = win.varint(pos, end);
    if (tag instanceof Promise) tag = await tag;
    if (tag === undefined || tag.value > 0xffffffff) return 'invalid';
    pos = tag.next;
    const field = Math.floor(tag.value / 8);
    const wireType = tag.value % 8;
    if (field === 0) return 'invalid';
    let reported: WireField | undefined;
    switch (wireType) {
      case 0: {
        let v = win.varint(pos, end);
        if (v instanceof Promise) v = await v;
        if (v === undefined) return 'invalid';
        pos = v.next;
        reported = { field, wireType, tagOffset, value: v.value };
        break;
      }
      case 1:
      case 5:
        pos += wireType === 1 ? 8 : 4;
        if (pos > end) return 'invalid';
        reported = { field, wireType, tagOffset };
        break;
      case 2: {
        let v = win.varint(pos, end);
        if (v instanceof Promise) v = await v;
        if (v === undefined || v.value > end - v.next) return 'invalid';
        const length = v.value;
        reported = { field, wireType, tagOffset, start: v.next, length };
        pos = v.next + length;
        break;
      }
      case 3:
        if (groups.length >= MAX_GROUP_DEPTH) return 'invalid';
        groups.push(field);
        continue;
      case 4:
        if (groups.pop() !== field) return 'invalid';
        continue;
      default:
        return 'invalid';
    }
    if (groups.length > 0) continue;
    const answer = onField(reported);
    const verdict = typeof answer === 'string' ? answer : await answer;
    if (verdict === 'stop') return 'stopped';
    if (verdict === 'reject') return 'invalid';
  }
  return groups.length === 0 && pos === end ? 'end' : 'invalid';
}
