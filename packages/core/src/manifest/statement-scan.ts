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
  objectMembers,
  skipSpace,
  skipValue,
} from '../internal/json-scan.js';

/** Offsets of the `[` and `]` of `predicate.resources`. */
export interface ResourcesList {
  open: number;
  close: number;
}

/** Finds `predicate.resources` (an array) in a statement's bytes, or `undefined`. */
export function findResourcesList(b: Uint8Array): ResourcesList | undefined {
  let predicate: [number, number] | undefined;
  const top = objectMembers(b, skipSpace(b, 0), (key, start, end) => {
    if (key === 'predicate') predicate = [start, end];
  });
  if (!top || predicate === undefined) return undefined;
  let list: ResourcesList | undefined;
  const inner = objectMembers(b, predicate[0], (key, start, end) => {
    if (key === 'resources' && b[start] === OPEN_ARRAY)
      list = { open: start, close: end - 1 };
  });
  if (!inner || list === undefined || b[list.close] !== CLOSE_ARRAY)
    return undefined;
  return list;
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
