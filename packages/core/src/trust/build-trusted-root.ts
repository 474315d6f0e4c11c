// SPDX-License-Identifier: Apache-2.0
/**
 * Assemble TrustedRoot JSON for a private Sigstore instance (or a test one)
 * from its CA certificates and log keys. See sigstore-notes.md §8.
 */
import {
  createHash,
  createPublicKey,
  KeyObject,
  X509Certificate,
} from 'node:crypto';
import { TRUSTED_ROOT_MEDIA_TYPE } from '../constants.js';
import { ModelSealError } from '../errors.js';

/** A certificate as DER bytes or PEM text. */
export type CertificateInput = Uint8Array | string;
/** A public key as SPKI DER bytes, PEM text or a `KeyObject`. */
export type PublicKeyInput = Uint8Array | string | KeyObject;

/** A certificate authority (Fulcio) or timestamp authority entry. */
export interface TrustedAuthoritySpec {
  /** Base URL of the service, informative only. */
  uri?: string;
  /** Chain from the issuing certificate up to the root, leaf-most first. */
  certChain: CertificateInput[];
  /** Start of validity; default: the Unix epoch. */
  validFrom?: Date;
  /** End of validity; default: open-ended. */
  validUntil?: Date;
  /** Subject shown in the root; default `{ organization: 'modelseal', commonName: 'private' }`. */
  subject?: { organization?: string; commonName?: string };
}

/** A transparency log (Rekor) or certificate transparency log entry. */
export interface TrustedLogSpec {
  /** Base URL of the log, informative only for verification. */
  baseURL: string;
  publicKey: PublicKeyInput;
  /** Log ID; default: SHA-256 of the SPKI DER, as Rekor v1 and RFC 6962 define it. */
  logID?: Uint8Array;
  /** Start of validity; default: the Unix epoch. */
  validFrom?: Date;
  /** End of validity; default: open-ended. */
  validUntil?: Date;
}

/** Input of {@link buildTrustedRootJSON}. */
export interface TrustedRootSpec {
  certificateAuthorities: TrustedAuthoritySpec[];
  tlogs: TrustedLogSpec[];
  ctlogs?: TrustedLogSpec[];
  timestampAuthorities?: TrustedAuthoritySpec[];
}

function invalid(message: string, cause?: unknown): ModelSealError {
  return new ModelSealError({
    code: 'INVALID_OPTIONS',
    message,
    ...(cause === undefined ? {} : { cause }),
  });
}

function certificateDER(input: CertificateInput): Buffer {
  try {
    return new X509Certificate(
      typeof input === 'string' ? input : Buffer.from(input),
    ).raw;
  } catch (cause) {
    throw invalid(
      'trusted root certificate is not a valid x.509 certificate',
      cause,
    );
  }
}

const EC_KEY_DETAILS: Record<string, string> = {
  prime256v1: 'PKIX_ECDSA_P256_SHA_256',
  secp384r1: 'PKIX_ECDSA_P384_SHA_384',
  secp521r1: 'PKIX_ECDSA_P521_SHA_512',
};

function keyDetails(key: KeyObject): string {
  if (key.asymmetricKeyType === 'ed25519') return 'PKIX_ED25519';
  const curve = key.asymmetricKeyDetails?.namedCurve;
  const details =
    key.asymmetricKeyType === 'ec' && curve !== undefined
      ? EC_KEY_DETAILS[curve]
      : undefined;
  if (details !== undefined) return details;
  throw new ModelSealError({
    code: 'UNSUPPORTED_KEY',
    message: `unsupported transparency log key: ${curve ?? key.asymmetricKeyType ?? 'unknown'}`,
  });
}

function publicKeyObject(input: PublicKeyInput): KeyObject {
  if (input instanceof KeyObject) return input;
  try {
    return typeof input === 'string'
      ? createPublicKey(input)
      : createPublicKey({
          key: Buffer.from(input),
          format: 'der',
          type: 'spki',
        });
  } catch (cause) {
    throw invalid('trusted root log key is not a valid public key', cause);
  }
}

function validFor(
  from: Date | undefined,
  until: Date | undefined,
): Record<string, string> {
  return {
    start: (from ?? new Date(0)).toISOString(),
    ...(until === undefined ? {} : { end: until.toISOString() }),
  };
}

function authority(spec: TrustedAuthoritySpec): Record<string, unknown> {
  if (spec.certChain.length === 0)
    throw invalid('trusted root authority has an empty certificate chain');
  return {
    subject: {
      organization: 'modelseal',
      commonName: 'private',
      ...spec.subject,
    },
    ...(spec.uri === undefined ? {} : { uri: spec.uri }),
    certChain: {
      certificates: spec.certChain.map((c) => ({
        rawBytes: certificateDER(c).toString('base64'),
      })),
    },
    validFor: validFor(spec.validFrom, spec.validUntil),
  };
}

function log(spec: TrustedLogSpec): Record<string, unknown> {
  const key = publicKeyObject(spec.publicKey);
  const der = key.export({ type: 'spki', format: 'der' });
  const logID = spec.logID ?? createHash('sha256').update(der).digest();
  return {
    baseUrl: spec.baseURL,
    hashAlgorithm: 'SHA2_256',
    publicKey: {
      rawBytes: der.toString('base64'),
      keyDetails: keyDetails(key),
      validFor: validFor(spec.validFrom, spec.validUntil),
    },
    logId: { keyId: Buffer.from(logID).toString('base64') },
  };
}

/**
 * Build TrustedRoot JSON (media type
 * `application/vnd.dev.sigstore.trustedroot+json;version=0.1`) for a private
 * Sigstore instance from its Fulcio chain, Rekor key, CT log key and TSA
 * chain. Write the result to a file for `--trusted-root`, or pass it as
 * `trustedRootJSON` to {@link verifySigstoreBundle}.
 *
 * @throws ModelSealError `INVALID_OPTIONS` for an unreadable certificate or key or an
 *   empty chain; `UNSUPPORTED_KEY` for a log key that is not P-256/P-384/P-521/Ed25519.
 */
export function buildTrustedRootJSON(
  spec: TrustedRootSpec,
): Record<string, unknown> {
  return {
    mediaType: TRUSTED_ROOT_MEDIA_TYPE,
    tlogs: spec.tlogs.map(log),
    certificateAuthorities: spec.certificateAuthorities.map(authority),
    ctlogs: (spec.ctlogs ?? []).map(log),
    timestampAuthorities: (spec.timestampAuthorities ?? []).map(authority),
  };
}
