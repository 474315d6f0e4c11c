// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { loadFixtureCases, scanBytes } from '../archive/format-harness.js';

const cases = await loadFixtureCases('gguf');

describe('gguf fixtures (test-vectors/formats/gguf)', () => {
  it.each(cases.map((c) => [c.path, c] as const))(
    '%s reports exactly its expected rules',
    async (_path, c) => {
      const result = await scanBytes(c.bytes);
      expect(result.formats).toEqual(['gguf']);
      expect(result.ruleIds).toEqual(c.rules);
    },
  );

  it('scans every copy of a duplicated key', async () => {
    const c = cases.find((x) =>
      x.path.endsWith('duplicate-key-template.gguf'),
    )!;
    const { findings } = await scanBytes(c.bytes);
    expect(
      findings.filter((f) => f.ruleId === 'GGUF_DUPLICATE_KEY'),
    ).toHaveLength(1);
    expect(
      findings.find((f) => f.ruleId === 'GGUF_TEMPLATE_INJECTION')?.evidence,
    ).toMatchObject({ key: 'tokenizer.chat_template' });
  });
});
