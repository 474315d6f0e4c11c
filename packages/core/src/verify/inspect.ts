// SPDX-License-Identifier: Apache-2.0
/**
 * Describing a bundle without verifying it: who claims to have signed, when,
 * how, and which files. Nothing here is trusted.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { readBundle, type ReadBundleOptions } from '../bundle/read.js';
import type { MaterialKind, SigningMethod } from '../bundle/types.js';
import { isModelSealError } from '../errors.js';
import { claimedIdentity } from '../internal/fulcio.js';
import { decodeStatement, peekPredicateType } from '../manifest/index.js';
import type { Manifest } from '../manifest/types.js';
import { certificateInfo } from './certificate.js';
import type { CertificateInfo } from './types.js';

/** What a bundle claims about its signer (unverified). */
export type ClaimedSigner =
  | {
      method: 'key';
      /** `publicKey.hint`, when recorded. */
      hint: string | undefined;
      /** SHA-256 of `rawBytes` (older bundles), which equals the hint of that key. */
      rawBytesHint: string | undefined;
      keyDetails: string | undefined;
    }
  | {
      method: 'certificate';
      /** The certificates in the bundle, leaf first; undefined entries did not parse. */
      certificates: (CertificateInfo | undefined)[];
    }
  | {
      method: 'sigstore';
      identity: string | undefined;
      issuer: string | undefined;
      certificate: CertificateInfo | undefined;
    };

/** Result of {@link inspectBundle}. Everything in it is **unverified**. */
export interface InspectBundleResult {
  /** Always false: inspecting proves nothing. Use `verifyModelSignature`. */
  verified: false;
  mediaType: string;
  method: SigningMethod;
  materialKind: MaterialKind;
  signer: ClaimedSigner;
  /** Transparency log entries (sigstore). */
  tlogEntryCount: number;
  /** Rekor `integratedTime` of the first entry, unverified. */
  claimedLogTime: Date | undefined;
  rfc3161TimestampCount: number;
  payloadType: string;
  signatureCount: number;
  predicateType: string | undefined;
  /** The statement's manifest, when it decodes. */
  manifest: Manifest | undefined;
  /** Why the statement did not decode, when it did not. */
  statementProblem: { code: string; message: string } | undefined;
}

function certOrUndefined(der: Buffer): CertificateInfo | undefined {
  try {
    return certificateInfo(new X509Certificate(der));
  } catch {
    return undefined;
  }
}

function integratedTime(entries: unknown[] | undefined): Date | undefined {
  const first = entries?.[0];
  if (typeof first !== 'object' || first === null) return undefined;
  const raw = (first as Record<string, unknown>)['integratedTime'];
  const seconds =
    typeof raw === 'string' || typeof raw === 'number' ? Number(raw) : NaN;
  return Number.isSafeInteger(seconds) && seconds > 0
    ? new Date(seconds * 1000)
    : undefined;
}

/**
 * Read a bundle and describe it: method, claimed signer (key hint,
 * certificates, or Sigstore identity and issuer), claimed time, statement and
 * file list. **Nothing is verified**: the result says `verified: false`.
 *
 * @throws ModelSealError `BUNDLE_MALFORMED`, `IO_ERROR` (the statement's own
 *   problems are reported in `statementProblem`, not thrown)
 */
export async function inspectBundle(
  source: string | Uint8Array,
  options: ReadBundleOptions = {},
): Promise<InspectBundleResult> {
  const bundle = await readBundle(source, options);
  let signer: ClaimedSigner;
  switch (bundle.method) {
    case 'key': {
      const pk = bundle.publicKey;
      signer = {
        method: 'key',
        hint: pk?.hint,
        rawBytesHint:
          pk?.rawBytes === undefined
            ? undefined
            : createHash('sha256').update(pk.rawBytes).digest('hex'),
        keyDetails: pk?.keyDetails,
      };
      break;
    }
    case 'certificate':
      signer = {
        method: 'certificate',
        certificates: bundle.certificates.map(certOrUndefined),
      };
      break;
    case 'sigstore': {
      const leaf = bundle.certificates[0];
      signer = {
        method: 'sigstore',
        ...(leaf === undefined
          ? { identity: undefined, issuer: undefined }
          : claimedIdentity(leaf)),
        certificate: leaf === undefined ? undefined : certOrUndefined(leaf),
      };
      break;
    }
  }
  let manifest: Manifest | undefined;
  let statementProblem: InspectBundleResult['statementProblem'];
  try {
    manifest = decodeStatement(bundle.envelope.payload).manifest;
  } catch (error) {
    statementProblem = isModelSealError(error)
      ? { code: error.code, message: error.message }
      : { code: 'STATEMENT_INVALID', message: String(error) };
  }
  return {
    verified: false,
    mediaType: bundle.mediaType,
    method: bundle.method,
    materialKind: bundle.materialKind,
    signer,
    tlogEntryCount: bundle.tlogEntries?.length ?? 0,
    claimedLogTime: integratedTime(bundle.tlogEntries),
    rfc3161TimestampCount: bundle.rfc3161TimestampCount,
    payloadType: bundle.envelope.payloadType,
    signatureCount: bundle.envelope.signatureCount,
    predicateType: peekPredicateType(bundle.envelope.payload),
    manifest,
    statementProblem,
  };
}
