// SPDX-License-Identifier: Apache-2.0
// Key loading and the signature schemes of key and certificate bundles
// (oms-format.md §3, §14.1). Shared by sign/ and verify/.
import {
  constants,
  createHash,
  createPrivateKey,
  createPublicKey,
  sign as cryptoSign,
  verify as cryptoVerify,
  createVerify,
  KeyObject,
} from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { isModelSealError, ModelSealError } from '../errors.js';

/**
 * A key given to the library: a file path (`string`), the file's content
 * (PEM or DER bytes), or a Node `KeyObject`.
 */
export type KeyInput = string | Uint8Array | KeyObject;

/** RSA signature padding: PKCS#1 v1.5 (default, as the Go port) or PSS. */
export type RsaPadding = 'pkcs1v15' | 'pss';

/** ECDSA digests by curve: the reference signs with the curve's own hash. */
const CURVE_DIGEST: Readonly<Record<string, string>> = {
  prime256v1: 'sha256',
  secp384r1: 'sha384',
  secp521r1: 'sha512',
};

const MIN_RSA_BITS = 2048;

/** Label of a key source for messages. */
export function keyLabel(input: KeyInput, fallback: string): string {
  return typeof input === 'string' ? input : fallback;
}

async function readKeyFile(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new ModelSealError({
      code: 'IO_ERROR',
      message: `cannot read ${what} ${file}: ${(error as Error).message}`,
      cause: error,
      details: { path: file },
    });
  }
}

function looksEncrypted(data: Buffer): boolean {
  const text = data.toString('latin1');
  return (
    text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') ||
    text.includes('Proc-Type: 4,ENCRYPTED')
  );
}

function isPem(data: Buffer): boolean {
  return data.toString('latin1').includes('-----BEGIN ');
}

/** Node's error codes for an encrypted key: no password, or a wrong one. */
function passwordProblem(error: unknown): 'missing' | 'wrong' | undefined {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (
    code === 'ERR_MISSING_PASSPHRASE' ||
    code === 'ERR_OSSL_CRYPTO_INTERRUPTED_OR_CANCELLED'
  )
    return 'missing';
  return code.endsWith('BAD_DECRYPT') ? 'wrong' : undefined;
}

/**
 * The encodings a DER private key is tried as, in order: PKCS#8 (`openssl
 * genpkey`, `openssl pkcs8 -topk8`; encrypted too), SEC1 (`openssl ec` and
 * `openssl pkey -outform DER` of an EC key), PKCS#1 (`openssl rsa
 * -traditional`).
 */
const DER_PRIVATE_TYPES = ['pkcs8', 'sec1', 'pkcs1'] as const;

/** The encodings a DER public key is tried as: SPKI, then PKCS#1 (`openssl rsa -RSAPublicKey_out`). */
const DER_PUBLIC_TYPES = ['spki', 'pkcs1'] as const;

function privateKeyFrom(data: Buffer, passphrase?: Buffer): KeyObject {
  const secret = passphrase === undefined ? {} : { passphrase };
  if (isPem(data))
    return createPrivateKey({ key: data, format: 'pem', ...secret });
  let first: unknown;
  for (const type of DER_PRIVATE_TYPES) {
    try {
      return createPrivateKey({ key: data, format: 'der', type, ...secret });
    } catch (error) {
      // Encrypted PKCS#8: its password error is the answer, not SEC1's failure.
      if (type === 'pkcs8' && passwordProblem(error) !== undefined) throw error;
      first ??= error;
    }
  }
  throw first;
}

function publicKeyFrom(data: Buffer): KeyObject {
  if (isPem(data)) return createPublicKey({ key: data, format: 'pem' });
  let first: unknown;
  for (const type of DER_PUBLIC_TYPES) {
    try {
      return createPublicKey({ key: data, format: 'der', type });
    } catch (error) {
      first ??= error;
    }
  }
  throw first;
}

/**
 * Load a private key (PEM or DER: PKCS#8, SEC1, PKCS#1), optionally
 * encrypted (PEM, or PKCS#8 PEM or DER).
 *
 * @throws ModelSealError `PASSWORD_REQUIRED` (encrypted, no password),
 *   `KEY_INVALID` (wrong password, not a key), `IO_ERROR`
 */
