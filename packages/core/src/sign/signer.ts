// SPDX-License-Identifier: Apache-2.0
/**
 * Key bundles from an external {@link Signer} (PKCS#11 token, HSM, KMS).
 */
import { pae } from '../bundle/dsse.js';
import { buildKeyBundle } from '../bundle/write.js';
import { IN_TOTO_PAYLOAD_TYPE } from '../constants.js';
import { ModelSealError } from '../errors.js';
import { keyDescription, verifyWith } from '../internal/keys.js';
import { keySignedBy, signingScheme } from './key.js';
import type { Signer, StatementSigner } from './types.js';

/**
 * A {@link StatementSigner} writing key bundles (the same bundle as
 * `createKeySigner`: `publicKey.hint` = SHA-256 of the SPKI PEM) whose
 * signatures come from `signer`. Each signature is checked with
 * `signer.publicKey` before the bundle is returned, so a signer that signs
 * with another key or the wrong hash fails here, not at verification.
 *
 * @throws ModelSealError `UNSUPPORTED_KEY` (now); `KEY_INVALID` from `sign`
 */
export function statementSignerFrom(signer: Signer): StatementSigner {
  const key = signer.publicKey;
  if (key === null || typeof key !== 'object' || key.type !== 'public')
    throw new ModelSealError({
      code: 'INVALID_OPTIONS',
      message: 'a Signer needs publicKey, a public KeyObject',
    });
  const scheme = signingScheme(key, signer.rsaPadding);
  const signedBy = keySignedBy(key, scheme);
  const { hint } = signedBy;
  const where = signer.description ?? 'the external signer';
  return {
    method: 'key',
    signedBy,
    async sign(statement: Buffer): Promise<Record<string, unknown>> {
      const data = pae(IN_TOTO_PAYLOAD_TYPE, statement);
      const signature = Buffer.from(await signer.sign(data));
      if (verifyWith(key, [scheme], data, signature) === undefined)
        throw new ModelSealError({
          code: 'KEY_INVALID',
          message: `${where} produced a signature that does not verify with its ${keyDescription(key)} public key (${scheme.name})`,
        });
      return buildKeyBundle(statement, signature, hint) as unknown as Record<
        string,
        unknown
      >;
    },
  };
}
