// SPDX-License-Identifier: Apache-2.0
/**
 * Interactive keyless sign-in: an OIDC identity token for Fulcio obtained by
 * the person at the keyboard, through `openid-client` (loaded on first use,
 * never by key signing or verification).
 *
 * - browser flow: authorization code with PKCE (S256), `state` and `nonce`,
 *   redirected to a loopback listener (RFC 8252);
 * - device flow: OAuth 2.0 device authorization grant (RFC 8628) for machines
 *   without a browser.
 *
 * The ID token's identity (`email` when verified, else `sub`) and issuer are
 * what Fulcio certifies.
 */
import type * as OpenID from 'openid-client';
import { ModelSealError, isModelSealError } from '../../errors.js';
import type { IdentityProvider } from '../identity.js';
import { launchBrowser } from './browser.js';
import { startLoopbackReceiver } from './loopback.js';
import type { InteractiveOidcOptions, OidcPrompt } from './types.js';

/** The Sigstore public-good OIDC issuer (Dex). */
export const SIGSTORE_OIDC_ISSUER = 'https://oauth2.sigstore.dev/auth';
/** The public-good issuer's public client, also the audience Fulcio expects. */
export const SIGSTORE_OIDC_CLIENT_ID = 'sigstore';
/** How long the person has to finish signing in, by default (ms). */
export const OIDC_INTERACTIVE_TIMEOUT_MS = 300_000;
/** Scopes asked for: the e-mail claim is the identity Fulcio certifies. */
const SCOPE = 'openid email';
/** Seconds allowed for each request to the issuer. */
const REQUEST_TIMEOUT_S = 30;

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

function invalid(message: string): ModelSealError {
  return new ModelSealError({ code: 'INVALID_OPTIONS', message });
}

interface Checked {
  flow: 'browser' | 'device';
  issuer: URL;
  clientId: string;
  redirectPort: number;
  timeoutMs: number;
  openBrowser: boolean;
  onPrompt: (prompt: OidcPrompt) => void;
  signal: AbortSignal | undefined;
}

/** A line on stderr: the library's fallback when the caller does not show prompts itself. */
function defaultPrompt(prompt: OidcPrompt): void {
  const text =
    prompt.flow === 'browser'
      ? `to sign in, open this URL in a browser on this machine:\n  ${prompt.url}\n`
      : `to sign in, visit ${prompt.verificationURL} and enter the code ${prompt.userCode}\n`;
  process.stderr.write(text);
}

function check(options: InteractiveOidcOptions): Checked {
  const flow = options.flow ?? 'browser';
  if (flow !== 'browser' && flow !== 'device')
    throw invalid(`oidc flow must be browser or device: ${String(flow)}`);
  const issuerText = options.issuer ?? SIGSTORE_OIDC_ISSUER;
  let issuer: URL;
  try {
    issuer = new URL(issuerText);
  } catch (cause) {
    throw new ModelSealError({
      code: 'INVALID_OPTIONS',
      message: `oidc issuer is not a url: ${issuerText}`,
      cause,
    });
  }
  // Plain http only to this machine (a test or a local provider), never across a network.
  if (
    issuer.protocol !== 'https:' &&
    !(issuer.protocol === 'http:' && LOOPBACK_HOSTS.has(issuer.hostname))
  )
    throw invalid(
      `oidc issuer must be an https url (http only on loopback): ${issuerText}`,
    );
  const clientId = options.clientId ?? SIGSTORE_OIDC_CLIENT_ID;
  if (clientId.trim() === '') throw invalid('oidc client id is empty');
  const redirectPort = options.redirectPort ?? 0;
  if (
    !Number.isInteger(redirectPort) ||
    redirectPort < 0 ||
    redirectPort > 65535
  )
    throw invalid(
      `oidc redirect port must be an integer from 0 to 65535: ${String(redirectPort)}`,
    );
  if (options.redirectPort !== undefined && flow === 'device')
    throw invalid('a redirect port applies to the browser flow only');
  const timeoutMs = options.timeoutMs ?? OIDC_INTERACTIVE_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0)
    throw invalid(
      `oidc timeout must be a positive integer: ${String(timeoutMs)}`,
    );
  return {
    flow,
    issuer,
    clientId,
    redirectPort,
    timeoutMs,
    openBrowser: options.openBrowser === true,
    onPrompt: options.onPrompt ?? defaultPrompt,
    signal: options.signal,
  };
}

type Client = typeof OpenID;

