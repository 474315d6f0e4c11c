// SPDX-License-Identifier: Apache-2.0
/**
 * Keyless signing: Fulcio certificate + Rekor entry (+ RFC 3161 timestamp)
 * over a DSSE envelope of the in-toto statement. sigstore-notes.md §2,
 * oms-format.md §14.3.
 */
import type { Witness } from '@sigstore/sign';
import { sigstoreBundle, sigstoreSign } from '../internal/lazy.js';
import {
  IN_TOTO_PAYLOAD_TYPE,
  SIGSTORE_DEFAULT_RETRIES,
  SIGSTORE_DEFAULT_TIMEOUT_MS,
  SIGSTORE_FULCIO_URL,
  SIGSTORE_REKOR_URL,
  SIGSTORE_STAGING_FULCIO_URL,
  SIGSTORE_STAGING_REKOR_URL,
  SIGSTORE_STAGING_TSA_URL,
  SIGSTORE_TSA_URL,
} from '../constants.js';
import { ModelSealError, isModelSealError } from '../errors.js';
import {
  selectSigningEndpoints,
  type SigningConfigEndpoints,
} from '../trust/signing-config.js';
import { resolveIdentityProvider, type IdentityProvider } from './identity.js';

/** Options of {@link signWithSigstore}. */
export interface SigstoreSignOptions {
  /** Explicit OIDC token (CLI `--identity-token`); wins over ambient credentials. */
  identityToken?: string;
  /** Use ambient CI credentials (GitHub Actions OIDC with audience `sigstore`, `SIGSTORE_ID_TOKEN`). */
  useAmbientCredentials?: boolean;
  /** Fulcio base URL; default public-good (or staging with `staging`). */
  fulcioURL?: string;
  /** Rekor v1 base URL; default public-good (or staging with `staging`). */
  rekorURL?: string;
  /**
   * Timestamp authority: a base URL (`/api/v1/timestamp` is appended when it
   * has no path) or a full endpoint URL; `null` for none. Default: the
   * public-good (or staging) TSA, except when `fulcioURL` or `rekorURL` is
   * given (a private instance), where the default is no TSA so that nothing
   * leaks to a public service unasked.
   */
  tsaURL?: string | null;
  /**
   * Rekor v1 entry kind; default `'dsse'`, what the reference writes. The
   * `@sigstore/mock` Rekor cannot verify `dsse` entries, so tests use `'intoto'`.
   */
  rekorEntryType?: 'dsse' | 'intoto';
  /** Use the staging instance (`sigstage.dev`) for the defaults above. */
  staging?: boolean;
  /**
   * SigningConfig JSON (`--signing-config`, or the `signingConfig` half of a
   * `--trust-config`) that supplies the defaults for Fulcio, Rekor and TSA
   * instead of public-good or staging; explicit URLs still win. See
   * {@link selectSigningEndpoints}.
   */
  signingConfig?: unknown;
  /**
   * Rekor API major version; default 1 (or what `signingConfig` selects).
   * Version 2 needs a TSA, since its entries carry no signed time.
   */
  rekorMajorApiVersion?: 1 | 2;
  /** Per-request timeout in milliseconds; default 30 000. */
  timeoutMs?: number;
  /** Retries per request; default 2. */
  retries?: number;
  /** Abort signal; an aborted signing rejects with `ABORTED`. */
  signal?: AbortSignal;
  /**
   * Identity provider to use instead of `identityToken`/`useAmbientCredentials`
   * (pluggable token sources, e.g. an interactive flow in a host application).
   */
  identityProvider?: IdentityProvider;
  /** Interactive sign-in (browser or device flow) when no token source applies; see `IdentityOptions.interactive`. */
  interactive?: NonNullable<
    import('./identity.js').IdentityOptions['interactive']
  >;
}

/** Where a signing goes, after defaults. */
export interface SigstoreEndpoints {
  fulcioURL: string;
  rekorURL: string;
  rekorMajorApiVersion: 1 | 2;
  tsaURL: string | null;
}

function checkURL(name: string, value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch (cause) {
    throw new ModelSealError({
      code: 'INVALID_OPTIONS',
      message: `${name} is not a url: ${value}`,
      cause,
    });
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ModelSealError({
      code: 'INVALID_OPTIONS',
      message: `${name} must be an http(s) url: ${value}`,
    });
  }
  return value.replace(/\/+$/, '');
}

