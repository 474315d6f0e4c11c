// SPDX-License-Identifier: Apache-2.0
/**
 * Boundaries of JSON values in bytes, without parsing them: where a value,
 * a string or an object member ends. For readers that take a large document
 * apart (a bundle's payload, a statement's resource list) and still hand
 * every byte to `JSON.parse`. Loose by design: brackets are counted, not
 * matched; whatever is cut out must be parsed by the caller.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** `,`. */
export const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
/** `[`. */
export const OPEN_ARRAY = 0x5b;
/** `]`. */
export const CLOSE_ARRAY = 0x5d;

function isSpace(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

/** First offset at or after `i` that is not JSON whitespace. */
export function skipSpace(b: Uint8Array, i: number): number {
  while (i < b.length && isSpace(b[i])) i++;
  return i;
}

/** End (exclusive) of the string starting at `i` (a quote), or -1. */
function skipString(b: Uint8Array, i: number): number {
  // The next quote by memchr; escaped when an odd run of backslashes precedes it.
  let q = i;
  for (;;) {
    q = b.indexOf(QUOTE, q + 1);
    if (q < 0) return -1;
    let slashes = 0;
    for (let k = q - 1; k > i && b[k] === BACKSLASH; k--) slashes++;
    if (slashes % 2 === 0) return q + 1;
  }
}

/**
 * End (exclusive) of the value starting at `i`, or -1. Loose: brackets are
 * counted, not matched; `JSON.parse` of the piece checks the rest.
 */
export function skipValue(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c === QUOTE) return skipString(b, i);
  if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
    let depth = 0;
    while (i < b.length) {
      const d = b[i];
      if (d === QUOTE) {
        i = skipString(b, i);
        if (i < 0) return -1;
        continue;
      }
      if (d === OPEN_OBJECT || d === OPEN_ARRAY) depth++;
      else if (d === CLOSE_OBJECT || d === CLOSE_ARRAY) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return -1;
  }
  const start = i;
  while (i < b.length) {
    const d = b[i];
    if (
      d === COMMA ||
      d === CLOSE_OBJECT ||
      d === CLOSE_ARRAY ||
      d === COLON ||
      isSpace(d)
    )
      break;
    i++;
  }
  return i === start ? -1 : i;
}

/**
 * The members of the object at `i`: calls `visit(key, start, end)` for each
 * value. Returns false when the object is not well formed at this level or a
 * key comes twice.
 */
export function objectMembers(
  b: Uint8Array,
  i: number,
  visit: (key: string, start: number, end: number) => void,
): boolean {
  return objectEnd(b, i, visit) >= 0;
}

/**
 * {@link objectMembers}, returning the end (exclusive) of the object, or -1
 * when it is not well formed at this level or a key comes twice.
 *
 * @param skip - finds where the value of `key` starting at `start` ends
 *   (-1: not a value); {@link skipValue} by default. A caller that reads a
 *   member's value itself passes the end it found, so that a large value is
 *   not scanned twice.
 */
export function objectEnd(
  b: Uint8Array,
  i: number,
  visit: (key: string, start: number, end: number) => void,
  skip: (key: string, start: number) => number = (_key, start) =>
    skipValue(b, start),
): number {
  if (b[i] !== OPEN_OBJECT) return -1;
  const seen = new Set<string>();
  i = skipSpace(b, i + 1);
  if (b[i] === CLOSE_OBJECT) return i + 1;
  for (;;) {
    if (b[i] !== QUOTE) return -1;
    const keyEnd = skipString(b, i);
    if (keyEnd < 0) return -1;
    let key: unknown;
    try {
      key = JSON.parse(
        Buffer.from(b.buffer, b.byteOffset + i, keyEnd - i).toString('utf8'),
      );
    } catch {
      return -1;
    }
    if (typeof key !== 'string' || seen.has(key)) return -1;
    seen.add(key);
    i = skipSpace(b, keyEnd);
    if (b[i] !== COLON) return -1;
    const start = skipSpace(b, i + 1);
    const end = skip(key, start);
    if (end < 0) return -1;
    visit(key, start, end);
    i = skipSpace(b, end);
    if (b[i] === COMMA) {
      i = skipSpace(b, i + 1);
      continue;
    }
    return b[i] === CLOSE_OBJECT ? i + 1 : -1;
  }
}
