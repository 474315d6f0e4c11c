// SPDX-License-Identifier: Apache-2.0
/**
 * Signing with a private key (oms-format.md §3, §14.1).
 */
import { createHash, type KeyObject } from 'node:crypto';
import { pae } from '../bundle/dsse.js';
import { buildKeyBundle } from '../bundle/write.js';
import { IN_TOTO_PAYLOAD_TYPE } from '../constants.js';
import { ModelSealError } from '../errors.js';
import {
  keyDescription,
  keyHint,
  keySource,
  loadPrivateKey,
  publicOf,
  schemesFor,
  signWith,
  spkiDer,
  verifyWith,
  type KeySource,
  type RsaPadding,
  type SignatureScheme,
} from '../internal/keys.js';
import type { KeySignerOptions, SignedBy, StatementSigner } from './types.js';

/** What a key bundle says about its signer: hint, SPKI fingerprint, key type and scheme. */
export function keySignedBy(
  key: KeyObject,
  scheme: SignatureScheme,
): Extract<SignedBy, { method: 'key' }> {
  return {
    method: 'key',
    hint: keyHint(key),
    fingerprint: createHash('sha256').update(spkiDer(key)).digest('hex'),
    keyType: keyDescription(key),
    scheme: scheme.name,
  };
}

/**
 * The scheme a key signs with: the curve's hash, Ed25519, or RSA with
 * `rsaPadding` (default PKCS#1 v1.5).
 *
 * @param source - which key, named by `UNSUPPORTED_KEY`
 * @throws ModelSealError `UNSUPPORTED_KEY`
 */
export function signingScheme(
  key: KeyObject,
  rsaPadding: RsaPadding = 'pkcs1v15',
  source?: KeySource,
): SignatureScheme {
  const [scheme] = schemesFor(key, rsaPadding, source);
  /* v8 ignore next 3 -- schemesFor returns at least one scheme or throws */
  if (scheme === undefined) {
    throw new ModelSealError({
      code: 'INTERNAL_ERROR',
      message: 'no signature scheme',
    });
  }
  return scheme;
}

/**
 * Refuses `rsaPadding: 'pss'` for a key that is not RSA: PSS cannot be
 * honoured, and signing with the key's own scheme instead would ignore what
 * the caller asked for. (`pkcs1v15`, the default, is accepted for any key.)
 *
 * @throws ModelSealError `INVALID_OPTIONS` with `details.option` `rsaPadding`
 *   and `details.keyType`
 */
export function assertRsaPadding(
  key: KeyObject,
  rsaPadding: RsaPadding | undefined,
  source: KeySource,
): void {
  const type = key.asymmetricKeyType;
  if (rsaPadding !== 'pss' || type === 'rsa' || type === 'rsa-pss') return;
  const keyType = keyDescription(key);
  const name =
    source.path === undefined ? source.what : `${source.what} ${source.path}`;
  throw new ModelSealError({
    code: 'INVALID_OPTIONS',
    message: `rsaPadding pss applies to RSA keys only: ${name} is ${keyType}`,
    details: {
      option: 'rsaPadding',
      value: rsaPadding,
      keyType,
      ...(source.path === undefined ? {} : { path: source.path }),
    },
  });
}

/**
 * Sign the DSSE PAE of `statement` and check the signature with the public
 * half (a cheap guard against a faulty key source).
 *
 * @throws ModelSealError `KEY_INVALID`, `UNSUPPORTED_KEY`
 */
export function signStatement(
  key: KeyObject,
  scheme: SignatureScheme,
  statement: Buffer,
): Buffer {
  const data = pae(IN_TOTO_PAYLOAD_TYPE, statement);
  const signature = signWith(key, scheme, data);
  if (verifyWith(publicOf(key), [scheme], data, signature) === undefined) {
    throw new ModelSealError({
      code: 'KEY_INVALID',
      message: `the ${keyDescription(key)} key produced a signature that does not verify`,
    });
  }
  return signature;
}

/**
 * A signer that writes key bundles: `publicKey.hint` = SHA-256 of the SPKI
 * PEM text, EC with the curve's hash, Ed25519, RSA PKCS#1 v1.5 (default) or
 * PSS with SHA-256. Loads and checks the key now, so that a wrong password
 * fails before a model is hashed.
 *
 * @throws ModelSealError `PASSWORD_REQUIRED`, `KEY_INVALID`, `UNSUPPORTED_KEY`,
 *   `INVALID_OPTIONS` (`rsaPadding: 'pss'` with a key that is not RSA), `IO_ERROR`
 */
export async function createKeySigner(
  options: KeySignerOptions,
): Promise<StatementSigner> {
  const key = await loadPrivateKey(options.privateKey, options.password);
  const source = keySource(options.privateKey, 'private key');
  assertRsaPadding(key, options.rsaPadding, source);
  const scheme = signingScheme(key, options.rsaPadding, source);
  const signedBy = keySignedBy(key, scheme);
  const { hint } = signedBy;
  return {
    method: 'key',
    signedBy,
    sign: (statement: Buffer): Promise<Record<string, unknown>> =>
      Promise.resolve(
        buildKeyBundle(
          statement,
          signStatement(key, scheme, statement),
          hint,
        ) as unknown as Record<string, unknown>,
      ),
  };
}
