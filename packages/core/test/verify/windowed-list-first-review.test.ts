// SPDX-License-Identifier: Apache-2.0
// Review of commit 4b6237b, as an attacker: decodeStatementWindows on a
// statement whose `predicate.resources` comes before its serialization (the
// list skipped, then read again through `options.again`). Whenever it gives
// a statement, decodeStatement of the same bytes must give the same one;
// otherwise it gives `undefined`, never throws. Seeded, differential.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodeStatement,
  decodeStatementWindows,
} from '../../src/manifest/statement.js';
import { JSON_ALPHABET, mutate, seeded } from '../helpers/mutation.js';
import {
  pullOf,
  referenceStatement,
  statementOutcome,
} from '../helpers/statements.js';

type Random = () => number;
const int = (random: Random, below: number): number =>
  Math.floor(random() * below);
const pick = <T>(random: Random, items: readonly T[]): T =>
  items[int(random, items.length)]!;

const outcome = statementOutcome;
const whole = (bytes: Buffer): string => outcome(() => decodeStatement(bytes));

/** The windowed reading of `bytes`, read twice when it asks (`again` over `second`, default the same bytes). */
const windowed = (
  bytes: Buffer,
  window: number,
  step = Infinity,
  second: Buffer = bytes,
): string => {
  let threw: unknown;
  const result = outcome(() => {
    try {
      return decodeStatementWindows(pullOf(bytes, step), bytes.length, {
        window,
        again: () => pullOf(second, step),
      });
    } catch (error) {
      threw = error;
      throw error;
    }
  });
  // Never throws, whatever the bytes.
  expect(threw).toBeUndefined();
  return result;
};

/** Holds the invariant for `bytes` in `window`; true when it gave a statement. */
const agrees = (bytes: Buffer, window: number, step?: number): boolean => {
  const got = windowed(bytes, window, step);
  if (got === 'undefined') return false;
  expect(got).toBe(whole(bytes));
  return true;
};

const digestOf = (seed: string): string =>
  createHash('sha256').update(seed).digest('hex');

const SERIALIZATION = `"serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": false}`;

/**
 * A list-first statement of the given raw elements (JSON text each) and
 * predicate members around; the root digest fixed to what decodeStatement
 * computes when only it disagrees.
 */
function listFirst(
  elements: readonly string[],
  options: {
    between?: string;
    afterList?: string;
    beforeList?: string;
    tail?: string;
    lead?: string;
    serialization?: string;
  } = {},
): Buffer {
  const make = (root: string): Buffer =>
    Buffer.from(
      `${options.lead ?? ''}{"_type": "https://in-toto.io/Statement/v1", "subject": [{"name": "m", "digest": {"sha256": "${root}"}}], "predicateType": "https://model_signing/signature/v1.0", "predicate": {${options.beforeList ?? ''}"resources": [${elements.join(`,${options.between ?? ' '}`)}]${options.afterList ?? ''}, ${options.serialization ?? SERIALIZATION}${options.tail ?? ''}}}`,
    );
  const first = make('0'.repeat(64));
  try {
    decodeStatement(first);
  } catch (error) {
    const actual = (error as { details?: { actual?: unknown } }).details
      ?.actual;
    if (typeof actual === 'string') return make(actual);
  }
  return first;
}

const element = (name: string, digest = digestOf(name)): string =>
  `{"name": ${name.startsWith('"') ? name : JSON.stringify(name)}, "algorithm": "sha256", "digest": "${digest}"}`;

/** Names whose JSON text holds brackets, quotes and backslashes (escaped or not). */
const TRICKY_NAMES: readonly string[] = [
  'a]b',
  'a[b',
  'x}y',
  'x{y',
  'q"uote',
  'back\\slash',
  'ends\\',
  'ends\\\\',
  '\\"]',
  '\\\\"]}',
  'a\\"b\\\\c\\\\\\"d]',
  '"]}, "serialization": {',
  '],"serialization":{"method":"files"}',
  'é[ü]',
  '😀]',
];

