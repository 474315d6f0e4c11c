// SPDX-License-Identifier: Apache-2.0
import {
  severityAtLeast,
  type FileScanResult,
  type Severity,
} from '../../../src/scan/types.js';

/** The rule ids of the findings at `min` or above (default high). */
export function ruleIds(r: FileScanResult, min: Severity = 'high'): string[] {
  return r.findings
    .filter((f) => severityAtLeast(f.severity, min))
    .map((f) => f.ruleId);
}

/** The rule ids of the findings at high or above. */
export const highs = (r: FileScanResult): string[] => ruleIds(r);
