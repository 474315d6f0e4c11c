// SPDX-License-Identifier: Apache-2.0
// Signature check over the DSSE PAE shared by key and certificate bundles,
// with the legacy v0.2 fallback (oms-format.md §3, §15).
import type { KeyObject } from 'node:crypto';
import { compatPae, paeParts } from '../bundle/dsse.js';
import type { ParsedBundle } from '../bundle/types.js';
import { OMS_LEGACY_PREDICATE_TYPE } from '../constants.js';
import {
  schemesFor,
  verifyWith,
  type SignatureScheme,
} from '../internal/keys.js';

/** The `predicateType` of a payload, or undefined; never throws. */
export function payloadPredicateType(payload: Buffer): string | undefined {
  try {
    const json: unknown = JSON.parse(payload.toString('utf8'));
    if (typeof json !== 'object' || json === null) return undefined;
    const type = (json as Record<string, unknown>)['predicateType'];
    return typeof type === 'string' ? type : undefined;
  } catch {
    return undefined;
  }
}

/** Which encoding a verified signature covered. */
export interface EnvelopeVerification {
  scheme: SignatureScheme;
  /** True when only the v0.2 compatibility PAE verified. */
  legacyPae: boolean;
}

/**
 * Verify `signatures[0]` over the PAE with `key`. The compatibility PAE is
 * tried only when the standard one fails and the payload carries the legacy
 * v0.1 predicate; certificate bundles then use SHA-256 whatever the curve,
 * key bundles the curve's hash, as the reference did.
 *
 * @returns undefined when nothing verifies
 * @throws ModelSealError `UNSUPPORTED_KEY`
 */
export function verifyEnvelope(
  bundle: ParsedBundle,
  key: KeyObject,
  kind: 'key' | 'certificate',
): EnvelopeVerification | undefined {
  const { payload, payloadType, signature } = bundle.envelope;
  const schemes = schemesFor(key);
  const standard = verifyWith(
    key,
    schemes,
    paeParts(payloadType, payload),
    signature.sig,
  );
  if (standard !== undefined) return { scheme: standard, legacyPae: false };
  if (payloadPredicateType(payload) !== OMS_LEGACY_PREDICATE_TYPE)
    return undefined;
  const legacySchemes: SignatureScheme[] =
    kind === 'certificate' && key.asymmetricKeyType === 'ec'
      ? [{ name: 'ecdsa-sha256-legacy', digest: 'sha256' }]
      : schemes;
  const legacy = verifyWith(
    key,
    legacySchemes,
    compatPae(payloadType, payload),
    signature.sig,
  );
  return legacy === undefined ? undefined : { scheme: legacy, legacyPae: true };
}
