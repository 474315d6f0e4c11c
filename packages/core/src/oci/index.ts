// SPDX-License-Identifier: Apache-2.0
/**
 * OCI registries (docs/oci.md): sign and verify model images (CNCF ModelPack)
 * by their manifests, with the bundle attached as an OCI referrer. Loaded only
 * through `@modelseal/core/oci` or the CLI's `oci` subcommands.
 */
export {
  parseImageReference,
  formatImageReference,
  isLoopbackRegistry,
  type ImageReference,
} from './reference.js';
export {
  RegistryClient,
  referrersTag,
  sha256Digest,
  OCI_MANIFEST,
  OCI_INDEX,
  type Descriptor,
  type FetchedManifest,
  type RegistryOptions,
} from './client.js';
export {
  manifestFromImage,
  isRawLayer,
  MODELPACK_ARTIFACT_TYPE,
  MODELPACK_CONFIG,
  MODELPACK_WEIGHT_RAW,
  FILEPATH_ANNOTATION,
  TITLE_ANNOTATION,
  type OciLayerResource,
} from './modelpack.js';
export {
  signOciImage,
  attachBundle,
  SIGSTORE_BUNDLE_ARTIFACT_TYPE,
  OCI_EMPTY_CONFIG,
  type SignOciImageOptions,
  type SignOciImageResult,
} from './sign.js';
export {
  verifyOciImage,
  pullOciModel,
  type VerifyOciImageOptions,
  type VerifyOciImageResult,
  type PullOciModelOptions,
} from './verify.js';
