// SPDX-License-Identifier: Apache-2.0
/**
 * Key bundle verification (oms-format.md §14.1). Our own code, never
 * `@sigstore/verify`: it checks EC signatures with SHA-256 whatever the curve.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import type { ParsedBundle } from '../bundle/types.js';
import { ModelSealError } from '../errors.js';
import { keyDescription, keyHint, spkiDer } from '../internal/keys.js';
import { verifyEnvelope } from './envelope.js';
import type { KeySignerInfo, VerifyWarning } from './types.js';

/** Result of {@link verifyKeyBundleSignature}. */
export interface KeyBundleVerification {
  signer: KeySignerInfo;
  legacyPae: boolean;
  warnings: VerifyWarning[];
}

function parseRawKey(raw: Buffer): KeyObject | undefined {
  try {
    return raw.toString('latin1').includes('-----BEGIN ')
      ? createPublicKey({ key: raw, format: 'pem' })
      : createPublicKey({ key: raw, format: 'der', type: 'spki' });
  } catch {
    return undefined;
  }
}

/**
 * Check that a key bundle was signed by `publicKey`: the recorded hint (or,
 * in older bundles, the recorded key) must be this key's, and `signatures[0]`
 * must verify over the PAE with the key's scheme.
 *
 * @param keyName - the key's file name, for messages
 * @throws ModelSealError `METHOD_MISMATCH` (not a key bundle), `KEY_MISMATCH`,
 *   `SIGNATURE_INVALID`, `UNSUPPORTED_KEY`
 */
export function verifyKeyBundleSignature(
  bundle: ParsedBundle,
  publicKey: KeyObject,
  keyName = 'the public key',
): KeyBundleVerification {
  if (bundle.materialKind !== 'publicKey' || bundle.publicKey === undefined) {
    throw new ModelSealError({
      code: 'METHOD_MISMATCH',
      message: `the bundle is a ${bundle.method} bundle, not a key bundle`,
      details: { expected: 'key', actual: bundle.method },
    });
  }
  const warnings: VerifyWarning[] = [];
  const hint = keyHint(publicKey);
  const recorded = bundle.publicKey.hint;
  if (recorded !== undefined) {
    if (recorded.toLowerCase() !== hint) {
      throw new ModelSealError({
        code: 'KEY_MISMATCH',
        message: `the bundle was signed with another key (hint ${recorded}) than ${keyName} (hint ${hint})`,
        details: { expected: hint, actual: recorded },
      });
    }
  } else if (bundle.publicKey.rawBytes !== undefined) {
    // Parsers of the generic bundle format drop rawBytes: read from the raw JSON.
    const rawKey = parseRawKey(bundle.publicKey.rawBytes);
    if (rawKey !== undefined && !spkiDer(rawKey).equals(spkiDer(publicKey))) {
      const actual = createHash('sha256')
        .update(bundle.publicKey.rawBytes)
        .digest('hex');
      throw new ModelSealError({
        code: 'KEY_MISMATCH',
        message: `the bundle records another key (hint ${actual}) than ${keyName} (hint ${hint})`,
        details: { expected: hint, actual },
      });
    }
  } else {
    warnings.push({
      code: 'NO_KEY_HINT',
      message:
        'the bundle names no key; only the signature identifies the signer',
    });
  }
  const verified = verifyEnvelope(bundle, publicKey, 'key');
  if (verified === undefined) {
    throw new ModelSealError({
      code: 'SIGNATURE_INVALID',
      message: `the signature does not verify with ${keyName}`,
      details: { hint },
    });
  }
  if (verified.legacyPae) {
    warnings.push({
      code: 'LEGACY_PAE',
      message: 'signature over the model_signing v0.2 compatibility encoding',
    });
  }
  return {
    signer: {
      method: 'key',
      hint,
      fingerprint: createHash('sha256')
        .update(spkiDer(publicKey))
        .digest('hex'),
      keyType: keyDescription(publicKey),
      scheme: verified.scheme.name,
    },
    legacyPae: verified.legacyPae,
    warnings,
  };
}
