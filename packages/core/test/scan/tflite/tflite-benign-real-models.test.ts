// SPDX-License-Identifier: Apache-2.0
// False-positive controls (threats.md §10): MediaPipe TFLite models from npm,
// fetched by `node scripts/fetch-benign-models.mjs`. A custom op is info only.
import { describe, expect, it } from 'vitest';
import { benignModelPath, BENIGN_TFLITE } from '../onnx/benign-models.js';
import { scanFile, seriousFindings } from '../archive/format-harness.js';

describe('benign real tflite models', () => {
  it.each(
    BENIGN_TFLITE.map(([pkg, file]) => [`${pkg}/${file}`, pkg, file] as const),
  )('%s has no finding of medium or above', async (_label, pkg, file) => {
    const result = await scanFile(benignModelPath(pkg, file));
    expect(result.formats).toEqual(['tflite']);
    expect(seriousFindings(result)).toEqual([]);
  });

  it('reports the selfie segmentation custom op as info', async () => {
    const result = await scanFile(
      benignModelPath(
        '@mediapipe/selfie_segmentation',
        'selfie_segmentation.tflite',
      ),
    );
    expect(
      result.findings.map((f) => [
        f.ruleId,
        f.severity,
        f.evidence?.customCode,
      ]),
    ).toEqual([['TFLITE_CUSTOM_OP', 'info', 'Convolution2DTransposeBias']]);
  });
});
