// SPDX-License-Identifier: Apache-2.0
export {
  NemoConfigScanner,
  NEMO_ALLOWED_PREFIXES,
} from './nemo-config-scanner.js';
export { findYamlTargets } from './yaml-targets.js';
export { NEMO_RULES } from './rules.js';
