// SPDX-License-Identifier: Apache-2.0
/**
 * `@modelseal/core/verify/model`: {@link verifyModelSignature} alone. It loads
 * only what the chosen method needs (a key check loads no certificate, chain,
 * timestamp, Sigstore or trust-root module), where `@modelseal/core/verify`
 * also loads every lower-level verifier it exports (docs/performance.md,
 * "Start-up").
 */
export { verifyModelSignature } from './verify-model.js';
export type {
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