describe('decodeStatementWindows, list first (review of 4b6237b)', () => {
  it('agrees on the reference list-first layout in windows of 256 B to 4 KiB and pulls of 1 to 97 bytes', () => {
    const text = referenceStatement(40, { resourcesFirst: true });
    expect(whole(text)).toMatch(/^\[/);
    let accepted = 0;
    for (const window of [256, 300, 512, 1024, 4096])
      for (const step of [1, 7, 64, 97, Infinity])
        if (agrees(text, window, step)) accepted++;
    // The path is taken once the 290-byte prefix fits (512 B and up).
    expect(accepted).toBe(15);
  });

  it('agrees on names with brackets, quotes and backslash runs (raw and as JSON escapes)', () => {
    let accepted = 0;
    for (const name of TRICKY_NAMES) {
      // Escaped as JSON.stringify does, and again with brackets as \u escapes.
      const escaped = JSON.stringify(name)
        .replace(/\]/g, '\\u005d')
        .replace(/\[/g, '\\u005b');
      for (const raw of [JSON.stringify(name), escaped]) {
        const bytes = listFirst([element('z0'), element(raw), element('z9')]);
        expect(whole(bytes)).toMatch(/^\[/);
        for (const window of [256, 512, 2048])
          if (agrees(bytes, window, 5)) accepted++;
      }
    }
    expect(accepted).toBeGreaterThan(TRICKY_NAMES.length * 2);
  });

  it('agrees on unbalanced brackets and quotes inside and after malformed elements (never a statement decodeStatement refuses)', () => {
    const good = [element('a'), element('b')];
    const bad: string[] = [
      `${element('a')}]`, // a ] too many: the skip ends early
      `${element('a')}, [`, // never closes
      `${element('a')}}`, // depth falls by a brace
      `tru]e`, // ] inside a bare value
      `"x\\"]"`, // an escaped quote then ]
      `"x\\\\"]`, // an escaped backslash then a real quote: the string ends, ] closes
      `["]"]`,
      `{"name": "a", "algorithm": "sha256", "digest": "${digestOf('a')}"]`,
      `{"name": "a]", "algorithm": "sha256", "digest": "${digestOf('a')}" ]}`,
      `{"name": "a\\\\\\"]", "algorithm": "sha256", "digest": "${digestOf('a')}"}`,
      `nul]l`,
      `1e]5`,
      `"\\u005d"`,
      `{"name": "a", "algorithm": "sha256", "digest": "${digestOf('a')}", "x": [}`,
    ];
    let runs = 0;
    for (const b of bad)
      for (const at of [0, 1, 2]) {
        const elements = [...good];
        elements.splice(at, 0, b);
        const bytes = listFirst(elements);
        for (const window of [256, 1024])
          for (const step of [3, Infinity]) {
            const got = windowed(bytes, window, step);
            if (got !== 'undefined') expect(got).toBe(whole(bytes));
            runs++;
          }
      }
    expect(runs).toBe(bad.length * 12);
  });

  it('agrees with duplicate, nested and look-alike resources and serialization keys, in either order', () => {
    const list = `[${element('a')}, ${element('b')}]`;
    const other = `[${element('c')}]`;
    const cases: [string, Record<string, string>][] = [
      [
        'a second list after the serialization',
        { tail: `, "resources": ${other}` },
      ],
      [
        'a second list before the first',
        { beforeList: `"resources": ${other}, ` },
      ],
      [
        'a second serialization',
        { tail: `, ${SERIALIZATION.replace('false', 'true')}` },
      ],
      [
        'a serialization before the list too',
        { beforeList: `${SERIALIZATION.replace('false', 'true')}, ` },
      ],
      [
        'a nested resources key before',
        { beforeList: `"x": {"resources": ${other}}, ` },
      ],
      [
        'a nested resources key after',
        { tail: `, "x": {"resources": ${other}}` },
      ],
      ['a look-alike key before', { beforeList: `"\\"resources": ${other}, ` }],
      [
        'an escaped resources key after',
        { tail: `, "resour\\u0063es": ${other}` },
      ],
      [
        'an escaped resources key before',
        { beforeList: `"resour\\u0063es": ${other}, ` },
      ],
      [
        'resources as a string after',
        { tail: `, "resources": "${list.replace(/"/g, '\\"')}"` },
      ],
      ['resources as a number after', { tail: ', "resources": 5' }],
      ['a bare value with brackets after', { tail: ', "x": tr]ue' }],
      ['an unclosed string after', { tail: ', "x": "]' }],
      ['a BOM', { lead: '\ufeff' }],
      ['leading whitespace', { lead: ' \n\t\r' }],
    ];
    let accepted = 0;
    for (const [, options] of cases) {
      const bytes = listFirst([element('a'), element('b')], options);
      for (const window of [256, 1024, 1 << 16])
        if (agrees(bytes, window, 11)) accepted++;
    }
    // The harmless ones (whitespace, a nested key after) are still read this way.
    expect(accepted).toBeGreaterThan(0);
  });

  it('agrees when whitespace runs longer than the window sit inside, after and around the list', () => {
    const runs = [300, 1000, 5000];
    let accepted = 0;
    for (const n of runs) {
      const space = ' \n\t\r'.repeat(n).slice(0, n);
      const variants: Buffer[] = [
        listFirst([element('a'), element('b')], { between: space }),
        listFirst([element('a'), element('b')], { afterList: space }),
        listFirst([`${space}${element('a')}`, `${element('b')}${space}`]),
        listFirst([element('a'), element('b')], { tail: space }),
        Buffer.concat([
          listFirst([element('a'), element('b')]),
          Buffer.from(space),
        ]),
      ];
      for (const bytes of variants)
        for (const window of [256, 512])
          for (const step of [13, Infinity])
            if (agrees(bytes, window, step)) accepted++;
    }
    expect(accepted).toBeGreaterThan(20);
  });

  it('gives undefined when the prefix barely fits, or does not, in a 256 B window', () => {
    // Grow the model name until the list's `[` leaves the first window.
    let accepted = 0;
    let refused = 0;
    const base = listFirst([element('a'), element('b')]).toString();
    for (let pad = 0; pad < 100; pad++) {
      const bytes = Buffer.from(
        base.replace('"name": "m"', `"name": "${'m'.repeat(pad + 1)}"`),
      );
      const got = windowed(bytes, 256);
      if (got === 'undefined') refused++;
      else {
        expect(got).toBe(whole(bytes));
        accepted++;
      }
    }
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  });

  it('agrees with decodeStatement on 6,000 mutated list-first statements (tricky names, windows of 256 B to 2 KiB)', () => {
    const random = seeded(0x4b62);
    const bases = [
      referenceStatement(6, { resourcesFirst: true }),
      listFirst(TRICKY_NAMES.slice(0, 6).map((n) => element(n))),
      listFirst(TRICKY_NAMES.slice(6).map((n) => element(n))),
    ];
    const alphabet = [...JSON_ALPHABET, ...Buffer.from('[]\\"\\\\')];
    let accepted = 0;
    for (let round = 0; round < 6000; round++) {
      const bytes = mutate(pick(random, bases), random, alphabet);
      const window = pick(random, [256, 512, 640, 2048]);
      const step = pick(random, [1, 9, 64, Infinity]);
      const got = windowed(bytes, window, step);
      if (got !== 'undefined') {
        expect(got).toBe(whole(bytes));
        accepted++;
      }
    }
    expect(accepted).toBeGreaterThan(100);
  });

  it('agrees when `again` gives the same bytes but fewer or more of them after the list (its own reading not required to be whole)', () => {
    const bytes = referenceStatement(5, { resourcesFirst: true });
    const close = bytes.lastIndexOf(']', bytes.indexOf('"serialization"'));
    for (const second of [
      bytes.subarray(0, close + 1),
      bytes.subarray(0, close - 1),
      Buffer.concat([bytes, Buffer.from('garbage ]]]')]),
    ]) {
      const got = windowed(bytes, 512, 7, second);
      if (got !== 'undefined') expect(got).toBe(whole(bytes));
    }
  });

  // Found by this review: the second reading was checked only for the same
  // prefix and a list ending at the same offset, so a list from the second
  // reading could be decoded against the first reading's statement around
  // it. Now both readings are hashed as they are pulled and must match.
  it('gives no statement decodeStatement of the first reading refuses, when `again` gives other bytes of the same length', () => {
    const good = referenceStatement(5, { resourcesFirst: true });
    const text = good.toString();
    const at = text.lastIndexOf('"digest": "') + 11;
    const bad = Buffer.from(
      text.slice(0, at) + (text[at] === '0' ? '1' : '0') + text.slice(at + 1),
    );
    expect(bad.length).toBe(good.length);
    expect(whole(bad)).toMatch(/^error MANIFEST_INCONSISTENT/);
    expect(windowed(bad, 512, Infinity, good)).toBe('undefined');
  });

  // The same, worse: a statement neither reading decodes to (the first
  // reading's rest, the second's resources): refused now as well.
  it('gives nothing but what decodeStatement of one of its two readings gives, when `again` gives other bytes', () => {
    const good = referenceStatement(5, { resourcesFirst: true });
    const text = good
      .toString()
      .replace('"allow_symlinks": false', '"allow_symlinks":  true');
    const at = text.lastIndexOf('"digest": "') + 11;
    const first = Buffer.from(
      text.slice(0, at) + (text[at] === '0' ? '1' : '0') + text.slice(at + 1),
    );
    expect(first.length).toBe(good.length);
    expect(whole(first)).toMatch(/^error MANIFEST_INCONSISTENT/);
    expect(whole(good)).toMatch(/"allowSymlinks":false/);
    const got = windowed(first, 512, Infinity, good);
    expect(['undefined', whole(first), whole(good)]).toContain(got);
  });

  it('gives nothing when `again` differs from the first reading only after the list', () => {
    const good = referenceStatement(5, { resourcesFirst: true });
    const first = Buffer.from(
      good
        .toString()
        .replace('"allow_symlinks": false', '"allow_symlinks":  true'),
    );
    expect(first.length).toBe(good.length);
    // Each reading alone decodes (to different statements).
    expect(whole(first)).toMatch(/"allowSymlinks":true/);
    expect(whole(good)).toMatch(/"allowSymlinks":false/);
    expect(windowed(first, 512, Infinity, good)).toBe('undefined');
    // The same bytes twice: read.
    expect(windowed(first, 512, Infinity, first)).toBe(whole(first));
  });

  it('gives undefined or the same statement when payloadLength is not the bytes pulled', () => {
    const bytes = referenceStatement(30, { resourcesFirst: true });
    const expected = whole(bytes);
    for (const length of [0, 1, 200, bytes.length - 1, bytes.length * 4]) {
      const got = outcome(() =>
        decodeStatementWindows(pullOf(bytes, 33), length, {
          window: 1024,
          again: () => pullOf(bytes, 33),
        }),
      );
      if (got !== 'undefined') expect(got).toBe(expected);
    }
  });

  it('agrees on 1,500 generated list-first statements (tricky names, extra members with brackets in strings, long whitespace)', () => {
    const random = seeded(0x1f157);
    const space = (): string =>
      random() < 0.15
        ? ' '.repeat(200 + int(random, 900))
        : pick(random, ['', ' ', '\n  ', '\t', '\r\n']);
    const extras = [
      '"x": "]"',
      '"x": "\\\\"',
      '"x": ["[", "\\"]", {"y": "}"}]',
      '"x": {"resources": []}',
      '"x": "\\"resources\\": ["',
      '"x": 1',
      '"x": null',
    ];
    let accepted = 0;
    for (let round = 0; round < 1500; round++) {
      const count = 1 + int(random, 6);
      const names = new Set<string>();
      while (names.size < count)
        names.add(
          `${pick(random, TRICKY_NAMES)}${int(random, 1000)}${pick(random, ['', ']', '\\"', '\\\\'])}`.replace(
            /^\/+|\/+$/g,
            '',
          ),
        );
      const elements = [...names].map((n) => {
        const text = element(n);
        return random() < 0.3
          ? text.replace(/, /g, `,${space()}`).replace(/: /g, `${space()}:`)
          : text;
      });
      const before = random() < 0.3 ? `${pick(random, extras)},${space()}` : '';
      const after = random() < 0.3 ? `, ${pick(random, extras)}` : '';
      const bytes = listFirst(elements, {
        between: space(),
        afterList: space(),
        beforeList: before,
        tail: after,
      });
      const window = pick(random, [256, 512, 1024, 4096]);
      const step = pick(random, [1, 5, 64, Infinity]);
      const got = windowed(bytes, window, step);
      if (got !== 'undefined') {
        expect(got).toBe(whole(bytes));
        accepted++;
      }
    }
    expect(accepted).toBeGreaterThan(300);
  });

  it('agrees when the two readings pull in different steps (the second window slides elsewhere)', () => {
    const space = ' '.repeat(700);
    const bytes = listFirst(
      [element('a]'), `${space}${element('b\\"')}`, element('c')],
      { between: space, afterList: space },
    );
    const expected = whole(bytes);
    expect(expected).toMatch(/^\[/);
    let accepted = 0;
    for (const window of [256, 384, 1024])
      for (const [one, two] of [
        [1, Infinity],
        [Infinity, 1],
        [7, 100],
        [100, 7],
      ] as const) {
        const got = outcome(() =>
          decodeStatementWindows(pullOf(bytes, one), bytes.length, {
            window,
            again: () => pullOf(bytes, two),
          }),
        );
        if (got !== 'undefined') {
          expect(got).toBe(expected);
          accepted++;
        }
      }
    // 256 B: a 1-byte pull holds less than the 247-byte prefix (declined).
    expect(accepted).toBeGreaterThanOrEqual(8);
  });

  it('agrees on 4,000 statements mutated next to the list brackets and inside its strings', () => {
    const random = seeded(0x5b5d);
    const bases = [
      referenceStatement(4, { resourcesFirst: true }),
      listFirst(
        ['a\\"]', 'b\\\\', 'c]}'].map((n) => element(n)),
        {
          afterList: '   ',
        },
      ),
    ];
    const alphabet = [...Buffer.from('[]{}"\\,: ')];
    let accepted = 0;
    for (let round = 0; round < 4000; round++) {
      const base = pick(random, bases);
      const text = base.toString('latin1');
      const open = text.indexOf('"resources": [') + 13;
      const close = text.lastIndexOf(']', text.indexOf('"serialization"'));
      const spots = [open, close, open + int(random, close - open)];
      const at = Math.max(0, pick(random, spots) - 8);
      const cut = base.subarray(at, at + 16);
      const bytes = Buffer.concat([
        base.subarray(0, at),
        mutate(cut, random, alphabet),
        base.subarray(at + cut.length),
      ]);
      const got = windowed(
        bytes,
        pick(random, [512, 1024]),
        pick(random, [3, Infinity]),
      );
      if (got !== 'undefined') {
        expect(got).toBe(whole(bytes));
        accepted++;
      }
    }
    expect(accepted).toBeGreaterThan(50);
  });
});
