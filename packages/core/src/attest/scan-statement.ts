// SPDX-License-Identifier: Apache-2.0
/**
 * The scan attestation: a second in-toto statement, signed like the model's,
 * whose subject is the model's root digest and whose predicate records what
 * the scanner found, its version and its policy. A consumer can then require
 * "signed and scanned clean" at verify time.
 */
import { createHash } from 'node:crypto';
import { IN_TOTO_STATEMENT_TYPE } from '../constants.js';
import { modelSealError } from '../errors.js';
import type { ScanPolicy } from '../scan/policy.js';
import type { ScanReport } from '../scan/engine.js';
import { SEVERITIES, severityAtLeast, type Severity } from '../scan/types.js';
import { isObject } from '../internal/json.js';

/** Predicate type of modelseal scan attestations. */
export const SCAN_PREDICATE_TYPE = 'https://modelseal.dev/scan/v1';

/** Most findings copied into an attestation (the counts are always complete). */
export const MAX_ATTESTED_FINDINGS = 1000;

/** Most names of files not fully scanned copied into an attestation (the count is always complete). */
export const MAX_ATTESTED_INCOMPLETE_FILES = 1000;

/** The predicate of a scan attestation. */
export interface ScanPredicate {
  scanner: { name: 'modelseal'; version: string };
  policy: { failOn: Severity; sha256: string };
  result: {
    /** `clean`: nothing reached `failOn`, every file was read and every file was scanned to its end. */
    verdict: 'clean' | 'findings';
    highest: Severity | null;
    counts: Record<Severity, number>;
    files: number;
    unreadable: number;
    /**
     * True when every file was analysed to its end: no limit, deadline,
     * unreadable wrapper or I/O error stopped the scan of any of them.
     * Always written; absent only in attestations written before this field
     * existed, which a consumer treats as incomplete (fail closed).
     */
    complete?: boolean;
    /** Files not analysed to their end (a file that could not be read counts). Always written, like `complete`. */
    incomplete?: number;
    /** Those files, as in the report (capped at {@link MAX_ATTESTED_INCOMPLETE_FILES}). Always written, like `complete`. */
    incompleteFiles?: string[];
  };
  /** Findings of low severity and above (capped at {@link MAX_ATTESTED_FINDINGS}). */
  findings: {
    ruleId: string;
    severity: Severity;
    file: string;
    member: string[];
    message: string;
  }[];
  /** Present when the model was signed despite findings, with the reason given. */
  override?: { reason: string };
  scannedAt: string;
}

/** A decoded scan attestation statement. */
export interface ScanStatement {
  modelName: string;
  rootDigest: string;
  predicate: ScanPredicate;
}

/** Input of {@link encodeScanStatement}. */
export interface ScanStatementInput {
  modelName: string;
  rootDigest: string;
  report: ScanReport;
  failOn: Severity;
  policy?: ScanPolicy;
  toolVersion: string;
  override?: { reason: string };
  scannedAt?: Date;
}

/** Files of a report that were not analysed to their end. */
export function incompleteFiles(report: ScanReport): string[] {
  return report.files.filter((f) => f.complete !== true).map((f) => f.file);
}

/**
 * The verdict of a report against a threshold: `clean` only when no finding
 * reaches `failOn`, every file could be read, and every file was scanned to
 * its end. A scan that a limit stopped is never clean, whatever the severity
 * of its `SCAN_INCOMPLETE` finding and whatever the threshold.
 */
export function scanVerdict(
  report: ScanReport,
  failOn: Severity,
): 'clean' | 'findings' {
  const highest = report.summary.highest;
  const reaches = highest !== null && severityAtLeast(highest, failOn);
  const incomplete =
    report.summary.incomplete > 0 || incompleteFiles(report).length > 0;
  return reaches || report.summary.errors > 0 || incomplete
    ? 'findings'
    : 'clean';
}

function policyDigest(policy: ScanPolicy | undefined): string {
  return createHash('sha256')
    .update(JSON.stringify(policy ?? {}))
    .digest('hex');
}

