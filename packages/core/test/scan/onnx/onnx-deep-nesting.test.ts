// SPDX-License-Identifier: Apache-2.0
// threats.md §9: the generated onnx-proto decoders recurse per nesting level and
// overflow the stack around 3,000 levels; the scanner's walk is iterative.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, scanBytes } from '../archive/format-harness.js';

const generator = (await import(
  join(REPO_ROOT, 'scripts/fixtures/gen-format-fixtures.mjs')
)) as {
  onnxDeepNesting(levels: number): Buffer;
};
const onnxProto = createRequire(import.meta.url)('onnx-proto') as {
  onnx: { ModelProto: { decode(b: Uint8Array): unknown } };
};

describe('onnx deep nesting', () => {
  it('reports nesting past the cap instead of overflowing the stack', async () => {
    const bytes = generator.onnxDeepNesting(3000);
    expect(() => onnxProto.onnx.ModelProto.decode(bytes)).toThrow(RangeError);
    const result = await scanBytes(bytes);
    expect(result.ruleIds).toEqual(['ONNX_NESTING_TOO_DEEP']);
  });

  it('accepts nesting below the cap', async () => {
    const result = await scanBytes(generator.onnxDeepNesting(40));
    expect(result.findings).toEqual([]);
  });
});
