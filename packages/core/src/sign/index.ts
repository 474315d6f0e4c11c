// SPDX-License-Identifier: Apache-2.0
export {
  createCertificateSigner,
  loadCertificates,
  type PreparedSigner,
} from './certificate.js';
export { createKeySigner } from './key.js';
export { signModel } from './sign-model.js';
export {
  resolveSigstoreEndpoints,
  signWithSigstore,
  type SigstoreEndpoints,
  type SigstoreSignOptions,
} from './sigstore.js';
export type {
  CertificateSignerOptions,
  KeyInput,
  KeySignerOptions,
  RsaPadding,
  SignedBy,
  SignHashOptions,
  SignModelCertificateOptions,
  SignModelKeyOptions,
  SignModelOptions,
  SignModelResult,
  SignModelSignerOptions,
  SignModelSigstoreOptions,
  SignScanOptions,
  SignWarning,
  StatementSigner,
} from './types.js';
export {
  ambientToken,
  decodeTokenClaims,
  resolveIdentityProvider,
  staticToken,
  type IdentityOptions,
  type IdentityProvider,
} from './identity.js';
export { addTimestamp, type TimestampOptions } from './timestamp.js';
