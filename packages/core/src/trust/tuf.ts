// SPDX-License-Identifier: Apache-2.0
/**
 * Online trusted-root refresh through TUF, only when the caller asks for it
 * (sigstore-notes.md §5: root sources are a file, the embedded seed, then an
 * explicit online refresh). Needed for staging, whose root is not embedded.
 */
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
