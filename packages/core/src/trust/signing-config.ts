// SPDX-License-Identifier: Apache-2.0
/**
 * Sigstore SigningConfig (`--signing-config FILE`) and ClientTrustConfig
 * (`--trust-config FILE`, a trusted root plus a signing config in one file)
 * documents: which Fulcio, Rekor and TSA a keyless signing uses.
 */
import { readFile } from 'node:fs/promises';
import {
  ServiceSelector,
  SigningConfig,
  type Service,
} from '@sigstore/protobuf-specs';
import {
  CLIENT_TRUST_CONFIG_MEDIA_TYPE,
  SIGNING_CONFIG_MEDIA_TYPE_PREFIX,
} from '../constants.js';
import { ModelSealError } from '../errors.js';
import { parseTrustedRoot } from './trusted-root-file.js';
import { isObject } from '../internal/json.js';

/** Largest configuration file we read. */
const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** The services a SigningConfig selects for keyless signing. */
export interface SigningConfigEndpoints {
  fulcioURL: string;
  rekorURL: string;
  /** 1 unless the config lists only Rekor v2 logs. */
  rekorMajorApiVersion: 1 | 2;
  /** `null` when the config names no TSA. */
  tsaURL: string | null;
}

/** The two halves of a ClientTrustConfig. */
export interface TrustConfig {
  trustedRootJSON: Record<string, unknown>;
  signingConfigJSON: Record<string, unknown>;
}

function invalid(message: string, cause?: unknown): ModelSealError {
  return new ModelSealError({
    code: 'INVALID_OPTIONS',
    message,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Services usable now and within `maxVersion`, newest start first (the spec's selection rule). */
function usable(services: Service[], maxVersion: number, now: Date): Service[] {
  return services
    .filter(
      (s) =>
        s.url !== '' &&
        s.majorApiVersion >= 1 &&
        s.majorApiVersion <= maxVersion,
    )
    .filter(
      (s) =>
        (s.validFor?.start ?? new Date(0)) <= now &&
        (s.validFor?.end === undefined || s.validFor.end >= now),
    )
    .sort(
      (a, b) =>
        (b.validFor?.start?.getTime() ?? 0) -
        (a.validFor?.start?.getTime() ?? 0),
    );
}

function checkSelector(
  selector: ServiceSelector | undefined,
  what: string,
): void {
  // We write one log entry and at most one timestamp: only ANY (or an unset selector) fits.
  if (
    selector !== undefined &&
    selector !== ServiceSelector.ANY &&
    selector !== ServiceSelector.SERVICE_SELECTOR_UNDEFINED
  ) {
    throw invalid(
      `signing config ${what} selector ${ServiceSelector[selector]} is not supported (only ANY)`,
    );
  }
}

/**
 * Pick Fulcio, Rekor and TSA from SigningConfig JSON (media type
 * `application/vnd.dev.sigstore.signingconfig.v0.2+json`): among the
 * services valid at `now` with a supported API version (CA v1, Rekor v1 or
 * v2, TSA v1), the one with the newest start. Rekor v1 is preferred when the
 * config lists both, because the reference writes Rekor v1 entries.
 *
 * @throws ModelSealError `INVALID_OPTIONS` when the document is not a signing config, names
 *   no usable CA or Rekor, or asks for a selector other than ANY.
 */
export function selectSigningEndpoints(
  json: unknown,
  now: Date = new Date(),
): SigningConfigEndpoints {
  if (!isObject(json)) throw invalid('signing config is not a json object');
  const mediaType = json['mediaType'];
  if (
    typeof mediaType !== 'string' ||
    !mediaType.startsWith(SIGNING_CONFIG_MEDIA_TYPE_PREFIX)
  ) {
    throw invalid(
      `signing config has media type ${JSON.stringify(mediaType)}, not a sigstore signing config`,
    );
  }
  let config: SigningConfig;
  try {
    config = SigningConfig.fromJSON(json);
  } catch (cause) {
    throw invalid('signing config is malformed', cause);
  }
  checkSelector(config.rekorTlogConfig?.selector, 'rekor');
  checkSelector(config.tsaConfig?.selector, 'tsa');
  const ca = usable(config.caUrls, 1, now)[0];
  if (ca === undefined)
    throw invalid('signing config names no usable fulcio (api v1, valid now)');
  const tlogs = usable(config.rekorTlogUrls, 2, now);
  const tlog = tlogs.find((t) => t.majorApiVersion === 1) ?? tlogs[0];
  if (tlog === undefined)
    throw invalid(
      'signing config names no usable rekor (api v1 or v2, valid now)',
    );
  const tsa = usable(config.tsaUrls, 1, now)[0];
  if (tlog.majorApiVersion === 2 && tsa === undefined) {
    // Rekor v2 entries carry no signed time: a TSA timestamp is the only proof of when.
    throw invalid(
      'signing config selects rekor v2 but names no usable timestamp authority',
    );
  }
  return {
    fulcioURL: ca.url,
    rekorURL: tlog.url,
    rekorMajorApiVersion: tlog.majorApiVersion === 2 ? 2 : 1,
    tsaURL: tsa?.url ?? null,
  };
}

async function readJSONFile(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new ModelSealError({
      code: 'IO_ERROR',
      message: `cannot read ${what} ${file}`,
      cause,
    });
  }
  if (text.length > MAX_CONFIG_BYTES)
    throw invalid(`${what} ${file} is larger than ${MAX_CONFIG_BYTES} bytes`);
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw invalid(`${what} ${file} is not valid json`, cause);
  }
}

/**
 * Read a SigningConfig JSON file and check that it selects usable services.
 *
 * @returns the document, to pass as `signingConfig` to {@link signWithSigstore}.
 * @throws ModelSealError `IO_ERROR` (unreadable), `INVALID_OPTIONS` (not a usable signing config).
 */
export async function loadSigningConfig(
  file: string,
): Promise<Record<string, unknown>> {
  const json = await readJSONFile(file, 'signing config');
  selectSigningEndpoints(json);
  return json as Record<string, unknown>;
}

/**
 * Read a ClientTrustConfig JSON file (`application/vnd.dev.sigstore.clienttrustconfig.v0.1+json`):
 * the trusted root for verification and the signing config for signing.
 *
 * @throws ModelSealError `IO_ERROR` (unreadable), `INVALID_OPTIONS` (not a trust config or a
 *   bad signing config), `TRUST_ROOT_UNAVAILABLE` (bad trusted root).
 */
export async function loadTrustConfig(file: string): Promise<TrustConfig> {
  const json = await readJSONFile(file, 'trust config');
  if (!isObject(json) || json['mediaType'] !== CLIENT_TRUST_CONFIG_MEDIA_TYPE) {
    throw invalid(
      `trust config ${file} is not a ${CLIENT_TRUST_CONFIG_MEDIA_TYPE} document`,
    );
  }
  const { trustedRoot, signingConfig } = json;
  if (!isObject(trustedRoot))
    throw invalid(`trust config ${file} has no trustedRoot`);
  if (!isObject(signingConfig))
    throw invalid(`trust config ${file} has no signingConfig`);
  parseTrustedRoot(trustedRoot, `trusted root in ${file}`);
  selectSigningEndpoints(signingConfig);
  return { trustedRootJSON: trustedRoot, signingConfigJSON: signingConfig };
}
