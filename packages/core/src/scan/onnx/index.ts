// SPDX-License-Identifier: Apache-2.0
export { OnnxScanner, normaliseExternalLocation } from './onnx-scanner.js';
export { ONNX_RULES } from './rules.js';
