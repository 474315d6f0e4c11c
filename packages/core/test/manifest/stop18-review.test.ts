// SPDX-License-Identifier: Apache-2.0
// Review of the memory cuts of issue 11 item 4 (walk names read as text,
// statements decoded while their bytes are given back, inOrder):
// - a walk lists the same names in the same order, and refuses the same
//   names, whether a directory is read once as text or again as bytes;
// - decodeOwnedStatement gives what decodeStatement gives, success or
//   failure, whatever sits at the point where the buffer is compacted;
// - compareTables and the duplicate check read unsorted tables as before.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { enumerateModel } from '../../src/manifest/walk.js';
import {
  decodeOwnedStatement,
  decodeStatement,
} from '../../src/manifest/statement.js';
import { compareTables, tableOf } from '../../src/manifest/table.js';
import { ownedCopy as owned } from '../helpers/bytes.js';
import { tempDir } from '../helpers/tree.js';

const WALK = {
  allowSymlinks: false,
  strictSymlinks: false,
  skip: () => false,
};

/** A directory holding files with these byte names (each file empty). */
function byteTree(names: Buffer[]): string {
  const root = tempDir();
  for (const name of names)
    writeFileSync(Buffer.concat([Buffer.from(`${root}/`), name]), '');
  return root;
}

async function listed(root: string): Promise<string[]> {
  const { files } = await enumerateModel(root, WALK);
  const out: string[] = [];
  for (let i = 0; i < files.length; i++) out.push(files.name(i));
  return out;
}

async function walkError(root: string): Promise<unknown> {
  try {
    await enumerateModel(root, WALK);
  } catch (error) {
    const e = error as { code?: string; message: string };
    return { code: e.code, message: e.message };
  }
  return 'listed';
}

