// SPDX-License-Identifier: Apache-2.0
/**
 * The format scanners the engine consults, in order: the first whose
 * `detect` accepts the bytes scans them. Specific formats come before generic
 * ones (a PyTorch zip before a plain zip, a legacy torch file before a raw
 * pickle). Other format families append their scanners to this list.
 */
import type { FormatScanner } from './types.js';
import {
  COMPRESSION_SCANNERS,
  UNSUPPORTED_COMPRESSION_SCANNER,
} from './compression/wrappers.js';
import { NPY_SCANNER, NPZ_SCANNER } from './numpy/npy.js';
import { PICKLE_SCANNER, TEXT_PICKLE_SCANNER } from './pickle/scanner.js';
import {
  TORCH_LEGACY_SCANNER,
  TORCH_LEGACY_TAR_SCANNER,
} from './torch/legacy.js';
import { TORCH_ZIP_SCANNER } from './torch/zip-scanner.js';
import { TarArchiveScanner, ZipArchiveScanner } from './archive/index.js';
import { GgufScanner } from './gguf/index.js';
import {
  KerasH5Scanner,
  KerasMetadataScanner,
  KerasScanner,
} from './keras/index.js';
import { OnnxScanner } from './onnx/index.js';
import { SafetensorsScanner } from './safetensors/index.js';
import { SavedModelScanner } from './savedmodel/index.js';
import { TfliteScanner } from './tflite/index.js';
import { NemoConfigScanner } from './nemo/index.js';
import { SkopsScanner } from './skops/index.js';

/** Format scanners, consulted in order. */
export const SCANNERS: FormatScanner[] = [
  // Strict magic first: a SafeTensors header length can begin with bytes that
  // look like a pickle PROTO or a zlib header, and a TFLite root offset like a
  // zlib header; these three never claim another format's bytes.
  SafetensorsScanner,
  GgufScanner,
  TfliteScanner,
  TORCH_ZIP_SCANNER,
  NPZ_SCANNER,
  NPY_SCANNER,
  TORCH_LEGACY_SCANNER,
  PICKLE_SCANNER,
  TORCH_LEGACY_TAR_SCANNER,
  ...COMPRESSION_SCANNERS,
  UNSUPPORTED_COMPRESSION_SCANNER,
  OnnxScanner,
  SavedModelScanner,
  KerasMetadataScanner,
  KerasH5Scanner,
  // Zip-based and generic archives after the PyTorch and NumPy zips and the
  // torch legacy tar above.
  SkopsScanner,
  KerasScanner,
  ZipArchiveScanner,
  TarArchiveScanner,
  // Text only (YAML with Hydra `_target_` keys); it also scans the bytes as a
  // protocol 0 pickle when they read as one.
  NemoConfigScanner,
];

/**
 * Scanners with weak detection (protocol 0/1 pickles have no magic bytes),
 * consulted only when nothing in {@link SCANNERS} accepted the bytes.
 */
export const FALLBACK_SCANNERS: FormatScanner[] = [TEXT_PICKLE_SCANNER];
