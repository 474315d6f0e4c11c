// SPDX-License-Identifier: Apache-2.0
/**
 * Online trusted-root refresh through TUF, only when the caller asks for it
 * (sigstore-notes.md §5: root sources are a file, the embedded seed, then an
 * explicit online refresh). Needed for staging, whose root is not embedded.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { sigstoreTuf } from '../internal/lazy.js';
import {
  SIGSTORE_DEFAULT_RETRIES,
  SIGSTORE_DEFAULT_TIMEOUT_MS,
  SIGSTORE_STAGING_TUF_URL,
  SIGSTORE_TUF_URL,
} from '../constants.js';
import { ModelSealError } from '../errors.js';
import { parseTrustedRoot } from './trusted-root-file.js';

/** Options of {@link fetchTrustedRoot}. */
export interface FetchTrustedRootOptions {
  /** TUF mirror; default public-good, or staging with `staging`. */
  mirrorURL?: string;
  /** Use the staging TUF mirror (needs `rootPath`: no staging root is embedded). */
  staging?: boolean;
  /**
   * The TUF `root.json` to start from. Default: the one embedded in
   * `@sigstore/tuf`, which exists only for the public-good mirror.
   */
  rootPath?: string;
  /** Where TUF metadata is cached; default `@sigstore/tuf`'s per-user data directory. */
  cachePath?: string;
  /** Per-request timeout in milliseconds; default 30 000. */
  timeoutMs?: number;
  /** Retries per request; default 2. */
  retries?: number;
}

/**
 * Fetch the current TrustedRoot from a Sigstore TUF repository, verifying the
 * TUF metadata chain from the starting root. Uses the network; the offline
 * default of verification is {@link embeddedTrustedRoot} instead.
 *
 * @returns the TrustedRoot JSON, to pass as `trustedRootJSON` or write to a file.
 * @throws ModelSealError `TRUST_ROOT_UNAVAILABLE` when the repository cannot be reached,
 *   its metadata does not verify, or no starting root is known for the mirror;
 *   `INVALID_OPTIONS` for `staging` together with `mirrorURL`.
 */
export async function fetchTrustedRoot(
  options: FetchTrustedRootOptions = {},
): Promise<Record<string, unknown>> {
  if (options.staging === true && options.mirrorURL !== undefined) {
    throw new ModelSealError({
      code: 'INVALID_OPTIONS',
      message: 'give at most one of staging and a tuf mirror url',
    });
  }
  const mirrorURL =
    options.mirrorURL ??
    (options.staging === true ? SIGSTORE_STAGING_TUF_URL : SIGSTORE_TUF_URL);
  let root: TrustedRoot;
  try {
    root = await sigstoreTuf().getTrustedRoot({
      mirrorURL,
      ...(options.rootPath === undefined ? {} : { rootPath: options.rootPath }),
      ...(options.cachePath === undefined
        ? {}
        : { cachePath: options.cachePath }),
      timeout: options.timeoutMs ?? SIGSTORE_DEFAULT_TIMEOUT_MS,
      retry: { retries: options.retries ?? SIGSTORE_DEFAULT_RETRIES },
    });
  } catch (cause) {
    throw new ModelSealError({
      code: 'TRUST_ROOT_UNAVAILABLE',
      message:
        options.rootPath === undefined && mirrorURL !== SIGSTORE_TUF_URL
          ? `cannot fetch the trusted root from ${mirrorURL} (no tuf root.json is embedded for it: pass one)`
          : `cannot fetch the trusted root from ${mirrorURL}`,
      cause,
    });
  }
  const json = TrustedRoot.toJSON(root) as Record<string, unknown>;
  parseTrustedRoot(json, `trusted root from ${mirrorURL}`);
  return json;
}

/** Per-request timeout of a verify-time refresh: short, the embedded root is the fallback. */
export const TUF_REFRESH_TIMEOUT_MS = 5_000;

/** The TUF target that holds the Sigstore trusted root. */
const TRUSTED_ROOT_TARGET = 'trusted_root.json';

