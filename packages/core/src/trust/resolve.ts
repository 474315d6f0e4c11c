// SPDX-License-Identifier: Apache-2.0
/**
 * Which Sigstore trusted root a keyless verification uses, and why
 * (docs/user-guide.md, "Which trusted root"): a root the caller gives, a TUF
 * refresh (verified metadata, cached per user) with the cache and then the
 * embedded root as fallbacks when the mirror cannot be reached, or the
 * embedded root alone (offline).
 */
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import { SIGSTORE_STAGING_TUF_URL, SIGSTORE_TUF_URL } from '../constants.js';
import { isModelSealError, ModelSealError } from '../errors.js';
import { embeddedTrustedRoot } from './embedded-root.js';
import { loadTrustedRoot, parseTrustedRoot } from './trusted-root-file.js';
import { refreshTrustedRoot, type TufTrustedRoot } from './tuf.js';

/** Where the trusted root of a keyless verification came from. */
export type TrustRootSource = 'tuf' | 'embedded' | 'file';

/** Which trusted root was used (part of the verification result). */
export interface TrustRootInfo {
  /**
   * `tuf`: verified through a TUF repository now, or from its verified cache;
   * `embedded`: the public-good root shipped in `@sigstore/tuf` (as fresh as the install);
   * `file`: a root the caller gave (`trustedRoot` file or `trustedRootJSON`).
   */
  source: TrustRootSource;
  /** `tuf`: the mirror. */
  mirrorURL?: string;
  /** `tuf`: true when the mirror could not be reached and the verified, unexpired cache was used. */
  fromCache?: boolean;
  /** `tuf`: version of the TUF root metadata. */
  rootVersion?: number;
  /** `tuf`: version of the TUF targets metadata that lists the trusted root. */
  targetsVersion?: number;
  /** `tuf`: earliest expiry (ISO 8601) of the TUF metadata used. */
  expires?: string;
  /** `file`: the file, when a path was given. */
  path?: string;
  /** Set when a fresher root was wanted but could not be had: why this one was used instead. */
  fallback?: string;
}

/** How to choose the trusted root. */
export interface TrustRootOptions {
  /** A TrustedRoot JSON file (source `file`). */
  trustedRoot?: string;
  /** A TrustedRoot JSON document (source `file`). */
  trustedRootJSON?: unknown;
  /** Sigstore staging: no root is embedded for it. */
  staging?: boolean;
  /** Never use the network: the given root, else the embedded one. */
  offline?: boolean;
  /** Refresh through TUF (the CLI's default; the library's default is offline). */
  refreshTrustedRoot?: boolean;
  /** TUF mirror (implies a refresh); default public-good, staging with `staging`. */
  tufMirrorURL?: string;
  /** The TUF root.json to start from (needed for any mirror but public-good). */
  tufRootPath?: string;
  /** TUF cache directory; default `@sigstore/tuf`'s per-user one. */
  tufCachePath?: string;
  /** Per-request timeout of the refresh; default 5 000 ms. */
  tufTimeoutMs?: number;
}

/** The chosen root. */
export interface ResolvedTrustRoot {
  root: TrustedRoot;
  info: TrustRootInfo;
}

function invalid(message: string): ModelSealError {
  return new ModelSealError({ code: 'INVALID_OPTIONS', message });
}

function fromTuf(r: TufTrustedRoot, fallback?: string): ResolvedTrustRoot {
  const { info } = r;
  return {
    root: r.root,
    info: {
      source: 'tuf',
      mirrorURL: info.mirrorURL,
      fromCache: info.fromCache,
      ...(info.rootVersion === undefined
        ? {}
        : { rootVersion: info.rootVersion }),
      ...(info.targetsVersion === undefined
        ? {}
        : { targetsVersion: info.targetsVersion }),
      ...(info.expires === undefined ? {} : { expires: info.expires }),
      ...(fallback === undefined ? {} : { fallback }),
    },
  };
}