/** Encodes a scan attestation statement (deterministic for the same input). */
export function encodeScanStatement(input: ScanStatementInput): Buffer {
  const findings = input.report.files
    .flatMap((f) => f.findings)
    .filter((f) => severityAtLeast(f.severity, 'low'))
    .slice(0, MAX_ATTESTED_FINDINGS)
    .map((f) => ({
      ruleId: f.ruleId,
      severity: f.severity,
      file: f.file,
      member: f.member,
      message: f.message,
    }));
  const notComplete = incompleteFiles(input.report);
  const incomplete = Math.max(
    input.report.summary.incomplete,
    notComplete.length,
  );
  const predicate: ScanPredicate = {
    scanner: { name: 'modelseal', version: input.toolVersion },
    policy: { failOn: input.failOn, sha256: policyDigest(input.policy) },
    result: {
      verdict: scanVerdict(input.report, input.failOn),
      highest: input.report.summary.highest,
      counts: input.report.summary.bySeverity,
      files: input.report.summary.files,
      unreadable: input.report.summary.errors,
      complete: incomplete === 0,
      incomplete,
      incompleteFiles: notComplete.slice(0, MAX_ATTESTED_INCOMPLETE_FILES),
    },
    findings,
    scannedAt: (input.scannedAt ?? new Date()).toISOString(),
  };
  if (input.override !== undefined) predicate.override = input.override;
  const statement = {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: [{ name: input.modelName, digest: { sha256: input.rootDigest } }],
    predicateType: SCAN_PREDICATE_TYPE,
    predicate,
  };
  return Buffer.from(JSON.stringify(statement, null, 2), 'utf8');
}

function invalid(message: string): never {
  throw modelSealError('STATEMENT_INVALID', `scan attestation: ${message}`);
}

/**
 * Decodes and checks a scan attestation payload.
 *
 * @throws STATEMENT_INVALID when it is not a modelseal scan statement
 */
export function decodeScanStatement(payload: Uint8Array): ScanStatement {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    invalid('payload is not JSON');
  }
  if (!isObject(value) || value._type !== IN_TOTO_STATEMENT_TYPE)
    invalid('not an in-toto statement');
  if (value.predicateType !== SCAN_PREDICATE_TYPE)
    invalid(
      `predicate type ${JSON.stringify(value.predicateType)} is not ${SCAN_PREDICATE_TYPE}`,
    );
  if (!Array.isArray(value.subject) || value.subject.length !== 1)
    invalid('must have exactly one subject');
  const subject: unknown = value.subject[0];
  if (
    !isObject(subject) ||
    !isObject(subject.digest) ||
    typeof subject.digest.sha256 !== 'string' ||
    !/^[0-9a-f]{64}$/.test(subject.digest.sha256)
  ) {
    invalid('subject has no sha256 digest');
  }
  const p = value.predicate;
  if (
    !isObject(p) ||
    !isObject(p.result) ||
    !isObject(p.policy) ||
    !isObject(p.scanner)
  )
    invalid('predicate is incomplete');
  const verdict = p.result.verdict;
  if (verdict !== 'clean' && verdict !== 'findings')
    invalid(`unknown verdict ${JSON.stringify(verdict)}`);
  const failOn = p.policy.failOn;
  if (
    typeof failOn !== 'string' ||
    !(SEVERITIES as readonly string[]).includes(failOn)
  )
    invalid('policy.failOn is not a severity');
  // Completeness is optional when decoding (older attestations lack it; the
  // gate refuses them), but when present it must be well formed.
  const r = p.result;
  if (r.complete !== undefined && typeof r.complete !== 'boolean')
    invalid('result.complete is not a boolean');
  if (
    r.incomplete !== undefined &&
    (typeof r.incomplete !== 'number' ||
      !Number.isSafeInteger(r.incomplete) ||
      r.incomplete < 0)
  )
    invalid('result.incomplete is not a count');
  if (
    r.incompleteFiles !== undefined &&
    (!Array.isArray(r.incompleteFiles) ||
      !r.incompleteFiles.every((f) => typeof f === 'string'))
  )
    invalid('result.incompleteFiles is not a list of file names');
  return {
    modelName: typeof subject.name === 'string' ? subject.name : '',
    rootDigest: subject.digest.sha256,
    predicate: p as unknown as ScanPredicate,
  };
}
