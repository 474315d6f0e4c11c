// SPDX-License-Identifier: Apache-2.0
/**
 * Finds the resource list of a statement in its bytes, so that a statement
 * of 200,000 resources is decoded one resource at a time instead of as one
 * tree of objects (issue 12 item 6).
 *
 * Only boundaries are found here; every byte is still parsed by `JSON.parse`:
 * the statement with its list replaced by `[]`, and each element of the list
 * on its own. The separators between elements are checked here, strictly, so
 * the pieces are valid exactly when the whole document is. Anything
 * unexpected (no such list, a key given twice) returns `undefined` and the
 * caller parses the whole document instead.
 */

import {
  CLOSE_ARRAY,
  COMMA,
  OPEN_ARRAY,
  objectEnd,
  skipSpace,
  skipValue,
} from '../internal/json-scan.js';

/** Offsets of the `[` and `]` of `predicate.resources`. */
export interface ResourcesList {
  open: number;
  close: number;
}

/**
 * Finds `predicate.resources` (an array) in a statement's bytes, or
 * `undefined`. The predicate is read once: its members while the top level
 * is read (a list of 200,000 resources is 30 MB, and reading it twice took
 * a third of the decode).
 */
export function findResourcesList(b: Uint8Array): ResourcesList | undefined {
  let predicate: [number, number] | undefined;
  // The list found while the top level was read; `read`: that reading ended
  // where skipValue ends the predicate, so the top level is judged as before.
  let found: ReturnType<typeof predicateMembers> | undefined;
  const top = objectEnd(
    b,
    skipSpace(b, 0),
    (key, start, end) => {
      if (key === 'predicate') predicate = [start, end];
    },
    (key, start) => {
      if (key !== 'predicate') return skipValue(b, start);
      found = predicateMembers(b, start);
      return found.read ? found.end : skipValue(b, start);
    },
  );
  if (top < 0 || predicate === undefined) return undefined;
  const list =
    found?.read === true ? found.list : predicateMembers(b, predicate[0]).list;
  if (list === undefined || b[list.close] !== CLOSE_ARRAY) return undefined;
  return list;
}

/**
 * The members of the predicate at `start`: its resource list, and its end.
 * `read` is false when that end may not be where {@link skipValue} ends the
 * predicate (it counts brackets and quotes inside a malformed bare value,
 * which a member's own reading does not): the caller then reads the
 * predicate again as before.
 */
function predicateMembers(
  b: Uint8Array,
  start: number,
): { list: ResourcesList | undefined; end: number; read: boolean } {
  let list: ResourcesList | undefined;
  let read = true;
  const end = objectEnd(b, start, (key, from, to) => {
    if (key === 'resources' && b[from] === OPEN_ARRAY)
      list = { open: from, close: to - 1 };
    const c = b[from];
    if (c !== QUOTE && c !== OPEN_ARRAY && c !== OPEN_OBJECT) {
      for (let k = from; k < to; k++) {
        const d = b[k];
        if (d === QUOTE || d === OPEN_ARRAY || d === OPEN_OBJECT) read = false;
      }
    }
  });
  return end < 0 ? { list: undefined, end, read: false } : { list, end, read };
}

/**
 * The elements of the list as [start, end) offsets, in order.
 *
 * @throws SyntaxError when the separators are not JSON's
 */
