// SPDX-License-Identifier: Apache-2.0
/**
 * Protocol constants of the OpenSSF Model Signing (OMS) v1.0 format and the
 * Sigstore bundle that carries it. See `docs/format.md` (oms-format.md §1).
 */

/** Bundle media type we write (Sigstore bundle v0.3). */
export const BUNDLE_MEDIA_TYPE_V03 =
  'application/vnd.dev.sigstore.bundle.v0.3+json';
/** DSSE payload type of an in-toto statement (28 bytes). */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
/** in-toto Statement v1 `_type`. */
export const IN_TOTO_STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
/** OMS v1.0 predicate type (written and verified). */
export const OMS_PREDICATE_TYPE = 'https://model_signing/signature/v1.0';
/** Legacy predicate type written by model_signing v0.2 (verified, never written). */
export const OMS_LEGACY_PREDICATE_TYPE = 'https://model_signing/Digests/v0.1';
/** Model name the reference uses for legacy v0.1 statements, which carry none. */
export const LEGACY_MODEL_NAME = 'compat-undefined-not-present';
/** Default shard size: one decimal gigabyte, as in the reference. */
export const DEFAULT_SHARD_SIZE = 1_000_000_000;
/** Names ignored at the top level of a model unless git defaults are turned off. */
export const DEFAULT_GIT_IGNORES: readonly string[] = Object.freeze([
  '.git',
  '.gitattributes',
  '.github',
  '.gitignore',
]);
/** Default signature file name. */
export const DEFAULT_SIGNATURE_NAME = 'model.sig';
/** Hash algorithms a manifest may use. */
export const HASH_ALGORITHMS = ['sha256', 'blake2b', 'blake3'] as const;
/**
 * Largest bundle file we read. A real one is about 170 bytes per signed file
 * (the statement, base64): 64 MiB holds a manifest of some 350,000 files.
 */
export const MAX_BUNDLE_BYTES: number = 64 * 1024 * 1024;
/**
 * Most JSON tokens (value starts: `{`, `[`, strings, numbers, literals) in a
 * bundle, counted before anything is parsed. A real bundle has a few hundred:
 * the statement is one base64 string.
 */
export const MAX_BUNDLE_JSON_TOKENS = 100_000;
/** Deepest JSON nesting in a bundle (a real one: 6). */
export const MAX_BUNDLE_JSON_DEPTH = 64;
/** Most RFC 3161 timestamps a bundle may carry (each costs a signature check). */
export const MAX_BUNDLE_TIMESTAMPS = 16;
/** Most transparency log entries a bundle may carry. */
export const MAX_BUNDLE_TLOG_ENTRIES = 16;
/** Most certificates in a bundle's chain: a leaf and 32 intermediates. */
export const MAX_BUNDLE_CERTIFICATES = 33;

// ---------------------------------------------------------------------------
// Sigstore (keyless) endpoints and trust. See sigstore-notes.md §2, §5.

/** Public-good Fulcio (certificate authority). */
export const SIGSTORE_FULCIO_URL = 'https://fulcio.sigstore.dev';
/** Public-good Rekor v1 (transparency log). */
export const SIGSTORE_REKOR_URL = 'https://rekor.sigstore.dev';
/** Public-good RFC 3161 timestamp authority (full endpoint URL). */
export const SIGSTORE_TSA_URL =
  'https://timestamp.sigstore.dev/api/v1/timestamp';
/** Public-good TUF mirror; the key under which `@sigstore/tuf` embeds its seed. */
export const SIGSTORE_TUF_URL = 'https://tuf-repo-cdn.sigstore.dev';
/** Staging Fulcio. */
export const SIGSTORE_STAGING_FULCIO_URL = 'https://fulcio.sigstage.dev';
/** Staging Rekor v1. */
export const SIGSTORE_STAGING_REKOR_URL = 'https://rekor.sigstage.dev';
/** Staging timestamp authority (full endpoint URL). */
export const SIGSTORE_STAGING_TSA_URL =
  'https://timestamp.sigstage.dev/api/v1/timestamp';
/** Staging TUF mirror (no embedded seed: staging needs a trusted-root file). */
export const SIGSTORE_STAGING_TUF_URL = 'https://tuf-repo-cdn.sigstage.dev';
/** OIDC audience that Fulcio expects in ambient CI tokens. */
export const SIGSTORE_OIDC_AUDIENCE = 'sigstore';
/** Media type of a Sigstore TrustedRoot JSON document. */
export const TRUSTED_ROOT_MEDIA_TYPE =
  'application/vnd.dev.sigstore.trustedroot+json;version=0.1';
/** Media type prefix of a Sigstore SigningConfig JSON document (v0.1 and v0.2). */
export const SIGNING_CONFIG_MEDIA_TYPE_PREFIX =
  'application/vnd.dev.sigstore.signingconfig.v0.';
/** Media type of a Sigstore ClientTrustConfig (trusted root + signing config). */
export const CLIENT_TRUST_CONFIG_MEDIA_TYPE =
  'application/vnd.dev.sigstore.clienttrustconfig.v0.1+json';
/** Fulcio certificate extension holding the OIDC issuer (v2, DER UTF8String). */
export const OID_FULCIO_ISSUER_V2 = '1.3.6.1.4.1.57264.1.8';
/** Legacy Fulcio issuer extension (v1, raw string). */
export const OID_FULCIO_ISSUER_V1 = '1.3.6.1.4.1.57264.1.1';
/** Default per-request timeout for Sigstore services, milliseconds. */
export const SIGSTORE_DEFAULT_TIMEOUT_MS = 30_000;
/** Default retries per request to Sigstore services. */
export const SIGSTORE_DEFAULT_RETRIES = 2;

export { MODELSEAL_VERSION } from './version.js';
