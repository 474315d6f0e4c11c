// SPDX-License-Identifier: Apache-2.0
/**
 * Tolerant bundle reader (oms-format.md §2, §13.1 steps 1–2).
 */
import { open } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type * as ProtobufSpecs from '@sigstore/protobuf-specs';
import type { Bundle } from '@sigstore/protobuf-specs';
import {
  MAX_BUNDLE_BYTES,
  MAX_BUNDLE_CERTIFICATES,
  MAX_BUNDLE_JSON_DEPTH,
  MAX_BUNDLE_JSON_TOKENS,
  MAX_BUNDLE_TIMESTAMPS,
  MAX_BUNDLE_TLOG_ENTRIES,
} from '../constants.js';
import { isModelSealError, ModelSealError } from '../errors.js';
import {
  decodeBase64Strict,
  decodeBase64StrictBytes,
} from '../internal/base64.js';
import { objectMembers, skipSpace } from '../internal/json-scan.js';
import type {
  DecodedEnvelope,
  MaterialKind,
  ParsedBundle,
  PublicKeyMaterial,
  SigningMethod,
} from './types.js';
import { isObject } from '../internal/json.js';
import { parseBoundedJson } from '../internal/bounded-json.js';
import { ResizableArrayBuffer, shrinkableBuffer } from '../internal/release.js';

/** Media types we accept: Sigstore bundle v0.1–v0.3 in both spellings. */
const MEDIA_TYPE =
  /^application\/vnd\.dev\.sigstore\.bundle(?:\.v0\.[123]\+json|\+json;version=0\.[123])$/;

/**
 * What a bundle may cost to read. Each is checked before the part it guards
 * is decoded or verified; going over throws `BUNDLE_LIMIT_EXCEEDED` with
 * `details.limit` naming the option.
 */
export interface BundleLimits {
  /** Largest bundle file, in bytes. Default {@link MAX_BUNDLE_BYTES} (64 MiB). */
  maxBytes: number;
  /** Most JSON tokens, counted by a linear pre-pass before parsing. Default {@link MAX_BUNDLE_JSON_TOKENS} (100,000). */
  maxJsonTokens: number;
  /** Deepest JSON nesting. Default {@link MAX_BUNDLE_JSON_DEPTH} (64). */
  maxJsonDepth: number;
  /** Most RFC 3161 timestamps. Default {@link MAX_BUNDLE_TIMESTAMPS} (16). */
  maxTimestamps: number;
  /** Most transparency log entries. Default {@link MAX_BUNDLE_TLOG_ENTRIES} (16). */
  maxTlogEntries: number;
  /** Most certificates in the chain. Default {@link MAX_BUNDLE_CERTIFICATES} (33). */
  maxCertificates: number;
}

/** The default {@link BundleLimits}. */
export const DEFAULT_BUNDLE_LIMITS: Readonly<BundleLimits> = Object.freeze({
  maxBytes: MAX_BUNDLE_BYTES,
  maxJsonTokens: MAX_BUNDLE_JSON_TOKENS,
  maxJsonDepth: MAX_BUNDLE_JSON_DEPTH,
  maxTimestamps: MAX_BUNDLE_TIMESTAMPS,
  maxTlogEntries: MAX_BUNDLE_TLOG_ENTRIES,
  maxCertificates: MAX_BUNDLE_CERTIFICATES,
});

/** Options of {@link readBundle}: any of the {@link BundleLimits}, and a name. */
export interface ReadBundleOptions extends Partial<BundleLimits> {
  /** Name used in error messages when `source` is bytes. Default `bundle`. */
  name?: string;
}

/**
 * The limits in force: defaults, overridden by `options`.
 *
 * @throws ModelSealError `INVALID_OPTIONS` for a limit that is not a positive integer
 */
