// SPDX-License-Identifier: Apache-2.0
import { createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
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

/** The flags that name files, for error messages: each file given, and the flag that gave it. */
const FILE_FLAGS: readonly [string, string][] = [
  ['signature', '--signature FILE'],
  ['bundle', '--bundle FILE'],
  ['public-key', '--public-key'],
  ['private-key', '--private-key'],
  ['signing-certificate', '--signing-certificate'],
  ['certificate-chain', '--certificate-chain'],
  ['trusted-root', '--trusted-root'],
  ['trust-config', '--trust-config'],
  ['signing-config', '--signing-config'],
  ['scan-policy', '--scan-policy FILE'],
  ['scan-attestation', '--scan-attestation FILE'],
  ['timestamp-certificate', '--timestamp-certificate'],
];

/** File → flag for the files given on this command line (the model path as MODEL_PATH). */
export function fileFlagsOf(
  parsed: { values: Record<string, unknown> },
  modelPath?: string,
  defaults: readonly (readonly [string, string])[] = [],
): Map<string, string> {
  const out = new Map<string, string>(defaults);
  if (modelPath !== undefined) out.set(modelPath, 'MODEL_PATH');
  for (const [name, flag] of FILE_FLAGS) {
    const value = parsed.values[name];
    for (const v of Array.isArray(value) ? value : [value])
      if (typeof v === 'string' && v !== '') {
        out.set(v, flag);
        out.set(resolve(v), flag);
      }
  }
  return out;
}
