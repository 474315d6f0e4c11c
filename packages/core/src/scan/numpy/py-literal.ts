// SPDX-License-Identifier: Apache-2.0
/**
 * A reader for the Python literals that `numpy.lib.format` hands to
 * `ast.literal_eval` (a `.npy` header): dicts, lists, tuples, sets, strings
 * with any prefix and escape, adjacent string concatenation, integers in
 * every base with underscores, floats, `True`/`False`/`None`, comments and
 * line continuations. With `python2Longs` (format versions 1 and 2) a name
 * `L` right after a number is dropped, as numpy does before its second
 * attempt. Nothing is evaluated.
 */

/** A Python value as the reader returns it. */
export type PyLiteral =
  | string
  | bigint
  | boolean
  | null
  | { float: number }
  | { bytes: string }
  | PyLiteral[]
  | { tuple: PyLiteral[] }
  | { set: PyLiteral[] }
  | Map<string, PyLiteral>
  | { dict: [PyLiteral, PyLiteral][] };

/** Options of {@link readPythonLiteral}. */
export interface PyLiteralOptions {
  /** Nesting limit (CPython's parser refuses more than 200 open brackets). */
  maxDepth?: number;
  /** Most values read before giving up (`tooBig`). */
  maxValues?: number;
  /** Drop a name `L` after a number (Python 2 longs, npy versions 1 and 2). */
  python2Longs?: boolean;
}

/** What {@link readPythonLiteral} returns. */
export type PyLiteralResult =
  | {
      ok: true;
      value: PyLiteral;
      /** A `\N{…}` escape was met: some string values are not exact. */
      uncertain: boolean;
    }
  | { ok: false; reason: string; tooBig?: boolean };

class Refused extends Error {
  constructor(
    message: string,
    readonly tooBig = false,
  ) {
    super(message);
  }
}

/** Python number tokens; group 1 is the imaginary suffix. */
const NUMBER =
  /^(?:0[xX](?:_?[0-9a-fA-F])+|0[oO](?:_?[0-7])+|0[bB](?:_?[01])+|(?:\d(?:_?\d)*)?\.\d(?:_?\d)*(?:[eE][+-]?\d(?:_?\d)*)?|\d(?:_?\d)*\.?(?:[eE][+-]?\d(?:_?\d)*)?)([jJ])?/;
const isIdentChar = (c: string | undefined): boolean =>
  c !== undefined && /[\p{L}\p{N}_]/u.test(c);

