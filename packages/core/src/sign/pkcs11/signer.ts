// SPDX-License-Identifier: Apache-2.0
/**
 * Signing with a key on a PKCS#11 token (HSM, smart card, SoftHSM) through
 * the `pkcs11js` binding, loaded only when a PKCS#11 signer is created.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type * as Pkcs11Js from 'pkcs11js';
import { ModelSealError } from '../../errors.js';
import { keyDescription, type RsaPadding } from '../../internal/keys.js';
import { assertRsaPadding } from '../key.js';
import type { Signer } from '../types.js';
import { describePkcs11Uri, parsePkcs11Uri, type Pkcs11Uri } from './uri.js';

type Binding = typeof Pkcs11Js;
type Module = InstanceType<Binding['PKCS11']>;
type Handle = Buffer;

/** Options of {@link createPkcs11Signer}. */
export interface Pkcs11SignerOptions {
  /** RFC 7512 URI naming the token and the key, e.g. `pkcs11:token=ci;object=model-key?module-path=/usr/lib/softhsm/libsofthsm2.so`. */
  uri: string;
  /** The user PIN; overrides `pin-value`/`pin-source` in the URI. */
  pin?: string;
  /** The PKCS#11 module (shared library); overrides `module-path` in the URI. */
  modulePath?: string;
  /** For RSA keys: `pkcs1v15` (default, CKM_SHA256_RSA_PKCS) or `pss` (CKM_SHA256_RSA_PKCS_PSS, salt 32). */
  rsaPadding?: RsaPadding;
}

/** A {@link Signer} backed by a PKCS#11 token. */
export interface Pkcs11Signer extends Signer {
  /** The URI without PIN or module, e.g. `pkcs11:token=ci;object=model-key`. */
  readonly description: string;
  /** The token's label. */
  readonly tokenLabel: string;
}

const EC_CURVES: Record<string, { crv: string; hash: string; size: number }> = {
  // DER of the named-curve OIDs, as CKA_EC_PARAMS holds them.
  '06082a8648ce3d030107': { crv: 'P-256', hash: 'sha256', size: 32 },
  '06052b81040022': { crv: 'P-384', hash: 'sha384', size: 48 },
  '06052b81040023': { crv: 'P-521', hash: 'sha512', size: 66 },
};

function fail(
  code:
    | 'KEY_INVALID'
    | 'IO_ERROR'
    | 'INVALID_OPTIONS'
    | 'PASSWORD_REQUIRED'
    | 'UNSUPPORTED_KEY',
  message: string,
  cause?: unknown,
  details?: Record<string, unknown>,
): ModelSealError {
  return new ModelSealError({
    code,
    message,
    ...(cause === undefined ? {} : { cause }),
    ...(details === undefined ? {} : { details }),
  });
}

/** `CKR_PIN_INCORRECT` and friends from a pkcs11js error, or the first line of the message. */
function reason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]?.trim() ?? '';
}

let bindingPromise: Promise<Binding> | undefined;

/** Loads pkcs11js (an optional dependency with a native addon) on first use. */
async function loadBinding(): Promise<Binding> {
  bindingPromise ??= import('pkcs11js').then(
    (m) => (m as { default?: Binding }).default ?? m,
    (error: unknown) => {
      bindingPromise = undefined;
      throw fail(
        'INVALID_OPTIONS',
        `PKCS#11 signing needs the optional dependency pkcs11js, which is not installed or did not build (${reason(error)})`,
        error,
      );
    },
  );
  return bindingPromise;
}

async function pinFrom(
  options: Pkcs11SignerOptions,
  uri: Pkcs11Uri,
): Promise<string | undefined> {
  if (options.pin !== undefined) return options.pin;
  if (uri.pinValue !== undefined) return uri.pinValue;
  if (uri.pinSource === undefined) return undefined;
  const source = uri.pinSource.startsWith('file:')
    ? fileURLToPath(uri.pinSource)
    : uri.pinSource;
  try {
    return (await readFile(source, 'utf8')).replace(/\r?\n$/, '');
  } catch (error) {
    throw fail(
      'IO_ERROR',
      `cannot read the PKCS#11 PIN from pin-source ${source}: ${reason(error)}`,
      error,
    );
  }
}

