// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { loadFixtureCases, scanBytes } from '../archive/format-harness.js';
import { itReportsFixtureRules } from '../archive/it-reports-fixture-rules.js';

const cases = await loadFixtureCases('safetensors');

describe('safetensors fixtures (test-vectors/formats/safetensors)', () => {
  itReportsFixtureRules(cases, 'safetensors');

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