async function viaTuf(options: TrustRootOptions): Promise<ResolvedTrustRoot> {
  const mirrorURL =
    options.tufMirrorURL ??
    (options.staging === true ? SIGSTORE_STAGING_TUF_URL : SIGSTORE_TUF_URL);
  const base = {
    mirrorURL,
    ...(options.tufRootPath === undefined
      ? {}
      : { rootPath: options.tufRootPath }),
    ...(options.tufCachePath === undefined
      ? {}
      : { cachePath: options.tufCachePath }),
    ...(options.tufTimeoutMs === undefined
      ? {}
      : { timeoutMs: options.tufTimeoutMs }),
  };
  try {
    return fromTuf(await refreshTrustedRoot(base));
  } catch (error) {
    // Refused metadata is an attack or a broken repository: never fall back from it.
    if (
      !isModelSealError(error) ||
      error.code !== 'TRUST_ROOT_UNAVAILABLE' ||
      error.details?.['reason'] !== 'unreachable'
    )
      throw error;
    const why = `${error.message}${error.cause instanceof Error ? ` (${error.cause.message})` : ''}`;
    if (options.tufCachePath !== undefined) {
      try {
        const cached = await refreshTrustedRoot({ ...base, cacheOnly: true });
        return fromTuf(cached, `${why}: used the verified cache`);
      } catch (cacheError) {
        if (
          !isModelSealError(cacheError) ||
          cacheError.code !== 'TRUST_ROOT_UNAVAILABLE'
        )
          throw cacheError;
      }
    }
    // The embedded root belongs to the public-good mirror only.
    if (mirrorURL !== SIGSTORE_TUF_URL) throw error;
    return {
      root: embeddedTrustedRoot(),
      info: {
        source: 'embedded',
        fallback: `${why}: used the root embedded at install time`,
      },
    };
  }
}

/**
 * Choose the trusted root for a keyless verification.
 *
 * @throws ModelSealError `INVALID_OPTIONS` (contradictory options),
 *   `TRUST_ROOT_UNAVAILABLE` (unreadable file, staging without a root, a private
 *   mirror that cannot be reached and has no usable cache),
 *   `TRUST_ROOT_INVALID` (TUF metadata or target refused).
 */
export async function resolveTrustRoot(
  options: TrustRootOptions,
): Promise<ResolvedTrustRoot> {
  const given =
    options.trustedRoot !== undefined || options.trustedRootJSON !== undefined;
  const tufAsked =
    options.tufMirrorURL !== undefined || options.tufRootPath !== undefined;
  if (
    options.trustedRoot !== undefined &&
    options.trustedRootJSON !== undefined
  )
    throw invalid('give at most one of trustedRoot and trustedRootJSON');
  if (given && tufAsked)
    throw invalid('give either a trusted root or a tuf mirror, not both');
  if (
    options.offline === true &&
    (tufAsked || options.refreshTrustedRoot === true)
  )
    throw invalid('offline verification cannot use a tuf mirror');
  if (options.trustedRootJSON !== undefined)
    return {
      root: parseTrustedRoot(options.trustedRootJSON),
      info: { source: 'file' },
    };
  if (options.trustedRoot !== undefined)
    return {
      root: await loadTrustedRoot(options.trustedRoot),
      info: { source: 'file', path: options.trustedRoot },
    };
  const refresh =
    options.offline !== true &&
    (options.refreshTrustedRoot === true || tufAsked);
  if (options.staging === true && !(refresh && tufAsked)) {
    throw new ModelSealError({
      code: 'TRUST_ROOT_UNAVAILABLE',
      message:
        'no staging trusted root is embedded: pass a trusted root file, or the staging tuf root.json (--tuf-root)',
    });
  }
  if (refresh) return viaTuf(options);
  return { root: embeddedTrustedRoot(), info: { source: 'embedded' } };
}