/** An open, logged-in session on the selected token; `close` finalizes what it initialized. */
interface Session {
  binding: Binding;
  module: Module;
  session: Handle;
  tokenLabel: string;
  close(): void;
}

async function openSession(
  modulePath: string,
  uri: Pkcs11Uri,
  pin: string | undefined,
): Promise<Session> {
  const binding = await loadBinding();
  const module = new binding.PKCS11();
  try {
    module.load(modulePath);
  } catch (error) {
    throw fail(
      'IO_ERROR',
      `cannot load the PKCS#11 module ${modulePath}: ${reason(error)}`,
      error,
    );
  }
  let initialized = false;
  let session: Handle | undefined;
  let loggedIn = false;
  const close = (): void => {
    try {
      if (session !== undefined) {
        if (loggedIn) module.C_Logout(session);
        module.C_CloseSession(session);
      }
    } catch {
      // Closing is best effort; the module is finalized below.
    }
    try {
      if (initialized) module.C_Finalize();
      module.close();
    } catch {
      // Already finalized by its owner.
    }
  };
  try {
    try {
      module.C_Initialize();
      initialized = true;
    } catch (error) {
      // Another user in this process initialized it: use it, leave it initialized.
      if (
        (error as { code?: number }).code !==
        binding.CKR_CRYPTOKI_ALREADY_INITIALIZED
      )
        throw fail(
          'IO_ERROR',
          `the PKCS#11 module ${modulePath} failed to initialize: ${reason(error)}`,
          error,
        );
    }
    const slots = module.C_GetSlotList(true);
    const matches: { slot: Handle; label: string; flags: number }[] = [];
    for (const [index, slot] of slots.entries()) {
      const info = module.C_GetTokenInfo(slot);
      const label = info.label.trimEnd();
      if (uri.token !== undefined && label !== uri.token) continue;
      if (
        uri.serial !== undefined &&
        info.serialNumber.trimEnd() !== uri.serial
      )
        continue;
      if (
        uri.manufacturer !== undefined &&
        info.manufacturerID.trimEnd() !== uri.manufacturer
      )
        continue;
      if (uri.model !== undefined && info.model.trimEnd() !== uri.model)
        continue;
      if (uri.slotId !== undefined && slotNumber(slot, index) !== uri.slotId)
        continue;
      matches.push({ slot, label, flags: info.flags });
    }
    const selected = matches[0];
    if (selected === undefined)
      throw fail(
        'KEY_INVALID',
        `no PKCS#11 token matches ${describePkcs11Uri(uri)} in ${modulePath} (${slots.length} token${slots.length === 1 ? '' : 's'} present)`,
      );
    if (matches.length > 1)
      throw fail(
        'KEY_INVALID',
        `${matches.length} PKCS#11 tokens match ${describePkcs11Uri(uri)}; name one with token=LABEL or serial=...`,
      );
    session = module.C_OpenSession(selected.slot, binding.CKF_SERIAL_SESSION);
    const loginRequired = (selected.flags & binding.CKF_LOGIN_REQUIRED) !== 0;
    const protectedPath =
      (selected.flags & binding.CKF_PROTECTED_AUTHENTICATION_PATH) !== 0;
    if (loginRequired || pin !== undefined) {
      if (pin === undefined && !protectedPath)
        // `details.option`: the CLI names its own ways to give the PIN instead.
        throw fail(
          'PASSWORD_REQUIRED',
          `the PKCS#11 token "${selected.label}" needs a PIN (pin-value or pin-source in the URI, or the pin option)`,
          undefined,
          { token: selected.label, option: 'pin' },
        );
      try {
        module.C_Login(session, binding.CKU_USER, pin);
        loggedIn = true;
      } catch (error) {
        const code = (error as { code?: number }).code;
        if (code === binding.CKR_USER_ALREADY_LOGGED_IN) loggedIn = false;
        else
          throw fail(
            'KEY_INVALID',
            code === binding.CKR_PIN_INCORRECT
              ? `login to the PKCS#11 token "${selected.label}" failed: wrong PIN (CKR_PIN_INCORRECT)`
              : `login to the PKCS#11 token "${selected.label}" failed: ${reason(error)}`,
            code === binding.CKR_PIN_INCORRECT ? undefined : error,
          );
      }
    }
    return {
      binding,
      module,
      session,
      tokenLabel: selected.label,
      close,
    };
  } catch (error) {
    close();
    if (error instanceof ModelSealError) throw error;
    throw fail(
      'IO_ERROR',
      `PKCS#11 module ${modulePath}: ${reason(error)}`,
      error,
    );
  }
}

