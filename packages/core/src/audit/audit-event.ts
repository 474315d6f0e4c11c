// SPDX-License-Identifier: Apache-2.0
/**
 * Audit events for security operations: one JSON object per sign, verify,
 * scan or digest, in the Elastic Common Schema (ECS 8.11) so that SIEMs ingest
 * them without custom parsing. Standard ECS fields carry what ECS defines
 * (`file.path` absolute, `file.code_signature.*`, `file.x509.*`); what ECS has
 * no field for (a model's root digest, finding counts) lives under
 * `modelseal.*`. A test checks every field outside `modelseal.*` against the
 * ECS field definitions (`@elastic/ecs`). See docs/audit.md.
 */
import { appendFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { basename, resolve } from 'node:path';
import { modelSealError } from '../errors.js';
import { safeJSONStringify } from '../internal/safe-text.js';
import type { Manifest } from '../manifest/types.js';

/** The schema the events follow. */
export const AUDIT_SCHEMA: { readonly name: string; readonly version: string } =
  Object.freeze({
    name: 'Elastic Common Schema',
    version: '8.11.0',
  });

/** What happened, as the caller knows it. */
export interface AuditInput {
  action: 'sign' | 'verify' | 'scan' | 'digest' | 'diff' | 'inspect';
  outcome: 'success' | 'failure';
  start: Date;
  end: Date;
  /** The version of the tool that acted. */
  toolVersion: string;
  /** The model (file or directory); written absolute (resolved against the current directory). */
  modelPath?: string;
  /** Several paths acted on at once (scan): written absolute in `modelseal.model.paths`, no `file.path`. */
  modelPaths?: readonly string[];
  modelName?: string;
  /** Hex root digest of the model (OMS manifest): `modelseal.model.root_digest`. */
  rootDigest?: string;
  /**
   * Hex SHA-256 of the model file's own bytes, only when the model is one
   * file: `file.hash.sha256`. A directory's root digest is not a file hash
   * and never goes there.
   */
  fileSha256?: string;
  resources?: number;
  bytes?: number;
  method?: string;
  /** The signer: verified (verify) or intended (sign). */
  signer?: Record<string, unknown>;
  signaturePath?: string;
  /** One line: why it failed (or what was tolerated). */
  reason?: string;
  errorCode?: string;
  /** Finding counts by severity (scan). */
  findings?: Record<string, number>;
}

/** An ECS document. */
export type AuditEvent = Record<string, unknown>;

const CATEGORY: Record<AuditInput['action'], { type: string[] }> = {
  sign: { type: ['creation'] },
  verify: { type: ['info'] },
  scan: { type: ['info'] },
  digest: { type: ['info'] },
  diff: { type: ['info'] },
  inspect: { type: ['info'] },
};

/** Verification failures that say the signature exists but does not hold. */
const SIGNATURE_FAILURES: ReadonlySet<string> = new Set([
  'SIGNATURE_INVALID',
  'STATEMENT_INVALID',
  'MANIFEST_MISMATCH',
  'METHOD_MISMATCH',
  'KEY_MISMATCH',
  'CERTIFICATE_INVALID',
  'IDENTITY_MISMATCH',
  'TLOG_INVALID',
]);

/** Of those, the ones where the signer is not trusted (the bytes may be fine). */
const TRUST_FAILURES: ReadonlySet<string> = new Set([
  'KEY_MISMATCH',
  'CERTIFICATE_INVALID',
  'IDENTITY_MISMATCH',
  'TLOG_INVALID',
]);

function localUser(): Record<string, string> | undefined {
  try {
    const u = userInfo();
    return { name: u.username, id: String(u.uid) };
  } catch {
    // No passwd entry (some containers): the event still records the host and process.
    return undefined;
  }
}

const DN_KEYS: Readonly<Record<string, string>> = {
  CN: 'common_name',
  C: 'country',
  L: 'locality',
  O: 'organization',
  OU: 'organizational_unit',
  ST: 'state_or_province',
};

/**
 * ECS `x509.subject` / `x509.issuer` from a distinguished name as modelseal
 * writes it (`C=US, O=Acme, CN=release`): the DN itself and each known
 * attribute as an array (ECS normalises these fields to arrays).
 */
export function ecsDistinguishedName(dn: string): Record<string, unknown> {
  const out: Record<string, unknown> = { distinguished_name: dn };
  for (const part of dn.split(/, (?=[A-Za-z][A-Za-z0-9.]*=)/)) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const field = DN_KEYS[part.slice(0, eq).toUpperCase()];
    if (field === undefined) continue;
    const values = (out[field] as string[] | undefined) ?? [];
    values.push(part.slice(eq + 1));
    out[field] = values;
  }
  return out;
}

