// SPDX-License-Identifier: Apache-2.0
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { UsageError } from '../exit-codes.js';

const PRIVATE_PEM = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/;

function isPrivateDer(bytes: Buffer): boolean {
  for (const type of ['pkcs8', 'sec1', 'pkcs1'] as const) {
    try {
      createPrivateKey({ key: bytes, format: 'der', type });
      return true;
    } catch {
      // Not this encoding.
    }
  }
  return false;
}

/**
 * Refuses a private key given where a public key belongs (`--public-key`):
 * Node derives the public half from it, so it would verify, and the secret
 * would have been copied to wherever verification runs. A file that cannot
 * be read is left to the library, which names it.
 *
 * @throws UsageError naming the file and the flag
 */
export function refusePrivateKeyFile(file: string, flagName: string): void {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return;
  }
  const text = bytes.toString('latin1');
  const isPrivate = text.includes('-----BEGIN')
    ? PRIVATE_PEM.test(text)
    : isPrivateDer(bytes);
  if (isPrivate)
    throw new UsageError(
      `${flagName} ${file} is a PRIVATE key; give its public key (openssl pkey -in ${file} -pubout -out public.pem)`,
    );
}