/** A slot handle as a number (the handle is the CK_SLOT_ID in native byte order). */
function slotNumber(slot: Handle, index: number): number {
  if (slot.length === 8) return Number(slot.readBigUInt64LE(0));
  if (slot.length === 4) return slot.readUInt32LE(0);
  return index;
}

function findOne(
  s: Session,
  cls: number,
  uri: Pkcs11Uri,
  label: string | undefined,
  id: Buffer | undefined,
): Handle[] {
  const template: Pkcs11Js.Attribute[] = [
    { type: s.binding.CKA_CLASS, value: cls },
  ];
  if (label !== undefined)
    template.push({ type: s.binding.CKA_LABEL, value: label });
  if (id !== undefined) template.push({ type: s.binding.CKA_ID, value: id });
  s.module.C_FindObjectsInit(s.session, template);
  try {
    return s.module.C_FindObjects(s.session, 3);
  } finally {
    s.module.C_FindObjectsFinal(s.session);
  }
}

function attribute(
  s: Session,
  object: Handle,
  type: number,
): Buffer | undefined {
  try {
    const [attr] = s.module.C_GetAttributeValue(s.session, object, [{ type }]);
    const value = attr?.value;
    return Buffer.isBuffer(value) && value.length > 0 ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Strip a DER OCTET STRING wrapper from CKA_EC_POINT (PKCS#11 2.20+ wraps it; some modules do not). */
function ecPoint(raw: Buffer): Buffer {
  if (raw[0] !== 0x04 || raw.length < 3) return raw;
  let length = raw[1] as number;
  let offset = 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n < 1 || n > 2) return raw;
    length = raw.readUIntBE(2, n);
    offset = 2 + n;
  }
  return offset + length === raw.length ? raw.subarray(offset) : raw;
}

const b64u = (b: Buffer): string => b.toString('base64url');

/** The private key handle, its type and the public key, found by label/id. */
function selectKey(
  s: Session,
  uri: Pkcs11Uri,
  describe: string,
): {
  handle: Handle;
  publicKey: KeyObject;
  keyType: 'ec' | 'rsa';
  hash: string;
  size: number;
} {
  const { binding } = s;
  if (uri.type !== undefined && uri.type !== 'private')
    throw fail(
      'INVALID_OPTIONS',
      `${describe}: type=${uri.type} cannot sign; name the private key (type=private or no type)`,
    );
  const found = findOne(s, binding.CKO_PRIVATE_KEY, uri, uri.object, uri.id);
  const handle = found[0];
  if (handle === undefined)
    throw fail(
      'KEY_INVALID',
      `no private key ${describe} on token "${s.tokenLabel}"`,
    );
  if (found.length > 1)
    throw fail(
      'KEY_INVALID',
      `${found.length} private keys match ${describe} on token "${s.tokenLabel}"; add id=... or a unique object=...`,
    );
  const keyTypeValue = attribute(s, handle, binding.CKA_KEY_TYPE);
  const keyType =
    keyTypeValue === undefined
      ? -1
      : keyTypeValue.readUIntLE(0, Math.min(keyTypeValue.length, 6));
  const id = attribute(s, handle, binding.CKA_ID);
  const label = attribute(s, handle, binding.CKA_LABEL)?.toString('utf8');
  if (keyType === binding.CKK_RSA) {
    const n = attribute(s, handle, binding.CKA_MODULUS);
    const e = attribute(s, handle, binding.CKA_PUBLIC_EXPONENT);
    if (n === undefined || e === undefined)
      throw fail(
        'KEY_INVALID',
        `${describe}: the RSA key does not reveal its modulus and exponent`,
      );
    const publicKey = createPublicKey({
      key: { kty: 'RSA', n: b64u(n), e: b64u(e) },
      format: 'jwk',
    });
    return {
      handle,
      publicKey,
      keyType: 'rsa',
      hash: 'sha256',
      size: n.length,
    };
  }
  if (keyType === binding.CKK_EC) {
    // EC private keys do not carry the point: take it from the public key object with the same id (or label).
    const pubs = findOne(
      s,
      binding.CKO_PUBLIC_KEY,
      uri,
      id === undefined ? label : undefined,
      id,
    );
    const pub = pubs[0];
    if (pub === undefined || pubs.length > 1)
      throw fail(
        'KEY_INVALID',
        `${describe}: ${pub === undefined ? 'no' : 'more than one'} matching EC public key object on token "${s.tokenLabel}" (the public key is read from the object with the same id)`,
      );
    const params = attribute(s, pub, binding.CKA_EC_PARAMS);
    const rawPoint = attribute(s, pub, binding.CKA_EC_POINT);
    const curve =
      params === undefined ? undefined : EC_CURVES[params.toString('hex')];
    if (curve === undefined)
      throw fail(
        'UNSUPPORTED_KEY',
        `${describe}: unsupported elliptic curve (P-256, P-384 and P-521 are supported)`,
      );
    const point = rawPoint === undefined ? undefined : ecPoint(rawPoint);
    if (point?.length !== 1 + 2 * curve.size || point[0] !== 0x04)
      throw fail(
        'KEY_INVALID',
        `${describe}: the EC public point is missing or not uncompressed`,
      );
    const publicKey = createPublicKey({
      key: {
        kty: 'EC',
        crv: curve.crv,
        x: b64u(point.subarray(1, 1 + curve.size)),
        y: b64u(point.subarray(1 + curve.size)),
      },
      format: 'jwk',
    });
    return {
      handle,
      publicKey,
      keyType: 'ec',
      hash: curve.hash,
      size: curve.size,
    };
  }
  throw fail(
    'UNSUPPORTED_KEY',
    `${describe}: unsupported PKCS#11 key type ${keyType} (EC and RSA keys are supported)`,
  );
}

/** DER `ECDSA-Sig-Value` from the PKCS#11 r||s form. */
function derSignature(raw: Buffer, size: number): Buffer {
  const int = (b: Buffer): Buffer => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    let v = b.subarray(i);
    if ((v[0] as number) & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
    return Buffer.concat([Buffer.from([0x02, v.length]), v]);
  };
  const body = Buffer.concat([
    int(raw.subarray(0, size)),
    int(raw.subarray(size, 2 * size)),
  ]);
  const len =
    body.length < 0x80
      ? Buffer.from([body.length])
      : Buffer.from([0x81, body.length]);
  return Buffer.concat([Buffer.from([0x30]), len, body]);
}

/**
 * A {@link Signer} for a key on a PKCS#11 token, selected by an RFC 7512 URI.
 * Logs in now (so a wrong PIN or a missing module fails before a model is
 * hashed) and reads the public key; each `sign` opens its own session,
 * signs and logs out. EC P-256/P-384/P-521 sign with CKM_ECDSA over the
 * curve's hash; RSA with CKM_SHA256_RSA_PKCS or CKM_SHA256_RSA_PKCS_PSS.
 * Use it with `statementSignerFrom` or `signModel({ method: 'signer' })`.
 *
 * @throws ModelSealError `INVALID_OPTIONS` (URI, missing binding),
 *   `IO_ERROR` (module cannot be loaded), `PASSWORD_REQUIRED`,
 *   `KEY_INVALID` (wrong PIN, no such token or key), `UNSUPPORTED_KEY`
 */
export async function createPkcs11Signer(
  options: Pkcs11SignerOptions,
): Promise<Pkcs11Signer> {
  const uri = parsePkcs11Uri(options.uri);
  const modulePath = options.modulePath ?? uri.modulePath;
  if (modulePath === undefined || modulePath === '')
    throw fail(
      'INVALID_OPTIONS',
      'invalid PKCS#11 URI: name the PKCS#11 module with ?module-path=/path/to/module.so',
    );
  const pin = await pinFrom(options, uri);
  const description = describePkcs11Uri(uri);
  const rsaPadding = options.rsaPadding ?? 'pkcs1v15';
  if (rsaPadding !== 'pkcs1v15' && rsaPadding !== 'pss')
    throw fail('INVALID_OPTIONS', `rsaPadding must be pkcs1v15 or pss`);
  const first = await openSession(modulePath, uri, pin);
  let selected: ReturnType<typeof selectKey>;
  try {
    selected = selectKey(first, uri, description);
  } finally {
    first.close();
  }
  const { publicKey, keyType, hash, size } = selected;
  const tokenLabel = first.tokenLabel;
  if (options.rsaPadding !== undefined)
    assertRsaPadding(publicKey, options.rsaPadding, {
      what: `the PKCS#11 key ${description}`,
    });
  return {
    publicKey,
    rsaPadding,
    description,
    tokenLabel,
    async sign(data: Buffer): Promise<Uint8Array> {
      const s = await openSession(modulePath, uri, pin);
      try {
        const { handle } = selectKey(s, uri, description);
        const { binding } = s;
        let mechanism: Pkcs11Js.Mechanism;
        let input: Buffer;
        if (keyType === 'ec') {
          mechanism = { mechanism: binding.CKM_ECDSA };
          input = createHash(hash).update(data).digest();
        } else if (rsaPadding === 'pss') {
          const parameter: Pkcs11Js.RsaPSS = {
            type: binding.CK_PARAMS_RSA_PSS,
            hashAlg: binding.CKM_SHA256,
            mgf: binding.CKG_MGF1_SHA256,
            saltLen: 32,
          };
          mechanism = { mechanism: binding.CKM_SHA256_RSA_PKCS_PSS, parameter };
          input = data;
        } else {
          mechanism = { mechanism: binding.CKM_SHA256_RSA_PKCS };
          input = data;
        }
        try {
          s.module.C_SignInit(s.session, mechanism, handle);
          const out = await s.module.C_SignAsync(
            s.session,
            input,
            Buffer.alloc(Math.max(1024, 2 * size)),
          );
          return keyType === 'ec' ? derSignature(out, size) : Buffer.from(out);
        } catch (error) {
          throw fail(
            'KEY_INVALID',
            `signing with the ${keyDescription(publicKey)} key ${description} on token "${tokenLabel}" failed: ${reason(error)}`,
            error,
          );
        }
      } finally {
        s.close();
      }
    },
  };
}

/**
 * The public key of the PKCS#11 key a URI names, as SPKI PEM: what
 * `verify key --public-key` needs.
 *
 * @throws as {@link createPkcs11Signer}
 */
export async function exportPkcs11PublicKey(
  options: Pkcs11SignerOptions,
): Promise<string> {
  const signer = await createPkcs11Signer(options);
  return signer.publicKey.export({ type: 'spki', format: 'pem' }).toString();
}
