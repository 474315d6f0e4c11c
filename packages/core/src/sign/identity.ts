// SPDX-License-Identifier: Apache-2.0
/**
 * Where the OIDC identity token for keyless signing comes from
 * (sigstore-notes.md §3). The only module of `@modelseal/core` that reads
 * `process.env` (through `CIContextProvider`).
 */
import { sigstoreSign } from '../internal/lazy.js';
import { SIGSTORE_OIDC_AUDIENCE } from '../constants.js';
import { ModelSealError, isModelSealError } from '../errors.js';
import { desktopAvailable } from './oidc/browser.js';
import { interactiveToken } from './oidc/interactive.js';
import type { InteractiveOidcOptions } from './oidc/types.js';

/**
 * A source of OIDC identity tokens for keyless signing. Structurally the same
 * as `@sigstore/sign`'s, declared here so that our declarations do not pull in
 * that package's types (which need `make-fetch-happen` typings to compile).
 */
export interface IdentityProvider {
  getToken(): Promise<string>;
}

/** Input of {@link resolveIdentityProvider}: the token sources, in precedence order. */
export interface IdentityOptions {
  /** An explicit OIDC token (CLI `--identity-token`); wins over everything else. */
  identityToken?: string;
  /** Fall back to ambient CI credentials (GitHub Actions OIDC, Buildkite, `SIGSTORE_ID_TOKEN`). */
  useAmbientCredentials?: boolean;
  /**
   * Allow an interactive sign-in (browser or device flow, `oidc/`) when no
   * explicit token is given and ambient credentials are off or yield none:
   * `true` for the defaults (browser flow, public-good issuer), or the flow's
   * options. Off by default: a library call never waits for a person unasked.
   */
  interactive?: InteractiveOidcOptions | boolean;
  /** Cancels an interactive sign-in. */
  signal?: AbortSignal;
}

/** Three base64url segments; the signature may be empty (`alg: none` test tokens). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * An identity provider that returns a fixed token. Surrounding whitespace
 * (the newline of a token file) is removed.
 *
 * @throws ModelSealError `OIDC_TOKEN_UNAVAILABLE` when the token is empty or is not a JWT
 *   (three base64url segments). The token is never put in the message.
 */
export function staticToken(token: string): IdentityProvider {
  const trimmed = token.trim();
  if (trimmed === '') {
    throw new ModelSealError({
      code: 'OIDC_TOKEN_UNAVAILABLE',
      message: 'the identity token is empty',
    });
  }
  if (!JWT_SHAPE.test(trimmed)) {
    throw new ModelSealError({
      code: 'OIDC_TOKEN_UNAVAILABLE',
      message:
        'the identity token is not a jwt (expected three base64url segments)',
    });
  }
  return { getToken: () => Promise.resolve(trimmed) };
}

/**
 * An identity provider for ambient CI credentials, audience `sigstore`:
 * GitHub Actions (needs `permissions: id-token: write`), Buildkite, or the
 * `SIGSTORE_ID_TOKEN` environment variable (cosign's convention). The token is
 * requested when `getToken()` is called, not now.
 *
 * `CIContextProvider` rejects with a plain string (gotcha #9); `getToken()`
 * wraps it.
 *
 * `getToken()` rejects with ModelSealError `OIDC_TOKEN_UNAVAILABLE` (the original
 * rejection as `cause`) when no source yields a token.
 */
export function ambientToken(): IdentityProvider {
  const ci = new (sigstoreSign().CIContextProvider)(SIGSTORE_OIDC_AUDIENCE);
  return {
    async getToken(): Promise<string> {
      let token: unknown;
      try {
        token = await ci.getToken();
      } catch (cause) {
        // `details.option`: the CLI names its own flags instead of the options.
        throw new ModelSealError({
          code: 'OIDC_TOKEN_UNAVAILABLE',
          message:
            'no ambient oidc token: on github actions grant `permissions: id-token: write`; elsewhere set SIGSTORE_ID_TOKEN, pass identityToken, or allow an interactive sign-in (interactive)',
          cause,
          details: { option: 'identityToken', source: 'ambient' },
        });
      }
      if (typeof token !== 'string' || token.trim() === '') {
        throw new ModelSealError({
          code: 'OIDC_TOKEN_UNAVAILABLE',
          message: 'the ambient oidc token is empty',
        });
      }
      return token.trim();
    },
  };
}

/**
 * Pick the identity provider the options ask for: an explicit token first,
 * then ambient credentials when enabled, as the reference CLI does, then an
 * interactive sign-in when allowed (also as the fallback when ambient
 * credentials yield no token). A browser is launched only when a desktop
 * session is detected, unless `interactive.openBrowser` says otherwise.
 *
 * @throws ModelSealError `OIDC_TOKEN_UNAVAILABLE` when no source is enabled, or the
 *   explicit token is empty or malformed; `INVALID_OPTIONS` for bad interactive options.
 */
export function resolveIdentityProvider(
  options: IdentityOptions,
): IdentityProvider {
  if (options.identityToken !== undefined)
    return staticToken(options.identityToken);
  const interactive =
    options.interactive === undefined || options.interactive === false
      ? undefined
      : interactiveToken({
          openBrowser: desktopAvailable(process.env, process.platform),
          ...(options.signal === undefined ? {} : { signal: options.signal }),
          ...(options.interactive === true ? {} : options.interactive),
        });
  if (options.useAmbientCredentials === true) {
    const ambient = ambientToken();
    if (interactive === undefined) return ambient;
    return {
      // No ambient token (a laptop, not CI): ask the person instead.
      getToken: () =>
        ambient.getToken().catch((error: unknown) => {
          if (
            isModelSealError(error) &&
            error.code === 'OIDC_TOKEN_UNAVAILABLE'
          )
            return interactive.getToken();
          throw error;
        }),
    };
  }
  if (interactive !== undefined) return interactive;
  throw new ModelSealError({
    code: 'OIDC_TOKEN_UNAVAILABLE',
    message:
      'no oidc identity token: pass identityToken, set useAmbientCredentials, or allow an interactive sign-in (interactive)',
    details: { option: 'identityToken', source: 'none' },
  });
}

/**
 * The unverified claims of a JWT, for messages and checks before signing
 * (Fulcio verifies the token; we never trust these claims for anything).
 *
 * @throws ModelSealError `OIDC_TOKEN_UNAVAILABLE` when the token cannot be decoded.
 */
export function decodeTokenClaims(token: string): Record<string, unknown> {
  const payload = token.trim().split('.')[1];
  try {
    if (payload === undefined) throw new Error('no payload segment');
    const claims: unknown = JSON.parse(
      Buffer.from(payload, 'base64url').toString('utf8'),
    );
    if (
      typeof claims !== 'object' ||
      claims === null ||
      Array.isArray(claims)
    ) {
      throw new Error('payload is not a json object');
    }
    return claims as Record<string, unknown>;
  } catch (cause) {
    throw new ModelSealError({
      code: 'OIDC_TOKEN_UNAVAILABLE',
      message: 'cannot decode the claims of the identity token',
      cause,
    });
  }
}
