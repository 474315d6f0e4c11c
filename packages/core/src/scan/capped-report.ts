// SPDX-License-Identifier: Apache-2.0
import type { FindingInput, ScanContext } from './types.js';

/** Findings of one rule listed per member before the rest are only counted. */
export const MAX_FINDINGS_PER_RULE = 100;

/**
 * A reporter that lists at most `max` findings per rule and counts the rest,
 * so that a header with millions of bad entries costs a counter, not millions
 * of findings. `flush()` reports one more finding per capped rule, with
 * the severity of the first one left out, saying how many were left out.
 */
export function cappedReporter(
  ctx: Pick<ScanContext, 'report'>,
  max: number = MAX_FINDINGS_PER_RULE,
): { report: (finding: FindingInput) => void; flush: () => void } {
  const counts = new Map<string, number>();
  const dropped = new Map<string, FindingInput>();
  return {
    report: (finding: FindingInput): void => {
      const n = (counts.get(finding.ruleId) ?? 0) + 1;
      counts.set(finding.ruleId, n);
      if (n <= max) ctx.report(finding);
      else if (!dropped.has(finding.ruleId))
        dropped.set(finding.ruleId, finding);
    },
    flush: (): void => {
      for (const [ruleId, first] of dropped) {
        const more = (counts.get(ruleId) ?? 0) - max;
        ctx.report({
          ruleId,
          severity: first.severity,
          message: `${more} more ${ruleId} findings not listed (first: ${first.message})`,
          evidence: { notListed: more },
        });
      }
      dropped.clear();
    },
  };
}
