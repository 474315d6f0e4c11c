// SPDX-License-Identifier: Apache-2.0
/**
 * RFC 3161 timestamps for key and certificate bundles: a timestamp authority
 * countersigns the DSSE signature, proving when it existed. A verifier that
 * trusts the TSA can then check certificates at that time instead of now.
 */
import { sigstoreSign } from '../internal/lazy.js';
import { ModelSealError } from '../errors.js';
import { decodeBase64Strict } from '../internal/base64.js';

/** Options of {@link addTimestamp}. */
export interface TimestampOptions {
  /** TSA endpoint: a base URL (`/api/v1/timestamp` is appended when it has no path) or the full URL. */
  tsaURL: string;
  timeoutMs?: number;
  retries?: number;
}

/**
 * Requests a timestamp over the bundle's DSSE signature and records it in
 * `verificationMaterial.timestampVerificationData.rfc3161Timestamps`.
 *
 * @throws SIGSTORE_SERVICE_ERROR when the TSA fails; INVALID_OPTIONS for a bad URL
 */
export async function addTimestamp(
  bundle: Record<string, unknown>,
  options: TimestampOptions,
): Promise<Record<string, unknown>> {
  try {
    new URL(options.tsaURL);
  } catch (cause) {
    throw new ModelSealError({
      code: 'INVALID_OPTIONS',
      message: `not a URL: ${options.tsaURL}`,
      cause,
    });
  }
  const envelope = bundle.dsseEnvelope as {
    payload: string;
    payloadType: string;
    signatures: { sig: string; keyid: string }[];
  };
  const sig = decodeBase64Strict(envelope.signatures[0]?.sig ?? '');
  const payload = decodeBase64Strict(envelope.payload);
  if (sig === undefined || payload === undefined) {
    throw new ModelSealError({
      code: 'INTERNAL_ERROR',
      message: 'cannot timestamp a bundle without a signature',
    });
  }
  const witness = new (sigstoreSign().TSAWitness)({
    tsaBaseURL: options.tsaURL,
    timeout: options.timeoutMs ?? 10_000,
    retry: { retries: options.retries ?? 2 },
  });
  let material;
  try {
    material = await witness.testify({
      $case: 'dsseEnvelope',
      dsseEnvelope: {
        payload,
        payloadType: envelope.payloadType,
        signatures: [{ sig, keyid: '' }],
      },
    });
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new ModelSealError({
      code: 'SIGSTORE_SERVICE_ERROR',
      message: `timestamp authority ${options.tsaURL} failed: ${message}`,
      cause,
    });
  }
  const timestamps = (material.rfc3161Timestamps ?? []).map((t) => ({
    signedTimestamp: Buffer.from(t.signedTimestamp).toString('base64'),
  }));
  const vm = bundle.verificationMaterial as Record<string, unknown>;
  return {
    ...bundle,
    verificationMaterial: {
      ...vm,
      timestampVerificationData: { rfc3161Timestamps: timestamps },
    },
  };
}
