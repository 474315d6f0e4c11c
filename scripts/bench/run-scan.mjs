#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// One scan in its own process, for `pnpm bench`: scans FILE with the built
// library and prints one JSON line (time, findings, peak RSS, bytes read).
//
//   node scripts/bench/run-scan.mjs FILE
import { resolve } from 'node:path';

const file = resolve(process.argv[2] ?? '');
const { scanPaths } = await import(
  new URL('../../packages/core/dist/index.js', import.meta.url).href
);
const before = process.resourceUsage();
const t0 = process.hrtime.bigint();
const report = await scanPaths([file]);
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const after = process.resourceUsage();
console.log(
  JSON.stringify({
    scanMs: ms,
    formats: report.files.flatMap((f) => f.formats),
    findings: report.summary.findings,
    highest: report.summary.highest,
    errors: report.summary.errors,
    // Bytes the kernel read for us (fsRead counts 512-byte blocks; 0 when the file is cached).
    fsReadBlocks: after.fsRead - before.fsRead,
    maxRssKiB: after.maxRSS,
  }),
);