export async function loadPrivateKey(
  input: KeyInput,
  password?: string | Uint8Array,
): Promise<KeyObject> {
  if (input instanceof KeyObject) {
    if (input.type !== 'private') {
      throw new ModelSealError({
        code: 'KEY_INVALID',
        message: 'the signing key is not a private key',
      });
    }
    return input;
  }
  const label = keyLabel(input, 'private key');
  const data =
    typeof input === 'string'
      ? await readKeyFile(input, 'private key')
      : Buffer.from(input);
  const encrypted = looksEncrypted(data);
  if (encrypted && (password === undefined || password.length === 0)) {
    throw new ModelSealError({
      code: 'PASSWORD_REQUIRED',
      message: `private key ${label} is encrypted and no password was given`,
      details: { path: label },
    });
  }
  const passphrase =
    password === undefined || password.length === 0
      ? undefined
      : Buffer.from(password);
  try {
    return privateKeyFrom(data, passphrase);
  } catch (error) {
    const problem = passwordProblem(error);
    if (
      (password === undefined || password.length === 0) &&
      problem === 'missing'
    ) {
      throw new ModelSealError({
        code: 'PASSWORD_REQUIRED',
        message: `private key ${label} is encrypted and no password was given`,
        cause: error,
        details: { path: label },
      });
    }
    throw new ModelSealError({
      code: 'KEY_INVALID',
      message:
        encrypted || problem === 'wrong'
          ? `cannot decrypt private key ${label}: wrong password or damaged key`
          : `cannot read private key ${label}: not a supported private key`,
      cause: error,
      details: { path: label },
    });
  }
}

/**
 * Load a public key (PEM, or DER: SPKI, PKCS#1; text before `-----BEGIN` is
 * skipped). A PEM certificate or private key is accepted too, its public half
 * is used.
 *
 * @throws ModelSealError `KEY_INVALID`, `IO_ERROR`
 */
export async function loadPublicKey(input: KeyInput): Promise<KeyObject> {
  if (input instanceof KeyObject) {
    return input.type === 'public' ? input : createPublicKey(input);
  }
  const label = keyLabel(input, 'public key');
  const data =
    typeof input === 'string'
      ? await readKeyFile(input, 'public key')
      : Buffer.from(input);
  try {
    return publicKeyFrom(data);
  } catch (error) {
    throw new ModelSealError({
      code: 'KEY_INVALID',
      message: `cannot read public key ${label}: not a supported public key`,
      cause: error,
      details: { path: label },
    });
  }
}

/** Public half of a key as a KeyObject. */
export function publicOf(key: KeyObject): KeyObject {
  return key.type === 'public' ? key : createPublicKey(key);
}

/** The SPKI PEM text of a public key (64-character lines, trailing newline). */
export function spkiPem(key: KeyObject): string {
  return publicOf(key).export({ type: 'spki', format: 'pem' }).toString();
}

/** The SPKI DER of a public key. */
export function spkiDer(key: KeyObject): Buffer {
  return publicOf(key).export({ type: 'spki', format: 'der' });
}

/**
 * model_signing's key hint: lowercase hex SHA-256 of the SPKI PEM text
 * (oms-format.md §14.1).
 */
export function keyHint(key: KeyObject): string {
  return createHash('sha256').update(spkiPem(key)).digest('hex');
}

/** A signature scheme: digest (null for Ed25519) and RSA padding. */
export interface SignatureScheme {
  /** Human-readable name, e.g. `ecdsa-p384-sha384`. */
  name: string;
  digest: string | null;
  padding?: number;
  saltLength?: number;
}

/** Describe a key for messages and results, e.g. `ecdsa-p384`, `rsa-3072`, `ed25519`. */
export function keyDescription(key: KeyObject): string {
  const type = key.asymmetricKeyType ?? 'unknown';
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'ec') {
    const curve = details.namedCurve ?? 'unknown';
    const short: Record<string, string> = {
      prime256v1: 'p256',
      secp384r1: 'p384',
      secp521r1: 'p521',
    };
    return `ecdsa-${short[curve] ?? curve}`;
  }
  if (type === 'rsa' || type === 'rsa-pss')
    return `${type}-${details.modulusLength ?? 0}`;
  return type;
}

/**
 * Which key a message is about: `what` (e.g. `private key`) and, for a key
 * read from a file, its path: "unsupported private key ./k.pem: …".
 */
export interface KeySource {
  what: string;
  path?: string;
}

/** The {@link KeySource} of a key given as {@link KeyInput}. */
export function keySource(input: KeyInput, what: string): KeySource {
  return typeof input === 'string' ? { what, path: input } : { what };
}