export function* listElements(
  b: Uint8Array,
  list: ResourcesList,
): Generator<[number, number]> {
  let i = skipSpace(b, list.open + 1);
  if (i === list.close) return;
  for (;;) {
    const end = skipValue(b, i);
    if (end < 0 || end > list.close)
      throw new SyntaxError(`malformed resource list at byte ${i}`);
    yield [i, end];
    i = skipSpace(b, end);
    if (i === list.close) return;
    if (b[i] !== COMMA) throw new SyntaxError(`expected , or ] at byte ${i}`);
    i = skipSpace(b, i + 1);
  }
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;

/** A resource of the common shape (PlainSpans.value): the object `JSON.parse` would give. */
export interface PlainResource {
  name: string;
  algorithm: string;
  digest: string;
}

/**
 * End (exclusive) of the string whose opening quote is at `i` when it is
 * plain: printable ASCII only, no escape. -1 otherwise (the caller then
 * leaves the element to `JSON.parse`).
 */
function plainStringEnd(b: Uint8Array, i: number, limit: number): number {
  for (let j = i + 1; j < limit; j++) {
    const c = b[j]!;
    if (c === QUOTE) return j + 1;
    if (c === BACKSLASH || c < 0x20 || c > 0x7e) return -1;
  }
  return -1;
}

/** Whether `b[start, start + text.length)` is `text` (ASCII). */
export function bytesAre(b: Uint8Array, start: number, text: string): boolean {
  for (let k = 0; k < text.length; k++)
    if (b[start + k] !== text.charCodeAt(k)) return false;
  return true;
}

/** Which resource key the plain string `b[start, end)` (quotes included) is: 0 name, 1 algorithm, 2 digest, -1 other. */
function resourceKey(b: Uint8Array, start: number, end: number): number {
  const n = end - start - 2;
  if (n === 4) return bytesAre(b, start + 1, 'name') ? 0 : -1;
  if (n === 9) return bytesAre(b, start + 1, 'algorithm') ? 1 : -1;
  if (n === 6) return bytesAre(b, start + 1, 'digest') ? 2 : -1;
  return -1;
}

/**
 * Where the strings of a resource of the common shape lie in its bytes
 * (their characters, quotes excluded), as {@link plainSpans} finds them.
 * One object, filled again for each resource: a list of 200,000 resources
 * is read without an object or a string made for each.
 */
export class PlainSpans {
  /**
   * `[start, end)` of the name, the algorithm and the digest, in that order
   * (doubles: a payload decoded whole may pass 4 GiB).
   */
  readonly at: Float64Array = new Float64Array(6);
  /** Where the element ends (after its `}`). */
  end = 0;

  /** The strings as `JSON.parse` gives them (plain: no escape to undo). */
  value(b: Buffer): PlainResource {
    const at = this.at;
    return {
      name: b.toString('latin1', at[0], at[1]),
      algorithm: b.toString('latin1', at[2], at[3]),
      digest: b.toString('latin1', at[4], at[5]),
    };
  }
}

/**
 * The common shape of a resource, read without `JSON.parse`: an object of
 * exactly the keys `name`, `algorithm` and `digest` (any order, JSON
 * whitespace between tokens), each once, each value a plain string
 * (printable ASCII, no escape). For such bytes it fills `spans` and returns
 * true (`spans.value` is then what `JSON.parse` returns); for anything else
 * false, and the caller parses the element with `JSON.parse` (a
 * differential test holds the two to the same result).
 */
export function plainSpans(
  b: Buffer,
  i: number,
  limit: number,
  spans: PlainSpans,
): boolean {
  if (b[i] !== OPEN_OBJECT) return false;
  const at = spans.at;
  // Bit k: key k seen.
  let seen = 0;
  i += 1;
  for (let member = 0; member < 3; member++) {
    i = skipSpace(b, i);
    if (b[i] !== QUOTE) return false;
    const keyEnd = plainStringEnd(b, i, limit);
    if (keyEnd < 0) return false;
    const key = resourceKey(b, i, keyEnd);
    if (key < 0 || (seen & (1 << key)) !== 0) return false;
    seen |= 1 << key;
    i = skipSpace(b, keyEnd);
    if (b[i] !== COLON) return false;
    i = skipSpace(b, i + 1);
    if (b[i] !== QUOTE) return false;
    const valueEnd = plainStringEnd(b, i, limit);
    if (valueEnd < 0) return false;
    at[2 * key] = i + 1;
    at[2 * key + 1] = valueEnd - 1;
    i = skipSpace(b, valueEnd);
    if (member < 2) {
      if (b[i] !== COMMA) return false;
      i += 1;
    }
  }
  if (b[i] !== CLOSE_OBJECT || i >= limit) return false;
  spans.end = i + 1;
  return true;
}

/**
 * Where the resources of a list go as they are read: each one checked and
 * stored as it comes, none held (statement.ts, ResourceDecoder).
 */
export interface ResourceSink {
  /** A resource as `JSON.parse` gave it (any value). */
  value(item: unknown): void;
  /** A resource of the common shape, its strings at `spans` in `b`. */
  plain(b: Buffer, spans: PlainSpans): void;
}

/** How a list being read gives its bytes back (statement.ts, decodeOwnedStatement). */
export interface ListCompaction {
  /** Bytes read between two calls of `from`, at least. */
  every: number;
  /**
   * Gives back the bytes before `offset`: moves the rest to the front of
   * their buffer, shrinks it, and returns the bytes left (`offset` is now 0).
   */
  from: (offset: number) => Buffer;
}

/**
 * Each element of the list, given to `sink`: by {@link plainSpans} when it
 * has the common shape, else parsed by `JSON.parse` of its bytes. Same
 * separators as {@link listElements}.
 *
 * @param compact - called between two elements once `every` bytes have
 *   been read since the last call (the list is then read from the bytes
 *   it returns): a large statement's bytes are given back as its resources
 *   are decoded (issue 11 item 4)
 * @throws SyntaxError when the separators or an element are not JSON; what
 *   `sink` throws
 */
export function listResources(
  b: Buffer,
  list: ResourcesList,
  sink: ResourceSink,
  compact?: ListCompaction,
): void {
  let close = list.close;
  // Offsets in messages are the statement's, whatever was given back.
  let given = 0;
  const spans = new PlainSpans();
  let i = skipSpace(b, list.open + 1);
  if (i === close) return;
  for (;;) {
    let end: number;
    if (plainSpans(b, i, close, spans)) {
      end = spans.end;
      sink.plain(b, spans);
    } else {
      end = skipValue(b, i);
      if (end < 0 || end > close)
        throw new SyntaxError(`malformed resource list at byte ${given + i}`);
      sink.value(JSON.parse(b.toString('utf8', i, end)) as unknown);
    }
    i = skipSpace(b, end);
    if (i === close) return;
    if (b[i] !== COMMA)
      throw new SyntaxError(`expected , or ] at byte ${given + i}`);
    i = skipSpace(b, i + 1);
    if (compact !== undefined && i >= compact.every) {
      b = compact.from(i);
      given += i;
      close -= i;
      i = 0;
    }
  }
}
