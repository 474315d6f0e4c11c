// SPDX-License-Identifier: Apache-2.0
// Hashing, as `@modelseal/core/manifest/hash` gives it alone.
export * from './hash.js';
export {
  checkModel,
  type CheckModelOptions,
  type CheckModelResult,
} from './check-model.js';
export { compareManifests, type CompareOptions } from './compare.js';
export { computeRootDigest } from './root-digest.js';
export {
  encodeStatement,
  decodeStatement,
  peekPredicateType,
  type DecodedStatement,
} from './statement.js';
export {
  compareResourceKeys,
  comparePaths,
  type ResourceKey,
} from './order.js';
export {
  algorithmName,
  digestHexLength,
  isHashAlgorithm,
} from './algorithms.js';
export { invalidPathReason, parseShardName, type ShardName } from './names.js';
export { modelNameOf } from './model-name.js';
export type { ChangedResource, CompareResult } from './types.js';
