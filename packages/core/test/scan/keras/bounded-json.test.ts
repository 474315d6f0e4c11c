// SPDX-License-Identifier: Apache-2.0
// The budgeted JSON parser behind Keras configs, SafeTensors headers and
// policy files: the budget is checked by a pre-pass before anything is parsed.
import { describe, expect, it } from 'vitest';
import { parseBoundedJson } from '../../../src/scan/bounded-json.js';

const budget = { maxTokens: 100, maxDepth: 8 };

describe('parseBoundedJson', () => {
  it('parses a document within the budget and counts its tokens', () => {
    const r = parseBoundedJson('{"a": [1, "x", true, null], "b": {}}', budget);
    expect(r).toEqual({
      ok: true,
      value: { a: [1, 'x', true, null], b: {} },
      // { "a" [ 1 "x" true null "b" {}
      tokens: 9,
    });
  });

  it('refuses one token over maxTokens, naming the limit and where', () => {
    const text = `[${'1,'.repeat(99)}1]`;
    expect(parseBoundedJson(text, budget)).toEqual({
      ok: false,
      kind: 'limit',
      limit: 'maxJsonTokens',
      value: 100,
      offset: text.length - 2,
    });
    expect(parseBoundedJson(`[${'1,'.repeat(98)}1]`, budget).ok).toBe(true);
  });

  it('refuses nesting past maxDepth', () => {
    const r = parseBoundedJson(`${'['.repeat(9)}${']'.repeat(9)}`, budget);
    expect(r).toMatchObject({ ok: false, limit: 'maxJsonDepth', offset: 8 });
    expect(
      parseBoundedJson(`${'['.repeat(8)}${']'.repeat(8)}`, budget).ok,
    ).toBe(true);
  });

  it('does not count brackets, quotes or words inside strings', () => {
    const r = parseBoundedJson(
      JSON.stringify({ k: `[[[[[[[[[[ "NaN" \\ ${'{'.repeat(200)}` }),
      budget,
      { python: true },
    );
    expect(r.ok && r.tokens).toBe(3);
  });

  it("reads Python's NaN and Infinity as null in the Python dialect only", () => {
    const text = '{"a": NaN, "b": [Infinity, -Infinity, 1], "NaN": "NaN"}';
    expect(parseBoundedJson(text, budget, { python: true })).toMatchObject({
      ok: true,
      value: { a: null, b: [null, null, 1], NaN: 'NaN' },
    });
    expect(parseBoundedJson(text, budget)).toMatchObject({
      ok: false,
      kind: 'syntax',
    });
  });

  it('refuses invalid utf-8 when asked to', () => {
    const bytes = Buffer.from([0x22, 0xff, 0x22]);
    expect(parseBoundedJson(bytes, budget).ok).toBe(true);
    expect(parseBoundedJson(bytes, budget, { strictUtf8: true })).toMatchObject(
      { ok: false, kind: 'syntax' },
    );
  });

  it('refuses 30 million tokens after a linear pass, without parsing', () => {
    const bytes = Buffer.from(`[${'[],'.repeat(10_000_000)}[]]`);
    const r = parseBoundedJson(bytes, {
      maxTokens: 10_000_000,
      maxDepth: 512,
    });
    expect(r).toMatchObject({ ok: false, limit: 'maxJsonTokens' });
  });
});
