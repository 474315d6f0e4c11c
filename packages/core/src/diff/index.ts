// SPDX-License-Identifier: Apache-2.0
export {
  diffManifests,
  diffModels,
  type ChangedFile,
  type DiffModelsResult,
  type DiffSide,
  type ManifestDiff,
} from './diff-manifests.js';
