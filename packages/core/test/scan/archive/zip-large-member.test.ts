// SPDX-License-Identifier: Apache-2.0
// A zip member over maxMemberBytes is scanned whole with bounded memory (a
// slice for stored members, a streamed inflate for deflated ones), never
// skipped with a medium finding.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { zipArchive } from '../../../../../scripts/fixtures/gen-format-fixtures.mjs';
import { FORMAT_VECTORS, scanBytes } from './format-harness.js';

const evil = readFileSync(
  join(FORMAT_VECTORS, 'gguf', 'ssti-namespace-gadget.gguf'),
);

describe('zip member over maxMemberBytes', () => {
  it.each([
    ['stored', 0],
    ['deflated', 8],
  ])('%s: scanned to its end', async (_, method) => {
    const bytes = zipArchive([
      { name: 'a.txt', data: Buffer.from('a') },
      { name: 'big.gguf', data: evil, method },
    ]) as Buffer;
    const r = await scanBytes(bytes, {
      limits: { maxMemberBytes: evil.length - 1 },
    });
    expect(r.ruleIds).toEqual(['GGUF_TEMPLATE_INJECTION']);
  });
});