export function bundleLimits(
  options: Partial<BundleLimits> = {},
): BundleLimits {
  const out: BundleLimits = { ...DEFAULT_BUNDLE_LIMITS };
  for (const key of Object.keys(
    DEFAULT_BUNDLE_LIMITS,
  ) as (keyof BundleLimits)[]) {
    const value = options[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new ModelSealError({
        code: 'INVALID_OPTIONS',
        message: `${key} must be a positive integer, got ${String(value)}`,
      });
    }
    out[key] = value;
  }
  return out;
}

function overLimit(
  name: string,
  limit: keyof BundleLimits,
  value: number,
  what: string,
): ModelSealError {
  return new ModelSealError({
    code: 'BUNDLE_LIMIT_EXCEEDED',
    message: `${name} ${what} (limit ${limit} = ${value})`,
    details: { limit, value },
  });
}

function duplicate(name: string, field: string, index: number, first: number) {
  return new ModelSealError({
    code: 'BUNDLE_MALFORMED',
    message: `malformed bundle ${name}: ${field}[${index}] repeats ${field}[${first}]`,
    details: { duplicate: field, index, first },
  });
}

/** Rejects a list over `max` entries, or one with two equal entries (by `key`). */
function checkList(
  name: string,
  field: string,
  list: readonly unknown[],
  limit: keyof BundleLimits,
  max: number,
  key: (item: unknown) => string,
): void {
  if (list.length > max)
    throw overLimit(name, limit, max, `has ${list.length} ${field}`);
  const seen = new Map<string, number>();
  for (const [i, item] of list.entries()) {
    const k = key(item);
    const first = seen.get(k);
    if (first !== undefined) throw duplicate(name, field, i, first);
    seen.set(k, i);
  }
}

function malformed(
  name: string,
  what: string,
  cause?: unknown,
): ModelSealError {
  return new ModelSealError({
    code: 'BUNDLE_MALFORMED',
    message: `malformed bundle ${name}: ${what}`,
    ...(cause === undefined ? {} : { cause }),
  });
}

async function readCapped(file: string, maxBytes: number): Promise<Buffer> {
  // The size is checked on the open file (no race) before anything is allocated.
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (error) {
    throw new ModelSealError({
      code: 'IO_ERROR',
      message: `cannot read bundle ${file}: ${(error as Error).message}`,
      cause: error,
    });
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      throw new ModelSealError({
        code: 'IO_ERROR',
        message: `cannot read bundle ${file}: not a regular file`,
      });
    }
    // Read at most maxBytes + 1 so a file that grows while we read is still capped.
    // Resizable: once the payload is decoded over its base64, the buffer
    // shrinks to the payload (parseBundleSource).
    const size = Math.min(stat.size, maxBytes) + 1;
    const buffer = Buffer.from(
      new ResizableArrayBuffer(size, { maxByteLength: size }),
    );
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(
        buffer,
        length,
        buffer.length - length,
        length,
      );
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buffer.length) break;
    }
    if (length > maxBytes)
      throw overLimit(
        file,
        'maxBytes',
        maxBytes,
        `is larger than ${maxBytes} bytes`,
      );
    return buffer.subarray(0, length);
  } catch (error) {
    if (isModelSealError(error)) throw error;
    throw new ModelSealError({
      code: 'IO_ERROR',
      message: `cannot read bundle ${file}: ${(error as Error).message}`,
      cause: error,
    });
  } finally {
    await handle.close().catch(() => undefined);
  }
}

function decodeField(name: string, field: string, value: unknown): Buffer {
  if (typeof value !== 'string')
    throw malformed(name, `${field} is not a string`);
  const bytes = decodeBase64Strict(value);
  if (bytes === undefined)
    throw malformed(name, `${field} is not valid base64`);
  return bytes;
}

/**
 * A view of a resizable buffer of ours (readCapped's), as the only thing
 * left in it: moved to its start and the buffer shrunk to it. The payload of
 * a 200,000-file model is 32 MB decoded from 43 MB of base64; the other
 * 11 MB are given back before the statement is decoded (issue 11 item 4).
 * Any other view is returned as it is.
 */
