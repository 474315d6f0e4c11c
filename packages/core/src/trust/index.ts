// SPDX-License-Identifier: Apache-2.0
// Trusted roots and signing configuration for keyless Sigstore.
export {
  embeddedTrustedRoot,
  embeddedTrustedRootJSON,
} from './embedded-root.js';
export { loadTrustedRoot, parseTrustedRoot } from './trusted-root-file.js';
export { buildTrustedRootJSON } from './build-trusted-root.js';
export type {
  CertificateInput,
  PublicKeyInput,
  TrustedAuthoritySpec,
  TrustedLogSpec,
  TrustedRootSpec,
} from './build-trusted-root.js';
export {
  loadSigningConfig,
  loadTrustConfig,
  selectSigningEndpoints,
} from './signing-config.js';
export type { SigningConfigEndpoints, TrustConfig } from './signing-config.js';
export { fetchTrustedRoot } from './tuf.js';
export type { FetchTrustedRootOptions } from './tuf.js';
export { refreshTrustedRoot, TUF_REFRESH_TIMEOUT_MS } from './tuf.js';
export type {
  RefreshTrustedRootOptions,
  TufRootInfo,
  TufTrustedRoot,
} from './tuf.js';
export { resolveTrustRoot } from './resolve.js';
export type {
  ResolvedTrustRoot,
  TrustRootInfo,
  TrustRootOptions,
  TrustRootSource,
} from './resolve.js';
