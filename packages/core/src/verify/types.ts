// SPDX-License-Identifier: Apache-2.0
/**
 * Types of signature verification (oms-format.md §13, §14).
 */
import type { BundleLimits } from '../bundle/read.js';
import type { SigningMethod } from '../bundle/types.js';
import type { KeyInput } from '../internal/keys.js';
import type { CertificateIdentityConstraint } from './certificate-policy.js';
import type { TrustRootInfo } from '../trust/resolve.js';
import type { VerifyCacheStats } from '../verify-cache/index.js';
import type {
  CompareResult,
  HashProgress,
  Manifest,
  ManifestWarning,
} from '../manifest/types.js';

/** Who signed with a key (oms-format.md §14.1). */
export interface KeySignerInfo {
  method: 'key';
  /** Hex SHA-256 of the verifying key's SPKI PEM text (model_signing's hint). */
  hint: string;
  /** Hex SHA-256 of the key's SPKI DER (the usual public key fingerprint). */
  fingerprint: string;
  /** `ecdsa-p384`, `ed25519`, `rsa-3072`, … */
  keyType: string;
  /** The signature scheme that verified, e.g. `ecdsa-p384-sha384`. */
  scheme: string;
}

/** A certificate, described. */
export interface CertificateInfo {
  subject: string;
  issuer: string;
  serialNumber: string;
  /** Hex SHA-256 of the DER certificate. */
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
}

/** Who signed with a certificate (oms-format.md §14.2). */
export interface CertificateSignerInfo {
  method: 'certificate';
  /** The leaf certificate. */
  certificate: CertificateInfo;
  /** The trust anchor the path ended at. */
  anchor: CertificateInfo;
  /** Path length (leaf to anchor, both included). */
  pathLength: number;
  keyType: string;
  scheme: string;
}

/** Who signed with Sigstore (oms-format.md §14.3). */
export interface SigstoreSignerInfo {
  method: 'sigstore';
  /** Certificate SAN (email or URI). */
  identity: string;
  /** OIDC issuer from the Fulcio certificate. */
  issuer: string;
}

/** The verified signer, by method. */
export type SignerInfo =
  KeySignerInfo | CertificateSignerInfo | SigstoreSignerInfo;

/**
 * Where the time used for certificate validity came from: a verified RFC 3161
 * timestamp or transparency log entry, the caller's `verificationTime`, or the
 * current time. `none` for key bundles, which have no certificate.
 */
export type TimeSource =
  'timestamp' | 'tlog' | 'caller' | 'current-time' | 'none';

/** A non-fatal observation of verification. */
export interface VerifyWarning {
  code:
    | ManifestWarning['code']
    | 'NO_KEY_HINT'
    | 'LEGACY_PAE'
    | 'LEGACY_PREDICATE'
    | 'TIMESTAMP_NOT_CHECKED'
    | 'EXTRA_SIGNATURES'
    | 'UNSIGNED_FILES_TOLERATED'
    | 'VERIFY_CACHE_RESET'
    | 'TRUST_ROOT_FALLBACK';
  message: string;
  path?: string;
}

/** Options every method shares. */
export interface VerifyCommonOptions {
  /** The model directory or single file. */
  modelPath: string;
  /** The bundle (`model.sig`). Excluded from the model when inside it. */
  bundlePath: string;
  /** Extra paths out of scope (relative to the model root, or absolute). */
  ignorePaths?: readonly string[];
  /** Tolerate files on disk that were not signed (missing and changed still fail). Default false. */
  ignoreUnsignedFiles?: boolean;
  /** Force `false` to refuse symlinks even when the signer recorded `allow_symlinks: true`. Never enables them. */
  allowSymlinks?: boolean;
  /**
   * Hugging Face hub-cache snapshots (docs/hugging-face.md): links that lead
   * straight into the same cache repository's `blobs/` are followed, every
   * other link is refused (`SYMLINK_NOT_ALLOWED`, `details.reason`). Unset:
   * applied when the layout is detected; `true`: required (a path that is not
   * a snapshot is `INVALID_OPTIONS`); `false`: never.
   */
  hfCache?: boolean;
  /**
   * Path of a verification cache file (docs/user-guide.md, "Verification
   * cache"): digests bound to (device, inode, size, mtime, ctime), read only
   * after the signature verified. Off by default.
   */
  verifyCache?: string;
  /**
   * What reading the bundle may cost (file size 64 MiB, 100,000 JSON tokens,
   * depth 64, 16 timestamps, 16 log entries, 33 certificates by default);
   * over a limit: `BUNDLE_LIMIT_EXCEEDED`.
   */
  bundleLimits?: Partial<BundleLimits>;
  /** Hashing workers (see `hashModel`). */
  concurrency?: number;
  signal?: AbortSignal;
  onProgress?: (event: HashProgress) => void;
}

