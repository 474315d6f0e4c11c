// SPDX-License-Identifier: Apache-2.0
/**
 * Types of the bundle layer (oms-format.md §2, §3, §14).
 */
import type { Bundle } from '@sigstore/protobuf-specs';

/** How a bundle was signed, by its verification material. */
export type SigningMethod = 'key' | 'certificate' | 'sigstore';

/** The kind of `verificationMaterial.content` a bundle carries. */
export type MaterialKind = 'publicKey' | 'x509CertificateChain' | 'certificate';

/** `verificationMaterial.publicKey`, read from the raw JSON. */
export interface PublicKeyMaterial {
  /** `hint`: hex SHA-256 of the SPKI PEM text (v1.1+); `undefined` when absent or empty. */
  hint: string | undefined;
  /** Decoded `rawBytes` (older bundles: the PEM text of the key), when present. */
  rawBytes: Buffer | undefined;
  /** `keyDetails` (older bundles), informational. */
  keyDetails: string | undefined;
}

/** The first signature of the DSSE envelope (the only one verified). */
export interface EnvelopeSignature {
  sig: Buffer;
  /** Raw `keyid`: absent, `""` and `null` are all accepted; never used. */
  keyid: string | null | undefined;
}

/** The DSSE envelope of a bundle, decoded. */
export interface DecodedEnvelope {
  payloadType: string;
  /** The exact decoded payload bytes, as signed. */
  payload: Buffer;
  /** `signatures[0]`. */
  signature: EnvelopeSignature;
  /** How many signatures the envelope has (only the first is verified). */
  signatureCount: number;
}

/**
 * A bundle as read by {@link readBundle}: structurally checked, nothing
 * verified yet.
 */
export interface ParsedBundle {
  /** The bundle's `mediaType`, one of the accepted Sigstore bundle types. */
  mediaType: string;
  /** The parsed JSON, untouched (for `@sigstore/verify`, which wants the JSON). */
  json: Record<string, unknown>;
  /**
   * Typed view from `@sigstore/protobuf-specs` (drops `rawBytes`/`keyDetails`;
   * see {@link ParsedBundle.publicKey}). Built on first access (it copies the
   * payload); throws `BUNDLE_MALFORMED` if the protobuf parser refuses the JSON.
   */
  readonly typed: Bundle;
  /** Kind of verification material. */
  materialKind: MaterialKind;
  /** The method this material belongs to. */
  method: SigningMethod;
  envelope: DecodedEnvelope;
  /** Present for `publicKey` material. */
  publicKey: PublicKeyMaterial | undefined;
  /** DER certificates: the chain (leaf first) or the single `certificate`. */
  certificates: Buffer[];
  /** `tlogEntries` when present as an array; `undefined` when absent. */
  tlogEntries: unknown[] | undefined;
  /** Number of RFC 3161 timestamps in `timestampVerificationData`. */
  rfc3161TimestampCount: number;
  /** The decoded `signedTimestamp` values (DER `TimeStampResp`), unverified. */
  rfc3161Timestamps: Buffer[];
}
