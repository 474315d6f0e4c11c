// SPDX-License-Identifier: Apache-2.0
// Reads the identity a Fulcio certificate claims, for display (inspect, sign
// results). Nothing read here is trusted: verify/sigstore.ts verifies.
import type { X509Certificate } from '@sigstore/core';
import { sigstoreCore } from './lazy.js';
import { OID_FULCIO_ISSUER_V1, OID_FULCIO_ISSUER_V2 } from '../constants.js';

/** SAN and OIDC issuer a certificate claims; fields are undefined when absent or unreadable. */
export interface ClaimedIdentity {
  identity: string | undefined;
  issuer: string | undefined;
}

/** The SAN (email or URI) and OIDC issuer claimed by a Fulcio certificate. */
export function claimedIdentity(der: Uint8Array): ClaimedIdentity {
  let cert: X509Certificate;
  try {
    cert = sigstoreCore().X509Certificate.parse(Buffer.from(der));
  } catch {
    return { identity: undefined, issuer: undefined };
  }
  let identity: string | undefined;
  try {
    identity =
      cert.extSubjectAltName?.rfc822Name ?? cert.extSubjectAltName?.uri;
  } catch {
    identity = undefined;
  }
  let issuer: string | undefined;
  try {
    const v2 = cert.extension(OID_FULCIO_ISSUER_V2);
    if (v2 !== undefined) {
      // v2: a DER UTF8String inside the extension's OCTET STRING.
      const inner = v2.valueObj.subs[0];
      issuer = inner === undefined ? undefined : inner.value.toString('utf8');
    } else {
      issuer = cert
        .extension(OID_FULCIO_ISSUER_V1)
        ?.valueObj.value.toString('utf8');
    }
  } catch {
    issuer = undefined;
  }
  return { identity, issuer };
}
