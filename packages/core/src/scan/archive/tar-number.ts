// SPDX-License-Identifier: Apache-2.0
/** What tarfile's number parsing (`nti`) can take, checked without parsing. */

/** Bytes besides octal digits and nul that `nti` accepts: Python whitespace, a sign, `_`, the `o` of `0o`. */
const NUMBER_CHARS: ReadonlySet<number> = new Set([
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x2b, 0x2d, 0x5f,
  0x6f, 0x4f,
]);

/**
 * Whether the field `[start, end)` of `block` holds only bytes tarfile's
 * number parsing can take, or is base-256 (first byte 0x80 or 0xff): a
 * cheap first check before a header is parsed.
 */
export function numberFieldMayParse(
  block: Buffer,
  start: number,
  end: number,
): boolean {
  const first = block[start] as number;
  if (first === 0x80 || first === 0xff) return true;
  for (let i = start; i < end; i++) {
    const c = block[i] as number;
    if (!(c === 0 || (c >= 0x30 && c <= 0x37) || NUMBER_CHARS.has(c)))
      return false;
  }
  return true;
}
