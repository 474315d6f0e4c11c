// SPDX-License-Identifier: Apache-2.0
// Compares DIR-oracle.json (which files ran their payload under the real
// loader) with `modelseal scan DIR --format json`: a file that ran its payload
// and has no finding at high or above is a fail-open, printed as MISS.
// usage: node compare.mjs DIR [CLI]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const dir = process.argv[2];
const cli =
  process.argv[3] ??
  fileURLToPath(
    new URL('../../packages/cli/bin/modelseal.js', import.meta.url),
  );
const oracle = JSON.parse(readFileSync(`${dir}-oracle.json`, 'utf8'));
let out;
try {
  out = execFileSync(
    process.execPath,
    [cli, 'scan', dir, '--format', 'json', '--concurrency', '2'],
    { maxBuffer: 1 << 30 },
  ).toString();
} catch (error) {
  // Exit 1: findings at the gate; the report is on stdout all the same.
  out = error.stdout.toString();
}
const report = JSON.parse(out);
const byFile = new Map(report.files.map((f) => [f.file, f]));
let misses = 0;
let ran = 0;
for (const [name, executed] of Object.entries(oracle)) {
  if (!executed) continue;
  ran++;
  const findings = byFile.get(name)?.findings;
  const high = findings?.some(
    (x) => x.severity === 'critical' || x.severity === 'high',
  );
  if (!high) {
    misses++;
    const seen = findings?.map((x) => [x.ruleId, x.severity]) ?? 'no entry';
    console.log('MISS', name, JSON.stringify(seen));
  }
}
console.log(`${ran} executed, ${misses} not flagged high`);
