// SPDX-License-Identifier: Apache-2.0
export {
  SavedModelScanner,
  classifyTensorFlowOp,
} from './savedmodel-scanner.js';
export { TF_RULES } from './rules.js';
