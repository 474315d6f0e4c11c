// SPDX-License-Identifier: Apache-2.0
export {
  createCertificateSigner,
  loadCertificates,
  type PreparedSigner,
} from './certificate.js';
export { createKeySigner } from './key.js';
export { statementSignerFrom } from './signer.js';
export {
  createPkcs11Signer,
  describePkcs11Uri,
  exportPkcs11PublicKey,
  parsePkcs11Uri,
  type Pkcs11Signer,
  type Pkcs11SignerOptions,
  type Pkcs11Uri,
} from './pkcs11/index.js';
export {
  signModel,
  prepareStatementSigner,
  type PreparedStatementSigner,
  type StatementSignerOptions,
} from './sign-model.js';
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
  Signer,
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
export {
  desktopAvailable,
  interactiveToken,
  OIDC_INTERACTIVE_TIMEOUT_MS,
  SIGSTORE_OIDC_CLIENT_ID,
  SIGSTORE_OIDC_ISSUER,
  type InteractiveOidcOptions,
  type OidcFlow,
  type OidcPrompt,
} from './oidc/index.js';
export { addTimestamp, type TimestampOptions } from './timestamp.js';
