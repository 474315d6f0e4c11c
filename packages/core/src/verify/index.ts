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
export type {
  CertificateInfo,
  CertificateSignerInfo,
  KeySignerInfo,
  SignerInfo,
  SigstoreSignerInfo,
  TimeSource,
  VerifyCertificateOptions,
  VerifyCommonOptions,
  VerifyKeyOptions,
  VerifyModelSignatureOptions,
  VerifyModelSignatureResult,
  VerifySigstoreOptions,
  VerifyWarning,
} from './types.js';
export { verifyTimestamps, type VerifiedTimestamp } from './timestamp.js';
export { verifyModelSignature } from './verify-model.js';
export {
  checkIdentityPolicy,
  compileIdentityPolicy,
  EKU_NAMES,
  leafIdentity,
  type CertificateIdentityConstraint,
  type CertificateIdentityField,
  type LeafIdentity,
} from './certificate-policy.js';