function shrinkToView(view: Buffer): Buffer {
  const buffer = shrinkableBuffer(view);
  if (buffer === undefined) return view;
  const length = view.byteLength;
  new Uint8Array(buffer).copyWithin(
    0,
    view.byteOffset,
    view.byteOffset + length,
  );
  buffer.resize(length);
  return Buffer.from(buffer, 0, length);
}

/** Below this many base64 characters the payload is parsed with the rest. */
const LIFT_BYTES = 64 * 1024;

/**
 * Takes the envelope's payload out of the bundle's bytes before the JSON is
 * parsed (a large model's payload is tens of MB of base64): the payload
 * decoded straight from the bytes, and the bundle with `"payload": ""`.
 * `undefined` (parse as usual) when the layout is unexpected, the payload is
 * small, or its string holds escapes.
 */
function liftPayload(
  bytes: Uint8Array,
): { rest: Buffer; base64: Uint8Array } | undefined {
  let envelope: [number, number] | undefined;
  const top = objectMembers(bytes, skipSpace(bytes, 0), (key, start, end) => {
    if (key === 'dsseEnvelope') envelope = [start, end];
  });
  if (!top || envelope === undefined) return undefined;
  let payload: [number, number] | undefined;
  const inner = objectMembers(bytes, envelope[0], (key, start, end) => {
    if (key === 'payload') payload = [start, end];
  });
  if (!inner || payload === undefined || bytes[payload[0]] !== 0x22)
    return undefined;
  const [start, end] = payload;
  const base64 = bytes.subarray(start + 1, end - 1);
  if (base64.length < LIFT_BYTES || base64.includes(0x5c)) return undefined;
  return {
    rest: Buffer.concat([
      bytes.subarray(0, start + 1),
      bytes.subarray(end - 1),
    ]),
    base64,
  };
}

function readEnvelope(
  name: string,
  json: Record<string, unknown>,
  lifted: Buffer | undefined,
): DecodedEnvelope {
  const env = json['dsseEnvelope'];
  if (env === undefined || env === null)
    throw malformed(name, 'no dsseEnvelope');
  if (!isObject(env)) throw malformed(name, 'dsseEnvelope is not an object');
  const payloadType = env['payloadType'];
  if (typeof payloadType !== 'string')
    throw malformed(name, 'dsseEnvelope.payloadType is missing');
  const payload =
    lifted ?? decodeField(name, 'dsseEnvelope.payload', env['payload']);
  const signatures = env['signatures'];
  if (!Array.isArray(signatures))
    throw malformed(name, 'dsseEnvelope.signatures is missing');
  if (signatures.length === 0)
    throw malformed(name, 'dsseEnvelope.signatures is empty');
  const first: unknown = signatures[0];
  if (!isObject(first))
    throw malformed(name, 'dsseEnvelope.signatures[0] is not an object');
  const sig = decodeField(name, 'dsseEnvelope.signatures[0].sig', first['sig']);
  if (sig.length === 0)
    throw malformed(name, 'dsseEnvelope.signatures[0].sig is empty');
  const keyid = first['keyid'];
  if (keyid !== undefined && keyid !== null && typeof keyid !== 'string') {
    throw malformed(name, 'dsseEnvelope.signatures[0].keyid is not a string');
  }
  return {
    payloadType,
    payload,
    signature: { sig, keyid },
    signatureCount: signatures.length,
  };
}