/**
 * The Fulcio, Rekor and TSA URLs that {@link signWithSigstore} would use for
 * these options (defaults applied, URLs checked). Precedence: explicit URLs,
 * then `signingConfig`, then staging or public-good.
 *
 * @throws ModelSealError `INVALID_OPTIONS` for a malformed URL or signing config,
 *   `staging` together with `signingConfig`, or Rekor v2 without a TSA.
 */
export function resolveSigstoreEndpoints(
  options: SigstoreSignOptions,
): SigstoreEndpoints {
  const staging = options.staging === true;
  if (staging && options.signingConfig !== undefined) {
    throw new ModelSealError({
      code: 'INVALID_OPTIONS',
      message: 'give at most one of staging and a signing config',
    });
  }
  const base: SigningConfigEndpoints =
    options.signingConfig !== undefined
      ? selectSigningEndpoints(options.signingConfig)
      : staging
        ? {
            fulcioURL: SIGSTORE_STAGING_FULCIO_URL,
            rekorURL: SIGSTORE_STAGING_REKOR_URL,
            rekorMajorApiVersion: 1,
            tsaURL: SIGSTORE_STAGING_TSA_URL,
          }
        : {
            fulcioURL: SIGSTORE_FULCIO_URL,
            rekorURL: SIGSTORE_REKOR_URL,
            rekorMajorApiVersion: 1,
            tsaURL: SIGSTORE_TSA_URL,
          };
  // Explicit Fulcio/Rekor URLs without a signing config mean a private instance: no public TSA unless asked.
  const custom =
    options.signingConfig === undefined &&
    (options.fulcioURL !== undefined || options.rekorURL !== undefined);
  let tsaURL: string | null;
  if (options.tsaURL === null) tsaURL = null;
  else if (options.tsaURL !== undefined)
    tsaURL = checkURL('tsa url', options.tsaURL);
  else if (custom) tsaURL = null;
  else tsaURL = base.tsaURL === null ? null : checkURL('tsa url', base.tsaURL);
  const rekorMajorApiVersion =
    options.rekorMajorApiVersion ?? base.rekorMajorApiVersion;
  if (rekorMajorApiVersion !== 1 && rekorMajorApiVersion !== 2) {
    throw new ModelSealError({
      code: 'INVALID_OPTIONS',
      message: `unsupported rekor api version: ${String(rekorMajorApiVersion)}`,
    });
  }
  if (rekorMajorApiVersion === 2 && tsaURL === null) {
    // Rekor v2 entries carry no signed time: without a timestamp the signature could never be verified.
    throw new ModelSealError({
      code: 'INVALID_OPTIONS',
      message: 'rekor v2 needs a timestamp authority',
    });
  }
  return {
    fulcioURL: checkURL('fulcio url', options.fulcioURL ?? base.fulcioURL),
    rekorURL: checkURL('rekor url', options.rekorURL ?? base.rekorURL),
    rekorMajorApiVersion,
    tsaURL,
  };
}

const OIDC_CODES = new Set([
  'IDENTITY_TOKEN_READ_ERROR',
  'IDENTITY_TOKEN_PARSE_ERROR',
]);

/** Map a failure of `@sigstore/sign` to our codes (sigstore-notes.md §9). */
function signFailure(error: unknown): ModelSealError {
  if (isModelSealError(error)) return error;
  if (error instanceof sigstoreSign().InternalError) {
    // Our identity providers throw ModelSealError; FulcioSigner wraps it.
    if (isModelSealError(error.cause)) return error.cause;
    if (OIDC_CODES.has(error.code)) {
      return new ModelSealError({
        code: 'OIDC_TOKEN_UNAVAILABLE',
        // The parse error's message embeds the whole token: keep only its cause.
        message:
          error.code === 'IDENTITY_TOKEN_PARSE_ERROR'
            ? 'the identity token has no usable subject (an `email` claim needs `email_verified: true`, else `sub`)'
            : 'cannot read the oidc identity token',
        cause:
          error.code === 'IDENTITY_TOKEN_PARSE_ERROR'
            ? (error.cause as unknown)
            : error,
        details: { sigstoreCode: error.code },
      });
    }
    return new ModelSealError({
      code: 'SIGSTORE_SERVICE_ERROR',
      message: `sigstore service failed: ${error.message}`,
      cause: error,
      details: { sigstoreCode: error.code },
    });
  }
  /* v8 ignore next 5 -- defensive: @sigstore/sign wraps its own failures in InternalError */
  return new ModelSealError({
    code: 'SIGSTORE_SERVICE_ERROR',
    message: `keyless signing failed: ${error instanceof Error ? error.message : String(error)}`,
    cause: error,
  });
}

