// SPDX-License-Identifier: Apache-2.0
/**
 * Audit events for security operations: one JSON object per sign, verify,
 * scan or digest, in the Elastic Common Schema (ECS 8.11) so that SIEMs ingest
 * them without mapping. modelseal-specific fields live under `modelseal.*`.
 * See docs/audit.md.
 */
import { appendFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { modelSealError } from '../errors.js';
import { safeJSONStringify } from '../internal/safe-text.js';

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
  modelPath?: string;
  modelName?: string;
  /** Hex SHA-256 root digest of the model. */
  rootDigest?: string;
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

function localUser(): Record<string, string> | undefined {
  try {
    const u = userInfo();
    return { name: u.username, id: String(u.uid) };
  } catch {
    // No passwd entry (some containers): the event still records the host and process.
    return undefined;
  }
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
  if (input.modelPath !== undefined) {
    const file: Record<string, unknown> = { path: input.modelPath };
    if (input.rootDigest !== undefined)
      file.hash = { sha256: input.rootDigest };
    doc.file = file;
  }
  const modelseal: Record<string, unknown> = { version: input.toolVersion };
  const model: Record<string, unknown> = {};
  if (input.modelName !== undefined) model.name = input.modelName;
  if (input.rootDigest !== undefined) model.root_digest = input.rootDigest;
  if (input.resources !== undefined) model.resources = input.resources;
  if (input.bytes !== undefined) model.bytes = input.bytes;
  if (Object.keys(model).length > 0) modelseal.model = model;
  if (input.method !== undefined) modelseal.method = input.method;
  if (input.signer !== undefined) modelseal.signer = input.signer;
  if (input.signaturePath !== undefined)
    modelseal.signature_path = input.signaturePath;
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
