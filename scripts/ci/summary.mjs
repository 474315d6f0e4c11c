// SPDX-License-Identifier: Apache-2.0
// Prints the plain closing line CI reads, `N passed, N failed`, from Vitest's JSON report,
// plus the checks .ci/run ran outside Vitest (`name=pass|fail` arguments after the file).
import { readFileSync } from 'node:fs';

const file = process.argv[2];
const checks = process.argv.slice(3).map((a) => a.split('='));
let report;
try {
  report = JSON.parse(readFileSync(file, 'utf8'));
} catch (error) {
  console.log(`test report ${file} could not be read: ${error.message}`);
  console.log('0 passed, 1 failed');
  process.exit(1);
}
const extraPassed = checks.filter(([, r]) => r === 'pass').length;
const extraFailed = checks.length - extraPassed;
for (const [name, r] of checks) console.log(`check ${name}: ${r}`);
const passed = (report.numPassedTests ?? 0) + extraPassed;
// Suites that failed to load count as failures: their tests never ran.
const failedSuites = (report.testResults ?? []).filter(
  (r) => r.status === 'failed' && (r.assertionResults ?? []).length === 0,
).length;
const failed = (report.numFailedTests ?? 0) + failedSuites + extraFailed;
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
console.log(
  skipped > 0
    ? `${passed} passed, ${failed} failed, ${skipped} skipped`
    : `${passed} passed, ${failed} failed`,
);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