async function browserFlow(
  client: Client,
  config: OpenID.Configuration,
  o: Checked,
  signal: AbortSignal,
): Promise<string> {
  const receiver = await startLoopbackReceiver(o.redirectPort);
  try {
    const verifier = client.randomPKCECodeVerifier();
    const state = client.randomState();
    const nonce = client.randomNonce();
    const url = client
      .buildAuthorizationUrl(config, {
        redirect_uri: receiver.redirectURI,
        scope: SCOPE,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
        state,
        nonce,
      })
      .toString();
    const callback = receiver.wait(state, signal);
    const opened = o.openBrowser && launchBrowser(url, process.platform);
    o.onPrompt({ flow: 'browser', url, opened });
    const returned = await callback;
    try {
      const tokens = await client.authorizationCodeGrant(config, returned.url, {
        pkceCodeVerifier: verifier,
        expectedState: state,
        expectedNonce: nonce,
        idTokenExpected: true,
      });
      returned.finish(true, 'modelseal received your sign-in.');
      return idToken(tokens);
    } catch (error) {
      returned.finish(false, 'modelseal could not complete the sign-in.');
      throw error;
    }
  } finally {
    receiver.close();
  }
}

async function deviceFlow(
  client: Client,
  config: OpenID.Configuration,
  o: Checked,
  signal: AbortSignal,
): Promise<string> {
  if (config.serverMetadata().device_authorization_endpoint === undefined) {
    throw new ModelSealError({
      code: 'OIDC_TOKEN_UNAVAILABLE',
      message: `the oidc issuer ${o.issuer.href} offers no device flow (no device_authorization_endpoint); use the browser flow`,
    });
  }
  const grant = await client.initiateDeviceAuthorization(config, {
    scope: SCOPE,
  });
  o.onPrompt({
    flow: 'device',
    verificationURL: grant.verification_uri,
    userCode: grant.user_code,
    ...(grant.verification_uri_complete === undefined
      ? {}
      : { verificationURLComplete: grant.verification_uri_complete }),
    expiresIn: grant.expires_in,
  });
  const tokens = await client.pollDeviceAuthorizationGrant(
    config,
    grant,
    undefined,
    { signal },
  );
  return idToken(tokens);
}

function idToken(tokens: { id_token?: string }): string {
  if (typeof tokens.id_token !== 'string' || tokens.id_token === '') {
    throw new ModelSealError({
      code: 'OIDC_TOKEN_UNAVAILABLE',
      message:
        'the oidc issuer returned no id token (the `openid` scope was refused)',
    });
  }
  return tokens.id_token;
}

/** What went wrong, in our terms; the library's error stays as `cause`. */
function failure(error: unknown, o: Checked, deadline: AbortSignal): unknown {
  if (o.signal?.aborted === true) {
    return new ModelSealError({
      code: 'ABORTED',
      message: 'oidc sign-in aborted',
      cause: o.signal.reason,
    });
  }
  if (deadline.aborted) {
    return new ModelSealError({
      code: 'OIDC_TOKEN_UNAVAILABLE',
      message: `no oidc sign-in within ${Math.round(o.timeoutMs / 1000)} s`,
      cause: error,
    });
  }
  if (isModelSealError(error)) return error;
  const e = error as {
    error?: unknown;
    error_description?: unknown;
    message?: unknown;
  };
  const reason =
    typeof e.error === 'string'
      ? `${e.error}${typeof e.error_description === 'string' ? `: ${e.error_description}` : ''}`
      : typeof e.message === 'string'
        ? e.message
        : String(error);
  return new ModelSealError({
    code: 'OIDC_TOKEN_UNAVAILABLE',
    message: `oidc sign-in with ${o.issuer.href} failed (${o.flow} flow): ${reason}`,
    cause: error,
  });
}

async function signIn(o: Checked): Promise<string> {
  const deadline = AbortSignal.timeout(o.timeoutMs);
  const signal =
    o.signal === undefined ? deadline : AbortSignal.any([o.signal, deadline]);
  try {
    if (signal.aborted) throw signal.reason;
    const client: Client = await import('openid-client');
    const config = await client.discovery(
      o.issuer,
      o.clientId,
      undefined,
      client.None(),
      {
        timeout: REQUEST_TIMEOUT_S,
        ...(o.issuer.protocol === 'http:'
          ? { execute: [client.allowInsecureRequests] }
          : {}),
      },
    );
    return o.flow === 'device'
      ? await deviceFlow(client, config, o, signal)
      : await browserFlow(client, config, o, signal);
  } catch (error) {
    throw failure(error, o, deadline);
  }
}

/**
 * An identity provider that signs the person in interactively when a token
 * is first asked for (once; later calls get the same token).
 *
 * The browser flow listens on the loopback interface, gives the authorization
 * URL to `onPrompt` (and launches a browser when `openBrowser`), and exchanges
 * the code with the PKCE verifier. The device flow gives the user code and
 * verification URL to `onPrompt` and polls the token endpoint.
 *
 * @throws ModelSealError `INVALID_OPTIONS` for a bad issuer, client id, port or timeout
 *   (at once). `getToken()` rejects with `OIDC_TOKEN_UNAVAILABLE` (issuer unreachable,
 *   refused, sign-in denied or timed out, no device flow offered) or `ABORTED`.
 */
export function interactiveToken(
  options: InteractiveOidcOptions = {},
): IdentityProvider {
  const checked = check(options);
  let token: Promise<string> | undefined;
  return {
    getToken: () => (token ??= signIn(checked)),
  };
}
