// SPDX-License-Identifier: Apache-2.0
export { TfliteScanner } from './tflite-scanner.js';
export { TFLITE_RULES } from './rules.js';
