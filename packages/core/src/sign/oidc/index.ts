// SPDX-License-Identifier: Apache-2.0
export { desktopAvailable } from './browser.js';
export {
  interactiveToken,
  OIDC_INTERACTIVE_TIMEOUT_MS,
  SIGSTORE_OIDC_CLIENT_ID,
  SIGSTORE_OIDC_ISSUER,
} from './interactive.js';
export type { InteractiveOidcOptions, OidcFlow, OidcPrompt } from './types.js';