/** `x509.public_key_*` from a modelseal key type (`ecdsa-p384`, `rsa-3072`, `ed25519`). */
function publicKeyFields(keyType: unknown): Record<string, unknown> {
  if (typeof keyType !== 'string') return {};
  const ec = /^ecdsa-p(\d+)$/.exec(keyType);
  if (ec)
    return {
      public_key_algorithm: 'ECDSA',
      public_key_curve: `nistp${ec[1]}`,
      public_key_size: Number(ec[1]),
    };
  const rsa = /^rsa(?:-pss)?-(\d+)$/.exec(keyType);
  if (rsa)
    return { public_key_algorithm: 'RSA', public_key_size: Number(rsa[1]) };
  if (keyType === 'ed25519')
    return { public_key_algorithm: 'Ed25519', public_key_size: 256 };
  return { public_key_algorithm: keyType };
}

function isoDate(value: unknown): string | undefined {
  if (value instanceof Date)
    return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  if (typeof value === 'string' && !Number.isNaN(Date.parse(value)))
    return new Date(value).toISOString();
  return undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** ECS `file.x509` of a certificate signer's leaf. */
function x509Fields(
  certificate: Record<string, unknown>,
  keyType: unknown,
): Record<string, unknown> {
  const x509: Record<string, unknown> = {};
  const subject = str(certificate['subject']);
  if (subject !== undefined) x509.subject = ecsDistinguishedName(subject);
  const issuer = str(certificate['issuer']);
  if (issuer !== undefined) x509.issuer = ecsDistinguishedName(issuer);
  const serial = str(certificate['serialNumber']);
  // ECS writes serial numbers as upper-case hex.
  if (serial !== undefined) x509.serial_number = serial.toUpperCase();
  const notBefore = isoDate(certificate['notBefore']);
  if (notBefore !== undefined) x509.not_before = notBefore;
  const notAfter = isoDate(certificate['notAfter']);
  if (notAfter !== undefined) x509.not_after = notAfter;
  Object.assign(x509, publicKeyFields(keyType));
  return x509;
}

/**
 * `file.code_signature` and `file.x509` of what happened to the signature.
 * `subject_name` is who signed (certificate subject common name, Sigstore
 * identity); `signing_id` is what a policy pins (key fingerprint, certificate
 * SHA-256 fingerprint, Sigstore identity). `valid` and `trusted` are set only
 * when verification checked them; `status` carries the failure code.
 */
function signatureFields(input: AuditInput): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const signer = input.signer;
  const failedCheck =
    input.action === 'verify' &&
    input.outcome === 'failure' &&
    input.errorCode !== undefined &&
    SIGNATURE_FAILURES.has(input.errorCode);
  if (signer === undefined && !failedCheck) return out;
  const code: Record<string, unknown> = { exists: true };
  if (signer !== undefined) {
    const method = signer['method'];
    if (method === 'key') {
      const fingerprint = str(signer['fingerprint']);
      if (fingerprint !== undefined) code.signing_id = fingerprint;
      // A bare key has no certificate: no file.x509 (its type is in modelseal.signer.keyType).
    } else if (method === 'certificate') {
      const cert = signer['certificate'] as Record<string, unknown> | undefined;
      if (cert !== undefined && typeof cert === 'object') {
        const x509 = x509Fields(cert, signer['keyType']);
        const cn = (x509.subject as { common_name?: string[] } | undefined)
          ?.common_name?.[0];
        const name = cn ?? str(cert['subject']);
        if (name !== undefined) code.subject_name = name;
        const fingerprint = str(cert['fingerprint']);
        if (fingerprint !== undefined) code.signing_id = fingerprint;
        out.x509 = x509;
      }
    } else if (method === 'sigstore') {
      const identity = str(signer['identity']);
      if (identity !== undefined) {
        code.subject_name = identity;
        code.signing_id = identity;
        // Fulcio puts the identity in the certificate's subject alternative name.
        out.x509 = { alternative_names: [identity] };
      }
    }
  }
  if (input.action === 'verify') {
    if (input.outcome === 'success') {
      code.valid = true;
      code.trusted = true;
    } else if (failedCheck) {
      code.status = input.errorCode;
      code.valid = false;
      if (TRUST_FAILURES.has(input.errorCode!)) code.trusted = false;
    }
  }
  out.code_signature = code;
  return out;
}

