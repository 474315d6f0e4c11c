// SPDX-License-Identifier: Apache-2.0
/**
 * The one error class of modelseal. Every failure that leaves `@modelseal/core`
 * is a {@link ModelSealError} with a stable {@link ErrorCode}; foreign errors are
 * wrapped and kept as `cause`.
 */

/**
 * Stable error codes. Changing one is a breaking change; each is documented in
 * `docs/errors.md` with the CLI exit code it maps to.
 */
export type ErrorCode =
  // bundle and statement
  | 'BUNDLE_MALFORMED'
  | 'BUNDLE_LIMIT_EXCEEDED'
  | 'METHOD_MISMATCH'
  | 'STATEMENT_INVALID'
  // signature and signer
  | 'SIGNATURE_INVALID'
  | 'KEY_MISMATCH'
  | 'CERTIFICATE_INVALID'
  | 'IDENTITY_MISMATCH'
  | 'TLOG_INVALID'
  // manifest
  | 'MANIFEST_INCONSISTENT'
  | 'MANIFEST_MISMATCH'
  | 'UNSUPPORTED_ALGORITHM'
  | 'EMPTY_MODEL'
  | 'SYMLINK_NOT_ALLOWED'
  | 'INVALID_PATH'
  | 'UNSUPPORTED_FILE_TYPE'
  // OCI registries
  | 'SIGNATURE_NOT_FOUND'
  | 'DIGEST_MISMATCH'
  | 'REGISTRY_ERROR'
  // keys and trust
  | 'UNSUPPORTED_KEY'
  | 'KEY_INVALID'
  | 'PASSWORD_REQUIRED'
  | 'TRUST_ROOT_UNAVAILABLE'
  | 'TRUST_ROOT_INVALID'
  | 'OIDC_TOKEN_UNAVAILABLE'
  | 'SIGSTORE_SERVICE_ERROR'
  // scanning
  | 'UNSAFE_CONTENT'
  | 'SCAN_REQUIRED'
  | 'SCAN_INCOMPLETE'
  // operations
  | 'INVALID_OPTIONS'
  | 'FILE_EXISTS'
  | 'IO_ERROR'
  | 'ABORTED'
  | 'INTERNAL_ERROR';

/** Every error code, for documentation and exhaustiveness tests. */
export const ERROR_CODES: readonly ErrorCode[] = Object.freeze([
  'BUNDLE_MALFORMED',
  'BUNDLE_LIMIT_EXCEEDED',
  'METHOD_MISMATCH',
  'STATEMENT_INVALID',
  'SIGNATURE_INVALID',
  'KEY_MISMATCH',
  'CERTIFICATE_INVALID',
  'IDENTITY_MISMATCH',
  'TLOG_INVALID',
  'MANIFEST_INCONSISTENT',
  'MANIFEST_MISMATCH',
  'UNSUPPORTED_ALGORITHM',
  'EMPTY_MODEL',
  'SYMLINK_NOT_ALLOWED',
  'INVALID_PATH',
  'UNSUPPORTED_FILE_TYPE',
  'SIGNATURE_NOT_FOUND',
  'DIGEST_MISMATCH',
  'REGISTRY_ERROR',
  'UNSUPPORTED_KEY',
  'KEY_INVALID',
  'PASSWORD_REQUIRED',
  'TRUST_ROOT_UNAVAILABLE',
  'TRUST_ROOT_INVALID',
  'OIDC_TOKEN_UNAVAILABLE',
  'SIGSTORE_SERVICE_ERROR',
  'UNSAFE_CONTENT',
  'SCAN_REQUIRED',
  'SCAN_INCOMPLETE',
  'INVALID_OPTIONS',
  'FILE_EXISTS',
  'IO_ERROR',
  'ABORTED',
  'INTERNAL_ERROR',
]);

/**
 * What kind of outcome a code stands for: a verdict against the artifact
 * (`verification`), a caller mistake (`usage`) or a failure that prevented a
 * verdict (`operational`). The CLI maps these to exit codes 1, 2 and 3.
 */
export type ErrorKind = 'verification' | 'usage' | 'operational';

const KIND: Record<ErrorCode, ErrorKind> = {
  BUNDLE_MALFORMED: 'verification',
  BUNDLE_LIMIT_EXCEEDED: 'verification',
  METHOD_MISMATCH: 'verification',
  STATEMENT_INVALID: 'verification',
  SIGNATURE_INVALID: 'verification',
  KEY_MISMATCH: 'verification',
  CERTIFICATE_INVALID: 'verification',
  IDENTITY_MISMATCH: 'verification',
  TLOG_INVALID: 'verification',
  MANIFEST_INCONSISTENT: 'verification',
  MANIFEST_MISMATCH: 'verification',
  UNSUPPORTED_ALGORITHM: 'verification',
  EMPTY_MODEL: 'verification',
  SYMLINK_NOT_ALLOWED: 'verification',
  INVALID_PATH: 'verification',
  UNSUPPORTED_FILE_TYPE: 'verification',
  SIGNATURE_NOT_FOUND: 'verification',
  DIGEST_MISMATCH: 'verification',
  REGISTRY_ERROR: 'operational',
  UNSAFE_CONTENT: 'verification',
  SCAN_REQUIRED: 'verification',
  SCAN_INCOMPLETE: 'verification',
  UNSUPPORTED_KEY: 'usage',
  KEY_INVALID: 'usage',
  PASSWORD_REQUIRED: 'usage',
  INVALID_OPTIONS: 'usage',
  FILE_EXISTS: 'usage',
  TRUST_ROOT_UNAVAILABLE: 'operational',
  TRUST_ROOT_INVALID: 'operational',
  OIDC_TOKEN_UNAVAILABLE: 'operational',
  SIGSTORE_SERVICE_ERROR: 'operational',
  IO_ERROR: 'operational',
  ABORTED: 'operational',
  INTERNAL_ERROR: 'operational',
};

/** The kind of outcome an error code stands for. */
export function errorKind(code: ErrorCode): ErrorKind {
  return KIND[code];
}

/** Constructor input of {@link ModelSealError}. */
export interface ModelSealErrorOptions {
  code: ErrorCode;
  /** Lower-case, names the file/key/identity involved, no trailing period. */
  message: string;
  cause?: unknown;
  /** Structured context, e.g. `{ path }` or `{ missing, extra, changed }`. */
  details?: Record<string, unknown>;
}

const BRAND: symbol = Symbol.for('modelseal.error');

/** The error every modelseal API throws. Check `code`, never the message. */
export class ModelSealError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(options: ModelSealErrorOptions) {
    super(
      options.message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'ModelSealError';
    this.code = options.code;
    this.details = options.details;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** `instanceof` that also works across duplicate copies of the package. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return isModelSealError(value);
  }
}

/** Type guard for {@link ModelSealError}, across package copies. */
export function isModelSealError(value: unknown): value is ModelSealError {
  return (
    typeof value === 'object' &&
    value !== null &&
    (value as Record<symbol, unknown>)[BRAND] === true
  );
}

/** Shorthand to build a {@link ModelSealError}. */
export function modelSealError(
  code: ErrorCode,
  message: string,
  extra: { cause?: unknown; details?: Record<string, unknown> } = {},
): ModelSealError {
  return new ModelSealError({ code, message, ...extra });
}
