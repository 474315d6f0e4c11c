// SPDX-License-Identifier: Apache-2.0
/**
 * @modelseal/core: hash, sign, verify and scan machine-learning models in the
 * OpenSSF Model Signing v1.0 format.
 */
export * from './constants.js';
export {
  ModelSealError,
  isModelSealError,
  errorKind,
  ERROR_CODES,
  type ErrorCode,
  type ErrorKind,
  type ModelSealErrorOptions,
} from './errors.js';
export * from './manifest/index.js';
export * from './bundle/index.js';
export * from './sign/index.js';
export * from './verify/index.js';
export * from './trust/index.js';
export * from './diff/index.js';
export * from './load/index.js';
export * from './audit/index.js';
export * from './scan/index.js';
export * from './output.js';
export * from './attest/index.js';
// OCI registries: loaded on first call (the full API is `@modelseal/core/oci`).
export * from './oci/lazy.js';
export { MODELSEAL_VERSION } from './version.js';
