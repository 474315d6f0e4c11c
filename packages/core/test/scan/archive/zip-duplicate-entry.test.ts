// SPDX-License-Identifier: Apache-2.0
// threats.md §8: Python's zipfile and fflate read the last of two entries with
// one name, yauzl emits both. Every copy is scanned, in either order.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, scanBytes } from './format-harness.js';

const gen = (await import(
  join(REPO_ROOT, 'scripts/fixtures/gen-format-fixtures.mjs')
)) as {
  zipArchive: (entries: { name: string; data: Buffer }[]) => Buffer;
  onnxModel: (o?: { graph?: Buffer }) => Buffer;
  onnxGraph: (o: { nodes: Buffer[] }) => Buffer;
  onnxNodeForTests: (opType: string, domain: string) => Buffer;
};
const benign = gen.onnxModel();
const evil = gen.onnxModel({
  graph: gen.onnxGraph({
    nodes: [gen.onnxNodeForTests('Backdoor', 'evil.ops')],
  }),
});

describe('zip duplicate entry', () => {
  it.each([
    ['malicious copy last', [benign, evil]],
    ['malicious copy first', [evil, benign]],
  ] as const)(
    'finds the payload with the %s',
    async (_label, [first, second]) => {
      const { findings } = await scanBytes(
        gen.zipArchive([
          { name: 'model.onnx', data: first },
          { name: 'model.onnx', data: second },
        ]),
      );
      expect(findings.some((f) => f.ruleId === 'ZIP_DUPLICATE_ENTRY')).toBe(
        true,
      );
      const custom = findings.filter((f) => f.ruleId === 'ONNX_CUSTOM_DOMAIN');
      expect(custom).toHaveLength(1);
      expect(custom[0]!.member).toEqual(['model.onnx']);
    },
  );
});
