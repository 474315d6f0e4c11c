#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * "Verify once, start fast" (issue 13 item 4): the time a restarting service
 * spends verifying a multi-GB model, as a whole `modelseal verify` process,
 * without and with `--verify-cache`. Makes a model of written (not sparse)
 * data in a temporary folder, signs it with a fresh key, fills the cache
 * once, then alternates the two verifications and prints medians and the
 * ratio. Everything it wrote is deleted at the end. Needs `pnpm build` first.
 *
 *   node scripts/bench/verify-cache.mjs [--gib 3] [--files 4] [--runs 5] [--json FILE]
 *
 * The model's files stay in the page cache between runs (the machine must
 * have the RAM): the run without the cache is then as fast as hashing can
 * be, so the ratio is the smallest a real restart would see (a cold page
 * cache only slows the run without the cache).
 */
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
const BIN = join(REPO, 'packages/cli/bin/modelseal.js');
const VERIFY = join(REPO, 'packages/core/dist/verify/index.js');

const { values } = parseArgs({
  options: {
    gib: { type: 'string', default: '3' },
    files: { type: 'string', default: '4' },
    runs: { type: 'string', default: '5' },
    json: { type: 'string' },
  },
});
const GIB = Number(values.gib);
const FILES = Number(values.files);
const RUNS = Number(values.runs);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function run(args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CI: '1', NO_COLOR: '1' },
  });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0)
    throw new Error(
      `modelseal ${args.join(' ')} exited ${r.status}: ${r.stderr}`,
    );
  return { ms, stdout: r.stdout };
}

const work = mkdtempSync(join(tmpdir(), 'modelseal-bench-vcache-'));
try {
  const model = join(work, 'model');
  const bytes = Math.round(GIB * 1024 ** 3);
  const per = Math.floor(bytes / FILES);
  const block = randomBytes(16 * 1024 * 1024);
  process.stderr.write(
    `writing ${FILES} x ${(per / 1024 ** 2).toFixed(0)} MiB...\n`,
  );
  const { mkdirSync } = await import('node:fs');
  mkdirSync(model);
  for (let f = 0; f < FILES; f++) {
    const fd = openSync(
      join(
        model,
        `model-${String(f + 1).padStart(5, '0')}-of-${FILES}.safetensors`,
      ),
      'w',
    );
    let left = per;
    let n = 0;
    while (left > 0) {
      // Every block differs (a counter in front): real bytes on disk, nothing sparse.
      block.writeUInt32LE(n++, 0);
      block.writeUInt32LE(f, 4);
      const len = Math.min(left, block.length);
      writeSync(fd, block, 0, len);
      left -= len;
    }
    closeSync(fd);
  }
  writeFileSync(join(model, 'config.json'), '{"model_type":"bench"}\n');
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
  });
  const key = join(work, 'key.pem');
  const pub = join(work, 'pub.pem');
  writeFileSync(key, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(pub, publicKey.export({ type: 'spki', format: 'pem' }));
  const sig = join(work, 'model.sig');
  const signed = run([
    'sign',
    'key',
    model,
    '--private-key',
    key,
    '--signature',
    sig,
    '--progress',
    'none',
  ]);
  process.stderr.write(`signed in ${signed.ms.toFixed(0)} ms\n`);
  // Files changed within the last 2 s are not cached (racy window): let it pass.
  await new Promise((r) => setTimeout(r, 2200));

  const cacheDir = join(work, 'cache');
  mkdirSync(cacheDir, { mode: 0o700 });
  const cache = join(cacheDir, 'verify.json');
  const verify = (...extra) =>
    run([
      'verify',
      'key',
      model,
      '--public-key',
      pub,
      '--signature',
      sig,
      '--progress',
      'none',
      ...extra,
    ]);
  const fill = verify('--verify-cache', cache);
  if (
    !/verify cache: 0 of 5 files/.test(fill.stdout) ||
    !/5 recorded/.test(fill.stdout)
  )
    throw new Error(`cache not filled: ${fill.stdout}`);
  const plain = [];
  const cached = [];
  for (let i = 0; i < RUNS; i++) {
    plain.push(verify().ms);
    const c = verify('--verify-cache', cache);
    if (!/verify cache: 5 of 5 files/.test(c.stdout))
      throw new Error(`cache missed: ${c.stdout}`);
    cached.push(c.ms);
  }
  // The same in one process (the library call a service makes), without start-up.
  const { verifyModelSignature } = await import(VERIFY);
  const lib = async (extra) => {
    const t0 = process.hrtime.bigint();
    await verifyModelSignature({
      method: 'key',
      modelPath: model,
      bundlePath: sig,
      publicKey: pub,
      ...extra,
    });
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const libPlain = [];
  const libCached = [];
  for (let i = 0; i < RUNS; i++) {
    libPlain.push(await lib({}));
    libCached.push(await lib({ verifyCache: cache }));
  }
  const result = {
    modelBytes: per * FILES + 23,
    files: FILES + 1,
    runs: RUNS,
    firstVerifyFillingCacheMs: Math.round(fill.ms),
    withoutCacheMs: Math.round(median(plain)),
    withCacheMs: Math.round(median(cached)),
    ratio: Number((median(plain) / median(cached)).toFixed(1)),
    libraryWithoutCacheMs: Math.round(median(libPlain)),
    libraryWithCacheMs: Number(median(libCached).toFixed(1)),
    libraryRatio: Math.round(median(libPlain) / median(libCached)),
    withoutCacheAllMs: plain.map(Math.round),
    withCacheAllMs: cached.map(Math.round),
  };
  console.log(
    `model: ${(result.modelBytes / 1024 ** 3).toFixed(2)} GiB in ${result.files} files; whole \`modelseal verify key\` processes, medians of ${RUNS}, page cache warm`,
  );
  console.log(
    `first verify (filling the cache): ${result.firstVerifyFillingCacheMs} ms`,
  );
  console.log(`restart without cache: ${result.withoutCacheMs} ms`);
  console.log(`restart with cache:    ${result.withCacheMs} ms`);
  console.log(`ratio: ${result.ratio}x`);
  console.log(
    `library call in a running process: ${result.libraryWithoutCacheMs} ms without, ${result.libraryWithCacheMs} ms with the cache (${result.libraryRatio}x)`,
  );
  if (values.json) writeFileSync(values.json, JSON.stringify(result, null, 2));
} finally {
  rmSync(work, { recursive: true, force: true });
}
