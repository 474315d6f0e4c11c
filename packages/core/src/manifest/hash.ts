// SPDX-License-Identifier: Apache-2.0
/**
 * `@modelseal/core/manifest/hash`: hashing a model, and no more. The same
 * `hashModel` as `@modelseal/core/manifest`, without the statement codec, the
 * comparison and the checks that subpath also loads (25 modules to import
 * instead of 34, 19 ms instead of 29 on the 2-core machine; a whole
 * `modelseal digest` of a small file: 58.7 ms instead of 63.3).
 */
export { hashModel, checkHashOptions, listModelFiles } from './hash-model.js';
export { resourceCount } from './table.js';
export { defaultConcurrency } from './hash-pool.js';
export type {
  HashAlgorithm,
  HashModelOptions,
  HashModelResult,
  HashProgress,
  Manifest,
  ManifestWarning,
  Resource,
  Serialization,
  SerializationMethod,
} from './types.js';
