// SPDX-License-Identifier: Apache-2.0
/**
 * `@modelseal/core/manifest/hash`: hashing a model, and no more. The same
 * `hashModel` as `@modelseal/core/manifest`, without the statement codec, the
 * comparison and the checks that subpath also loads: a process that only
 * hashes (`modelseal digest`) starts about 10 ms sooner on the 2-core machine
 * (docs/performance.md, "Start-up").
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