/**
 * The SHA-256 of a single-file model's own bytes, read from its manifest, for
 * {@link AuditInput.fileSha256} (`file.hash.sha256`): the one resource `.`
 * hashed with `sha256`. Undefined for a directory, shards or another hash.
 */
export function singleFileSha256(
  manifest: Pick<Manifest, 'resources'>,
): string | undefined {
  const [only, ...rest] = manifest.resources;
  return only !== undefined &&
    rest.length === 0 &&
    only.name === '.' &&
    only.algorithm === 'sha256'
    ? only.digest
    : undefined;
}

/** Builds an ECS event from what happened. */
export function createAuditEvent(input: AuditInput): AuditEvent {
  const event: Record<string, unknown> = {
    kind: 'event',
    category: ['file'],
    type: CATEGORY[input.action].type,
    action: `model-${input.action}`,
    outcome: input.outcome,
    start: input.start.toISOString(),
    end: input.end.toISOString(),
    duration:
      Math.max(0, input.end.getTime() - input.start.getTime()) * 1_000_000,
  };
  if (input.reason !== undefined) event.reason = input.reason;
  if (input.errorCode !== undefined) event.code = input.errorCode;
  const doc: AuditEvent = {
    '@timestamp': input.end.toISOString(),
    ecs: { version: AUDIT_SCHEMA.version },
    event,
    host: { hostname: hostname() },
    process: { pid: process.pid },
  };
  const user = localUser();
  if (user) doc.user = user;
  const file: Record<string, unknown> = {};
  if (input.modelPath !== undefined && input.modelPaths === undefined) {
    const path = resolve(input.modelPath);
    file.path = path;
    file.name = basename(path);
  }
  if (input.fileSha256 !== undefined) file.hash = { sha256: input.fileSha256 };
  Object.assign(file, signatureFields(input));
  if (Object.keys(file).length > 0) doc.file = file;
  const modelseal: Record<string, unknown> = { version: input.toolVersion };
  const model: Record<string, unknown> = {};
  if (input.modelName !== undefined) model.name = input.modelName;
  if (input.rootDigest !== undefined) model.root_digest = input.rootDigest;
  if (input.modelPaths !== undefined)
    model.paths = input.modelPaths.map((p) => resolve(p));
  if (input.resources !== undefined) model.resources = input.resources;
  if (input.bytes !== undefined) model.bytes = input.bytes;
  if (Object.keys(model).length > 0) modelseal.model = model;
  if (input.method !== undefined) modelseal.method = input.method;
  if (input.signer !== undefined) modelseal.signer = input.signer;
  if (input.signaturePath !== undefined)
    modelseal.signature_path = resolve(input.signaturePath);
  if (input.findings !== undefined) modelseal.findings = input.findings;
  doc.modelseal = modelseal;
  return doc;
}

/**
 * Appends one event as one JSON line. A single `O_APPEND` write per line, so
 * concurrent writers never interleave inside a line.
 *
 * @throws IO_ERROR when the file cannot be written
 */
export async function appendAuditEvent(
  file: string,
  event: AuditEvent,
): Promise<void> {
  try {
    // Exact values; no raw bidi, C1 or line-separator code point in the line.
    await appendFile(file, `${safeJSONStringify(event)}\n`, { mode: 0o600 });
  } catch (cause) {
    throw modelSealError('IO_ERROR', `${file}: cannot append the audit event`, {
      cause,
      details: { path: file },
    });
  }
}