function readCertificates(
  name: string,
  material: Record<string, unknown>,
  kind: MaterialKind,
): Buffer[] {
  if (kind === 'certificate') {
    const cert = material['certificate'];
    if (!isObject(cert))
      throw malformed(
        name,
        'verificationMaterial.certificate is not an object',
      );
    return [
      decodeField(
        name,
        'verificationMaterial.certificate.rawBytes',
        cert['rawBytes'],
      ),
    ];
  }
  const chain = material['x509CertificateChain'];
  if (!isObject(chain))
    throw malformed(
      name,
      'verificationMaterial.x509CertificateChain is not an object',
    );
  const certs = chain['certificates'];
  if (!Array.isArray(certs) || certs.length === 0) {
    throw malformed(
      name,
      'verificationMaterial.x509CertificateChain.certificates is empty',
    );
  }
  return certs.map((c: unknown, i) => {
    const field = `verificationMaterial.x509CertificateChain.certificates[${i}].rawBytes`;
    if (!isObject(c)) throw malformed(name, `${field} is missing`);
    const der = decodeField(name, field, c['rawBytes']);
    if (der.length === 0) throw malformed(name, `${field} is empty`);
    return der;
  });
}

function readPublicKey(
  name: string,
  material: Record<string, unknown>,
): PublicKeyMaterial {
  const pk = material['publicKey'];
  if (!isObject(pk))
    throw malformed(name, 'verificationMaterial.publicKey is not an object');
  const hint = pk['hint'];
  if (hint !== undefined && hint !== null && typeof hint !== 'string') {
    throw malformed(
      name,
      'verificationMaterial.publicKey.hint is not a string',
    );
  }
  const raw = pk['rawBytes'];
  const rawBytes =
    raw === undefined || raw === null || raw === ''
      ? undefined
      : decodeField(name, 'verificationMaterial.publicKey.rawBytes', raw);
  const details = pk['keyDetails'];
  return {
    hint: typeof hint === 'string' && hint !== '' ? hint : undefined,
    rawBytes,
    keyDetails: typeof details === 'string' ? details : undefined,
  };
}

function methodOf(
  kind: MaterialKind,
  tlogEntries: unknown[] | undefined,
): SigningMethod {
  if (kind === 'publicKey') return 'key';
  if (kind === 'certificate') return 'sigstore';
  // Sigstore bundles v0.1/v0.2 carry the Fulcio chain; model_signing
  // certificate bundles carry a chain and no log entries.
  return tlogEntries !== undefined && tlogEntries.length > 0
    ? 'sigstore'
    : 'certificate';
}

/**
 * Each timestamp, log entry and certificate costs a signature check later
 * (ours or `@sigstore/verify`'s): too many, or the same one twice, is refused
 * before any is decoded. Lists that are absent or not arrays are left to the
 * structural checks.
 *
 * @param material - `verificationMaterial` of a bundle's JSON
 * @throws ModelSealError `BUNDLE_LIMIT_EXCEEDED`, `BUNDLE_MALFORMED` (`details.duplicate`)
 */
export function checkBundleLists(
  material: unknown,
  name = 'bundle',
  limits: BundleLimits = DEFAULT_BUNDLE_LIMITS,
): void {
  if (!isObject(material)) return;
  const tlog = material['tlogEntries'];
  if (Array.isArray(tlog)) {
    checkList(
      name,
      'tlogEntries',
      tlog,
      'maxTlogEntries',
      limits.maxTlogEntries,
      (e) => JSON.stringify(e),
    );
  }
  const tsData = material['timestampVerificationData'];
  const timestamps = isObject(tsData) ? tsData['rfc3161Timestamps'] : undefined;
  if (Array.isArray(timestamps)) {
    checkList(
      name,
      'rfc3161Timestamps',
      timestamps,
      'maxTimestamps',
      limits.maxTimestamps,
      (t) => JSON.stringify(isObject(t) ? t['signedTimestamp'] : t),
    );
  }
  const chain = material['x509CertificateChain'];
  const chainCerts = isObject(chain) ? chain['certificates'] : undefined;
  if (Array.isArray(chainCerts)) {
    checkList(
      name,
      'certificates',
      chainCerts,
      'maxCertificates',
      limits.maxCertificates,
      (c) => JSON.stringify(isObject(c) ? c['rawBytes'] : c),
    );
  }
}

