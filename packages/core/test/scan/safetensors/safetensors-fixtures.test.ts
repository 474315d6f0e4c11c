// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { loadFixtureCases, scanBytes } from '../archive/format-harness.js';
import { itReportsFixtureRules } from '../archive/it-reports-fixture-rules.js';

const cases = await loadFixtureCases('safetensors');

describe('safetensors fixtures (test-vectors/formats/safetensors)', () => {
  itReportsFixtureRules(cases, (path) =>
    path.endsWith('.zip') ? 'zip' : 'safetensors',
  );

  it('refuses a 99 MB header of 33 million tokens unparsed, as high SCAN_INCOMPLETE', async () => {
    const c = cases.find((x) => x.path.endsWith('zip-header-token-bomb.zip'))!;
    const { findings, formats } = await scanBytes(c.bytes);
    expect(formats).toEqual(['zip', 'safetensors']);
    expect(
      findings.map((f) => [f.ruleId, f.severity, f.evidence?.limit, f.member]),
    ).toEqual([
      ['SCAN_INCOMPLETE', 'high', 'maxJsonTokens', ['model.safetensors']],
    ]);
  });

  it('reports a header over maxMemberBytes as high SCAN_INCOMPLETE', async () => {
    const c = cases.find((x) =>
      x.path.endsWith('benign-two-tensors.safetensors'),
    )!;
    const { findings } = await scanBytes(c.bytes, {
      limits: { maxMemberBytes: 32 },
    });
    expect(
      findings.map((f) => [f.ruleId, f.severity, f.evidence?.limit]),
    ).toEqual([['SCAN_INCOMPLETE', 'high', 'maxMemberBytes']]);
  });

  it('reports every structural finding the reference loader refuses as high', async () => {
    for (const c of cases.filter((x) => x.rules.length > 0)) {
      const { findings } = await scanBytes(c.bytes);
      for (const f of findings)
        expect([c.path, f.severity]).toEqual([c.path, 'high']);
    }
  });

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
