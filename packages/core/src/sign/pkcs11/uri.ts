// SPDX-License-Identifier: Apache-2.0
/**
 * PKCS#11 URIs (RFC 7512): which module, token and key object to sign with.
 */
import { ModelSealError } from '../../errors.js';

/** The parts of a PKCS#11 URI that select a signing key. */
export interface Pkcs11Uri {
  /** Token label (`token`). */
  token?: string;
  /** Token manufacturer (`manufacturer`). */
  manufacturer?: string;
  /** Token model (`model`). */
  model?: string;
  /** Token serial number (`serial`). */
  serial?: string;
  /** Slot number (`slot-id`, a decimal integer). */
  slotId?: number;
  /** Key label, CKA_LABEL (`object`). */
  object?: string;
  /** Key identifier, CKA_ID (`id`, percent-encoded bytes). */
  id?: Buffer;
  /** Object type (`type`): only `private` (or absent) selects a signing key. */
  type?: string;
  /** Path of the PKCS#11 module, a shared library (`module-path` query attribute). */
  modulePath?: string;
  /** User PIN (`pin-value` query attribute). */
  pinValue?: string;
  /** Where to read the PIN (`pin-source`: a file path or `file:` URI). */
  pinSource?: string;
}

const PATH_ATTRIBUTES = new Set([
  'token',
  'manufacturer',
  'model',
  'serial',
  'slot-id',
  'slot-description',
  'slot-manufacturer',
  'library-manufacturer',
  'library-description',
  'library-version',
  'object',
  'id',
  'type',
]);
const QUERY_ATTRIBUTES = new Set([
  'module-path',
  'module-name',
  'pin-value',
  'pin-source',
]);

function invalid(message: string): ModelSealError {
  return new ModelSealError({
    code: 'INVALID_OPTIONS',
    message: `invalid PKCS#11 URI: ${message}`,
  });
}

/** Percent-decode to bytes; a `%` not followed by two hex digits is an error. */
function decodeBytes(value: string, name: string): Buffer {
  const out: number[] = [];
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (c === '%') {
      const hex = value.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex))
        throw invalid(`bad percent-encoding in ${name}`);
      out.push(parseInt(hex, 16));
      i += 2;
    } else {
      out.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(out);
}

function decodeText(value: string, name: string): string {
  const bytes = decodeBytes(value, name);
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  if (text.includes('\uFFFD')) throw invalid(`${name} is not UTF-8`);
  return text;
}

/**
 * Parse a PKCS#11 URI such as
 * `pkcs11:token=ci;object=model-key?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-value=1234`.
 * Attribute values are percent-decoded; an attribute given twice, an unknown
 * standard attribute or a `module-name` (only `module-path` is supported) is
 * refused. Vendor attributes (`x-...`) are ignored.
 *
 * @throws ModelSealError `INVALID_OPTIONS`
 */
export function parsePkcs11Uri(uri: string): Pkcs11Uri {
  if (typeof uri !== 'string' || !/^pkcs11:/i.test(uri))
    throw invalid('it must start with "pkcs11:"');
  const rest = uri.slice('pkcs11:'.length);
  const queryAt = rest.indexOf('?');
  const path = queryAt === -1 ? rest : rest.slice(0, queryAt);
  const query = queryAt === -1 ? '' : rest.slice(queryAt + 1);
  const seen = new Set<string>();
  const result: Pkcs11Uri = {};
  const take = (
    part: string,
    allowed: Set<string>,
    where: 'path' | 'query',
  ): void => {
    if (part === '') return;
    const eq = part.indexOf('=');
    if (eq <= 0) throw invalid(`${where} attribute "${part}" has no value`);
    const name = part.slice(0, eq).toLowerCase();
    const raw = part.slice(eq + 1);
    if (name.startsWith('x-')) return;
    if (!allowed.has(name))
      throw invalid(`unknown ${where} attribute "${name}"`);
    if (seen.has(name)) throw invalid(`attribute "${name}" is given twice`);
    seen.add(name);
    switch (name) {
      case 'token':
        result.token = decodeText(raw, name);
        break;
      case 'manufacturer':
        result.manufacturer = decodeText(raw, name);
        break;
      case 'model':
        result.model = decodeText(raw, name);
        break;
      case 'serial':
        result.serial = decodeText(raw, name);
        break;
      case 'slot-id': {
        if (!/^\d{1,9}$/.test(raw)) throw invalid('slot-id must be a number');
        result.slotId = Number(raw);
        break;
      }
      case 'object':
        result.object = decodeText(raw, name);
        break;
      case 'id':
        result.id = decodeBytes(raw, name);
        break;
      case 'type':
        result.type = decodeText(raw, name);
        if (
          !['private', 'public', 'cert', 'secret-key', 'data'].includes(
            result.type,
          )
        )
          throw invalid(`unknown object type "${result.type}"`);
        break;
      case 'module-path':
        result.modulePath = decodeText(raw, name);
        break;
      case 'module-name':
        throw invalid(
          'module-name is not supported; give the library with module-path',
        );
      case 'pin-value':
        result.pinValue = decodeText(raw, name);
        break;
      case 'pin-source':
        result.pinSource = decodeText(raw, name);
        break;
      default:
        // Recognised but not used to select a key (slot and library descriptions).
        break;
    }
  };
  for (const part of path.split(';')) take(part, PATH_ATTRIBUTES, 'path');
  for (const part of query.split('&')) take(part, QUERY_ATTRIBUTES, 'query');
  if (result.object === undefined && result.id === undefined)
    throw invalid('name the key with object=LABEL or id=%XX...');
  if (result.pinValue !== undefined && result.pinSource !== undefined)
    throw invalid('give pin-value or pin-source, not both');
  return result;
}

/** The URI without its PIN, for messages and results. */
export function describePkcs11Uri(uri: Pkcs11Uri): string {
  const enc = (s: string): string =>
    encodeURIComponent(s).replace(
      /[!'()*]/g,
      (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
    );
  const path: string[] = [];
  if (uri.token !== undefined) path.push(`token=${enc(uri.token)}`);
  if (uri.serial !== undefined) path.push(`serial=${enc(uri.serial)}`);
  if (uri.slotId !== undefined) path.push(`slot-id=${uri.slotId}`);
  if (uri.object !== undefined) path.push(`object=${enc(uri.object)}`);
  if (uri.id !== undefined)
    path.push(
      `id=${[...uri.id].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')}`,
    );
  return `pkcs11:${path.join(';')}`;
}