function aborted(signal: AbortSignal): ModelSealError {
  return new ModelSealError({
    code: 'ABORTED',
    message: 'keyless signing aborted',
    cause: signal.reason,
  });
}

/**
 * Sign an in-toto statement keylessly and return the Sigstore bundle JSON
 * (v0.3 media type, DSSE envelope with payload type
 * `application/vnd.in-toto+json`, Fulcio leaf certificate, Rekor v1 entry,
 * and an RFC 3161 timestamp when a TSA is used).
 *
 * Builds `DSSEBundleBuilder` + `FulcioSigner` + `RekorWitness` (+ `TSAWitness`)
 * with explicit timeouts and retries, which the directly built clients
 * otherwise lack (sigstore-notes.md §2). The statement bytes are used as given.
 *
 * @param statement - the serialized in-toto statement (the DSSE payload).
 * @throws ModelSealError `OIDC_TOKEN_UNAVAILABLE` (no token, malformed token, ambient lookup
 *   failed), `SIGSTORE_SERVICE_ERROR` (Fulcio/Rekor/TSA failed or unreachable),
 *   `INVALID_OPTIONS` (bad URL or numbers), `ABORTED` (signal).
 */
export async function signWithSigstore(
  statement: Buffer,
  options: SigstoreSignOptions,
): Promise<Record<string, unknown>> {
  const { DSSEBundleBuilder, FulcioSigner, RekorWitness, TSAWitness } =
    sigstoreSign();
  const { signal } = options;
  if (signal?.aborted === true) throw aborted(signal);
  const timeout = options.timeoutMs ?? SIGSTORE_DEFAULT_TIMEOUT_MS;
  const retries = options.retries ?? SIGSTORE_DEFAULT_RETRIES;
  if (!Number.isInteger(timeout) || timeout <= 0) {
    throw new ModelSealError({
      code: 'INVALID_OPTIONS',
      message: `timeoutMs must be a positive integer: ${timeout}`,
    });
  }
  if (!Number.isInteger(retries) || retries < 0) {
    throw new ModelSealError({
      code: 'INVALID_OPTIONS',
      message: `retries must be a non-negative integer: ${retries}`,
    });
  }
  const endpoints = resolveSigstoreEndpoints(options);
  const identityProvider =
    options.identityProvider ?? resolveIdentityProvider(options);
  const fetchOptions = { timeout, retry: { retries } };

  const witnesses: Witness[] = [
    new RekorWitness({
      rekorBaseURL: endpoints.rekorURL,
      entryType: options.rekorEntryType ?? 'dsse',
      majorApiVersion: endpoints.rekorMajorApiVersion,
      ...fetchOptions,
    }),
  ];
  if (endpoints.tsaURL !== null) {
    witnesses.push(
      new TSAWitness({ tsaBaseURL: endpoints.tsaURL, ...fetchOptions }),
    );
  }
  const builder = new DSSEBundleBuilder({
    signer: new FulcioSigner({
      fulcioBaseURL: endpoints.fulcioURL,
      identityProvider,
      ...fetchOptions,
    }),
    witnesses,
  });

  const work = builder.create({ data: statement, type: IN_TOTO_PAYLOAD_TYPE });
  let bundle: Awaited<typeof work>;
  if (signal === undefined) {
    try {
      bundle = await work;
    } catch (error) {
      throw signFailure(error);
    }
  } else {
    // @sigstore/sign takes no signal: stop waiting, let the requests finish in the background.
    let onAbort: (() => void) | undefined;
    const abortion = new Promise<never>((_, reject) => {
      onAbort = () => reject(aborted(signal));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    work.catch(() => undefined);
    try {
      bundle = await Promise.race([work, abortion]);
    } catch (error) {
      throw signFailure(error);
    } finally {
      if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
    }
  }
  return sigstoreBundle().bundleToJSON(bundle);
}
