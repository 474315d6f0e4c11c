// SPDX-License-Identifier: Apache-2.0
/**
 * Parses a skops `schema.json` the way Python's `json.loads` reads it, with a
 * budget: one linear pass counts tokens and nesting depth (outside strings)
 * before anything is allocated, and turns the bare `NaN`, `Infinity` and
 * `-Infinity` that Python writes for floats into `null` so `JSON.parse`
 * accepts them.
 */

/** Why parsing stopped. */
export type SchemaJsonError =
  | { kind: 'tokens'; at: number }
  | { kind: 'depth'; at: number }
  | { kind: 'syntax'; message: string };

/**
 * @returns the parsed value, or why it could not be parsed
 */
export function parseSchemaJson(
  text: string,
  maxTokens: number,
  maxDepth: number,
): { ok: true; value: unknown } | { ok: false; error: SchemaJsonError } {
  let tokens = 0;
  let depth = 0;
  let inString = false;
  const pieces: string[] = [];
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    switch (c) {
      case 0x22: // "
        inString = true;
        tokens++;
        break;
      case 0x7b: // {
      case 0x5b: // [
        if (++depth > maxDepth)
          return { ok: false, error: { kind: 'depth', at: i } };
        tokens++;
        break;
      case 0x7d:
      case 0x5d:
        depth--;
        break;
      case 0x2c: // ,
      case 0x3a: // :
        tokens++;
        break;
      case 0x4e: // N (NaN)
      case 0x49: // I (Infinity)
      case 0x2d: {
        // -Infinity
        const m = /^(?:NaN|-?Infinity)/.exec(text.slice(i, i + 9));
        if (m !== null) {
          pieces.push(text.slice(from, i), 'null');
          i += m[0].length - 1;
          from = i + 1;
        }
        break;
      }
      default:
        break;
    }
    if (tokens > maxTokens)
      return { ok: false, error: { kind: 'tokens', at: i } };
  }
  pieces.push(text.slice(from));
  try {
    return { ok: true, value: JSON.parse(pieces.join('')) as unknown };
  } catch (e) {
    return {
      ok: false,
      error: { kind: 'syntax', message: (e as Error).message.slice(0, 200) },
    };
  }
}
