// SPDX-License-Identifier: Apache-2.0
import type { ScanContext } from '../types.js';
import type { ZipAnomaly } from './reader.js';

/** Reports zip anomalies on the context, below the right member. */
export function reportZipAnomalies(
  ctx: ScanContext,
  anomalies: readonly ZipAnomaly[],
): void {
  for (const a of anomalies) {
    const f = {
      ruleId: a.ruleId,
      severity: a.severity,
      message: a.message,
      evidence: { ...a.evidence },
    };
    ctx.report({
      ...f,
      ...(a.offset !== undefined ? { offset: a.offset } : {}),
      ...(a.entry !== undefined ? { member: [a.entry] } : {}),
    });
  }
}
