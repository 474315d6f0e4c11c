// SPDX-License-Identifier: Apache-2.0
// Issue 11 item 3: the statement reader takes the common shape of a resource
// without JSON.parse (plainResource). Held here to JSON.parse on seeded
// mutations of that shape: whenever it answers, JSON.parse of the same bytes
// gives the same object and the element ends where the JSON value ends; and
// the component check of names (invalidPathReason, without an array) to the
// obvious split-based one.
import { describe, expect, it } from 'vitest';
import { skipValue } from '../../src/internal/json-scan.js';
import { invalidPathReason } from '../../src/manifest/names.js';
import {
  PlainSpans,
  plainSpans,
  type PlainResource,
} from '../../src/manifest/statement-scan.js';
import { mutate, seeded } from '../helpers/mutation.js';

/** plainSpans as the object JSON.parse would give, and where the element ends. */
function plainResource(
  b: Buffer,
  i: number,
  limit: number,
): { value: PlainResource; end: number } | undefined {
  const spans = new PlainSpans();
  if (!plainSpans(b, i, limit, spans)) return undefined;
  return { value: spans.value(b), end: spans.end };
}

const DIGEST = 'ab'.repeat(32);
const BASES = [
  `{"name":"d/f.bin","algorithm":"sha256","digest":"${DIGEST}"}`,
  `{\n        "name": "d000/t000001.bin",\n        "algorithm": "sha256",\n        "digest": "${DIGEST}"\n      }`,
  `{ "digest" : "${DIGEST}" , "name" : "a b" , "algorithm" : "sha256-sharded-3" }`,
];
// Bytes that change JSON structure or string contents, most of all.
const ALPHABET: readonly number[] = [
  ...Buffer.from('{}[],:"\\ \n\t\r\x01\x7fae0u/'),
  0xc3,
  0xa9,
  0xff,
];

function parsed(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

describe('plainResource against JSON.parse', () => {
  it('reads every base shape as JSON.parse does', () => {
    for (const base of BASES) {
      const bytes = Buffer.from(base);
      const got = plainResource(bytes, 0, bytes.length);
      expect(got?.value).toEqual(JSON.parse(base));
      expect(got?.end).toBe(bytes.length);
    }
  });

  it('answers only where JSON.parse agrees, on 30,000 mutations', () => {
    const random = seeded(0x1157);
    let answered = 0;
    let declined = 0;
    for (let n = 0; n < 30_000; n++) {
      const base = Buffer.from(BASES[n % BASES.length]!);
      const bytes = mutate(base, random, ALPHABET);
      // The element is followed by more list, as in a statement.
      const text = Buffer.concat([bytes, Buffer.from(',{}]')]);
      const got = plainResource(text, 0, text.length - 1);
      if (got === undefined) {
        declined++;
        continue;
      }
      answered++;
      const end = skipValue(text, 0);
      expect(got.end).toBe(end);
      expect(got.value).toEqual(parsed(text.subarray(0, end)));
    }
    // Both sides of the fast path are exercised.
    expect(answered).toBeGreaterThan(1_000);
    expect(declined).toBeGreaterThan(1_000);
  });

  it('declines what only JSON.parse can read', () => {
    for (const text of [
      `{"name":"a\\u0062","algorithm":"sha256","digest":"${DIGEST}"}`,
      `{"name":"é","algorithm":"sha256","digest":"${DIGEST}"}`,
      `{"name":"a","name":"b","algorithm":"sha256","digest":"${DIGEST}"}`,
      `{"name":"a","algorithm":"sha256","digest":"${DIGEST}","extra":1}`,
      `{"name":"a","algorithm":"sha256"}`,
      `{"name":1,"algorithm":"sha256","digest":"${DIGEST}"}`,
      `{"name":"a\tb","algorithm":"sha256","digest":"${DIGEST}"}`,
    ]) {
      const bytes = Buffer.from(text);
      expect(plainResource(bytes, 0, bytes.length)).toBeUndefined();
    }
  });
});

describe('invalidPathReason', () => {
  const reference = (path: string): string | undefined => {
    if (path === '') return 'empty name';
    if (path.includes('\0')) return 'name contains a NUL character';
    if (path.startsWith('/')) return 'absolute name';
    if (path.endsWith('/')) return 'trailing slash';
    for (const part of path.split('/')) {
      if (part === '') return 'empty path component';
      if (part === '..') return "'..' component";
      if (part === '.') return "'.' component";
    }
    return undefined;
  };

  it('gives the reason the component-array check gives, on 20,000 names', () => {
    const random = seeded(7);
    const pieces = ['a', '.', '..', '...', '/', '.a', 'a.', '', '\0', 'é'];
    for (let n = 0; n < 20_000; n++) {
      let name = '';
      const count = Math.floor(random() * 6);
      for (let k = 0; k < count; k++)
        name += pieces[Math.floor(random() * pieces.length)]!;
      expect(invalidPathReason(name)).toBe(reference(name));
    }
  });
});