/**
 * Parse bundle JSON (text as a string or bytes, or an already parsed value)
 * without verifying anything. Same checks as {@link readBundle} (the size
 * cap aside: the caller holds the bytes already).
 *
 * @throws ModelSealError `BUNDLE_MALFORMED`, `BUNDLE_LIMIT_EXCEEDED`
 */
export function parseBundle(
  source: unknown,
  name = 'bundle',
  options: Partial<BundleLimits> = {},
): ParsedBundle {
  return parseBundleSource(source, name, options, false);
}

/** {@link parseBundle}; `owned`: `source` is a buffer of ours, free to overwrite. */
function parseBundleSource(
  source: unknown,
  name: string,
  options: Partial<BundleLimits>,
  owned: boolean,
): ParsedBundle {
  const limits = bundleLimits(options);
  let json: unknown = source;
  let lifted: Buffer | undefined;
  if (source instanceof Uint8Array) {
    const found = liftPayload(source);
    if (found !== undefined) {
      // Decoded over the base64 text when the buffer is the file's, read
      // here: one buffer, not two.
      lifted = decodeBase64StrictBytes(found.base64, owned);
      if (lifted === undefined)
        throw malformed(name, 'dsseEnvelope.payload is not valid base64');
      source = found.rest;
      if (owned) lifted = shrinkToView(lifted);
    }
  }
  if (typeof source === 'string' || source instanceof Uint8Array) {
    if (isBlank(source)) throw malformed(name, 'the file is empty');
    // Tokens and depth are counted over the bytes before JSON.parse allocates anything.
    const parsed = parseBoundedJson(source, {
      maxTokens: limits.maxJsonTokens,
      maxDepth: limits.maxJsonDepth,
    });
    if (!parsed.ok) {
      if (parsed.kind === 'limit') {
        throw overLimit(
          name,
          parsed.limit === 'maxJsonTokens' ? 'maxJsonTokens' : 'maxJsonDepth',
          parsed.value,
          parsed.limit === 'maxJsonTokens'
            ? `has more than ${parsed.value} JSON tokens`
            : `nests JSON deeper than ${parsed.value} levels`,
        );
      }
      throw malformed(name, 'not valid JSON', new SyntaxError(parsed.reason));
    }
    json = parsed.value;
  }
  if (!isObject(json)) throw malformed(name, 'not a JSON object');

  const mediaType = json['mediaType'];
  if (typeof mediaType !== 'string') throw malformed(name, 'no mediaType');
  if (!MEDIA_TYPE.test(mediaType)) {
    throw malformed(name, `unsupported mediaType ${JSON.stringify(mediaType)}`);
  }
  const material = json['verificationMaterial'];
  if (material === undefined || material === null)
    throw malformed(name, 'no verificationMaterial');
  if (!isObject(material))
    throw malformed(name, 'verificationMaterial is not an object');
  const envelope = readEnvelope(name, json, lifted);

  const present = (
    ['publicKey', 'x509CertificateChain', 'certificate'] as const
  ).filter((k) => material[k] !== undefined && material[k] !== null);
  if (present.length === 0)
    throw malformed(name, 'verificationMaterial carries no key or certificate');
  if (present.length > 1) {
    throw malformed(
      name,
      `verificationMaterial carries several kinds: ${present.join(', ')}`,
    );
  }
  const materialKind = present[0] as MaterialKind;

  const tlog = material['tlogEntries'];
  if (tlog !== undefined && tlog !== null && !Array.isArray(tlog)) {
    throw malformed(name, 'verificationMaterial.tlogEntries is not an array');
  }
  const tlogEntries = Array.isArray(tlog) ? (tlog as unknown[]) : undefined;
  const tsData = material['timestampVerificationData'];
  const timestamps = isObject(tsData) ? tsData['rfc3161Timestamps'] : undefined;
  if (
    timestamps !== undefined &&
    timestamps !== null &&
    !Array.isArray(timestamps)
  ) {
    throw malformed(
      name,
      'timestampVerificationData.rfc3161Timestamps is not an array',
    );
  }
  checkBundleLists(material, name, limits);
  const rfc3161Timestamps = (
    Array.isArray(timestamps) ? (timestamps as unknown[]) : []
  ).map((t, i) => {
    const field = `timestampVerificationData.rfc3161Timestamps[${i}].signedTimestamp`;
    if (!isObject(t)) throw malformed(name, `${field} is missing`);
    return decodeField(name, field, t['signedTimestamp']);
  });

  const publicKey =
    materialKind === 'publicKey' ? readPublicKey(name, material) : undefined;
  const certificates =
    materialKind === 'publicKey'
      ? []
      : readCertificates(name, material, materialKind);

  const parsed: Omit<ParsedBundle, 'typed' | 'json'> = {
    mediaType,
    materialKind,
    method: methodOf(materialKind, tlogEntries),
    envelope,
    publicKey,
    certificates,
    tlogEntries,
    rfc3161TimestampCount: rfc3161Timestamps.length,
    rfc3161Timestamps,
  };
  // The typed view decodes the payload once more: made on first use only, so
  // a 40 MB statement is not held twice while a large model is hashed.
  let typed: Bundle | undefined;
  // A lifted payload goes back into the JSON (as base64, which decodes to
  // the same bytes) only for a reader of the JSON: the Sigstore verifier.
  let restored = lifted === undefined;
  const fullJson = (): Record<string, unknown> => {
    if (!restored) {
      (json['dsseEnvelope'] as Record<string, unknown>)['payload'] =
        envelope.payload.toString('base64');
      restored = true;
    }
    return json;
  };
  Object.defineProperty(parsed, 'json', { enumerable: true, get: fullJson });
  return Object.defineProperty(parsed, 'typed', {
    enumerable: true,
    get(): Bundle {
      if (typed === undefined) {
        try {
          typed = bundleFromJSON(fullJson());
        } catch (error) {
          throw malformed(name, 'not a Sigstore bundle', error);
        }
      }
      return typed;
    },
  }) as ParsedBundle;
}

