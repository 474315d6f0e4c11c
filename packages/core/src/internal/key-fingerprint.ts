// SPDX-License-Identifier: Apache-2.0
/**
 * Key fingerprint pins (`verify key --key-fingerprint`): hex SHA-256 of the
 * key's SPKI DER, the value `verify` prints as `fingerprint sha256:<hex>`.
 */
import { createHash, type KeyObject } from 'node:crypto';
import { ModelSealError } from '../errors.js';
import { spkiDer } from './keys.js';

/** Hex SHA-256 of a public key's SPKI DER. */
export function keyFingerprint(key: KeyObject): string {
  return createHash('sha256').update(spkiDer(key)).digest('hex');
}

/**
 * Normalises a pin: `sha256:<hex>` or bare hex, any case, `:` between bytes
 * allowed; 64 hex digits.
 *
 * @throws ModelSealError `INVALID_OPTIONS` for anything else (an array from a
 *   repeated flag included)
 */
export function parseKeyFingerprint(pin: unknown): string {
  if (typeof pin !== 'string')
    throw new ModelSealError({
      code: 'INVALID_OPTIONS',
      message: 'keyFingerprint must be a single string',
    });
  const hex = pin
    .trim()
    .replace(/^sha256:/i, '')
    .replace(/:/g, '')
    .toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) {
    throw new ModelSealError({
      code: 'INVALID_OPTIONS',
      message: `key fingerprint ${JSON.stringify(pin)} is not sha256:<64 hex digits>`,
    });
  }
  return hex;
}

/**
 * @throws ModelSealError `KEY_MISMATCH` when `key` is not the pinned key
 */
export function checkKeyFingerprint(
  key: KeyObject,
  pin: string,
  keyName: string,
): void {
  const actual = keyFingerprint(key);
  if (actual !== pin) {
    throw new ModelSealError({
      code: 'KEY_MISMATCH',
      message: `${keyName} is not the pinned key: expected fingerprint sha256:${pin}, the key has sha256:${actual}`,
      details: { expected: `sha256:${pin}`, actual: `sha256:${actual}` },
    });
  }
}
