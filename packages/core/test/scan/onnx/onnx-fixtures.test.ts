// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { OnnxScanner } from '../../../src/scan/onnx/index.js';
import { loadFixtureCases, scanBytes } from '../archive/format-harness.js';
import { itReportsFixtureRules } from '../archive/it-reports-fixture-rules.js';

const cases = await loadFixtureCases('onnx');

describe('onnx fixtures (test-vectors/formats/onnx)', () => {
  itReportsFixtureRules(cases, 'onnx');

  it('is detected by content and not confused with empty input', async () => {
    expect(
      await OnnxScanner.detect(Buffer.alloc(0), {
        size: 0,
        read: () => Promise.resolve(Buffer.alloc(0)),
      }),
    ).toBe(false);
    const c = cases.find((x) => x.path.endsWith('benign-standard.onnx'));
    expect(c).toBeDefined();
    expect(
      await OnnxScanner.detect(c!.bytes, {
        size: c!.bytes.length,
        read: () => Promise.resolve(c!.bytes),
      }),
    ).toBe(true);
  });

  it('names the subgraph where a custom operator hides', async () => {
    const c = cases.find((x) =>
      x.path.endsWith('custom-domain-subgraph.onnx'),
    )!;
    const { findings } = await scanBytes(c.bytes);
    const finding = findings.find((f) => f.ruleId === 'ONNX_CUSTOM_DOMAIN');
    expect(finding?.evidence).toMatchObject({
      domain: 'evil.ops',
      opType: 'Backdoor',
    });
    expect(String((finding?.evidence?.locations as string[])[0])).toContain(
      'then_branch',
    );
  });
});
