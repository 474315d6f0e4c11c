// SPDX-License-Identifier: Apache-2.0
// The boundary scans that let large statements and bundles be read piece by
// piece (statement-scan.ts, bundle/read.ts) against whole-document JSON.parse,
// on thousands of seeded mutations: a document JSON.parse refuses is never
// accepted, and one it accepts gives the same result either way.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseBundle } from '../../src/bundle/read.js';
import { objectMembers, skipSpace } from '../../src/internal/json-scan.js';
import { decodeStatement } from '../../src/manifest/index.js';
import {
  findResourcesList,
  type ResourcesList,
} from '../../src/manifest/statement-scan.js';
import { mutate, seeded } from '../helpers/mutation.js';
import { filesStatementText, rootDigestOf } from '../helpers/statements.js';

const sha = (text: string): string =>
  createHash('sha256').update(text).digest('hex');

function statement(): Buffer {
  const resources = ['a', 'b/c', 'd e', 'é/f'].map((name) => ({
    name,
    algorithm: 'sha256',
    digest: sha(name),
  }));
  const root = rootDigestOf(resources.map((r) => r.digest));
  return Buffer.from(
    filesStatementText(resources, root, Number(process.env['INDENT'] ?? 1)),
  );
}

type Outcome = { ok: true; value: unknown } | { ok: false; code: string };

function outcome(run: () => unknown): Outcome {
  try {
    return { ok: true, value: run() };
  } catch (error) {
    return { ok: false, code: (error as { code?: string }).code ?? 'THROW' };
  }
}

describe('statement resource lists, piece by piece vs whole', () => {
  it('4,000 mutations: never accepted when JSON.parse refuses; the same result when it accepts', () => {
    const base = statement();
    const random = seeded(7);
    let valid = 0;
    for (let i = 0; i < 4000; i++) {
      const text = mutate(base, random);
      let whole: unknown;
      try {
        whole = JSON.parse(text.toString('utf8'));
      } catch {
        expect(outcome(() => decodeStatement(text)).ok).toBe(false);
        continue;
      }
      valid++;
      // The same document written canonically: its boundaries are plain.
      const canonical = Buffer.from(JSON.stringify(whole));
      const a = outcome(() => decodeStatement(text).manifest.resources);
      const b = outcome(() => decodeStatement(canonical).manifest.resources);
      expect(a).toEqual(b);
    }
    expect(valid).toBeGreaterThan(100);
  });
});

describe('bundle payloads lifted from the bytes vs the parsed object', () => {
  it('2,000 mutations of a bundle with a large payload agree with parsing the object', () => {
    const payload = Buffer.alloc(80_000, 0x41).toString('base64');
    const base = Buffer.from(
      JSON.stringify({
        mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
        verificationMaterial: { publicKey: { hint: 'abc' } },
        dsseEnvelope: {
          payload,
          payloadType: 'application/vnd.in-toto+json',
          signatures: [{ sig: 'AAAA', keyid: '' }],
        },
      }),
    );
    // Mutations near the structure: the first and last 400 bytes.
    const head = base.subarray(0, 400);
    const tail = base.subarray(base.length - 400);
    const middle = base.subarray(400, base.length - 400);
    const random = seeded(11);
    let valid = 0;
    for (let i = 0; i < 2000; i++) {
      const text =
        random() < 0.5
          ? Buffer.concat([mutate(head, random), middle, tail])
          : Buffer.concat([head, middle, mutate(tail, random)]);
      let json: unknown;
      try {
        json = JSON.parse(text.toString('utf8'));
      } catch {
        expect(outcome(() => parseBundle(text)).ok).toBe(false);
        continue;
      }
      valid++;
      const summary = (b: ReturnType<typeof parseBundle>): unknown => ({
        payload: sha(b.envelope.payload.toString('latin1')),
        type: b.envelope.payloadType,
        kind: b.materialKind,
      });
      const a = outcome(() => summary(parseBundle(text)));
      const b = outcome(() => summary(parseBundle(json)));
      expect(a).toEqual(b);
    }
    expect(valid).toBeGreaterThan(50);
  });
});

/**
 * The list as it was found before the predicate was read in one pass: the
 * top level read with every value skipped, then the predicate read again.
 */
function listReadTwice(b: Buffer): ResourcesList | undefined {
  let predicate: [number, number] | undefined;
  const top = objectMembers(b, skipSpace(b, 0), (key, start, end) => {
    if (key === 'predicate') predicate = [start, end];
  });
  if (!top || predicate === undefined) return undefined;
  let list: ResourcesList | undefined;
  const inner = objectMembers(b, predicate[0], (key, start, end) => {
    if (key === 'resources' && b[start] === 0x5b)
      list = { open: start, close: end - 1 };
  });
  if (!inner || list === undefined || b[list.close] !== 0x5d) return undefined;
  return list;
}

describe('the predicate is read once (findResourcesList)', () => {
  it('finds the list reading it twice finds, on 6,000 mutations near the predicate', () => {
    const base = statement();
    const at = base.indexOf('"predicate"');
    const head = base.subarray(0, at);
    const rest = base.subarray(at);
    const random = seeded(23);
    let found = 0;
    for (let i = 0; i < 6000; i++) {
      // Mostly the predicate and what follows it: its bare values, brackets
      // and quotes are where a single reading could end elsewhere.
      const text =
        random() < 0.2
          ? mutate(base, random)
          : Buffer.concat([head, mutate(rest, random)]);
      const expected = listReadTwice(text);
      expect(findResourcesList(text)).toEqual(expected);
      if (expected !== undefined) found++;
    }
    expect(found).toBeGreaterThan(1000);
  });

  it('a bare value holding a bracket or quote in the predicate is judged as before', () => {
    const list = '"resources": [{"name": "a"}]';
    const cases = [
      // Malformed bare values: skipValue counts their brackets and quotes.
      `{"predicate": {"x": tru{e, ${list}}, "y": 1}`,
      `{"predicate": {"x": tru[e, ${list}}, "y": 1}`,
      `{"predicate": {"x": tr"ue, ${list}}, "y": 1}`,
      `{"predicate": {${list}, "x": 1{}}}`,
      `{"predicate": {${list}, "x": 1[]}, "z": [}`,
      `{"predicate": {"x": a"b", ${list}}, "y": "}"}`,
      // Well formed, for contrast.
      `{"predicate": {"x": true, ${list}}, "y": 1}`,
      `{"predicate": {${list}}}`,
      `{"predicate": {${list}, "resources": []}}`,
      `{"predicate": [${list}]}`,
      `{"predicate": {${list}}, "predicate": {}}`,
      `{"predicate": {"inner": {${list}}}}`,
    ];
    let some = 0;
    for (const text of cases) {
      const b = Buffer.from(text);
      const expected = listReadTwice(b);
      expect(findResourcesList(b), text).toEqual(expected);
      if (expected !== undefined) some++;
    }
    expect(some).toBeGreaterThan(2);
  });
});
