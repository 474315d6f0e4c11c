// SPDX-License-Identifier: Apache-2.0
// A files-method resource of the common shape is checked and stored from
// the statement's bytes (ResourceDecoder.plain: no object, no string). Held
// here to the object path: the same resource with one character of its name
// written as a \u escape (JSON.parse gives the same string, but the element
// is no longer plain, so it goes through JSON.parse and the object checks)
// must decode to the same statement or fail with the same error, whole and
// windowed.
import { describe, expect, it } from 'vitest';
import {
  decodeStatement,
  decodeStatementWindows,
} from '../../src/manifest/statement.js';
import {
  filesStatementText,
  pullOf,
  rootDigestOf,
  statementOutcome,
} from '../helpers/statements.js';

const DIGEST = 'ab'.repeat(32);

/** A statement of two resources, `a.bin` and the one given (its JSON as written). */
function statement(element: string, rootOf: string[]): Buffer {
  return Buffer.from(
    filesStatementText(['@'], rootDigestOf(rootOf), 2).replace(
      '"@"',
      `{"name": "a.bin", "algorithm": "sha256", "digest": "${'cd'.repeat(32)}"},\n${element}`,
    ),
  );
}

/** The name with its first character as a `\u` escape (not plain any more). */
function escaped(name: string): string {
  if (name === '') return '';
  const code = name.charCodeAt(0).toString(16).padStart(4, '0');
  return `\\u${code}${name.slice(1)}`;
}

const NAMES = [
  'b.bin',
  'a.bin', // a duplicate of the first
  '.',
  '..',
  './x',
  'x/.',
  'x/..',
  'x/../y',
  '...',
  '.x',
  'x/.y/..z',
  '/abs',
  'dir/',
  'a//b',
  '',
  '/',
  '//',
  'd e/f~g',
  'z'.repeat(300),
];
const ALGORITHMS = ['sha256', 'SHA256', 'sha25', 'sha2566', 'blake3', ''];
const DIGESTS = [
  DIGEST,
  DIGEST.toUpperCase(),
  `${DIGEST.slice(0, 63)}g`,
  DIGEST.slice(0, 62),
  `${DIGEST}ab`,
  '',
];

describe('plain resources read from their bytes, against the object path', () => {
  it('every name, algorithm and digest gives the same outcome both ways', () => {
    let decoded = 0;
    const seen = new Set<string>();
    for (const name of NAMES)
      for (const algorithm of ALGORITHMS)
        for (const digest of DIGESTS) {
          const rootOf = ['cd'.repeat(32), digest.toLowerCase()];
          const element = (n: string): string =>
            `{"name": "${n}", "algorithm": "${algorithm}", "digest": "${digest}"}`;
          const plain = statement(element(name), rootOf);
          const viaObject = statement(element(escaped(name)), rootOf);
          // The escaped text is the same JSON.
          expect(JSON.parse(viaObject.toString())).toEqual(
            JSON.parse(plain.toString()),
          );
          const expected = statementOutcome(() => decodeStatement(viaObject));
          expect(statementOutcome(() => decodeStatement(plain))).toBe(expected);
          const windowed = statementOutcome(() =>
            decodeStatementWindows(pullOf(plain, 7), plain.length, {
              window: 1024,
            }),
          );
          // Windowed: the same statement, or no answer (the caller then
          // decodes whole, which gives the error above).
          if (expected.startsWith('error')) expect(windowed).toBe('undefined');
          else expect(windowed).toBe(expected);
          if (!expected.startsWith('error')) decoded++;
          seen.add(
            expected.startsWith('error')
              ? expected.replace(/"[^"]*"/g, '…').replace(/ \(.*$/, '')
              : 'decoded',
          );
        }
    // Some of each: decoded, and refused for several reasons.
    expect(decoded).toBeGreaterThan(10);
    // Decoded, and each of the nine refusals the object path gives.
    expect(seen.size).toBe(10);
  });
});
