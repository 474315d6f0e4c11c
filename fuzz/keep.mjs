#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Keeps inputs of a campaign as regression fixtures in
// test-vectors/fuzz-regressions/<target>/:
//   node fuzz/keep.mjs <target> <file ...>      the given inputs (crashes, hangs)
//   node fuzz/keep.mjs <target> --slowest=N     the N inputs of fuzz/corpus/<target>/
//                                               that take longest to scan
// Each kept file is named by its content hash and listed with its origin in
// test-vectors/fuzz-regressions/README.md by hand. Uses packages/core/dist.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { lib } from './lib-dist.mjs';
import { TARGETS, runTarget, scannersFor } from './targets.mjs';

const ROOT = resolve(import.meta.dirname, '..');
const [target, ...rest] = process.argv.slice(2);
if (target === undefined || !(target in TARGETS)) {
  console.error(
    `usage: keep.mjs <${Object.keys(TARGETS).join('|')}> (<file ...> | --slowest=N)`,
  );
  process.exit(2);
}
const out = join(ROOT, 'test-vectors', 'fuzz-regressions', target);
mkdirSync(out, { recursive: true });

function keep(data, prefix) {
  const name = `${prefix}-${createHash('sha256').update(data).digest('hex').slice(0, 16)}`;
  writeFileSync(join(out, name), data);
  console.log(`kept ${target}/${name} (${data.length} bytes)`);
}

const slowest = /^--slowest=(\d+)$/.exec(rest[0] ?? '');
if (slowest === null) {
  for (const file of rest) keep(readFileSync(file), 'found');
} else {
  const dir = join(import.meta.dirname, 'corpus', target);
  const scanners = scannersFor(lib, target);
  const timed = [];
  const files = readdirSync(dir).sort();
  // The first inputs run once before timing starts, to warm the JIT.
  for (const f of files.slice(0, 50))
    await runTarget(lib, target, readFileSync(join(dir, f)), scanners).catch(
      () => undefined,
    );
  for (const f of files) {
    const data = readFileSync(join(dir, f));
    const t = process.hrtime.bigint();
    try {
      await runTarget(lib, target, data, scanners);
    } catch (e) {
      console.error(`${f}: ${e.message}`);
      keep(data, 'found');
      continue;
    }
    timed.push({ data, ns: process.hrtime.bigint() - t });
  }
  timed.sort((a, b) => (a.ns < b.ns ? 1 : a.ns > b.ns ? -1 : 0));
  for (const { data, ns } of timed.slice(0, Number(slowest[1]))) {
    keep(data, 'slow');
    console.log(`  ${Number(ns / 1000n) / 1000} ms`);
  }
}
