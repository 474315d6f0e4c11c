// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { loadFixtureCases, scanBytes } from '../archive/format-harness.js';
import { itReportsFixtureRules } from '../archive/it-reports-fixture-rules.js';

const cases = await loadFixtureCases('gguf');

describe('gguf fixtures (test-vectors/formats/gguf)', () => {
  itReportsFixtureRules(cases, 'gguf');

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
