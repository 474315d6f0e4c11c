// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { loadFixtureCases, scanBytes } from '../archive/format-harness.js';

const cases = await loadFixtureCases('safetensors');

describe('safetensors fixtures (test-vectors/formats/safetensors)', () => {
  it.each(cases.map((c) => [c.path, c] as const))(
    '%s reports exactly its expected rules',
    async (_path, c) => {
      const result = await scanBytes(c.bytes);
      expect(result.formats).toEqual(['safetensors']);
      expect(result.ruleIds).toEqual(c.rules);
    },
  );

  it('points the trailing-data finding at the first smuggled byte', async () => {
    const c = cases.find((x) =>
      x.path.endsWith('trailing-pickle-polyglot.safetensors'),
    )!;
    const { findings } = await scanBytes(c.bytes);
    const trailing = findings.find(
      (f) => f.ruleId === 'SAFETENSORS_TRAILING_DATA',
    )!;
    expect(c.bytes[trailing.offset!]).toBe(0x80);
  });
});