/** Key method options. */
export interface VerifyKeyOptions extends VerifyCommonOptions {
  method: 'key';
  /** The public key: a file path, PEM/DER bytes, or a KeyObject. */
  publicKey: KeyInput;
  /** Trusted timestamp authority certificates (paths or PEM/DER bytes): a verified RFC 3161 timestamp becomes `signingTime`. */
  timestampAuthorities?: readonly (string | Uint8Array)[];
  /**
   * Pin the key as well as the file: hex SHA-256 of the key's SPKI DER, as
   * `verify` prints it (`sha256:<hex>` or bare hex, case-insensitive, `:`
   * between bytes allowed). A file holding another key fails with `KEY_MISMATCH`.
   */
  keyFingerprint?: string;
}

/** Certificate method options. */
export interface VerifyCertificateOptions extends VerifyCommonOptions {
  method: 'certificate';
  /** Trust anchors: file paths or PEM/DER bytes; a file may hold several certificates. Each is trusted. Required. */
  trustAnchors: readonly (string | Uint8Array)[];
  /** Check certificate validity at this time instead of now (a trusted timestamp takes precedence). */
  verificationTime?: Date;
  /**
   * Trusted timestamp authority certificates (paths or PEM/DER bytes). When
   * given and the bundle carries RFC 3161 timestamps, every timestamp must
   * verify and certificates are checked at the earliest one's time.
   */
  timestampAuthorities?: readonly (string | Uint8Array)[];
  /**
   * Who may sign (cosign-style): constraints on the leaf's SAN email, URI or
   * DNS name, subject, OIDC issuer extension or extended key usage, each an
   * exact value or an anchored regular expression. All must hold; a leaf
   * that fails one throws `IDENTITY_MISMATCH`. Without any, every leaf the
   * anchors issued is accepted.
   */
  identityPolicy?: readonly CertificateIdentityConstraint[];
}

/** Sigstore (keyless) method options. */
export interface VerifySigstoreOptions extends VerifyCommonOptions {
  method: 'sigstore';
  /** Expected certificate SAN, matched exactly. One of `identity`/`identityRegExp` is required. */
  identity?: string;
  /** Expected SAN as a JavaScript regular expression, anchored by us. */
  identityRegExp?: string;
  /** Expected OIDC issuer, exact. One of `issuer`/`issuerRegExp` is required. */
  issuer?: string;
  /** Expected issuer as a JavaScript regular expression, anchored by us. */
  issuerRegExp?: string;
  /** A TrustedRoot JSON file; default: the public-good root embedded in `@sigstore/tuf`. */
  trustedRoot?: string;
  /** An already parsed TrustedRoot JSON document (private instances, tests). */
  trustedRootJSON?: unknown;
  /** Verify against Sigstore staging (needs `trustedRoot`, `trustedRootJSON` or `tufRootPath`). */
  staging?: boolean;
  /** Never use the network: the given root, else the embedded one (the library's default). */
  offline?: boolean;
  /**
   * Refresh the trusted root through TUF (the CLI's default): when the mirror
   * cannot be reached, the verified cache, then (public-good only) the
   * embedded root, with a `TRUST_ROOT_FALLBACK` warning; refused metadata
   * throws `TRUST_ROOT_INVALID`.
   */
  refreshTrustedRoot?: boolean;
  /** TUF mirror (implies `refreshTrustedRoot`); default public-good. */
  tufMirrorURL?: string;
  /** TUF root.json to start from (any mirror but public-good). */
  tufRootPath?: string;
  /** TUF cache directory; default `@sigstore/tuf`'s per-user one (no cache fallback then). */
  tufCachePath?: string;
  /** Per-request timeout of the refresh; default 5 000 ms. */
  tufTimeoutMs?: number;
}

/** Options of {@link verifyModelSignature}, by method. */
export type VerifyModelSignatureOptions =
  VerifyKeyOptions | VerifyCertificateOptions | VerifySigstoreOptions;

/** What a successful verification proved. */
export interface VerifyModelSignatureResult {
  /** Always true: failures throw. */
  ok: true;
  method: SigningMethod;
  signer: SignerInfo;
  /** A signing time proven by a timestamp or transparency log, when there is one. */
  signingTime: Date | undefined;
  /**
   * Where the time came from: `timestamp` (a trusted RFC 3161 timestamp),
   * `tlog` (Rekor integrated time, sigstore), `caller` (`verificationTime`),
   * `current-time` (certificates checked now) or `none` (key bundle, no
   * trusted timestamp).
   */
  signingTimeSource: TimeSource;
  /** The time certificates were checked at (undefined for key bundles). */
  validityTime: Date | undefined;
  /** The timestamp authority whose RFC 3161 timestamp gave the time, when one did. */
  timestampAuthority: CertificateInfo | undefined;
  /** Sigstore: which trusted root was used (`tuf`, `embedded` or `file`). */
  trustRoot?: TrustRootInfo;
  /** `predicateType` of the statement (the legacy v0.1 one for v0.2 bundles). */
  predicateType: string;
  /** The signed manifest. */
  manifest: Manifest;
  /** Comparison with the model on disk (ok; `extra` may list tolerated files). */
  compare: CompareResult;
  warnings: VerifyWarning[];
  /** The hub-cache snapshot whose links were followed, when that policy applied. */
  hfCache?: { repository: string; revision: string; snapshot: string };
  /** What the verification cache saved, when one was given. */
  verifyCache?: VerifyCacheStats;
}
