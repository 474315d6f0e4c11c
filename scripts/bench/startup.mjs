#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * Start-up cost as users pay it: whole CLI processes against `node -e 0` in the
 * same run (alternating, medians), and the import cost of every library
 * subpath (modules loaded and milliseconds). Needs `pnpm build` first.
 *
 *   node scripts/bench/startup.mjs [--runs 15] [--import-runs 5] [--json FILE]
 *   pnpm bench --startup
 *
 * `pnpm bench` (whole.mjs) runs this too and prints its tables. "over node -e 0"
 * is paired: each round's time minus `node -e 0`'s in the same round, median
 * over rounds; CPU (user + sys, from /usr/bin/time) is the steadier figure on a
 * busy machine.
 *
 * Targets (issue: performance at the machine's limit), whole process minus
 * `node -e 0`: --version < 20 ms, digest of a one-file model < 60 ms,
 * verify key < 90 ms, scan of a safetensors file < 80 ms.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import {
  cpSync,
  existsSync,
  readFileSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
const REPO_BIN = join(REPO, 'packages/cli/bin/modelseal.js');
const DIST = join(REPO, 'packages/core/dist');
const HOOK = join(REPO, 'packages/core/test/packaging/load-hook.mjs');
const TIME = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '15' },
    'import-runs': { type: 'string', default: '5' },
    json: { type: 'string' },
    // The CLI to start (default: the repository's): whole.mjs --cli.
    cli: { type: 'string' },
  },
});
const BIN = values.cli === undefined ? REPO_BIN : resolve(values.cli);
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be ≥ 1');
const importRuns = Number(values['import-runs']);
if (!Number.isInteger(importRuns) || importRuns < 1)
  throw new Error('--import-runs must be ≥ 1');
if (!existsSync(join(DIST, 'index.js')))
  throw new Error('packages/core/dist is missing: run `pnpm build` first');

