// SPDX-License-Identifier: Apache-2.0
/**
 * `sign key --pkcs11-uri URI`: the key stays on a PKCS#11 token; the bundle
 * is an ordinary key bundle, verified with `verify key --public-key` and the
 * token key's public half (`--export-public-key FILE`).
 */
import { writeFileSync } from 'node:fs';
import { isModelSealError } from '@modelseal/core/errors';
import { safeText } from '@modelseal/core/output';
import {
  createPkcs11Signer,
  parsePkcs11Uri,
  statementSignerFrom,
  type Pkcs11SignerOptions,
  type Pkcs11Signer,
  type StatementSigner,
} from '@modelseal/core/sign';
import { str, type Parsed } from '../args.js';
import { UsageError } from '../exit-codes.js';
import type { Io } from '../io.js';
import { withFlagHint } from '../output/errors.js';
import { canPrompt, promptPassword } from '../prompt.js';

/** Flags that name a file key or its password: not with --pkcs11-uri. */
const FILE_KEY_FLAGS = ['private-key', 'password', 'password-env', 'tsa-url'];

/** The token's signer for `sign key --pkcs11-uri`, or undefined without that flag. */
export async function pkcs11SignerFrom(
  parsed: Parsed,
  io: Io,
): Promise<
  { signer: Pkcs11Signer; statementSigner: StatementSigner } | undefined
> {
  const uri = str(parsed, 'pkcs11-uri');
  if (uri === undefined) {
    for (const name of ['pin-env', 'export-public-key'])
      if (str(parsed, name) !== undefined)
        throw new UsageError(`--${name} needs --pkcs11-uri`);
    return undefined;
  }
  for (const name of FILE_KEY_FLAGS)
    if (str(parsed, name) !== undefined)
      throw new UsageError(
        `--${name} does not apply with --pkcs11-uri${name === 'tsa-url' ? ' (timestamps on token-signed bundles are not supported yet)' : ''}`,
      );
  const parsedUri = parsePkcs11Uri(uri);
  const options: Pkcs11SignerOptions = { uri };
  const padding = str(parsed, 'rsa-padding');
  if (padding !== undefined) {
    if (padding !== 'pkcs1v15' && padding !== 'pss')
      throw new UsageError('--rsa-padding must be pkcs1v15 or pss');
    options.rsaPadding = padding;
  }
  const pinEnv = str(parsed, 'pin-env');
  if (pinEnv !== undefined) {
    if (parsedUri.pinValue !== undefined || parsedUri.pinSource !== undefined)
      throw new UsageError(
        '--pin-env and a PIN in the URI (pin-value or pin-source): give one',
      );
    const pin = process.env[pinEnv];
    if (pin === undefined)
      throw new UsageError(
        `--pin-env ${pinEnv}: the environment variable is not set`,
      );
    options.pin = pin;
  }
  let signer: Pkcs11Signer;
  try {
    signer = await createPkcs11Signer(options);
  } catch (error) {
    if (
      !isModelSealError(error) ||
      error.code !== 'PASSWORD_REQUIRED' ||
      !canPrompt()
    )
      throw withFlagHint(error, new Map(), {
        PASSWORD_REQUIRED:
          '--pin-env VAR, or run on a terminal to be asked for it',
      });
    const pin = await promptPassword(
      `PIN for ${safeText(parsedUri.token === undefined ? 'the PKCS#11 token' : `token "${parsedUri.token}"`)}: `,
      io.signal,
    );
    signer = await createPkcs11Signer({ ...options, pin });
  }
  const exportTo = str(parsed, 'export-public-key');
  if (exportTo !== undefined)
    writeFileSync(
      exportTo,
      signer.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    );
  return { signer, statementSigner: statementSignerFrom(signer) };
}
