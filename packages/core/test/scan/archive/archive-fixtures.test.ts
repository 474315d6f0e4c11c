// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { loadFixtureCases, scanBytes } from './format-harness.js';

const cases = await loadFixtureCases('archive');

describe('archive fixtures (test-vectors/formats/archive)', () => {
  it.each(cases.map((c) => [c.path, c] as const))(
    '%s reports exactly its expected rules',
    async (_path, c) => {
      const result = await scanBytes(
        c.bytes,
        c.limits === undefined ? {} : { limits: c.limits },
      );
      expect(result.ruleIds).toEqual(c.rules);
    },
  );

  it('reports nested findings under the member path', async () => {
    const c = cases.find((x) => x.path.endsWith('zip-nested-tar-gguf.zip'))!;
    const { findings, formats } = await scanBytes(c.bytes);
    expect(formats).toEqual(['zip', 'tar', 'gguf']);
    expect(
      findings.find((f) => f.ruleId === 'GGUF_TEMPLATE_INJECTION')?.member,
    ).toEqual(['inner.tar', 'model.gguf']);
  });

  it('scans every member of a benign tar.gz as its own artifact', async () => {
    const c = cases.find((x) => x.path.endsWith('benign-model.tar.gz'))!;
    const { formats } = await scanBytes(c.bytes);
    expect(formats).toEqual(['gzip', 'tar', 'onnx', 'safetensors']);
  });

  it('stops at the nesting limit', async () => {
    const c = cases.find((x) => x.path.endsWith('zip-nested-tar-gguf.zip'))!;
    const { ruleIds } = await scanBytes(c.bytes, {
      limits: { maxNestingDepth: 1 },
    });
    expect(ruleIds).toEqual(['SCAN_INCOMPLETE']);
  });
});
