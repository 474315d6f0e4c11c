// SPDX-License-Identifier: Apache-2.0
// The scan gate's refusal as text (sign only: it loads the scan report module).
import { findingUri, type Finding } from '@modelseal/core/scan/report';
import { safeText } from '@modelseal/core/output';

/** Lines listing the findings that made `sign` refuse (UNSAFE_CONTENT), and the files not fully scanned. */
export function describeBlocking(
  details: Record<string, unknown> | undefined,
): string[] {
  if (details === undefined) return [];
  const lines: string[] = [];
  const findings = Array.isArray(details.findings)
    ? (details.findings as Finding[])
    : [];
  for (const f of findings) {
    if (typeof f.file !== 'string' || !Array.isArray(f.member)) continue;
    lines.push(
      `  ${safeText(String(f.severity).toUpperCase().padEnd(9))} ${safeText(findingUri(f))}  ${safeText(f.ruleId)}  ${safeText(f.message)}`,
    );
  }
  const incomplete = Array.isArray(details.incompleteFiles)
    ? (details.incompleteFiles as unknown[])
    : [];
  for (const file of incomplete)
    lines.push(`  not fully scanned: ${safeText(String(file))}`);
  return lines;
}
