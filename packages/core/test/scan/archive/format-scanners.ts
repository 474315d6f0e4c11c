// SPDX-License-Identifier: Apache-2.0
// The scanners the test harness dispatches to, in registry order.
import type { FormatScanner } from '../../../src/scan/types.js';
import {
  GzipScanner,
  TarArchiveScanner,
  ZipArchiveScanner,
} from '../../../src/scan/archive/index.js';
import {
  KerasH5Scanner,
  KerasMetadataScanner,
  KerasScanner,
} from '../../../src/scan/keras/index.js';
import { SavedModelScanner } from '../../../src/scan/savedmodel/index.js';
import { TfliteScanner } from '../../../src/scan/tflite/index.js';
import { GgufScanner } from '../../../src/scan/gguf/index.js';
import { OnnxScanner } from '../../../src/scan/onnx/index.js';
import { SafetensorsScanner } from '../../../src/scan/safetensors/index.js';

export const FORMAT_SCANNERS: readonly FormatScanner[] = [
  SafetensorsScanner,
  GgufScanner,
  OnnxScanner,
  SavedModelScanner,
  TfliteScanner,
  KerasScanner,
  KerasH5Scanner,
  KerasMetadataScanner,
  ZipArchiveScanner,
  GzipScanner,
  TarArchiveScanner,
];