function unsupportedKey(
  source: KeySource | undefined,
  problem: string,
): ModelSealError {
  const name =
    source === undefined
      ? 'key'
      : source.path === undefined
        ? source.what
        : `${source.what} ${source.path}`;
  return new ModelSealError({
    code: 'UNSUPPORTED_KEY',
    message: `unsupported ${name}: ${problem}`,
    ...(source?.path === undefined ? {} : { details: { path: source.path } }),
  });
}

/**
 * The signature schemes a key may produce or verify with, preferred first.
 * EC keys use the curve's own hash; RSA uses SHA-256 with PKCS#1 v1.5 or PSS;
 * Ed25519 is pure.
 *
 * @param rsaPadding - for signing: which RSA padding; for verifying leave it
 *   unset to accept both
 * @param source - which key, for the message (and `details.path`) of
 *   `UNSUPPORTED_KEY`
 * @throws ModelSealError `UNSUPPORTED_KEY`
 */
export function schemesFor(
  key: KeyObject,
  rsaPadding?: RsaPadding,
  source?: KeySource,
): SignatureScheme[] {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'ec') {
    const curve = details.namedCurve ?? '';
    const digest = CURVE_DIGEST[curve];
    if (digest === undefined) {
      throw unsupportedKey(
        source,
        `elliptic curve ${curve || 'unknown'} (P-256, P-384 and P-521 are supported)`,
      );
    }
    return [{ name: `${keyDescription(key)}-${digest}`, digest }];
  }
  if (type === 'ed25519') return [{ name: 'ed25519', digest: null }];
  if (type === 'rsa' || type === 'rsa-pss') {
    const bits = details.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) {
      throw unsupportedKey(
        source,
        `RSA keys need at least ${MIN_RSA_BITS} bits, this one has ${bits}`,
      );
    }
    const pkcs1: SignatureScheme = {
      name: 'rsa-pkcs1v15-sha256',
      digest: 'sha256',
      padding: constants.RSA_PKCS1_PADDING,
    };
    const pss: SignatureScheme = {
      name: 'rsa-pss-sha256',
      digest: 'sha256',
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    };
    if (type === 'rsa-pss' || rsaPadding === 'pss') return [pss];
    if (rsaPadding === 'pkcs1v15') return [pkcs1];
    return [pkcs1, { ...pss, saltLength: constants.RSA_PSS_SALTLEN_AUTO }];
  }
  throw unsupportedKey(
    source,
    `key type ${type ?? 'unknown'} (EC P-256/P-384/P-521, Ed25519 and RSA are supported)`,
  );
}

/** Sign `data` with one scheme. */
export function signWith(
  key: KeyObject,
  scheme: SignatureScheme,
  data: Uint8Array,
): Buffer {
  try {
    return cryptoSign(scheme.digest, data, {
      key,
      ...(scheme.padding === undefined ? {} : { padding: scheme.padding }),
      ...(scheme.saltLength === undefined
        ? {}
        : { saltLength: scheme.saltLength }),
    });
  } catch (error) {
    if (isModelSealError(error)) throw error;
    throw new ModelSealError({
      code: 'KEY_INVALID',
      message: `signing with the ${keyDescription(key)} key failed: ${(error as Error).message}`,
      cause: error,
    });
  }
}

/**
 * Verify `signature` over `data` with any of `schemes`; returns the scheme
 * that verified, or `undefined`. Never throws for a bad signature.
 */
export function verifyWith(
  key: KeyObject,
  schemes: readonly SignatureScheme[],
  data: Uint8Array | readonly Uint8Array[],
  signature: Uint8Array,
): SignatureScheme | undefined {
  const parts: readonly Uint8Array[] =
    data instanceof Uint8Array ? [data] : data;
  let whole: Uint8Array | undefined;
  for (const scheme of schemes) {
    const options = {
      key,
      ...(scheme.padding === undefined ? {} : { padding: scheme.padding }),
      ...(scheme.saltLength === undefined
        ? {}
        : { saltLength: scheme.saltLength }),
    };
    try {
      let ok: boolean;
      if (scheme.digest === null) {
        // Ed25519 signs the message itself: one piece.
        whole ??= parts.length === 1 ? parts[0]! : Buffer.concat(parts);
        ok = cryptoVerify(null, whole, options, signature);
      } else {
        // Hashed in turn: a large payload is not copied (issue 12 item 6).
        const verifier = createVerify(scheme.digest);
        for (const part of parts) verifier.update(part);
        ok = verifier.verify(options, signature);
      }
      if (ok) return scheme;
    } catch {
      // A malformed signature (bad DER) is simply not valid.
    }
  }
  return undefined;
}