/** Reads one Python literal expression (the whole text). Never throws. */
export function readPythonLiteral(
  text: string,
  options: PyLiteralOptions = {},
): PyLiteralResult {
  const maxDepth = options.maxDepth ?? 200;
  const maxValues = options.maxValues ?? 1_000_000;
  const longs = options.python2Longs ?? false;
  let i = 0;
  let values = 0;
  let uncertain = false;
  let depth = 0;

  /** Skips blanks, comments, and (inside brackets) newlines and continuations. */
  const ws = (): void => {
    for (;;) {
      const c = text[i];
      if (c === ' ' || c === '\t' || c === '\f') i++;
      else if (c === '\n' || c === '\r') {
        // Outside brackets a newline ends the expression; only blank space
        // may follow (checked by the caller reaching the end).
        i++;
      } else if (c === '#') {
        while (i < text.length && text[i] !== '\n' && text[i] !== '\r') i++;
      } else if (c === '\\' && (text[i + 1] === '\n' || text[i + 1] === '\r'))
        i += text[i + 1] === '\r' && text[i + 2] === '\n' ? 3 : 2;
      else return;
    }
  };

  const count = (): void => {
    if (++values > maxValues)
      throw new Refused(`more than ${maxValues} values`, true);
  };

  const readString = (): { value: string; bytes: boolean } | undefined => {
    const m = /^([rRuUbB]{0,2})(['"])/.exec(text.slice(i, i + 3));
    if (m === null) return undefined;
    const prefix = m[1]!.toLowerCase();
    if (!['', 'r', 'u', 'b', 'br', 'rb'].includes(prefix))
      throw new Refused(`string prefix ${m[1]}`);
    const raw = prefix.includes('r');
    const bytes = prefix.includes('b');
    i += m[1]!.length;
    const q = text[i]!;
    const triple = text.startsWith(q.repeat(3), i);
    const close = triple ? q.repeat(3) : q;
    i += close.length;
    let out = '';
    for (;;) {
      if (i >= text.length) throw new Refused('unterminated string');
      if (text.startsWith(close, i)) {
        i += close.length;
        break;
      }
      const c = text[i]!;
      if (!triple && (c === '\n' || c === '\r'))
        throw new Refused('newline in a string');
      if (bytes && c.charCodeAt(0) > 0x7f)
        throw new Refused('non-ascii character in bytes');
      if (c !== '\\') {
        out += c;
        i++;
        continue;
      }
      const e = text[i + 1];
      if (e === undefined) throw new Refused('unterminated string');
      if (raw) {
        // A raw string keeps the backslash; it still escapes the quote.
        out += c + e;
        i += 2;
        continue;
      }
      i += 2;
      switch (e) {
        case '\n':
          break;
        case '\r':
          if (text[i] === '\n') i++;
          break;
        case '\\':
        case "'":
        case '"':
          out += e;
          break;
        case 'a':
          out += '\x07';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'v':
          out += '\v';
          break;
        case 'x': {
          const h = text.slice(i, i + 2);
          if (!/^[0-9a-fA-F]{2}$/.test(h)) throw new Refused('bad \\x escape');
          out += String.fromCharCode(parseInt(h, 16));
          i += 2;
          break;
        }
        case 'u':
        case 'U':
        case 'N': {
          if (bytes) {
            out += `\\${e}`;
            break;
          }
          if (e === 'N') {
            const end = text.indexOf('}', i);
            if (text[i] !== '{' || end < 0) throw new Refused('bad \\N escape');
            // Character names are not resolved: the value is not exact.
            uncertain = true;
            out += '\ufffd';
            i = end + 1;
            break;
          }
          const n = e === 'u' ? 4 : 8;
          const h = text.slice(i, i + n);
          if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h))
            throw new Refused(`bad \\${e} escape`);
          const cp = parseInt(h, 16);
          if (cp > 0x10ffff) throw new Refused('code point out of range');
          out += String.fromCodePoint(cp);
          i += n;
          break;
        }
        default:
          if (e >= '0' && e <= '7') {
            let o = e;
            while (o.length < 3 && text[i]! >= '0' && text[i]! <= '7')
              o += text[i++];
            out += String.fromCharCode(parseInt(o, 8));
          } else {
            // An unknown escape keeps its backslash (with a warning in Python).
            out += `\\${e}`;
          }
      }
    }
    return { value: out, bytes };
  };

  /** A number (no sign); a name `L` after it is dropped when allowed. */
  const readNumber = (): bigint | { float: number } | undefined => {
    const rest = text.slice(i, i + 4096);
    const m = NUMBER.exec(rest);
    if (m === null) return undefined;
    const token = m[0];
    if (m[1] !== undefined) throw new Refused('complex number');
    let after = token.length;
    const next = rest[after];
    if (isIdentChar(next) || next === '.') {
      // `2L`: tokenize yields NUMBER `2` then NAME `L`, which numpy drops.
      if (!(longs && next === 'L' && !isIdentChar(rest[after + 1])))
        throw new Refused(`bad number ${token}${next}`);
      after++;
    } else if (longs) {
      let j = after;
      while (rest[j] === ' ' || rest[j] === '\t') j++;
      if (rest[j] === 'L' && !isIdentChar(rest[j + 1])) after = j + 1;
    }
    i += after;
    const digits = token.replace(/_/g, '');
    if (/^0[xXoObB]/.test(digits)) return BigInt(digits);
    if (/[.eE]/.test(digits)) return { float: Number(digits) };
    if (/^0+[1-9]/.test(digits)) throw new Refused('leading zero');
    return BigInt(digits);
  };

  const value = (): PyLiteral => {
    ws();
    const c = text[i];
    if (c === undefined) throw new Refused('unexpected end');
    count();
    // Strings, with adjacent literals concatenated.
    const first = readString();
    if (first !== undefined) {
      let { value: s } = first;
      for (;;) {
        const save = i;
        ws();
        const next = readString();
        if (next === undefined) {
          i = save;
          break;
        }
        if (next.bytes !== first.bytes)
          throw new Refused('bytes and str concatenated');
        s += next.value;
      }
      return first.bytes ? { bytes: s } : s;
    }
    if (c === '{' || c === '[' || c === '(') {
      if (++depth > maxDepth)
        throw new Refused(`nesting deeper than ${maxDepth}`);
      const closer = c === '{' ? '}' : c === '[' ? ']' : ')';
      i++;
      const items: PyLiteral[] = [];
      const pairs: [PyLiteral, PyLiteral][] = [];
      let isDict: boolean | undefined = c === '{' ? undefined : false;
      let sawComma = false;
      for (;;) {
        ws();
        if (text[i] === closer) {
          i++;
          break;
        }
        const k = value();
        ws();
        if (isDict === undefined) isDict = text[i] === ':';
        if (isDict) {
          if (text[i] !== ':') throw new Refused('expected :');
          i++;
          pairs.push([k, value()]);
        } else items.push(k);
        ws();
        if (text[i] === ',') {
          sawComma = true;
          i++;
        } else if (text[i] !== closer) throw new Refused(`expected ${closer}`);
      }
      depth--;
      if (c === '[') return items;
      if (c === '(')
        return items.length === 1 && !sawComma ? items[0]! : { tuple: items };
      if (isDict === false) return { set: items };
      // A dict literal: the last of duplicate keys wins, as in Python.
      if (pairs.every(([k]) => typeof k === 'string')) {
        const map = new Map<string, PyLiteral>();
        for (const [k, v] of pairs) map.set(k as string, v);
        return map;
      }
      return { dict: pairs };
    }
    if (c === '-' || c === '+') {
      // literal_eval takes one sign before a number.
      i++;
      ws();
      const n = readNumber();
      if (n === undefined) throw new Refused('sign without a number');
      if (c === '+') return n;
      return typeof n === 'bigint' ? -n : { float: -n.float };
    }
    const n = readNumber();
    if (n !== undefined) return n;
    const word = /^[A-Za-z_]\w*/.exec(text.slice(i, i + 64))?.[0];
    if (word === 'True' || word === 'False' || word === 'None') {
      i += word.length;
      return word === 'True' ? true : word === 'False' ? false : null;
    }
    throw new Refused(`not a literal at ${i}`);
  };

  try {
    if (text.includes('\0')) throw new Refused('null byte');
    const v = value();
    ws();
    if (i !== text.length) throw new Refused(`trailing text at ${i}`);
    return { ok: true, value: v, uncertain };
  } catch (error) {
    if (error instanceof Refused)
      return { ok: false, reason: error.message, tooBig: error.tooBig };
    if (error instanceof RangeError)
      return { ok: false, reason: error.message };
    throw error;
  }
}

/** The items of a Python tuple or list, or undefined. */
export function sequenceOf(v: PyLiteral | undefined): PyLiteral[] | undefined {
  if (Array.isArray(v)) return v;
  if (
    typeof v === 'object' &&
    v !== null &&
    !(v instanceof Map) &&
    'tuple' in v
  )
    return v.tuple;
  return undefined;
}

/** True for a Python tuple. */
export function isTuple(v: PyLiteral | undefined): v is { tuple: PyLiteral[] } {
  return (
    typeof v === 'object' && v !== null && !(v instanceof Map) && 'tuple' in v
  );
}
