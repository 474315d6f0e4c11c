// SPDX-License-Identifier: Apache-2.0
// A graph with tens of thousands of distinct custom operators, or of tensors
// with absurd sizes: the findings stay bounded (10,000 distinct operators,
// 100 findings per rule, then one finding that counts the rest).
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, scanBytes } from '../archive/format-harness.js';

interface Gen {
  onnxModel(o: { graph: Buffer }): Buffer;
  onnxGraph(o: { nodes?: Buffer[]; initializers?: Buffer[] }): Buffer;
  onnxTensor(o: { name?: string; dims?: number[]; raw?: Buffer }): Buffer;
  onnxNodeForTests(opType: string, domain: string): Buffer;
}
const gen = (await import(
  join(REPO_ROOT, 'scripts/fixtures/gen-format-fixtures.mjs')
)) as Gen;

describe('onnx findings stay bounded', () => {
  it('lists 10,000 distinct custom operators and counts the rest', async () => {
    const nodes = Array.from({ length: 12_000 }, (_, i) =>
      gen.onnxNodeForTests(`Op${i}`, 'evil.ops'),
    );
    const bytes = gen.onnxModel({ graph: gen.onnxGraph({ nodes }) });
    const { findings } = await scanBytes(bytes);
    expect(findings).toHaveLength(10_001);
    expect(findings.every((f) => f.ruleId === 'ONNX_CUSTOM_DOMAIN')).toBe(true);
    expect(findings.at(-1)?.evidence).toEqual({ notListed: 2_000 });
  });

  it('lists 100 absurd tensors and counts the rest, all high', async () => {
    const initializers = Array.from({ length: 1_000 }, (_, i) =>
      gen.onnxTensor({ name: `t${i}`, dims: [2 ** 40, 2 ** 10] }),
    );
    const bytes = gen.onnxModel({ graph: gen.onnxGraph({ initializers }) });
    const { findings } = await scanBytes(bytes);
    expect(findings.map((f) => [f.ruleId, f.severity])).toEqual(
      new Array(101).fill(['ONNX_TENSOR_ABSURD_SIZE', 'high']),
    );
    expect(findings.at(-1)?.evidence).toEqual({ notListed: 900 });
  });
});
