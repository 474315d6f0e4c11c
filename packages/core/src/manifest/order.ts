// SPDX-License-Identifier: Apache-2.0
/**
 * Resource order of the reference implementation (oms-format.md §8): path
 * components compared one by one by Unicode code point, a prefix first, then
 * shard offsets as numbers. The root digest depends on this order.
 */

/** Sort key of a resource. `start`/`end` are 0 for files. */
export interface ResourceKey {
  parts: readonly string[];
  start: number;
  end: number;
}

function compareComponent(x: string, y: string): number {
  // UTF-8 byte order is code-point order; JavaScript's `<` compares UTF-16 code units.
  if (x === y) return 0;
  return Buffer.compare(Buffer.from(x, 'utf8'), Buffer.from(y, 'utf8'));
}

/** Compares two resource keys in the reference order. */
export function compareResourceKeys(a: ResourceKey, b: ResourceKey): number {
  const n = Math.min(a.parts.length, b.parts.length);
  for (let i = 0; i < n; i++) {
    const c = compareComponent(a.parts[i]!, b.parts[i]!);
    if (c !== 0) return c;
  }
  if (a.parts.length !== b.parts.length) return a.parts.length - b.parts.length;
  return a.start - b.start || a.end - b.end;
}

/** A UTF-16 code unit as a rank in code-point order; `/` ranks below every other character. */
function rank(unit: number): number {
  if (unit === 0x2f) return -1;
  // Surrogates (U+D800–DFFF, astral code points) sort after U+E000–FFFF.
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}

/**
 * Compares two POSIX paths component-wise (used for `ignore_paths` too),
 * without splitting or allocating: the same order as comparing their
 * components one by one in UTF-8 byte order, a prefix first.
 */
export function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}