/**
 * The protobuf-specs decoder, loaded on first use: only the Sigstore
 * verifier reads the typed bundle, and a key or certificate check then
 * starts 7 ms sooner (issue 11 item 1).
 */
function bundleFromJSON(json: unknown): Bundle {
  const specs = createRequire(import.meta.url)(
    '@sigstore/protobuf-specs',
  ) as typeof ProtobufSpecs;
  return specs.Bundle.fromJSON(json);
}

/**
 * Read and structurally check a bundle file (oms-format.md §2): size cap,
 * JSON, media type, envelope, first signature, verification material.
 * Nothing is verified. Unknown keys are ignored.
 *
 * @param source - a file path, or the bundle bytes
 * @throws ModelSealError `BUNDLE_MALFORMED` (empty, invalid or truncated JSON,
 *   missing envelope or material, empty signatures, wrong media type, a
 *   repeated timestamp, certificate or log entry); `BUNDLE_LIMIT_EXCEEDED`
 *   (over one of the {@link BundleLimits}); `IO_ERROR` when the file cannot
 *   be read
 */
export async function readBundle(
  source: string | Uint8Array,
  options: ReadBundleOptions = {},
): Promise<ParsedBundle> {
  const limits = bundleLimits(options);
  if (typeof source === 'string') {
    return parseBundleSource(
      await readCapped(source, limits.maxBytes),
      source,
      limits,
      true,
    );
  }
  const name = options.name ?? 'bundle';
  if (source.length > limits.maxBytes)
    throw overLimit(
      name,
      'maxBytes',
      limits.maxBytes,
      `is larger than ${limits.maxBytes} bytes`,
    );
  return parseBundle(source, name, limits);
}

/** True when the text or bytes hold nothing but JSON whitespace. */
function isBlank(source: string | Uint8Array): boolean {
  if (typeof source === 'string') return source.trim() === '';
  for (const c of source)
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return false;
  return true;
}
