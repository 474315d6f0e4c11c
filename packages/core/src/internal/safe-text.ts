// SPDX-License-Identifier: Apache-2.0
/**
 * Text from an artifact or a bundle made safe for a terminal or a log line.
 *
 * File names, member names, pickle global names, key hints, identities and
 * scanner messages come from files an attacker writes. Printed raw, a carriage
 * return or `ESC[2K` erases the line before it (a CRITICAL finding, a failed
 * verification) and draws another; a right-to-left override reverses what
 * follows it; a zero-width space makes two different names look the same.
 * {@link safeText} renders every such code point as a visible escape, so the
 * output is always a single line of exactly what the artifact holds.
 *
 * Escaped (Unicode general categories, so the set follows the Unicode version
 * of the runtime):
 * - `Cc`: C0 controls U+0000–U+001F (`\n`, `\r`, `\t`, else `\xNN`), DEL
 *   U+007F and C1 controls U+0080–U+009F (`\xNN`). Escaping ESC (U+001B) and
 *   the C1 CSI/OSC/DCS introducers (U+009B, U+009D, U+0090) neutralises every
 *   ANSI/VT sequence: its remaining bytes are printable and shown as text.
 * - `Cf`: every format character (`\uNNNN`, or `\u{NNNNN}` above the BMP):
 *   the bidi embeddings, overrides and isolates U+202A–U+202E and
 *   U+2066–U+2069, the marks U+200E, U+200F and U+061C, zero-width space,
 *   non-joiner and joiner U+200B–U+200D, word joiner U+2060, invisible
 *   operators, BOM U+FEFF, soft hyphen U+00AD, interlinear annotations, tag
 *   characters U+E0000–U+E007F. Legitimate names in a few scripts use ZWJ or
 *   ZWNJ; they still print, only with the joiner shown as `\u200d` — a name
 *   that can be told apart is worth more than one that renders nicely.
 * - `Zl`, `Zp`: U+2028 and U+2029, which some terminals and log viewers
 *   treat as line breaks.
 * - Lone surrogates (`Cs` in a Unicode regular expression matches only
 *   unpaired halves): `\uD800`.
 * - The invisible "letters" U+115F, U+1160, U+3164 and U+FFA0 (Hangul
 *   fillers), which render as blank space.
 *
 * Not escaped, by choice: the backslash itself (so a message that already
 * quotes a JSON string is not escaped twice; a name holding the four
 * characters `\x1b` is printed as they are, harmlessly), combining marks and
 * variation selectors (they change how a character looks, never move the
 * cursor or reorder text), and confusable letters from other scripts
 * (homoglyphs): telling `а` from `a` is beyond a terminal-safety function.
 *
 * The result is linear in the input's length; strings without anything to
 * escape are returned as they are.
 */

/** What {@link safeText} escapes (see the module comment). */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\u115F\u1160\u3164\uFFA0]/u;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'gu');

const NAMED: Readonly<Record<string, string>> = {
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

function escapeOne(ch: string): string {
  const named = NAMED[ch];
  if (named !== undefined) return named;
  const cp = ch.codePointAt(0)!;
  if (cp <= 0x9f) return `\\x${hex(cp, 2)}`;
  if (cp <= 0xffff) return `\\u${hex(cp, 4)}`;
  return `\\u{${hex(cp, 5)}}`;
}

/**
 * `text` with every control, format, bidi, line-separator and invisible code
 * point and every lone surrogate replaced by a visible escape (`\x1b`, `\r`,
 * `\u202e`, `\u{e0041}`), safe to print on a terminal or write to a log line.
 * Anything that is not a string is first converted with `String()`.
 */
export function safeText(text: unknown): string {
  const s = typeof text === 'string' ? text : String(text);
  if (!UNSAFE.test(s)) return s;
  return s.replace(UNSAFE_ALL, escapeOne);
}

/** True when {@link safeText} would change `text`. */
export function isSafeText(text: string): boolean {
  return !UNSAFE.test(text);
}

/**
 * What {@link safeJSONStringify} escapes: {@link UNSAFE} less C0 controls
 * (`JSON.stringify` escapes them inside strings; outside, a raw newline is
 * the indentation's) and lone surrogates (escaped by `JSON.stringify`).
 */
const JSON_UNSAFE = /[\x7f-\x9f\p{Cf}\p{Zl}\p{Zp}\u115F\u1160\u3164\uFFA0]/u;
const JSON_UNSAFE_ALL = new RegExp(JSON_UNSAFE.source, 'gu');

function jsonEscape(ch: string): string {
  let out = '';
  for (let i = 0; i < ch.length; i++) out += `\\u${hex(ch.charCodeAt(i), 4)}`;
  return out;
}

/**
 * `JSON.stringify(value, null, space)` whose text holds no code point that
 * {@link safeText} would escape: those inside strings are written as JSON
 * `\uXXXX` escapes (astral ones as a surrogate pair). The text parses to
 * exactly the same value; only its spelling differs, so a report or an error
 * printed as JSON on a terminal cannot move the cursor or reorder text
 * either. (`JSON.stringify` already escapes C0 controls and lone surrogates,
 * not DEL, C1 controls, bidi or zero-width characters.)
 */
export function safeJSONStringify(
  value: unknown,
  space?: string | number,
): string {
  const text = JSON.stringify(value, null, space);
  // JSON.stringify returns undefined for undefined and functions.
  if (typeof text !== 'string') return text;
  if (!JSON_UNSAFE.test(text)) return text;
  return text.replace(JSON_UNSAFE_ALL, jsonEscape);
}
