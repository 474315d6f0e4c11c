// SPDX-License-Identifier: Apache-2.0
/**
 * RFC 3161 timestamps in key and certificate bundles: a time the caller can
 * trust for certificate validity, when the caller trusts the timestamp
 * authority (oms-format.md §14.2, §17 "Certificate validity time").
 */
import type { X509Certificate } from 'node:crypto';
import type {
  RFC3161Timestamp,
  X509Certificate as SigstoreX509,
} from '@sigstore/core';
import { sigstoreCore } from '../internal/lazy.js';
import { ModelSealError } from '../errors.js';
import { certificateInfo } from './certificate-info.js';
import type { CertificateInfo } from './types.js';

const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_TIME_STAMPING = '1.3.6.1.5.5.7.3.8';

/** A timestamp that verified. */
export interface VerifiedTimestamp {
  /** `genTime` of the earliest verified timestamp. */
  time: Date;
  /** The TSA certificate that signed it. */
  authority: CertificateInfo;
}

function invalid(message: string, cause?: unknown): ModelSealError {
  return new ModelSealError({
    code: 'TLOG_INVALID',
    message,
    ...(cause === undefined ? {} : { cause }),
  });
}

function stripZeros(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i);
}

function canTimestamp(cert: SigstoreX509): boolean {
  try {
    const ext = cert.extension(OID_EXT_KEY_USAGE);
    const seq = ext?.valueObj.subs[0];
    return (
      seq !== undefined && seq.subs.some((s) => s.toOID() === OID_TIME_STAMPING)
    );
  } catch {
    return false;
  }
}

/**
 * Verify every RFC 3161 timestamp of a bundle over its signature bytes with
 * the caller's trusted TSA certificates, and return the earliest time.
 *
 * A token is trusted when one of `authorities` (each trusted as is, like a
 * trust anchor) matches its signer (issuer and serial), verifies its
 * signature, was valid at the token's time and has the extended key usage
 * timeStamping; and the token's message imprint is the hash of `signature`.
 * Every token must verify: a bundle does not get to choose which is checked.
 *
 * @param tokens - DER `TimeStampResp` values from `timestampVerificationData`
 * @param signature - the DSSE signature bytes the timestamps cover
 * @throws ModelSealError `TLOG_INVALID` when a token does not verify
 */
export function verifyTimestamps(
  tokens: readonly Buffer[],
  signature: Buffer,
  authorities: readonly X509Certificate[],
): VerifiedTimestamp {
  const tsas = authorities.map((node) => ({
    node,
    parsed: sigstoreCore().X509Certificate.parse(node.raw),
  }));
  let best: VerifiedTimestamp | undefined;
  for (const [i, der] of tokens.entries()) {
    let ts: RFC3161Timestamp;
    let time: Date;
    try {
      ts = sigstoreCore().RFC3161Timestamp.parse(Buffer.from(der));
      time = ts.signingTime;
      if (ts.status > 1n) throw new Error(`timestamp status ${ts.status}`);
    } catch (error) {
      throw invalid(
        `timestamp ${i + 1} cannot be read: ${(error as Error).message}`,
        error,
      );
    }
    const candidates = tsas.filter((t) => {
      try {
        return (
          t.parsed.issuer.equals(ts.signerIssuer) &&
          stripZeros(t.parsed.serialNumber).equals(
            stripZeros(ts.signerSerialNumber),
          )
        );
      } catch {
        return false;
      }
    });
    let problem =
      candidates.length === 0
        ? 'no trusted timestamp authority issued it'
        : 'it does not verify';
    const signer = candidates.find((t) => {
      if (time < t.node.validFromDate || time > t.node.validToDate) {
        problem =
          'the timestamp authority certificate was not valid at its time';
        return false;
      }
      if (!canTimestamp(t.parsed)) {
        problem =
          'the timestamp authority certificate lacks extended key usage timeStamping';
        return false;
      }
      try {
        ts.verify(signature, t.node.publicKey);
        return true;
      } catch {
        problem =
          'it does not cover this signature or its signature is invalid';
        return false;
      }
    });
    if (signer === undefined)
      throw invalid(`timestamp ${i + 1} is not trusted: ${problem}`);
    if (best === undefined || time < best.time)
      best = { time, authority: certificateInfo(signer.node) };
  }
  if (best === undefined) throw invalid('the bundle carries no timestamp');
  return best;
}
