// SPDX-License-Identifier: Apache-2.0
export {
  buildCertificatePath,
  MAX_INTERMEDIATES,
  MAX_PATH_LENGTH,
  type CertificatePath,
} from './chain.js';
export {
  certificateInfo,
  verifyCertificateBundleSignature,
  type CertificateBundleVerification,
  type CertificateBundleVerificationOptions,
} from './certificate.js';
export {
  inspectBundle,
  type ClaimedSigner,
  type InspectBundleResult,
} from './inspect.js';
export { verifyKeyBundleSignature, type KeyBundleVerification } from './key.js';
export {
  verifySigstoreBundle,
  type SigstorePolicy,
  type SigstoreVerifyOptions,
  type SigstoreVerifyResult,
} from './sigstore.js';
// verifyModelSignature and the types of its options and result.
export * from './model.js';
export type { CertificateInfo } from './types.js';
export { verifyTimestamps, type VerifiedTimestamp } from './timestamp.js';
export {
  checkIdentityPolicy,
  compileIdentityPolicy,
  EKU_NAMES,
  leafIdentity,
  type CertificateIdentityConstraint,
  type CertificateIdentityField,
  type LeafIdentity,
} from './certificate-policy.js';
