// SPDX-License-Identifier: Apache-2.0
export {
  KerasH5Scanner,
  KerasH5UserBlockScanner,
  KerasScanner,
} from './keras-scanner.js';
export { KerasMetadataScanner } from './keras-metadata-scanner.js';
export { walkKerasConfig } from './config-walk.js';
export { KERAS_RULES } from './rules.js';