/** Options of {@link refreshTrustedRoot}. */
export interface RefreshTrustedRootOptions {
  /** TUF mirror; default the public-good one. */
  mirrorURL?: string;
  /** The TUF `root.json` to start from when the cache has none; default the one embedded for the public-good mirror. */
  rootPath?: string;
  /** Cache directory; default `@sigstore/tuf`'s per-user data directory. One subdirectory per mirror. */
  cachePath?: string;
  /** Per-request timeout in milliseconds; default 5 000. */
  timeoutMs?: number;
  /** Retries per request; default 0. */
  retries?: number;
  /** Never use the network: only verified, unexpired metadata from the cache. */
  cacheOnly?: boolean;
}

/** What TUF vouched for, and when that stops. */
export interface TufRootInfo {
  mirrorURL: string;
  /** True when the verified metadata came from the cache without a network request. */
  fromCache: boolean;
  /** Version of the TUF root metadata in force. */
  rootVersion?: number;
  /** Version of the targets metadata that lists `trusted_root.json`. */
  targetsVersion?: number;
  /** Earliest expiry (ISO 8601) of the root, timestamp, snapshot and targets metadata used. */
  expires?: string;
}

/** A trusted root fetched (or read from the cache) through TUF. */
export interface TufTrustedRoot {
  json: Record<string, unknown>;
  root: TrustedRoot;
  info: TufRootInfo;
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

/**
 * Whether a TUF failure means "the mirror could not be reached" (no
 * connection, timeout, an HTTP error status) rather than "the mirror answered
 * with metadata that does not verify". Anything not recognised as the former
 * counts as the latter, so an unknown failure never causes a fallback.
 */
export function isUnreachable(error: unknown): boolean {
  let e: unknown = error;
  for (let depth = 0; depth < 8 && e instanceof Error; depth++) {
    const code = (e as { code?: unknown }).code;
    if (e.name === 'TimeoutError' || e.name === 'AbortError') return true;
    if (e instanceof TypeError && e.message === 'fetch failed') return true;
    if (typeof (e as { statusCode?: unknown }).statusCode === 'number')
      return true; // tuf-js DownloadHTTPError
    if (
      typeof code === 'string' &&
      (NETWORK_CODES.has(code) || code.startsWith('UND_ERR_'))
    )
      return true;
    // tuf-js wraps snapshot and targets download failures in a RuntimeError, keeping only the text.
    if (
      /^Unable to load (snapshot metadata|targets) error (TypeError: fetch failed|Error: Failed to download|TimeoutError|AbortError)/.test(
        e.message,
      )
    )
      return true;
    e = e.cause;
  }
  return false;
}

interface MetadataView {
  signed?: { version?: unknown; expires?: unknown };
}

/** Versions and expiry of the verified metadata, read from the client (unknown when its shape differs). */
function metadataInfo(
  client: unknown,
): Omit<TufRootInfo, 'mirrorURL' | 'fromCache'> {
  const set = (
    client as {
      updater?: { trustedSet?: Record<string, MetadataView | undefined> };
    }
  ).updater?.trustedSet;
  if (set === undefined) return {};
  const version = (m: MetadataView | undefined): number | undefined =>
    typeof m?.signed?.version === 'number' ? m.signed.version : undefined;
  const expiries = ['root', 'timestamp', 'snapshot', 'targets']
    .map((role) => set[role]?.signed?.expires)
    .filter(
      (x): x is string => typeof x === 'string' && !Number.isNaN(Date.parse(x)),
    )
    .sort((a, b) => Date.parse(a) - Date.parse(b));
  const rootVersion = version(set['root']);
  const targetsVersion = version(set['targets']);
  return {
    ...(rootVersion === undefined ? {} : { rootVersion }),
    ...(targetsVersion === undefined ? {} : { targetsVersion }),
    ...(expiries[0] === undefined
      ? {}
      : { expires: new Date(expiries[0]).toISOString() }),
  };
}

/** Where @sigstore/tuf keeps one mirror's metadata under `cachePath`. */
function mirrorCacheDir(cachePath: string, mirrorURL: string): string {
  const url = new URL(mirrorURL);
  return join(
    cachePath,
    encodeURIComponent(url.host + url.pathname.replace(/\/$/, '')),
  );
}

/** Whether the cache holds a timestamp that has not expired (unverified: only decides whether to try). */
function cacheLooksFresh(
  cachePath: string,
  mirrorURL: string,
  now: Date,
): boolean {
  try {
    const file = join(mirrorCacheDir(cachePath, mirrorURL), 'timestamp.json');
    const ts = JSON.parse(readFileSync(file, 'utf8')) as MetadataView;
    const expires = ts.signed?.expires;
    return typeof expires === 'string' && Date.parse(expires) > now.getTime();
  } catch {
    return false;
  }
}

/**
 * Refresh the Sigstore trusted root through TUF (`@sigstore/tuf`, loaded on
 * first use): root rotation, timestamp, snapshot and targets metadata are
 * verified from the starting root, and the verified metadata and target are
 * kept in the cache. With `cacheOnly`, no request is made: the cache must
 * hold verified, unexpired metadata.
 *
 * @throws ModelSealError `TRUST_ROOT_INVALID` when the mirror (or the cache) served
 *   metadata or a target that does not verify (bad signature, expired, rolled back,
 *   wrong length or hash); `TRUST_ROOT_UNAVAILABLE` when the mirror cannot be reached
 *   (`details.reason: 'unreachable'`), no starting root is known for it, or the cache
 *   is empty or expired in `cacheOnly` mode.
 */
export async function refreshTrustedRoot(
  options: RefreshTrustedRootOptions = {},
): Promise<TufTrustedRoot> {
  const mirrorURL = options.mirrorURL ?? SIGSTORE_TUF_URL;
  if (options.cacheOnly === true) {
    if (
      options.cachePath === undefined ||
      !cacheLooksFresh(options.cachePath, mirrorURL, new Date())
    ) {
      throw new ModelSealError({
        code: 'TRUST_ROOT_UNAVAILABLE',
        message: `no unexpired tuf metadata for ${mirrorURL} in the cache`,
        details: { reason: 'no-cache' },
      });
    }
  }
  const tuf = sigstoreTuf();
  let text: string;
  let client: unknown;
  try {
    const c = await tuf.initTUF({
      mirrorURL,
      ...(options.rootPath === undefined ? {} : { rootPath: options.rootPath }),
      ...(options.cachePath === undefined
        ? {}
        : { cachePath: options.cachePath }),
      timeout: options.timeoutMs ?? TUF_REFRESH_TIMEOUT_MS,
      retry: { retries: options.retries ?? 0 },
      forceCache: options.cacheOnly === true,
    });
    client = c;
    text = await c.getTarget(TRUSTED_ROOT_TARGET);
  } catch (cause) {
    const code = (cause as { code?: unknown } | undefined)?.code;
    if (code === 'TUF_INIT_CACHE_ERROR') {
      throw new ModelSealError({
        code: 'TRUST_ROOT_UNAVAILABLE',
        message: `no tuf root.json is known for ${mirrorURL}: pass one (--tuf-root)`,
        cause,
        details: { reason: 'no-root' },
      });
    }
    if (isUnreachable(cause)) {
      throw new ModelSealError({
        code: 'TRUST_ROOT_UNAVAILABLE',
        message: `cannot reach the tuf repository ${mirrorURL}`,
        cause,
        details: { reason: 'unreachable' },
      });
    }
    const inner = (cause as { cause?: unknown } | undefined)?.cause;
    throw new ModelSealError({
      code: 'TRUST_ROOT_INVALID',
      message: `tuf metadata from ${mirrorURL} refused: ${inner instanceof Error ? inner.message : cause instanceof Error ? cause.message : String(cause)}`,
      cause,
      details: { tufCode: typeof code === 'string' ? code : undefined },
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ModelSealError({
      code: 'TRUST_ROOT_INVALID',
      message: `trusted root from ${mirrorURL} is not valid json`,
      cause,
    });
  }
  let root: TrustedRoot;
  try {
    root = parseTrustedRoot(json, `trusted root from ${mirrorURL}`);
  } catch (cause) {
    // TUF vouched for a document that is not a usable trusted root: refuse it, do not fall back.
    throw new ModelSealError({
      code: 'TRUST_ROOT_INVALID',
      message: (cause as Error).message,
      cause,
    });
  }
  return {
    json: json as Record<string, unknown>,
    root,
    info: {
      mirrorURL,
      fromCache: options.cacheOnly === true,
      ...metadataInfo(client),
    },
  };
}