describe('walk: names read as text, read again as bytes on U+FFFD', () => {
  // Each decodes to U+FFFD as text: the directory is read again as bytes.
  const invalid: [string, number[]][] = [
    ['an encoded high surrogate (CESU-8, WTF-8)', [0xed, 0xa0, 0x80]],
    ['an encoded surrogate pair', [0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]],
    ['an encoded low surrogate', [0xed, 0xb0, 0x80]],
    ['an overlong slash', [0xc0, 0xaf]],
    ['an overlong 3-byte form', [0xe0, 0x80, 0xaf]],
    ['a code point above U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['a truncated sequence', [0xe2, 0x82]],
    ['a lone continuation byte', [0x80]],
  ];
  for (const [what, bytes] of invalid) {
    it(`refuses a name holding ${what}, beside a real U+FFFD`, async () => {
      const bad = Buffer.concat([Buffer.from('q'), Buffer.from(bytes)]);
      const root = byteTree([Buffer.from('a\ufffd'), bad, Buffer.from('z')]);
      const shown = `q${bytes.map((b) => `\\x${b.toString(16)}`).join('')}`;
      expect(await walkError(root)).toEqual({
        code: 'INVALID_PATH',
        message: `${shown}: file name is not valid UTF-8`,
      });
    });
  }

  it('lists names in UTF-8 byte order, read as text or as bytes', async () => {
    // UTF-16 order would put U+1F600 (a surrogate pair) before U+E000.
    const names = [
      '\u{1F600}',
      '\uE000',
      '\uFFFF',
      '\uFEFFa',
      '\u{10FFFF}',
      'a',
      'a.b',
      'ab',
      '\u0080',
      '\u07FF',
      '\u0800',
      '\uD7FF',
    ];
    const expected = [...names].sort((x, y) =>
      Buffer.compare(Buffer.from(x), Buffer.from(y)),
    );
    expect(expected.indexOf('\uFFFF')).toBeLessThan(
      expected.indexOf('\u{1F600}'),
    );
    const asText = byteTree(names.map((n) => Buffer.from(n)));
    expect(await listed(asText)).toEqual(expected);
    // The same names with a real U+FFFD among them (read again as bytes).
    const asBytes = byteTree([...names, '\uFFFD'].map((n) => Buffer.from(n)));
    const withReplacement = [...names, '\uFFFD'].sort((x, y) =>
      Buffer.compare(Buffer.from(x), Buffer.from(y)),
    );
    expect(await listed(asBytes)).toEqual(withReplacement);
  });

  it('visits a subdirectory at its byte place when its parent is read as bytes', async () => {
    const root = tempDir();
    mkdirSync(`${root}/d\uFFFD`);
    mkdirSync(`${root}/d`);
    writeFileSync(`${root}/d/\u{1F600}`, '');
    writeFileSync(`${root}/d/\uE000`, '');
    writeFileSync(`${root}/d\uFFFD/x`, '');
    writeFileSync(`${root}/d.txt`, '');
    writeFileSync(`${root}/d0`, '');
    // "d/" sorts before "d.txt" and "d0": a name before every longer name it begins.
    expect(await listed(root)).toEqual([
      'd/\uE000',
      'd/\u{1F600}',
      'd.txt',
      'd0',
      'd\uFFFD/x',
    ]);
  });
});

// ---------------------------------------------------------------------------
// decodeOwnedStatement at the compaction point.

/**
 * Bytes read between two compactions: the default is 4 MiB (owned-statement
 * .test.ts decodes statements past it); here 16 KiB, the same code on
 * statements 256 times smaller.
 */
const STEP = 16 << 10;

const digestOf = (i: number): string =>
  createHash('sha256').update(`r${i}`).digest('hex');
const nameOf = (i: number): string => `f${String(i).padStart(7, '0')}`;
const element = (
  i: number,
  name = nameOf(i),
  digest: (i: number) => string = digestOf,
): string => `{"name":"${name}","algorithm":"sha256","digest":"${digest(i)}"}`;

/**
 * A statement whose list is `elements` joined by `separators[k]` (before
 * element k + 1; `,` by default) and closed by `tail` (`]` by default);
 * the root digest is over `digestOf(i)` of the digests given.
 */
function statement(
  elements: string[],
  digests: number[],
  separators: Map<number, string>,
  tail = ']',
  digest: (i: number) => string = digestOf,
): { text: Buffer; open: number } {
  const root = createHash('sha256')
    .update(Buffer.concat(digests.map((i) => Buffer.from(digest(i), 'hex'))))
    .digest('hex');
  const head =
    '{"_type":"https://in-toto.io/Statement/v1",' +
    `"subject":[{"name":"m","digest":{"sha256":"${root}"}}],` +
    '"predicateType":"https://model_signing/signature/v1.0",' +
    '"predicate":{"serialization":{"method":"files","hash_type":"sha256",' +
    '"allow_symlinks":false},"resources":';
  let list = '[';
  elements.forEach((e, k) => {
    list += k === 0 ? e : `${separators.get(k - 1) ?? ','}${e}`;
  });
  return { text: Buffer.from(`${head}${list}${tail}}}`), open: head.length };
}

/** What a decode gives: the resources and root digest, or its error. */
function outcome(run: () => ReturnType<typeof decodeStatement>): unknown {
  try {
    const { manifest } = run();
    return { root: manifest.rootDigest, resources: manifest.resources };
  } catch (error) {
    const e = error as {
      code?: unknown;
      message: string;
      details?: unknown;
      cause?: { message?: string };
    };
    return {
      code: e.code,
      message: e.message,
      details: e.details,
      cause: e.cause?.message,
    };
  }
}

/** Elements enough to pass one compaction point (about 44 KB). */
const COUNT = 400;

/**
 * The last element that starts at or before `target` with `,` separators,
 * and the padding before it that makes it start exactly at `target`.
 */
function elementAt(open: number, target: number): { k: number; pad: number } {
  let at = open + 1;
  for (let k = 0; k < COUNT; k++) {
    const next = at + element(k).length + 1;
    if (next > target) return { k, pad: target - at };
    at = next;
  }
  throw new Error('statement too short');
}

interface Variant {
  name: string;
  /** Builds the list so that the interesting byte sits at offset `target`. */
  build: (target: number) => Buffer;
}

const baseOpen = statement([], [], new Map()).open;
const range = (n: number): number[] => [...Array(n).keys()];

/** Whitespace of every JSON kind. */
const space = (n: number): string => ' \n\t\r'.repeat(n).slice(0, n);

/** The parts of a statement, as {@link around} builds and a variant edits them. */
interface Parts {
  elements: string[];
  digests: number[];
  separators: Map<number, string>;
  tail: string;
}

/**
 * A statement of `COUNT` elements whose element k starts at `target` (the
 * separator before it padded with whitespace), after `edit` changes it.
 */
function around(
  target: number,
  edit: (k: number, parts: Parts, pad: number) => void = () => {},
): Buffer {
  const { k, pad } = elementAt(baseOpen, target);
  const parts: Parts = {
    elements: range(COUNT).map((i) => element(i)),
    digests: range(COUNT),
    separators: new Map([[k - 1, `,${space(pad)}`]]),
    tail: ']',
  };
  edit(k, parts, pad);
  return statement(parts.elements, parts.digests, parts.separators, parts.tail)
    .text;
}

const variants: Variant[] = [
  // The element after a compaction starts at `target`.
  { name: 'element start (plain)', build: (target) => around(target) },
  {
    // Whitespace before the comma: the comma itself at `target`.
    name: 'comma',
    build: (target) =>
      around(target, (k, p, pad) => p.separators.set(k - 1, `${space(pad)}, `)),
  },
  {
    // An element JSON.parse reads (escapes) right where the buffer was compacted.
    name: 'escaped element',
    build: (target) =>
      around(target, (k, p) => {
        p.elements[k] = element(k, `\\u0066${nameOf(k).slice(1)}`);
        p.elements[k + 1] =
          ` { "digest" : "${digestOf(k + 1)}", "algorithm": "sha256", "name": "${nameOf(k + 1)}", "x": [1, "]"] } `;
      }),
  },
  {
    // The last element starts at `target`: `]` comes right after it.
    name: 'last element',
    build: (target) =>
      around(target, (k, p) => {
        p.elements.length = k + 1;
        p.digests.length = k + 1;
      }),
  },
  {
    // A trailing comma, with the `]` after it at `target`.
    name: 'trailing comma',
    build: (target) =>
      around(target, (k, p, pad) => {
        p.elements.length = k;
        p.digests.length = k;
        p.separators.clear();
        p.tail = `,${space(pad)}]`;
      }),
  },
  {
    // A malformed element at `target` (found by JSON.parse).
    name: 'malformed element',
    build: (target) =>
      around(target, (k, p) => {
        p.elements[k] = `{"name":"${nameOf(k)}",}`;
      }),
  },
  {
    // A bad separator right after the element at `target`.
    name: 'bad separator',
    build: (target) => around(target, (k, p) => p.separators.set(k, ';')),
  },
  {
    // The name of the element before the compaction again after it:
    // the duplicate is found.
    name: 'duplicate across the point',
    build: (target) =>
      around(target, (k, p) => {
        p.elements[k] = element(k, nameOf(k - 1));
      }),
  },
  {
    // Two elements out of order across the point: order is kept.
    name: 'unsorted across the point',
    build: (target) =>
      around(target, (k, p) => {
        const order = range(COUNT);
        [order[k - 1], order[k + 1]] = [order[k + 1]!, order[k - 1]!];
        p.elements = order.map((i) => element(i));
        p.digests = order;
      }),
  },
];

describe('decodeOwnedStatement: whatever sits at the compaction point', () => {
  for (const variant of variants) {
    it(`decodes as decodeStatement does: ${variant.name}`, () => {
      for (const delta of [-1, 0, 1]) {
        const text = variant.build(STEP + delta);
        const expected = outcome(() => decodeStatement(Buffer.from(text)));
        const payload = owned(text);
        const actual = outcome(() =>
          decodeOwnedStatement(payload, { compactEvery: STEP }),
        );
        expect(actual, `${variant.name} at ${delta}`).toEqual(expected);
        // At or past the point, the buffer was compacted before it was read.
        if (delta >= 0)
          expect(payload.buffer.byteLength).toBeLessThan(text.length);
      }
    });
  }

  it('finds the failures and results the variants were built for', () => {
    const at = (v: string): unknown =>
      outcome(() =>
        decodeStatement(variants.find((x) => x.name === v)!.build(STEP)),
      );
    expect(at('element start (plain)')).toMatchObject({
      resources: { length: COUNT },
    });
    expect(at('escaped element')).toMatchObject({
      resources: { length: COUNT },
    });
    expect(at('trailing comma')).toMatchObject({
      code: 'STATEMENT_INVALID',
      cause: `malformed resource list at byte ${STEP}`,
    });
    expect(at('malformed element')).toMatchObject({
      code: 'STATEMENT_INVALID',
    });
    expect(at('bad separator')).toMatchObject({ code: 'STATEMENT_INVALID' });
    expect(at('duplicate across the point')).toMatchObject({
      code: 'MANIFEST_INCONSISTENT',
    });
    expect(at('unsorted across the point')).toMatchObject({
      resources: { length: COUNT },
    });
  });
});

// ---------------------------------------------------------------------------
// inOrder: unsorted tables compare and check duplicates as before.

function decodedTable(order: number[], digests: (i: number) => string) {
  const { text } = statement(
    order.map((i) => element(i, nameOf(i), digests)),
    order,
    new Map(),
    ']',
    digests,
  );
  return tableOf(decodeStatement(text).manifest)!;
}

describe('compareTables with tables in or out of the reference order', () => {
  it('finds the same missing, extra and changed resources', () => {
    const sorted = range(50);
    // A fixed shuffle: unsorted, the first pair already out of order.
    const shuffled = sorted.map((i) => (i * 17 + 7) % 50);
    const changedDigest = (i: number): string =>
      i % 9 === 0 ? digestOf(i + 1000) : digestOf(i);
    const signedNames = sorted.filter((i) => i % 7 !== 3);
    const actualNames = sorted.filter((i) => i % 5 !== 1);
    const expected = {
      missing: signedNames
        .filter((i) => !actualNames.includes(i))
        .map(nameOf)
        .sort(),
      extra: actualNames
        .filter((i) => !signedNames.includes(i))
        .map(nameOf)
        .sort(),
      changed: signedNames
        .filter((i) => actualNames.includes(i) && i % 9 === 0)
        .map(nameOf)
        .sort(),
    };
    for (const signedOrder of [sorted, shuffled]) {
      for (const actualOrder of [sorted, [...shuffled].reverse()]) {
        const signed = decodedTable(
          signedOrder.filter((i) => signedNames.includes(i)),
          digestOf,
        );
        const actual = decodedTable(
          actualOrder.filter((i) => actualNames.includes(i)),
          changedDigest,
        );
        const result = compareTables(signed, actual, false);
        expect({
          missing: result.missing.map((r) => r.name),
          extra: result.extra.map((r) => r.name),
          changed: result.changed.map((r) => r.name),
        }).toEqual(expected);
      }
    }
  });

  it('finds a duplicate the list keeps apart', () => {
    const order = [5, 1, 9, 3, 1, 7];
    expect(
      outcome(() => {
        decodedTable(order, digestOf);
        throw new Error('decoded');
      }),
    ).toMatchObject({
      code: 'MANIFEST_INCONSISTENT',
      message: expect.stringContaining(
        `duplicate resource name "${nameOf(1)}"`,
      ),
    });
  });
});
