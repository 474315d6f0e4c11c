// SPDX-License-Identifier: Apache-2.0
/**
 * Tolerant bundle reader (oms-format.md §2, §13.1 steps 1–2).
 */
import { constants } from 'node:fs';
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
  StrictBase64Decoder,
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
import {
  ResizableArrayBuffer,
  shrinkableBuffer,
  type ShrinkableBuffer,
} from '../internal/release.js';

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

/** What a bundle file read gives: its bytes, or the bundle with its payload taken out. */
type BundleFileRead =
  | { bytes: Buffer; rest?: undefined; payload?: undefined }
  | {
      bytes?: undefined;
      rest: Buffer;
      payload: Buffer;
      /** Where the payload's base64 text lies in the file. */
      text: { offset: number; length: number };
    };

/**
 * Where a payload read by {@link readStreamed} came from: its base64 text in
 * the bundle file, which a caller may read again (and decode a window at a
 * time) instead of holding the payload whole.
 */
export interface PayloadSource {
  file: string;
  /** Byte offset of the text (past its opening quote) in the file. */
  offset: number;
  /** Characters of base64 text. */
  length: number;
  /** Bytes of payload they decode to. */
  payloadLength: number;
}

const payloadSources = new WeakMap<Uint8Array, PayloadSource>();

/**
 * Where a bundle's payload was read from, when {@link readBundle} decoded
 * it as it read the file (files of 1 MiB or more); `undefined` for any other
 * payload. Nothing about it is verified: a reader of the file again must
 * check that it gives the same bytes.
 */
export function payloadSourceOf(
  payload: Uint8Array,
): PayloadSource | undefined {
  return payloadSources.get(payload);
}

/**
 * Reads a bundle file, capped at `maxBytes`. A file of {@link STREAM_BYTES}
 * or more has its payload decoded as it is read (see {@link readStreamed}).
 * Exported for tests; {@link readBundle} is the way in.
 *
 * @param chunk - bytes read at a time while streaming (tests give less)
 */
