// SPDX-License-Identifier: Apache-2.0
/**
 * Writing key and certificate bundles exactly as the reference does
 * (oms-format.md §2, §14.1, §14.2). Sigstore bundles are written by
 * `@sigstore/sign` (sign/sigstore.ts).
 */
import { BUNDLE_MEDIA_TYPE_V03, IN_TOTO_PAYLOAD_TYPE } from '../constants.js';
import {
  writeFileAtomic,
  type AtomicWriteOptions,
} from '../internal/atomic-write.js';

/** JSON of a DSSE envelope as written by modelseal. */
export interface EnvelopeJSON {
  payload: string;
  payloadType: string;
  signatures: { sig: string; keyid: string }[];
}

/** JSON of a key bundle (oms-format.md §14.1). */
export interface KeyBundleJSON {
  mediaType: string;
  verificationMaterial: { publicKey: { hint: string }; tlogEntries: [] };
  dsseEnvelope: EnvelopeJSON;
}

/** JSON of a certificate bundle (oms-format.md §14.2). */
export interface CertificateBundleJSON {
  mediaType: string;
  verificationMaterial: {
    x509CertificateChain: { certificates: { rawBytes: string }[] };
    tlogEntries: [];
  };
  dsseEnvelope: EnvelopeJSON;
}

function envelope(payload: Uint8Array, signature: Uint8Array): EnvelopeJSON {
  return {
    payload: Buffer.from(payload).toString('base64'),
    payloadType: IN_TOTO_PAYLOAD_TYPE,
    signatures: [{ sig: Buffer.from(signature).toString('base64'), keyid: '' }],
  };
}

/**
 * Build a key bundle: v0.3 media type, `publicKey.hint`, `tlogEntries: []`,
 * `keyid: ""`, keys in the reference's order.
 *
 * @param payload - the signed statement bytes
 * @param signature - signature over `pae(payloadType, payload)`
 * @param hint - hex SHA-256 of the public key's SPKI PEM text
 */
export function buildKeyBundle(
  payload: Uint8Array,
  signature: Uint8Array,
  hint: string,
): KeyBundleJSON {
  return {
    mediaType: BUNDLE_MEDIA_TYPE_V03,
    verificationMaterial: { publicKey: { hint }, tlogEntries: [] },
    dsseEnvelope: envelope(payload, signature),
  };
}

/**
 * Build a certificate bundle: the leaf first, then the given chain in order.
 *
 * @param certificates - DER certificates, leaf first
 */
export function buildCertificateBundle(
  payload: Uint8Array,
  signature: Uint8Array,
  certificates: readonly Uint8Array[],
): CertificateBundleJSON {
  return {
    mediaType: BUNDLE_MEDIA_TYPE_V03,
    verificationMaterial: {
      x509CertificateChain: {
        certificates: certificates.map((der) => ({
          rawBytes: Buffer.from(der).toString('base64'),
        })),
      },
      tlogEntries: [],
    },
    dsseEnvelope: envelope(payload, signature),
  };
}

/** Compact JSON, no trailing newline: what the reference writes since v1.1. */
export function serializeBundle(bundle: unknown): string {
  return JSON.stringify(bundle);
}

/**
 * Write a bundle to `file` atomically as compact JSON.
 *
 * @throws ModelSealError `FILE_EXISTS` (unless `force`), `IO_ERROR`
 */
export async function writeBundle(
  file: string,
  bundle: unknown,
  options: AtomicWriteOptions = {},
): Promise<void> {
  await writeFileAtomic(file, serializeBundle(bundle), options);
}
