// SPDX-License-Identifier: Apache-2.0
export {
  SkopsScanner,
  reportSkopsSchema,
  SKOPS_LOADERS,
} from './skops-scanner.js';
export { SKOPS_RULES } from './rules.js';