export async function readBundleFile(
  file: string,
  maxBytes: number,
  chunk: number = STREAM_CHUNK,
): Promise<BundleFileRead> {
  const cannotRead = (error: unknown): ModelSealError =>
    new ModelSealError({
      code: 'IO_ERROR',
      message: `cannot read bundle ${file}: ${(error as Error).message}`,
      cause: error,
    });
  // The size is checked on the open file (no race) before anything is allocated.
  let handle;
  try {
    // Non-blocking: a FIFO named as the bundle must not wait for a writer
    // (it is refused below as not a regular file). No effect on files.
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw cannotRead(error);
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
    const capacity = Math.min(stat.size, maxBytes) + 1;
    if (capacity > STREAM_BYTES) {
      const streamed = await readStreamed(
        handle,
        capacity,
        file,
        maxBytes,
        chunk,
      );
      if (streamed !== undefined) return streamed;
    }
    return { bytes: await readWhole(handle, capacity, file, maxBytes) };
  } catch (error) {
    if (isModelSealError(error)) throw error;
    throw cannotRead(error);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

type FileHandle = Awaited<ReturnType<typeof open>>;

function tooLarge(file: string, maxBytes: number): ModelSealError {
  return overLimit(
    file,
    'maxBytes',
    maxBytes,
    `is larger than ${maxBytes} bytes`,
  );
}

/**
 * The whole file, in a resizable buffer: once the payload is decoded over
 * its base64, the buffer shrinks to the payload (parseBundleSource).
 */
async function readWhole(
  handle: FileHandle,
  capacity: number,
  file: string,
  maxBytes: number,
): Promise<Buffer> {
  const buffer = Buffer.from(
    new ResizableArrayBuffer(capacity, { maxByteLength: capacity }),
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
  if (length > maxBytes) throw tooLarge(file, maxBytes);
  return buffer.subarray(0, length);
}

/** Files at least this large have their payload decoded as they are read. */
const STREAM_BYTES = 1 << 20;
/** Bytes read at a time while streaming. */
const STREAM_CHUNK = 1 << 20;
const PAYLOAD_KEY = Buffer.from('"payload"');
const QUOTE = 0x22;
const COLON = 0x3a;

/**
 * Reads a large bundle file with its payload decoded as it comes: the
 * buffer holds the bytes before the payload, the payload decoded so far,
 * then the bytes after it, so the base64 text (a third more than the
 * payload: 11 MB for a 200,000-file model) is never whole in memory
 * (issue 11 item 4).
 *
 * The payload is found by its key (the first `"payload": "`), and taken
 * only when the bundle without it, `"payload": ""`, has exactly there its
 * `dsseEnvelope.payload` (liftPayload's reading): then the whole file would
 * have been taken apart the same way, since the text between the quotes is
 * base64 characters only. The answer is then the one {@link liftPayload}
 * and {@link decodeBase64StrictBytes} give for the whole file.
 *
 * @returns the bundle without its payload and the payload; the file's bytes
 *   when no payload key was found (nothing was decoded); `undefined` when
 *   the file must be read again whole (the payload is not canonical base64,
 *   not where the key was found, or small): parseBundleSource then gives
 *   the answer, error message included
 */
async function readStreamed(
  handle: FileHandle,
  capacity: number,
  file: string,
  maxBytes: number,
  chunk: number,
): Promise<BundleFileRead | undefined> {
  // Grown as it is read, and a view that follows its length: a buffer
  // made whole at first would be zeroed past the payload when it shrinks
  // at the end (V8 clears what a resizable buffer gives back), touching
  // the pages never read into.
  const rab = new ResizableArrayBuffer(0, {
    maxByteLength: capacity,
  }) as ShrinkableBuffer;
  const buffer = Object.setPrototypeOf(
    new Uint8Array(rab),
    Buffer.prototype as object,
  ) as Buffer;
  // Bytes held at the start of `buffer`, and the file offset read up to.
  let held = 0;
  let position = 0;
  // Where the payload's text starts (just past its opening quote); its
  // decoded bytes are written from there.
  let payloadAt = -1;
  let decoded = 0;
  let textLength = 0;
  // Where the bytes after the payload start (its closing quote).
  let suffixAt = -1;
  let searchFrom = 0;
  const decoder = new StrictBase64Decoder();
  const giveUp = (): undefined => {
    rab.resize(0);
    return undefined;
  };
  // As readWhole: no more than `capacity` bytes of the file.
  while (position < capacity) {
    const length = Math.min(chunk, capacity - position);
    if (buffer.length < held + length) rab.resize(held + length);
    const { bytesRead } = await handle.read(buffer, held, length, position);
    if (bytesRead === 0) break;
    position += bytesRead;
    if (position > maxBytes) throw tooLarge(file, maxBytes);
    held += bytesRead;
    if (suffixAt >= 0) continue;
    if (payloadAt < 0) {
      const at = payloadTextStart(buffer.subarray(0, held), searchFrom);
      if (typeof at !== 'number') {
        searchFrom = at.searchFrom;
        continue;
      }
      payloadAt = at;
    }
    // The text not decoded yet: a few characters kept from the last chunk
    // (right after the bytes decoded), then this chunk, up to the closing
    // quote if it is here.
    const from = payloadAt + decoded;
    const quote = buffer.subarray(0, held).indexOf(QUOTE, from);
    const textEnd = quote < 0 ? held : quote;
    const step = decoder.push(
      buffer.subarray(from, textEnd),
      buffer,
      from,
      quote >= 0,
    );
    if (step === undefined) return giveUp();
    decoded += step.written;
    textLength += step.read;
    const left = textEnd - from - step.read;
    buffer.copyWithin(payloadAt + decoded, from + step.read, textEnd);
    if (quote < 0) {
      held = payloadAt + decoded + left;
      continue;
    }
    suffixAt = payloadAt + decoded;
    buffer.copyWithin(suffixAt, quote, held);
    held = suffixAt + (held - quote);
  }
  if (payloadAt < 0) return { bytes: buffer.subarray(0, held) };
  if (suffixAt < 0 || textLength < LIFT_BYTES) return giveUp();
  const rest = Buffer.concat([
    buffer.subarray(0, payloadAt),
    buffer.subarray(suffixAt, held),
  ]);
  const found = locatePayload(rest);
  if (
    found === undefined ||
    found[0] !== payloadAt - 1 ||
    found[1] !== payloadAt + 1
  )
    return giveUp();
  buffer.copyWithin(0, payloadAt, payloadAt + decoded);
  rab.resize(decoded);
  // Nothing was decoded before the key was found: `payloadAt` is then
  // also the text's offset in the file.
  return {
    rest,
    payload: Buffer.from(rab, 0, decoded),
    text: { offset: payloadAt, length: textLength },
  };
}

/**
 * Where the text of the first `"payload": "` in `b` starts (past its
 * opening quote), or where to look again once more bytes are read.
 */
function payloadTextStart(
  b: Buffer,
  from: number,
): number | { searchFrom: number } {
  for (
    let k = b.indexOf(PAYLOAD_KEY, from);
    k >= 0;
    k = b.indexOf(PAYLOAD_KEY, k + 1)
  ) {
    let i = skipSpace(b, k + PAYLOAD_KEY.length);
    // Cut off by the end of what was read: looked at again with more. A
    // longer gap of whitespace is not looked at again (each chunk would scan
    // it anew): the file is then read as it is, and parsed whole.
    if (i >= b.length) return { searchFrom: cutOff(k, i) };
    if (b[i] !== COLON) continue;
    i = skipSpace(b, i + 1);
    if (i >= b.length) return { searchFrom: cutOff(k, i) };
    if (b[i] === QUOTE) return i + 1;
  }
  // A key cut off at the end is found again from here.
  return { searchFrom: Math.max(from, b.length - PAYLOAD_KEY.length + 1) };
}

/** Whitespace after a payload key, at most, that is looked at again. */
const KEY_GAP = 4096;

/** Where to look again for the key at `k` cut off at `end`: nowhere (Infinity) past {@link KEY_GAP}. */
function cutOff(k: number, end: number): number {
  return end - k > KEY_GAP ? Infinity : k;
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
 * A view of a resizable buffer of ours (readWhole's), as the only thing
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
  const payload = locatePayload(bytes);
  if (payload === undefined) return undefined;
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

/**
 * Where the string value of `dsseEnvelope.payload` lies in a bundle's bytes
 * ([start, end), quotes included), or `undefined` when the layout is
 * unexpected (not objects, a key twice, the value not a string).
 */
function locatePayload(bytes: Uint8Array): [number, number] | undefined {
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
  return payload;
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

/**
 * {@link parseBundle}; `owned`: `source` is a buffer of ours, free to
 * overwrite. `payload`: taken out of `source` already (readStreamed), where
 * `source` has `"payload": ""`.
 */
function parseBundleSource(
  source: unknown,
  name: string,
  options: Partial<BundleLimits>,
  owned: boolean,
  payload?: Buffer,
): ParsedBundle {
  const limits = bundleLimits(options);
  let json: unknown = source;
  let lifted: Buffer | undefined = payload;
  if (source instanceof Uint8Array && lifted === undefined) {
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
  if (typeof source === 'string') return readBundlePath(source, limits);
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

/**
 * {@link readBundle} of a file. Exported for tests, which read in small
 * chunks (`chunk`) to put every boundary of the payload between two reads.
 */
export async function readBundlePath(
  file: string,
  limits: BundleLimits,
  chunk?: number,
): Promise<ParsedBundle> {
  const read = await readBundleFile(file, limits.maxBytes, chunk);
  if (read.payload !== undefined)
    payloadSources.set(read.payload, {
      file,
      ...read.text,
      payloadLength: read.payload.length,
    });
  return parseBundleSource(
    read.bytes ?? read.rest,
    file,
    limits,
    true,
    read.payload,
  );
}

/** True when the text or bytes hold nothing but JSON whitespace. */
function isBlank(source: string | Uint8Array): boolean {
  if (typeof source === 'string') return source.trim() === '';
  for (const c of source)
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return false;
  return true;
}
