// SPDX-License-Identifier: Apache-2.0
/**
 * Fail closed: whenever analysis of a stream, member or file stops before its
 * end (a limit, a deadline, an unsupported wrapper, a parser that gave up on
 * content a loader would execute), the scanner reports one `SCAN_INCOMPLETE`
 * finding at high severity naming the limit. A report with such a finding is
 * never "clean" (the default gate fails on high), and a scan attestation
 * records the scan as incomplete.
 */
import type { FindingInput, ScanContext, Severity } from './types.js';

/** Rule id of "not fully scanned". */
export const SCAN_INCOMPLETE = 'SCAN_INCOMPLETE';

/** Rule ids whose findings mean that some bytes were not analysed to their end. */
export const INCOMPLETE_RULE_IDS: ReadonlySet<string> = new Set([
  SCAN_INCOMPLETE,
  'SCAN_INTERNAL_ERROR',
  'COMPRESSION_UNSUPPORTED',
  // Retired ids (now reported as SCAN_INCOMPLETE); kept so that a finding
  // carrying one can never count as complete.
  'SCAN_LIMIT_EXCEEDED',
  'PICKLE_LIMIT_EXCEEDED',
  'COMPRESSION_ERROR',
]);

/** What stopped the analysis. */
export interface IncompleteInfo {
  /**
   * The limit that was hit, by its option name (`maxMemberBytes`,
   * `maxPickleOpcodes`, `maxFileMs`, ...) or a short reason
   * (`unsupported-compression`, `parse-error`, `aborted`).
   */
  limit: string;
  /** The limit's value, when it is a number. */
  value?: number;
  /** What was not scanned, lower case, no trailing period (e.g. `pickle stream after 1,000,000 opcodes`). */
  message: string;
  /** Sub-member below the context's member. */
  member?: string[];
  offset?: number;
  /** Extra evidence. */
  evidence?: Record<string, unknown>;
  /**
   * Severity; `high` unless the unread part provably cannot execute anything
   * (tensor data of a format without code), then `medium`.
   */
  severity?: Severity;
}

/** The finding for {@link IncompleteInfo}. */
export function incompleteFinding(info: IncompleteInfo): FindingInput {
  return {
    ruleId: SCAN_INCOMPLETE,
    severity: info.severity ?? 'high',
    message: `not fully scanned: ${info.message}`,
    ...(info.member !== undefined ? { member: info.member } : {}),
    ...(info.offset !== undefined ? { offset: info.offset } : {}),
    evidence: {
      limit: info.limit,
      ...(info.value !== undefined ? { value: info.value } : {}),
      ...info.evidence,
    },
  };
}

/** Reports that the current member was not fully scanned (see {@link IncompleteInfo}). */
export function reportIncomplete(
  ctx: Pick<ScanContext, 'report'>,
  info: IncompleteInfo,
): void {
  ctx.report(incompleteFinding(info));
}
