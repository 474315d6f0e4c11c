// SPDX-License-Identifier: Apache-2.0
/**
 * Certificate bundle verification (oms-format.md §14.2).
 */
import { X509Certificate } from 'node:crypto';
import type { ParsedBundle } from '../bundle/types.js';
import { ModelSealError } from '../errors.js';
import { keyDescription } from '../internal/keys.js';
import { certificateInfo } from './certificate-info.js';
import { buildCertificatePath, distinguishedName } from './chain.js';
import { verifyEnvelope } from './envelope.js';
import {
  checkIdentityPolicy,
  compileIdentityPolicy,
  type CertificateIdentityConstraint,
} from './certificate-policy.js';
import { verifyTimestamps } from './timestamp.js';
import type {
  CertificateInfo,
  CertificateSignerInfo,
  TimeSource,
  VerifyWarning,
} from './types.js';

export { certificateInfo } from './certificate-info.js';

/** Options of {@link verifyCertificateBundleSignature}. */
export interface CertificateBundleVerificationOptions {
  /** Check validity at this time instead of now (a trusted timestamp takes precedence). */
  verificationTime?: Date;
  /**
   * Timestamp authority certificates whose RFC 3161 timestamps are trusted
   * (each trusted as is). When given and the bundle carries timestamps, they
   * must all verify, and validity is checked at the earliest one's time.
   */
  timestampAuthorities?: readonly X509Certificate[];
  /**
   * Constraints on the leaf (SAN email/URI/DNS, subject, OIDC issuer, EKU);
   * every one must hold. Without any, every leaf that chains to an anchor is
   * accepted.
   */
  identityPolicy?: readonly CertificateIdentityConstraint[];
}

/** Result of {@link verifyCertificateBundleSignature}. */
export interface CertificateBundleVerification {
  signer: CertificateSignerInfo;
  /** Time the certificates were checked at. */
  validityTime: Date;
  validityTimeSource: TimeSource;
  /** The TSA whose timestamp gave `validityTime`, when `validityTimeSource` is `timestamp`. */
  timestampAuthority: CertificateInfo | undefined;
  legacyPae: boolean;
  warnings: VerifyWarning[];
}

/**
 * Check that a certificate bundle was signed by a leaf that chains, by
 * signature, to one of `anchors`, valid at the verification time, allowed to
 * sign; and that `signatures[0]` verifies with the leaf's key.
 *
 * Certificates are checked at the time of a trusted RFC 3161 timestamp when
 * `timestampAuthorities` are given and the bundle has timestamps; otherwise at
 * the caller's `verificationTime` or now (a warning says when timestamps were
 * present but not checked).
 *
 * @throws ModelSealError `METHOD_MISMATCH`, `CERTIFICATE_INVALID`, `TLOG_INVALID` (timestamp),
 *   `SIGNATURE_INVALID`, `IDENTITY_MISMATCH` (identity policy),
 *   `UNSUPPORTED_KEY`, `INVALID_OPTIONS` (no anchors, bad policy)
 */
export function verifyCertificateBundleSignature(
  bundle: ParsedBundle,
  anchors: readonly X509Certificate[],
  options: CertificateBundleVerificationOptions = {},
): CertificateBundleVerification {
  const policy = compileIdentityPolicy(options.identityPolicy);
  if (bundle.materialKind !== 'x509CertificateChain') {
    throw new ModelSealError({
      code: 'METHOD_MISMATCH',
      message: `the bundle is a ${bundle.method} bundle, not a certificate bundle`,
      details: { expected: 'certificate', actual: bundle.method },
    });
  }
  const certs = bundle.certificates.map((der, i) => {
    try {
      return new X509Certificate(der);
    } catch (error) {
      throw new ModelSealError({
        code: 'BUNDLE_MALFORMED',
        message: `malformed bundle: certificate ${i} cannot be parsed`,
        cause: error,
      });
    }
  });
  const [leaf, ...rest] = certs;
  if (leaf === undefined) {
    throw new ModelSealError({
      code: 'BUNDLE_MALFORMED',
      message: 'malformed bundle: no certificate',
    });
  }
  const warnings: VerifyWarning[] = [];
  let validityTime = options.verificationTime ?? new Date();
  let validityTimeSource: TimeSource =
    options.verificationTime === undefined ? 'current-time' : 'caller';
  let timestampAuthority: CertificateInfo | undefined;
  if (bundle.rfc3161Timestamps.length > 0) {
    if (
      options.timestampAuthorities !== undefined &&
      options.timestampAuthorities.length > 0
    ) {
      const ts = verifyTimestamps(
        bundle.rfc3161Timestamps,
        bundle.envelope.signature.sig,
        options.timestampAuthorities,
      );
      validityTime = ts.time;
      validityTimeSource = 'timestamp';
      timestampAuthority = ts.authority;
    } else {
      warnings.push({
        code: 'TIMESTAMP_NOT_CHECKED',
        message: `the bundle carries RFC 3161 timestamps but no timestamp authority is trusted; certificates are checked at ${validityTimeSource === 'caller' ? 'the given time' : 'the current time'}`,
      });
    }
  }
  const { path, anchor } = buildCertificatePath(
    leaf,
    rest,
    anchors,
    validityTime,
  );
  const key = leaf.publicKey;
  const verified = verifyEnvelope(bundle, key, 'certificate');
  if (verified === undefined) {
    throw new ModelSealError({
      code: 'SIGNATURE_INVALID',
      message: `the signature does not verify with the key of certificate ${distinguishedName(leaf.subject)}`,
    });
  }
  // After the chain and the signature: the leaf is genuine, now is it the right one?
  checkIdentityPolicy(leaf, policy);
  if (verified.legacyPae) {
    warnings.push({
      code: 'LEGACY_PAE',
      message: 'signature over the model_signing v0.2 compatibility encoding',
    });
  }
  return {
    signer: {
      method: 'certificate',
      certificate: certificateInfo(leaf),
      anchor: certificateInfo(anchor),
      pathLength: path.length,
      keyType: keyDescription(key),
      scheme: verified.scheme.name,
    },
    validityTime,
    validityTimeSource,
    timestampAuthority,
    legacyPae: verified.legacyPae,
    warnings,
  };
}
