// SPDX-License-Identifier: Apache-2.0
/**
 * The integer literals of protocol 0 pickles, read as CPython's unpickler
 * reads them (Modules/_pickle.c): `INT` through C's `strtol(s, 0)` and, when
 * that does not take the whole line, `int(s, 0)`; `LONG` through `int(s, 0)`
 * after a final `L`; `GET` and `PUT` through `int(s, 10)`. So `0x10`,
 * `0o17`, `0b101`, `1_000` and surrounding spaces are all numbers to the
 * loader: a scanner that refused them would stop where the loader goes on
 * (stop 29 red team). A line of fewer than one character is refused by the
 * unpickler before it parses (`bad_readline`), as here by an empty literal.
 */

/** The characters `Py_ISSPACE` and C's `isspace` take (the same six). */
function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** Value of an ASCII digit in bases up to 16, or 99. */
function digitValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const lower = c | 0x20;
  if (lower >= 0x61 && lower <= 0x66) return lower - 0x61 + 10;
  return 99;
}

/** Digits of `base` with single underscores between them (and, after a base prefix, one before them). */
function digitsWithUnderscores(
  s: string,
  from: number,
  to: number,
  base: number,
  underscoreFirst: boolean,
): bigint | undefined {
  let value = 0n;
  let digits = 0;
  let lastUnderscore = false;
  const big = BigInt(base);
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x5f) {
      if (lastUnderscore || (digits === 0 && !underscoreFirst))
        return undefined;
      lastUnderscore = true;
      continue;
    }
    const d = digitValue(c);
    if (d >= base) return undefined;
    // Past CPython's default limit of 4,300 digits the value is irrelevant
    // (the scan only needs to know the literal is a number).
    if (digits < 4300) value = value * big + BigInt(d);
    digits++;
    lastUnderscore = false;
  }
  if (digits === 0 || lastUnderscore) return undefined;
  return value;
}

/**
 * `int(s, base)` for base 0 or 10, as `PyLong_FromString` reads it:
 * whitespace around, a sign, for base 0 a `0x`/`0o`/`0b` prefix (an
 * underscore may follow it) and no leading zero on a decimal other than
 * zero, single underscores between digits. Undefined where Python raises.
 */
export function pythonInt(s: string, base: 0 | 10): bigint | undefined {
  let from = 0;
  let to = s.length;
  while (from < to && isSpace(s.charCodeAt(from))) from++;
  while (to > from && isSpace(s.charCodeAt(to - 1))) to--;
  let negative = false;
  const sign = s.charCodeAt(from);
  if (sign === 0x2b || sign === 0x2d) {
    negative = sign === 0x2d;
    from++;
  }
  let radix = 10;
  let prefixed = false;
  if (base === 0 && to - from >= 2 && s.charCodeAt(from) === 0x30) {
    const p = s.charCodeAt(from + 1) | 0x20;
    radix = p === 0x78 ? 16 : p === 0x6f ? 8 : p === 0x62 ? 2 : 10;
    if (radix !== 10) {
      prefixed = true;
      from += 2;
    }
  }
  const value = digitsWithUnderscores(s, from, to, radix, prefixed);
  if (value === undefined) return undefined;
  // Base 0: a decimal with a leading zero must be all zeros ("00", "0_0").
  if (base === 0 && !prefixed && s.charCodeAt(from) === 0x30 && value !== 0n)
    return undefined;
  return negative ? -value : value;
}

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

/**
 * C's `strtol(s, &end, 0)` taking the whole of `s` (the line without its
 * newline): leading whitespace, a sign, `0x` hex, a leading `0` octal, no
 * underscores, no trailing characters, within a 64-bit long. Undefined when
 * it would stop early or overflow (the unpickler then tries `int(s, 0)`).
 */
function strtolWhole(s: string): bigint | undefined {
  let i = 0;
  while (i < s.length && isSpace(s.charCodeAt(i))) i++;
  let negative = false;
  const sign = s.charCodeAt(i);
  if (sign === 0x2b || sign === 0x2d) {
    negative = sign === 0x2d;
    i++;
  }
  let radix = 10;
  if (s.charCodeAt(i) === 0x30) {
    radix = 8;
    // "0x" counts as a prefix only when a hex digit follows it.
    if (
      (s.charCodeAt(i + 1) | 0x20) === 0x78 &&
      digitValue(s.charCodeAt(i + 2)) < 16
    ) {
      radix = 16;
      i += 2;
    }
  }
  const start = i;
  let value = 0n;
  const big = BigInt(radix);
  for (; i < s.length; i++) {
    const d = digitValue(s.charCodeAt(i));
    if (d >= radix) return undefined;
    value = value * big + BigInt(d);
    if (value > LONG_MAX + 1n) return undefined;
  }
  if (i === start) return undefined;
  const signed = negative ? -value : value;
  return signed < LONG_MIN || signed > LONG_MAX ? undefined : signed;
}

/**
 * The value of a protocol 0 integer line (without its newline) as the
 * unpickler reads it for `op` (`INT`, `LONG`, `GET`, `PUT`); undefined where
 * it raises.
 */
export function pickleLineInt(line: string, op: string): bigint | undefined {
  // The unpickler hands C functions the line as a C string: it ends at the
  // first NUL, whatever follows (`5\0junk` is 5). LONG drops its `L` first.
  const text = op === 'LONG' && line.endsWith('L') ? line.slice(0, -1) : line;
  const nul = text.indexOf('\0');
  const s = nul === -1 ? text : text.slice(0, nul);
  // strtol converting nothing leaves its end at the start: a NUL there is
  // "the end of the line" to the unpickler, so `\0…` is the integer 0.
  if (op === 'INT' && nul === 0) return 0n;
  if (op === 'INT') return strtolWhole(s) ?? pythonInt(s, 0);
  return pythonInt(s, op === 'LONG' ? 0 : 10);
}
