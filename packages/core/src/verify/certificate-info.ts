// SPDX-License-Identifier: Apache-2.0
import { createHash, type X509Certificate } from 'node:crypto';
import { distinguishedName } from './chain.js';
import type { CertificateInfo } from './types.js';

/** Describe a certificate for results. */
export function certificateInfo(cert: X509Certificate): CertificateInfo {
  return {
    subject: distinguishedName(cert.subject),
    issuer: distinguishedName(cert.issuer),
    serialNumber: cert.serialNumber.toLowerCase(),
    fingerprint: createHash('sha256').update(cert.raw).digest('hex'),
    notBefore: cert.validFromDate,
    notAfter: cert.validToDate,
  };
}
