// SPDX-License-Identifier: Apache-2.0
export {
  VerifiedModel,
  verifyModel,
  type VerifiedReadStreamOptions,
  type VerifyModelOptions,
} from './verified-model.js';
