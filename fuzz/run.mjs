#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Runs coverage-guided fuzzing campaigns (jazzer.js, libFuzzer inside) over the
// targets of fuzz/targets.mjs against packages/core/dist, and records for each
// target: CPU seconds, executions, corpus size, peak RSS and findings.
//
//   pnpm build && pnpm fuzz [target ...] [--seconds=60] [--parallel=1]
//        [--timeout-ms=30000] [--rss-mb=512] [--heap-mb=160] [--nice=0]
//   pnpm fuzz --summary     totals per target over every run under fuzz/out/
//
// Targets default to all of them. Each run keeps its working corpus under
// fuzz/corpus/<target>/ (reused by the next run), is seeded from the
// committed fixtures, and writes crashes, timeouts and out-of-memory inputs
// under fuzz/out/<target>/ with its log and a stats JSON. Exit status 1 when
// any target found something. See docs/fuzzing.md.
import { spawn } from 'node:child_process';
import {
  copyFileSync,
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { TARGETS } from './targets.mjs';

const FUZZ_DIR = import.meta.dirname;
const ROOT = resolve(FUZZ_DIR, '..');
const CLK_TCK = 100; // Linux USER_HZ: /proc/<pid>/stat times are in 1/100 s

function parseArgs(argv) {
  const opts = {
    heapMb: 160,
    seconds: 60,
    parallel: 1,
    timeoutMs: 30_000,
    rssMb: 512,
    nice: 0,
    targets: [],
  };
  for (const a of argv) {
    const m = /^--([a-z-]+)=(.*)$/.exec(a);
    if (m === null) {
      if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
      if (!(a in TARGETS))
        throw new Error(
          `unknown target ${a}; one of ${Object.keys(TARGETS).join(', ')}`,
        );
      opts.targets.push(a);
      continue;
    }
    const key = {
      seconds: 'seconds',
      parallel: 'parallel',
      'timeout-ms': 'timeoutMs',
      'rss-mb': 'rssMb',
      nice: 'nice',
      'heap-mb': 'heapMb',
    }[m[1]];
    if (key === undefined || !/^\d+$/.test(m[2]))
      throw new Error(`bad option ${a}`);
    opts[key] = Number(m[2]);
  }
  if (opts.targets.length === 0) opts.targets = Object.keys(TARGETS);
  return opts;
}

/** Copies (or, for wrapped targets, extracts) a target's seeds into fuzz/.cache/seeds/<target>/. */
async function prepareSeeds(name) {
  const dir = join(FUZZ_DIR, '.cache', 'seeds', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let n = 0;
  for (const seed of TARGETS[name].seeds) {
    const from = join(ROOT, seed.dir);
    if (!existsSync(from)) continue;
    for (const file of readdirSync(from).sort()) {
      const path = join(from, file);
      if (!seed.match.test(file) || !statSync(path).isFile()) continue;
      if (seed.payload === true) {
        // The statement a bundle carries, decoded from its DSSE envelope.
        try {
          const bundle = JSON.parse(readFileSync(path, 'utf8'));
          writeFileSync(
            join(dir, `${file}_payload.json`),
            Buffer.from(bundle.dsseEnvelope.payload, 'base64'),
          );
          n++;
        } catch {
          // not a bundle: no seed
        }
        continue;
      }
      if (seed.member === undefined) {
        copyFileSync(
          path,
          join(dir, `${seed.dir.replaceAll('/', '_')}_${file}`),
        );
        n++;
        continue;
      }
      const { lib } = await import('./lib-dist.mjs');
      const source = lib.bufferSource(readFileSync(path));
      const zip = await lib.readZipDirectory(source);
      for (const entry of zip?.entries ?? []) {
        if (entry.name !== seed.member) continue;
        const got = await lib.readZipEntry(source, entry, 1 << 20);
        if (got.ok) {
          writeFileSync(join(dir, `${file}_${seed.member}`), got.data);
          n++;
        }
      }
    }
  }
  return { dir, count: n };
}

function countDir(dir) {
  let files = 0;
  let bytes = 0;
  if (!existsSync(dir)) return { files, bytes };
  for (const f of readdirSync(dir)) {
    const st = statSync(join(dir, f));
    if (st.isFile()) {
      files++;
      bytes += st.size;
    }
  }
  return { files, bytes };
}

/** CPU seconds of a live process and its waited-for children, from /proc. */
function cpuOf(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // Fields 14-17 of proc(5), counted from the state field (3) here.
    return (
      (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK
    );
  } catch {
    return undefined;
  }
}

function jazzerCli() {
  const require = createRequire(join(ROOT, 'package.json'));
  return join(
    dirname(require.resolve('@jazzer.js/core/package.json')),
    'dist',
    'cli.js',
  );
}

async function runOne(name, opts) {
  const target = TARGETS[name];
  const seeds = await prepareSeeds(name);
  const corpus = join(FUZZ_DIR, 'corpus', name);
  const out = join(FUZZ_DIR, 'out', name);
  mkdirSync(corpus, { recursive: true });
  mkdirSync(out, { recursive: true });
  const before = countDir(corpus);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logPath = join(out, `log-${stamp}.txt`);
  const log = createWriteStream(logPath);
  const args = [
    // A small old space makes V8 collect garbage instead of growing the heap,
    // so the RSS the fuzzer watches is what the scan needs, not lazy GC.
    `--max-old-space-size=${opts.heapMb}`,
    '--import',
    join(FUZZ_DIR, 'glibc-compat.mjs'),
    jazzerCli(),
    join(FUZZ_DIR, 'entry.mjs'),
    corpus,
    seeds.dir,
    '--includes',
    'packages/core/dist/',
    '--timeout',
    String(opts.timeoutMs),
    '--',
    `-max_total_time=${opts.seconds}`,
    `-rss_limit_mb=${opts.rssMb}`,
    `-max_len=${target.maxLen}`,
    `-artifact_prefix=${out}/`,
    '-print_final_stats=1',
  ];
  const dict = join(FUZZ_DIR, 'dict', `${name}.dict`);
  if (existsSync(dict)) args.push(`-dict=${dict}`);
  const command = opts.nice > 0 ? 'nice' : process.execPath;
  const argv =
    opts.nice > 0 ? ['-n', String(opts.nice), process.execPath, ...args] : args;
  const started = Date.now();
  const child = spawn(command, argv, {
    cwd: ROOT,
    env: { ...process.env, MODELSEAL_FUZZ_TARGET: name },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let tail = '';
  const onData = (d) => {
    log.write(d);
    tail = (tail + d.toString('latin1')).slice(-200_000);
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let cpu = 0;
  const poll = setInterval(() => {
    const c = cpuOf(child.pid);
    if (c !== undefined) cpu = c;
  }, 1000);
  const code = await new Promise((res) =>
    child.on('close', (c, sig) => res(c ?? sig)),
  );
  clearInterval(poll);
  log.end();
  const stat = (key) => {
    const m = new RegExp(`stat::${key}:\\s*(\\d+)`).exec(tail);
    return m === null ? undefined : Number(m[1]);
  };
  const lastStatus = [
    ...tail.matchAll(/#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)\/(\S+)/g),
  ].at(-1);
  const rssLines = [...tail.matchAll(/ rss: (\d+)Mb/g)];
  const lastRss =
    rssLines.length > 0
      ? Math.max(...rssLines.map((m) => Number(m[1])))
      : undefined;
  const artifacts = readdirSync(out).filter(
    (f) =>
      /^(crash|timeout|oom|leak)-/.test(f) &&
      statSync(join(out, f)).mtimeMs >= started,
  );
  const after = countDir(corpus);
  const result = {
    target: name,
    startedAt: new Date(started).toISOString(),
    wallSeconds: Math.round((Date.now() - started) / 1000),
    cpuSeconds: Math.round(cpu),
    executions:
      stat('number_of_executed_units') ??
      (lastStatus ? Number(lastStatus[1]) : undefined),
    peakRssMb: stat('peak_rss_mb') ?? lastRss,
    coverage: lastStatus
      ? { cov: Number(lastStatus[2]), ft: Number(lastStatus[3]) }
      : undefined,
    seeds: seeds.count,
    corpusFiles: after.files,
    corpusBytes: after.bytes,
    newCorpusFiles: after.files - before.files,
    exitCode: code,
    artifacts,
    log: relative(ROOT, logPath),
  };
  writeFileSync(
    join(out, `stats-${stamp}.json`),
    JSON.stringify(result, null, 2) + '\n',
  );
  return result;
}

/** Totals per target over every stats file under fuzz/out/ (all runs so far). */
function summary() {
  const base = join(FUZZ_DIR, 'out');
  const rows = [];
  for (const name of Object.keys(TARGETS)) {
    const dir = join(base, name);
    if (!existsSync(dir)) continue;
    const runs = readdirSync(dir)
      .filter((f) => f.startsWith('stats-'))
      .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')));
    if (runs.length === 0) continue;
    const sum = (k) => runs.reduce((a, r) => a + (r[k] ?? 0), 0);
    rows.push({
      target: name,
      runs: runs.length,
      cpuSeconds: sum('cpuSeconds'),
      wallSeconds: sum('wallSeconds'),
      executions: sum('executions'),
      corpusFiles: Math.max(...runs.map((r) => r.corpusFiles)),
      peakRssMb: Math.max(...runs.map((r) => r.peakRssMb ?? 0)),
      artifacts: runs.flatMap((r) => r.artifacts),
    });
  }
  const total = rows.reduce((a, r) => a + r.cpuSeconds, 0);
  console.log(
    '| target | runs | CPU s | wall s | executions | corpus files | peak RSS MB | findings |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const r of rows)
    console.log(
      `| ${r.target} | ${r.runs} | ${r.cpuSeconds} | ${r.wallSeconds} | ${r.executions} | ${r.corpusFiles} | ${r.peakRssMb} | ${r.artifacts.length === 0 ? 'none' : r.artifacts.join(', ')} |`,
    );
  console.log(
    `| total | | ${total} | | ${rows.reduce((a, r) => a + r.executions, 0)} | | | |`,
  );
}

async function main() {
  if (process.argv[2] === '--summary') {
    summary();
    return;
  }
  const opts = parseArgs(process.argv.slice(2));
  const queue = [...opts.targets];
  const results = [];
  const worker = async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
      process.stderr.write(`fuzz: ${name} for ${opts.seconds} s\n`);
      const r = await runOne(name, opts);
      process.stderr.write(
        `fuzz: ${name}: ${r.cpuSeconds} CPU s, ${r.executions ?? '?'} execs, corpus ${r.corpusFiles} (+${r.newCorpusFiles}), ` +
          `peak RSS ${r.peakRssMb ?? '?'} MB, exit ${r.exitCode}, artifacts: ${r.artifacts.join(' ') || 'none'}\n`,
      );
      results.push(r);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.parallel) }, worker));
  results.sort((a, b) => a.target.localeCompare(b.target));
  console.log(JSON.stringify(results, null, 2));
  const failed = results.filter(
    (r) => r.exitCode !== 0 || r.artifacts.length > 0,
  );
  process.exitCode = failed.length > 0 ? 1 : 0;
}

await main();
