// SPDX-License-Identifier: Apache-2.0
import { expect } from 'vitest';
import type { Finding } from '../../src/scan/types.js';

/**
 * Asserts that `findings` hold the critical `os.system` of a pickle nested in
 * a `pickle.loads` argument, named as a member `pickle.loads@OFFSET`.
 */
export function expectNestedOsSystem(findings: readonly Finding[]): void {
  const nested = findings.find(
    (f) =>
      f.ruleId === 'PICKLE_DANGEROUS_GLOBAL' &&
      f.evidence?.['global'] === 'os.system',
  );
  expect(nested?.severity).toBe('critical');
  expect(nested?.member).toEqual([
    expect.stringMatching(/^pickle\.loads@\d+$/),
  ]);
}

/**
 * Asserts that a scan ended incomplete with exactly one high `SCAN_INCOMPLETE`,
 * for the pickle's retained-bytes budget.
 */
export function expectRetainedBytesIncomplete(result: {
  findings: readonly Finding[];
  complete?: boolean | undefined;
}): void {
  expect(
    result.findings
      .filter((f) => f.ruleId === 'SCAN_INCOMPLETE')
      .map((f) => [f.severity, f.evidence?.['limit']]),
  ).toEqual([['high', 'pickleRetainedBytes']]);
  expect(result.complete).toBe(false);
}
