// SPDX-License-Identifier: Apache-2.0
/**
 * Tolerant bundle reader (oms-format.md §2, §13.1 steps 1–2).
 */
import { open } from 'node:fs/promises';
import { Bundle } from '@sigstore/protobuf-specs';
import { MAX_BUNDLE_BYTES } from '../constants.js';
import { isModelSealError, ModelSealError } from '../errors.js';
import { decodeBase64Strict } from '../internal/base64.js';
import type {
  DecodedEnvelope,
  MaterialKind,
  ParsedBundle,
  PublicKeyMaterial,
  SigningMethod,
} from './types.js';
import { isObject } from '../internal/json.js';

/** Media types we accept: Sigstore bundle v0.1–v0.3 in both spellings. */
const MEDIA_TYPE =
  /^application\/vnd\.dev\.sigstore\.bundle(?:\.v0\.[123]\+json|\+json;version=0\.[123])$/;

/** Options of {@link readBundle}. */
export interface ReadBundleOptions {
  /** Largest bundle accepted, in bytes. Default {@link MAX_BUNDLE_BYTES} (64 MiB). */
  maxBytes?: number;
  /** Name used in error messages when `source` is bytes. Default `bundle`. */
  name?: string;
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
    const buffer = Buffer.alloc(Math.min(stat.size, maxBytes) + 1);
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
      throw malformed(file, `larger than ${maxBytes} bytes`);
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

function readEnvelope(
  name: string,
  json: Record<string, unknown>,
): DecodedEnvelope {
  const env = json['dsseEnvelope'];
  if (env === undefined || env === null)
    throw malformed(name, 'no dsseEnvelope');
  if (!isObject(env)) throw malformed(name, 'dsseEnvelope is not an object');
  const payloadType = env['payloadType'];
  if (typeof payloadType !== 'string')
    throw malformed(name, 'dsseEnvelope.payloadType is missing');
  const payload = decodeField(name, 'dsseEnvelope.payload', env['payload']);
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
 * Parse bundle JSON (text as a string or bytes, or an already parsed value)
 * without verifying anything. Same checks as {@link readBundle}.
 *
 * @throws ModelSealError `BUNDLE_MALFORMED`
 */
export function parseBundle(source: unknown, name = 'bundle'): ParsedBundle {
  let json: unknown = source;
  if (typeof source === 'string' || source instanceof Uint8Array) {
    const text =
      typeof source === 'string'
        ? source
        : Buffer.from(source).toString('utf8');
    if (text.trim() === '') throw malformed(name, 'the file is empty');
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw malformed(name, 'not valid JSON', error);
    }
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
  const envelope = readEnvelope(name, json);

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

  let typed: Bundle;
  try {
    typed = Bundle.fromJSON(json);
  } catch (error) {
    throw malformed(name, 'not a Sigstore bundle', error);
  }
  return {
    mediaType,
    json,
    typed,
    materialKind,
    method: methodOf(materialKind, tlogEntries),
    envelope,
    publicKey,
    certificates,
    tlogEntries,
    rfc3161TimestampCount: rfc3161Timestamps.length,
    rfc3161Timestamps,
  };
}

/**
 * Read and structurally check a bundle file (oms-format.md §2): size cap,
 * JSON, media type, envelope, first signature, verification material.
 * Nothing is verified. Unknown keys are ignored.
 *
 * @param source - a file path, or the bundle bytes
 * @throws ModelSealError `BUNDLE_MALFORMED` (empty, invalid or truncated JSON,
 *   missing envelope or material, empty signatures, wrong media type, too
 *   large); `IO_ERROR` when the file cannot be read
 */
export async function readBundle(
  source: string | Uint8Array,
  options: ReadBundleOptions = {},
): Promise<ParsedBundle> {
  const maxBytes = options.maxBytes ?? MAX_BUNDLE_BYTES;
  if (typeof source === 'string') {
    return parseBundle(await readCapped(source, maxBytes), source);
  }
  const name = options.name ?? 'bundle';
  if (source.length > maxBytes)
    throw malformed(name, `larger than ${maxBytes} bytes`);
  return parseBundle(source, name);
}