const work = mkdtempSync(join(tmpdir(), 'ms-startup-'));
try {
  // Fixtures: a one-file model (signed with a key for verify), a safetensors file.
  const one = join(work, 'one');
  cpSync(join(REPO, 'test-vectors/sample-model/model.safetensors'), one);
  const model = join(work, 'model');
  cpSync(join(REPO, 'test-vectors/sample-model'), model, { recursive: true });
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
  });
  writeFileSync(
    join(work, 'key.pem'),
    privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  writeFileSync(
    join(work, 'pub.pem'),
    publicKey.export({ type: 'spki', format: 'pem' }),
  );
  const sig = join(work, 'one.sig');
  execFileSync(process.execPath, [
    BIN,
    'sign',
    'key',
    one,
    '--private-key',
    join(work, 'key.pem'),
    '--signature',
    sig,
  ]);

  const cases = [
    { id: 'node -e 0', args: ['-e', '0'], target: undefined },
    { id: 'modelseal --version', args: [BIN, '--version'], target: 20 },
    {
      id: 'modelseal digest (one file)',
      args: [BIN, 'digest', one],
      target: 60,
    },
    {
      id: 'modelseal verify key (one file)',
      args: [
        BIN,
        'verify',
        'key',
        one,
        '--public-key',
        join(work, 'pub.pem'),
        '--signature',
        sig,
      ],
      target: 90,
    },
    {
      id: 'modelseal scan (safetensors)',
      args: [BIN, 'scan', join(model, 'model.safetensors')],
      target: 80,
    },
  ];

  const run = (args) => {
    const t0 = process.hrtime.bigint();
    const r = TIME
      ? spawnSync(TIME, ['-f', '%M %U %S', process.execPath, ...args], {
          encoding: 'utf8',
        })
      : spawnSync(process.execPath, args, { encoding: 'utf8' });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0)
      throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
    const [rssKiB, user, sys] = TIME
      ? r.stderr.trim().split('\n').at(-1).split(' ').map(Number)
      : [NaN, NaN, NaN];
    return { ms, rssKiB, cpuMs: (user + sys) * 1e3 };
  };
  const samples = new Map(cases.map((c) => [c.id, []]));
  for (const c of cases) run(c.args); // warm the page cache
  for (let round = 0; round < runs; round++) {
    const order = cases.map((_, i) => cases[(i + round) % cases.length]);
    for (const c of order) samples.get(c.id).push(run(c.args));
  }
  const median = (xs) => {
    const s = [...xs].sort((a, b) => a - b);
    return s[Math.floor(s.length / 2)];
  };
  // Paired: each round's figure minus `node -e 0` in the same round, then the median.
  const node = samples.get('node -e 0');
  const over = (c, key) =>
    median(samples.get(c.id).map((x, i) => x[key] - node[i][key]));
  const round1 = (x) => (Number.isNaN(x) ? null : Math.round(x * 10) / 10);
  const rows = cases.map((c) => {
    const ms = median(samples.get(c.id).map((x) => x.ms));
    const rss = median(samples.get(c.id).map((x) => x.rssKiB));
    return {
      id: c.id,
      ms: round1(ms),
      overNode: c.target === undefined ? null : round1(over(c, 'ms')),
      cpuMs: round1(median(samples.get(c.id).map((x) => x.cpuMs))),
      cpuOverNode: c.target === undefined ? null : round1(over(c, 'cpuMs')),
      target: c.target ?? null,
      peakRssMiB: Number.isNaN(rss) ? null : Math.round(rss / 102.4) / 10,
    };
  });

  // Import cost of each subpath: modules loaded and milliseconds (median of --import-runs).
  const EXPORTS = JSON.parse(
    readFileSync(join(DIST, '..', 'package.json'), 'utf8'),
  ).exports;
  const subpaths = [
    '',
    'manifest',
    'manifest/hash',
    'prestart',
    'bundle',
    'sign',
    'verify',
    'verify/model',
    'trust',
    'scan',
    'scan/engine',
    'scan/report',
    'load',
    'attest',
    'audit',
    'diff',
    'errors',
    'output',
    'constants',
  ];
  const imports = subpaths.map((sub) => {
    // The file the package's exports map gives the subpath.
    const file = join(
      DIST,
      '..',
      EXPORTS[sub === '' ? '.' : `./${sub}`].default,
    );
    const code = `const t = performance.now(); await import(${JSON.stringify(file)}); console.log('MS ' + (performance.now() - t));`;
    const ms = [];
    let modules = 0;
    let packages = [];
    for (let i = 0; i < importRuns; i++) {
      const out = execFileSync(
        process.execPath,
        ['--import', HOOK, '--input-type=module', '-e', code],
        { encoding: 'utf8' },
      );
      ms.push(Number(/MS ([\d.]+)/.exec(out)[1]));
      const loaded = JSON.parse(/LOADED (.*)/.exec(out)[1]);
      modules = loaded.modules;
      packages = loaded.packages;
    }
    return {
      subpath: `@modelseal/core${sub === '' ? '' : `/${sub}`}`,
      modules,
      packages: packages.length,
      ms: Math.round(median(ms) * 10) / 10,
    };
  });

  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(
    `start-up, ${runs} rounds, medians; ${cpus().length} × ${cpu}; node ${process.version}`,
  );
  console.log('');
  console.log(
    '| command | wall ms | over node -e 0 | target | CPU ms | CPU over node -e 0 | peak RSS MiB |',
  );
  console.log('|---|--:|--:|--:|--:|--:|--:|');
  for (const r of rows)
    console.log(
      `| ${r.id} | ${r.ms} | ${r.overNode ?? '—'} | ${r.target === null ? '—' : `< ${r.target}`} | ${r.cpuMs ?? '—'} | ${r.cpuOverNode ?? '—'} | ${r.peakRssMiB ?? '—'} |`,
    );
  console.log('');
  console.log('| import | modules | packages | ms |');
  console.log('|---|--:|--:|--:|');
  for (const r of imports)
    console.log(`| ${r.subpath} | ${r.modules} | ${r.packages} | ${r.ms} |`);
  if (values.json)
    writeFileSync(values.json, JSON.stringify({ rows, imports }, null, 2));
} finally {
  rmSync(work, { recursive: true, force: true });
}
