// SPDX-License-Identifier: Apache-2.0
export { SafetensorsScanner } from './safetensors-scanner.js';
export { SAFETENSORS_RULES } from './rules.js';
