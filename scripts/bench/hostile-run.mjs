#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// One scan of one hostile file in its own process, for the hostile-input
// benchmark (scripts/bench/hostile.mjs): scans FILE with the built library and
// prints one JSON line (verdict, time, CPU, peak RSS of this process).
//
//   node scripts/bench/hostile-run.mjs FILE
import { dirname, resolve } from 'node:path';

const file = resolve(process.argv[2] ?? '');
const { scanPaths } = await import(
  new URL('../../packages/core/dist/index.js', import.meta.url).href
);
const t0 = process.hrtime.bigint();
const report = await scanPaths([file], { root: dirname(file) });
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const usage = process.resourceUsage();
const findings = report.files.flatMap((f) => f.findings);
const top = findings.filter(
  (f) => f.severity === 'critical' || f.severity === 'high',
);
console.log(
  JSON.stringify({
    scanMs: ms,
    highest: report.summary.highest ?? 'none',
    complete: report.files.every((f) => f.complete !== false),
    formats: report.files.flatMap((f) => f.formats),
    rules: [...new Set(top.map((f) => `${f.ruleId}:${f.severity}`))],
    limits: [
      ...new Set(
        findings
          .filter((f) => f.ruleId === 'SCAN_INCOMPLETE')
          .map((f) => String(f.evidence?.limit)),
      ),
    ],
    maxRssKiB: usage.maxRSS,
    cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
  }),
);
