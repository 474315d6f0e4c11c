// SPDX-License-Identifier: Apache-2.0
/** Options and prompts of the interactive OIDC sign-in (browser or device flow). */

/** Which interactive OpenID Connect flow obtains the identity token. */
export type OidcFlow = 'browser' | 'device';

/** What the person at the keyboard must be told to finish the sign-in. */
export type OidcPrompt =
  | {
      flow: 'browser';
      /** The authorization URL to open (it carries the PKCE challenge, never the verifier). */
      url: string;
      /** Whether a browser was launched with it (the URL is still printed). */
      opened: boolean;
    }
  | {
      flow: 'device';
      /** Where to enter the code, on any device. */
      verificationURL: string;
      /** The code to enter there. */
      userCode: string;
      /** The same page with the code filled in, when the issuer offers one. */
      verificationURLComplete?: string;
      /** Seconds until the code expires. */
      expiresIn: number;
    };

/** Options of {@link interactiveToken}. */
export interface InteractiveOidcOptions {
  /** `'browser'` (authorization code + PKCE, loopback redirect; default) or `'device'` (device authorization grant). */
  flow?: OidcFlow;
  /** OpenID issuer URL; default the Sigstore public-good issuer `https://oauth2.sigstore.dev/auth`. */
  issuer?: string;
  /** OAuth client id (a public client, no secret); default `sigstore`. The ID token's audience. */
  clientId?: string;
  /**
   * Browser flow: the loopback port the redirect comes back to; default 0
   * (the system picks a free one; the issuer must accept any loopback port, as
   * RFC 8252 §7.3 asks and the public-good issuer does).
   */
  redirectPort?: number;
  /**
   * Browser flow: launch the system browser with the URL. Default false here;
   * `resolveIdentityProvider` turns it on when a desktop session is detected.
   * The URL is always given to `onPrompt` as well, so a browser is never required.
   */
  openBrowser?: boolean;
  /** Told the URL (browser) or the code (device); default: a line on stderr. */
  onPrompt?: (prompt: OidcPrompt) => void;
  /** How long to wait for the person to finish, in milliseconds; default 300 000 (5 minutes). */
  timeoutMs?: number;
  /** Cancels the sign-in (the loopback listener closes, polling stops); rejects with `ABORTED`. */
  signal?: AbortSignal;
}
