// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { loadFixtureCases, scanBytes } from '../archive/format-harness.js';
import { itReportsFixtureRules } from '../archive/it-reports-fixture-rules.js';

const cases = await loadFixtureCases('tflite');

describe('tflite fixtures (test-vectors/formats/tflite)', () => {
  itReportsFixtureRules(cases, 'tflite');

  it('reports a file over maxMemberBytes as high SCAN_INCOMPLETE, unread', async () => {
    const c = cases.find((x) => x.rules.length > 0)!;
    const { findings, formats } = await scanBytes(c.bytes, {
      limits: { maxMemberBytes: 16 },
    });
    expect(formats).toEqual(['tflite']);
    expect(
      findings.map((f) => [f.ruleId, f.severity, f.evidence?.limit]),
    ).toEqual([['SCAN_INCOMPLETE', 'high', 'maxMemberBytes']]);
  });

  it('reports what the loader refuses as high', async () => {
    for (const c of cases) {
      const { findings } = await scanBytes(c.bytes);
      for (const f of findings.filter((x) => x.ruleId.endsWith('_MALFORMED')))
        expect([c.path, f.severity]).toEqual([c.path, 'high']);
    }
  });
});
