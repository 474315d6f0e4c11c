#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * One benchmark measurement in its own process, so that its peak RSS is its own:
 * hashes a model with `hashModel` from packages/core/dist and prints one JSON
 * line on stdout.
 *
 *   node scripts/bench/run-hash.mjs MODEL --method files|shards --hash sha256|blake2b|blake3
 *        [--shard-size N] [--concurrency N] [--digests FILE]
 *
 * `--digests FILE` writes {name: hex digest} of every resource (used by
 * bench.mjs to check our digests against openssl's once).
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    method: { type: 'string', default: 'files' },
    hash: { type: 'string', default: 'sha256' },
    'shard-size': { type: 'string' },
    concurrency: { type: 'string' },
    digests: { type: 'string' },
  },
});
if (positionals.length !== 1) {
  process.stderr.write(
    'usage: run-hash.mjs MODEL [--method files|shards] [--hash sha256|blake2b|blake3]\n',
  );
  process.exit(2);
}

// The manifest entry point (`@modelseal/core/manifest`): what hashing needs, without sign/verify/scan.
const dist = new URL(
  '../../packages/core/dist/manifest/index.js',
  import.meta.url,
);
const tImport = process.hrtime.bigint();
const { hashModel } = await import(dist.href);
// What Node and the library cost before any hashing.
const importRssKiB = Math.round(process.memoryUsage().rss / 1024);
const options = { method: values.method, hashAlgorithm: values.hash };
if (values['shard-size'] !== undefined)
  options.shardSize = Number(values['shard-size']);
if (values.concurrency !== undefined)
  options.concurrency = Number(values.concurrency);

const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
const result = await hashModel(resolve(positionals[0]), options);
const t1 = process.hrtime.bigint();
// User + system time of every thread of the process (workers and I/O threads included) during hashModel().
const cpu = process.cpuUsage(cpu0);

if (values.digests !== undefined) {
  const digests = Object.fromEntries(
    result.manifest.resources.map((r) => [r.name, r.digest]),
  );
  writeFileSync(values.digests, JSON.stringify(digests));
}

process.stdout.write(
  JSON.stringify({
    // hashModel() alone: enumeration, worker start-up, hashing, ordering.
    hashMs: Number(t1 - t0) / 1e6,
    importMs: Number(t0 - tImport) / 1e6,
    hashCpuMs: (cpu.user + cpu.system) / 1e3,
    bytes: result.bytes,
    resources: result.manifest.resources.length,
    rootDigest: result.manifest.rootDigest,
    // kB (Linux ru_maxrss); bench.mjs prefers /usr/bin/time's figure when it has one.
    maxRssKiB: process.resourceUsage().maxRSS,
    importRssKiB,
  }) + '\n',
);
