// SPDX-License-Identifier: Apache-2.0
/**
 * JSON from an artifact (a Keras config, a SafeTensors header, a policy file)
 * is parsed only after a lexical pre-pass over its bytes has counted its
 * tokens and measured its nesting: a document over budget is refused before
 * anything is decoded or allocated, so `[]` repeated 30 million times costs a
 * linear scan of the bytes instead of gigabytes of heap.
 *
 * A token is a value start: `{`, `[`, a string (an object key included), a
 * number or a bare word (`true`, `false`, `null`, and `NaN`/`Infinity` in the
 * Python dialect). Brackets that close, commas and colons are not counted.
 */
import type { ScanLimits } from '../scan/types.js';

/** The budget of one document. */
export interface JsonBudget {
  /** Most tokens (see the module comment). */
  maxTokens: number;
  /** Deepest nesting of objects and arrays. */
  maxDepth: number;
}

/** How the text is read. */
export interface BoundedJsonOptions {
  /** Python's `json` dialect: bare `NaN`, `Infinity` and `-Infinity` (read as null). */
  python?: boolean;
  /** Refuse bytes that are not valid UTF-8 (otherwise they decode to U+FFFD). */
  strictUtf8?: boolean;
}

/** The option that a refused document went over. */
export type JsonLimitName = 'maxJsonTokens' | 'maxJsonDepth';

/** What {@link parseBoundedJson} returns. */
export type BoundedJsonResult =
  | { ok: true; value: unknown; tokens: number }
  | {
      ok: false;
      kind: 'limit';
      limit: JsonLimitName;
      value: number;
      /** Byte offset in the input where the budget ran out. */
      offset: number;
    }
  | { ok: false; kind: 'syntax'; reason: string };

/** The budget from the scan limits. */
export function jsonBudget(
  limits: Pick<ScanLimits, 'maxJsonTokens' | 'maxJsonDepth'>,
): JsonBudget {
  return { maxTokens: limits.maxJsonTokens, maxDepth: limits.maxJsonDepth };
}

const SPACE = 0x20;
const TAB = 0x09;
const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/** Bytes of a number or a bare word. */
function isWordByte(c: number): boolean {
  return (
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    c === 0x2b ||
    c === 0x2d ||
    c === 0x2e
  );
}

const NAN = Buffer.from('NaN');
const INFINITY = Buffer.from('Infinity');
const MINUS_INFINITY = Buffer.from('-Infinity');

function wordIs(bytes: Uint8Array, start: number, end: number, word: Buffer) {
  if (end - start !== word.length) return false;
  for (let k = 0; k < word.length; k++)
    if (bytes[start + k] !== word[k]) return false;
  return true;
}

/**
 * Parses untrusted JSON within `budget`. The pre-pass is linear in the input
 * and allocates nothing but (in the Python dialect) the positions of the
 * non-standard words; only a document within the budget reaches
 * `JSON.parse`. Never throws.
 */
export function parseBoundedJson(
  input: Uint8Array | string,
  budget: JsonBudget,
  options: BoundedJsonOptions = {},
): BoundedJsonResult {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  const n = bytes.length;
  let tokens = 0;
  let depth = 0;
  /** [start, end) of each NaN / Infinity / -Infinity outside strings. */
  const pythonWords: number[] = [];
  let i = 0;
  while (i < n) {
    const c = bytes[i] as number;
    if (
      c === SPACE ||
      c === LF ||
      c === CR ||
      c === TAB ||
      c === COMMA ||
      c === COLON
    ) {
      i++;
      continue;
    }
    if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
      depth--;
      i++;
      continue;
    }
    const start = i;
    if (++tokens > budget.maxTokens)
      return {
        ok: false,
        kind: 'limit',
        limit: 'maxJsonTokens',
        value: budget.maxTokens,
        offset: start,
      };
    if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > budget.maxDepth)
        return {
          ok: false,
          kind: 'limit',
          limit: 'maxJsonDepth',
          value: budget.maxDepth,
          offset: start,
        };
      i++;
    } else if (c === QUOTE) {
      i++;
      while (i < n) {
        const d = bytes[i] as number;
        if (d === BACKSLASH) i += 2;
        else if (d === QUOTE) {
          i++;
          break;
        } else i++;
      }
    } else if (isWordByte(c)) {
      while (i < n && isWordByte(bytes[i] as number)) i++;
      if (
        options.python === true &&
        (wordIs(bytes, start, i, NAN) ||
          wordIs(bytes, start, i, INFINITY) ||
          wordIs(bytes, start, i, MINUS_INFINITY))
      )
        pythonWords.push(start, i);
    } else {
      // Not JSON; JSON.parse reports where.
      i++;
    }
  }
  let text: string;
  try {
    const source =
      pythonWords.length === 0 ? bytes : replaceWords(bytes, pythonWords);
    text =
      options.strictUtf8 === true
        ? new TextDecoder('utf-8', { fatal: true }).decode(source)
        : Buffer.from(source.buffer, source.byteOffset, source.length).toString(
            'utf8',
          );
  } catch (error) {
    return { ok: false, kind: 'syntax', reason: reasonOf(error) };
  }
  try {
    return { ok: true, value: JSON.parse(text), tokens };
  } catch (error) {
    return { ok: false, kind: 'syntax', reason: reasonOf(error) };
  }
}

const NULL = Buffer.from('null');

/** The input with each [start, end) range in `words` replaced by `null`. */
function replaceWords(bytes: Uint8Array, words: number[]): Buffer {
  let length = bytes.length;
  for (let k = 0; k < words.length; k += 2)
    length += NULL.length - ((words[k + 1] as number) - (words[k] as number));
  const out = Buffer.allocUnsafe(length);
  let from = 0;
  let at = 0;
  for (let k = 0; k < words.length; k += 2) {
    const start = words[k] as number;
    out.set(bytes.subarray(from, start), at);
    at += start - from;
    at += NULL.copy(out, at);
    from = words[k + 1] as number;
  }
  out.set(bytes.subarray(from), at);
  return out;
}

function reasonOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
