#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * `pnpm bench --library`: hashing throughput and peak memory of the library
 * (hashModel() in its own process, start-up left out) against `openssl dgst`
 * on the same files, in the same run. Plain `pnpm bench` measures whole CLI
 * processes instead (whole.mjs).
 *
 * Generates a model (a few large files plus small ones), a directory of small
 * files (4 KiB–1 MiB mix) and one of 4 KiB files, warms the page cache, then
 * runs every case of defineCases() in a child process, rotating the order each
 * round, and prints medians and paired ratios. Peak RSS is the child's own (`/usr/bin/time`, else the
 * child's `process.resourceUsage().maxRSS`). GB = 10^9 bytes.
 *
 * Needs `pnpm build` first (it imports packages/core/dist). See docs/performance.md.
 *
 *   pnpm bench --library                         # 8 GiB model, 3 rounds
 *   pnpm bench --library --size 256MiB --runs 1  # smoke test, well under a minute
 *   pnpm bench --library --size 2GiB --only files-sha256,openssl-sha256   # ids or substrings
 *   pnpm bench --hostile                         # peak RSS and CPU per hostile file (hostile.mjs)
 *   (or node scripts/bench/bench.mjs [flags] directly)
 *
 * Every flag also reads from MODELSEAL_BENCH_<FLAG> (upper case, dashes as
 * underscores), e.g. MODELSEAL_BENCH_SIZE=2GiB.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  argBatches,
  balance,
  cpuFlags,
  fmt,
  fmtBytes,
  intOption,
  median,
  memAvailable,
  prng,
  readAll,
  table,
  which,
} from './lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
const RUN_HASH = join(HERE, 'run-hash.mjs');
const DIST = join(REPO, 'packages/core/dist/manifest/index.js');
const GB = 1e9;
const MiB = 1024 * 1024;

// ---------------------------------------------------------------- options

const FLAGS = {
  size: {
    type: 'string',
    default: '8GiB',
    help: 'total size of the large files of the model',
  },
  'large-files': {
    type: 'string',
    default: '4',
    help: 'number of large files the size is split into',
  },
  'small-files': {
    type: 'string',
    help: 'files in the 4 KiB–1 MiB mix (default 10000; 1000 below 1 GiB); 0 skips',
  },
  'tiny-files': {
    type: 'string',
    help: 'files of 4 KiB (default 20000; 2000 below 1 GiB); 0 skips',
  },
  runs: {
    type: 'string',
    default: '3',
    help: 'rounds; every case runs once per round',
  },
  'shard-size': {
    type: 'string',
    help: 'shard size for the shards cases (default: the engine default, 1 GB)',
  },
  concurrency: {
    type: 'string',
    help: 'modelseal worker threads (default: the engine default, one per core)',
  },
  procs: {
    type: 'string',
    help: 'openssl processes in the parallel reference (default: cores)',
  },
  only: {
    type: 'string',
    help: 'comma-separated case ids (or substrings) to run',
  },
  dir: {
    type: 'string',
    help: 'work directory (default bench-out/run-*); reused when its layout matches',
  },
  keep: { type: 'boolean', default: false, help: 'keep the generated files' },
  hostile: {
    type: 'boolean',
    default: false,
    help: 'instead: peak RSS and CPU of a scan of each hostile memory/CPU fixture (scripts/bench/hostile.mjs; --only, --keep and --json apply)',
  },
  json: {
    type: 'string',
    help: 'write results here (default bench-out/results-<time>.json)',
  },
  help: { type: 'boolean', default: false, help: 'this text' },
};

function envDefault(name) {
  return process.env[
    `MODELSEAL_BENCH_${name.toUpperCase().replace(/-/g, '_')}`
  ];
}

function parseOptions() {
  const options = {};
  for (const [name, spec] of Object.entries(FLAGS))
    options[name] = { type: spec.type };
  const { values } = parseArgs({ options, allowPositionals: false });
  const out = {};
  for (const [name, spec] of Object.entries(FLAGS)) {
    let value = values[name];
    if (value === undefined) {
      const env = envDefault(name);
      if (env !== undefined)
        value =
          spec.type === 'boolean'
            ? env !== '' && env !== '0' && env !== 'false'
            : env;
    }
    out[name] = value ?? spec.default;
  }
  return out;
}

function usage() {
  const lines = ['usage: pnpm bench --library [flags]', ''];
  for (const [name, spec] of Object.entries(FLAGS)) {
    const arg = spec.type === 'string' ? ` <v>` : '';
    const def =
      spec.default !== undefined && spec.type === 'string'
        ? ` (default ${spec.default})`
        : '';
    lines.push(`  --${name}${arg}`.padEnd(24) + spec.help + def);
  }
  lines.push(
    '',
    'Flags also read MODELSEAL_BENCH_<FLAG>, e.g. MODELSEAL_BENCH_SIZE=2GiB.',
  );
  return lines.join('\n');
}

/** "8GiB", "256MiB", "2GB", "1e9", "4096" -> bytes. */
export function parseSize(text) {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?(?:e[0-9]+)?)\s*([kmgt]?)(i?)b?\s*$/i.exec(
    String(text),
  );
  if (!m)
    throw new Error(
      `cannot read size ${JSON.stringify(text)} (try 8GiB, 256MiB, 2GB)`,
    );
  const power = { '': 0, k: 1, m: 2, g: 3, t: 4 }[m[2].toLowerCase()];
  const base = m[3] !== '' ? 1024 : 1000;
  return Math.round(Number(m[1]) * base ** power);
}

// ---------------------------------------------------------------- data sets

/** The files of each data set: [{ rel, size }], relative to the data set's directory. */
function planLayout(opts) {
  const model = [];
  const count = opts.largeFiles;
  const each = Math.floor(opts.size / count);
  for (let i = 0; i < count; i++) {
    const size = i === count - 1 ? opts.size - each * (count - 1) : each;
    model.push({
      rel: `model-${String(i + 1).padStart(5, '0')}-of-${String(count).padStart(5, '0')}.safetensors`,
      size,
    });
  }
  // The small files a model directory usually has next to its weights.
  const extras = [
    ['config.json', 1_800],
    ['generation_config.json', 180],
    ['tokenizer.json', 2_100_000],
    ['tokenizer_config.json', 50_000],
    ['special_tokens_map.json', 450],
    ['model.safetensors.index.json', 24_000],
    ['README.md', 9_000],
    ['LICENSE', 11_000],
    ['vocab.txt', 230_000],
    ['merges.txt', 450_000],
    ['assets/figure-1.png', 310_000],
    ['assets/figure-2.png', 120_000],
  ];
  for (const [rel, size] of extras) model.push({ rel, size });

  const rand = prng(0x5eed);
  const mix = [];
  for (let i = 0; i < opts.smallFiles; i++) {
    // Log-uniform between 4 KiB and 1 MiB (mean ≈ 188 KiB).
    const size = Math.round(4096 * 256 ** rand());
    mix.push({
      rel: `d${String(Math.floor(i / 500)).padStart(3, '0')}/f${String(i).padStart(6, '0')}.bin`,
      size,
    });
  }
  const tiny = [];
  for (let i = 0; i < opts.tinyFiles; i++) {
    tiny.push({
      rel: `d${String(Math.floor(i / 1000)).padStart(3, '0')}/t${String(i).padStart(6, '0')}.bin`,
      size: 4096,
    });
  }
  const sets = { model: { files: model } };
  if (mix.length > 0) sets.mix = { files: mix };
  if (tiny.length > 0) sets.tiny = { files: tiny };
  for (const set of Object.values(sets))
    set.bytes = set.files.reduce((s, f) => s + f.size, 0);
  return sets;
}

/**
 * Writes every file: a random 1 MiB block repeated, with each MiB stamped with
 * its file and offset so that no two MiB are equal. Large sequential writes.
 */
function generate(workDir, sets) {
  const block = randomBytes(MiB);
  const WRITE = 16 * MiB;
  const buf = Buffer.alloc(WRITE);
  for (let i = 0; i < WRITE; i += MiB) block.copy(buf, i);
  let fileNo = 0;
  for (const [name, set] of Object.entries(sets)) {
    const base = join(workDir, name);
    for (const file of set.files) {
      fileNo++;
      const path = join(base, file.rel);
      mkdirSync(dirname(path), { recursive: true });
      const fd = openSync(path, 'w');
      try {
        let pos = 0;
        while (pos < file.size) {
          const n = Math.min(WRITE, file.size - pos);
          for (let off = 0; off < n; off += MiB) {
            buf.writeUInt32LE(fileNo, off);
            buf.writeDoubleLE(pos + off, off + 4);
          }
          let done = 0;
          while (done < n)
            done += writeSync(fd, buf, done, n - done, pos + done);
          pos += n;
        }
      } finally {
        closeSync(fd);
      }
    }
  }
}

// ---------------------------------------------------------------- processes

const TIME = ['/usr/bin/time', '/usr/local/bin/time'].find((p) => {
  if (!existsSync(p)) return false;
  return (
    spawnSync(p, ['-f', '%M %U %S', 'true'], { encoding: 'utf8' }).status === 0
  );
});

let timeFileNo = 0;
/**
 * Runs a command; resolves with { stdout, rssKiB, cpuSeconds }: peak RSS and
 * user + system CPU time measured by /usr/bin/time (undefined without it).
 */
function runProcess(cmd, args, { cwd, timeDir }) {
  return new Promise((resolvePromise, reject) => {
    let file;
    let argv = [cmd, ...args];
    if (TIME) {
      file = join(timeDir, `time-${process.pid}-${timeFileNo++}.txt`);
      argv = [TIME, '-f', '%M %U %S', '-o', file, cmd, ...args];
    }
    const child = spawn(argv[0], argv.slice(1), {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', reject);
    child.on('close', (code) => {
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      let rssKiB;
      let cpuSeconds;
      if (file !== undefined) {
        try {
          const text = readFileSync(file, 'utf8').trim().split('\n');
          const [rss, user, sys] = text[text.length - 1].split(' ').map(Number);
          rssKiB = rss;
          cpuSeconds = user + sys;
          rmSync(file, { force: true });
        } catch {
          rssKiB = undefined;
        }
      }
      if (code !== 0) {
        reject(
          new Error(
            `${cmd} ${args.slice(0, 4).join(' ')}… exited with ${code}: ${stderr.trim().slice(-2000)}`,
          ),
        );
        return;
      }
      resolvePromise({ stdout, rssKiB, cpuSeconds });
    });
  });
}

function parseDigestLines(text) {
  const digests = {};
  for (const line of text.split('\n')) {
    const m = /^[A-Z0-9-]+\((.*)\)= ([0-9a-f]+)$/.exec(line);
    if (m) digests[m[1]] = m[2];
  }
  return digests;
}

// ---------------------------------------------------------------- cases

/**
 * The benchmark cases. `kind` picks a runner from RUNNERS; `ref` names the
 * cases a row is compared with. To add a case (the issue-4 scanner, say), add
 * an entry here and, for a new kind, a runner below that resolves with
 * { seconds, wallSeconds, bytes, files, rssKiB }.
 *
 *   { id: 'scan', kind: 'modelseal-scan', set: 'model', label: 'scan (all rules)' }
 */
function defineCases(ctx) {
  const N = ctx.procs;
  const sha = { par: `openssl-sha256-${N}`, one: 'openssl-sha256-1' };
  const b2 = { par: `openssl-blake2b-${N}`, one: 'openssl-blake2b-1' };
  // Listed so that each row sits next to its references: the order rotates by
  // one each round, which keeps neighbours together and spreads drift.
  const cases = [
    {
      id: 'files-sha256',
      kind: 'modelseal',
      set: 'model',
      method: 'files',
      hash: 'sha256',
      ref: sha,
    },
    {
      id: `openssl-sha256-${N}`,
      kind: 'openssl',
      set: 'model',
      digest: 'sha256',
      procs: N,
    },
    {
      id: 'shards-sha256',
      kind: 'modelseal',
      set: 'model',
      method: 'shards',
      hash: 'sha256',
      ref: sha,
    },
    {
      id: 'openssl-sha256-1',
      kind: 'openssl',
      set: 'model',
      digest: 'sha256',
      procs: 1,
    },
    {
      id: 'files-sha256-1thread',
      kind: 'modelseal',
      set: 'model',
      method: 'files',
      hash: 'sha256',
      concurrency: 1,
      ref: sha,
    },
    // OpenSSL has no BLAKE3: compared with our own sha256 (and b3sum when installed).
    {
      id: 'files-blake3',
      kind: 'modelseal',
      set: 'model',
      method: 'files',
      hash: 'blake3',
      ref: { sha: 'files-sha256', b3: ctx.b3sum ? 'b3sum' : undefined },
    },
    {
      id: 'files-blake2b',
      kind: 'modelseal',
      set: 'model',
      method: 'files',
      hash: 'blake2b',
      ref: b2,
    },
    {
      id: `openssl-blake2b-${N}`,
      kind: 'openssl',
      set: 'model',
      digest: 'blake2b512',
      procs: N,
    },
    {
      id: 'shards-blake2b',
      kind: 'modelseal',
      set: 'model',
      method: 'shards',
      hash: 'blake2b',
      ref: b2,
    },
    {
      id: 'openssl-blake2b-1',
      kind: 'openssl',
      set: 'model',
      digest: 'blake2b512',
      procs: 1,
    },
  ];
  if (ctx.b3sum)
    cases.push({
      id: 'b3sum',
      kind: 'command',
      set: 'model',
      cmd: ctx.b3sum,
      args: ['--num-threads', String(N)],
    });
  for (const set of ['mix', 'tiny']) {
    if (!ctx.sets[set]) continue;
    cases.push({
      id: `${set}-files-sha256`,
      kind: 'modelseal',
      set,
      method: 'files',
      hash: 'sha256',
      ref: { par: `${set}-openssl-sha256-${N}` },
    });
    cases.push({
      id: `${set}-openssl-sha256-${N}`,
      kind: 'openssl',
      set,
      digest: 'sha256',
      procs: N,
    });
  }
  // Issue 4 (scanner) hook: e.g.
  //   cases.push({ id: 'scan', kind: 'modelseal-scan', set: 'model', ref: { sha: 'files-sha256' } });
  // with a 'modelseal-scan' runner in RUNNERS.
  return cases;
}

const RUN_SCAN = join(HERE, 'run-scan.mjs');
const MAKE_LARGE_TORCH = join(REPO, 'scripts/fixtures/make-large-torch.mjs');

/**
 * The scanner on a 4 GiB PyTorch-style checkpoint (one huge storage record,
 * written as a sparse file): scanning must not read tensor data, so time and
 * peak memory stay small whatever the checkpoint's size. Median of `runs`.
 */
async function benchScan(ctx, log) {
  const file = join(ctx.workDir, 'checkpoint-4gib.pt');
  const bytes = 4 * 1024 ** 3;
  const made = spawnSync(
    process.execPath,
    [MAKE_LARGE_TORCH, file, String(bytes)],
    { encoding: 'utf8' },
  );
  if (made.status !== 0)
    throw new Error(`make-large-torch failed: ${made.stderr}`);
  const samples = [];
  for (let round = 0; round < ctx.runs; round++) {
    const { stdout, rssKiB } = await runProcess(
      process.execPath,
      [RUN_SCAN, file],
      { cwd: REPO, timeDir: ctx.workDir },
    );
    const line = JSON.parse(stdout.trim().split('\n').pop());
    samples.push({ ...line, rssKiB: rssKiB ?? line.maxRssKiB });
    log(
      `  round ${round + 1}/${ctx.runs} scan-torch-4gib           ${line.scanMs.toFixed(1).padStart(7)} ms  ${((rssKiB ?? line.maxRssKiB) / 1024).toFixed(1)} MiB`,
    );
  }
  rmSync(file, { force: true });
  const ms = median(samples.map((x) => x.scanMs));
  const rss = median(samples.map((x) => x.rssKiB)) / 1024;
  const last = samples.at(-1);
  const result = {
    bytes,
    scanMs: ms,
    peakRssMiB: rss,
    formats: last.formats,
    findings: last.findings,
    highest: last.highest,
    errors: last.errors,
  };
  const text = [
    '| scanner                                              | time (ms) | peak RSS MiB | formats | findings |',
    '|------------------------------------------------------|----------:|-------------:|---------|---------:|',
    `| modelseal scan: 4 GiB PyTorch zip checkpoint (sparse) | ${ms.toFixed(1).padStart(9)} | ${rss.toFixed(1).padStart(12)} | ${[...new Set(last.formats)].join(', ')} | ${String(last.findings).padStart(8)} |`,
    `Scan target: well under a second for a multi-GiB checkpoint (tensor data is never read): ${ms < 1000 ? 'MET' : 'MISS'} (${ms.toFixed(0)} ms).`,
  ].join('\n');
  return { result, text };
}

const RUNNERS = {
  async modelseal(c, ctx, round) {
    const dir = join(ctx.workDir, c.set);
    const args = [RUN_HASH, dir, '--method', c.method, '--hash', c.hash];
    if (c.method === 'shards' && ctx.shardSize !== undefined)
      args.push('--shard-size', String(ctx.shardSize));
    const concurrency = c.concurrency ?? ctx.concurrency;
    if (concurrency !== undefined)
      args.push('--concurrency', String(concurrency));
    let digestFile;
    if (round === 0 && c.method === 'files') {
      digestFile = join(ctx.workDir, `digests-${c.id}.json`);
      args.push('--digests', digestFile);
    }
    const t0 = process.hrtime.bigint();
    const { stdout, rssKiB, cpuSeconds } = await runProcess(
      process.execPath,
      args,
      { cwd: REPO, timeDir: ctx.workDir },
    );
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const line = JSON.parse(stdout.trim().split('\n').pop());
    if (digestFile) {
      ctx.digests.set(
        `${c.set}/${c.hash}/modelseal`,
        JSON.parse(readFileSync(digestFile, 'utf8')),
      );
      rmSync(digestFile, { force: true });
    }
    return {
      seconds: line.hashMs / 1e3,
      wallSeconds: wall,
      bytes: line.bytes,
      files: ctx.sets[c.set].files.length,
      resources: line.resources,
      rssKiB: rssKiB ?? line.maxRssKiB,
      rssSource: rssKiB !== undefined ? 'time' : 'resourceUsage',
      importRssKiB: line.importRssKiB,
      // CPU time of hashModel() (all threads); the whole process's, from /usr/bin/time, in processCpuSeconds.
      cpuSeconds:
        line.hashCpuMs !== undefined ? line.hashCpuMs / 1e3 : cpuSeconds,
      processCpuSeconds: cpuSeconds,
    };
  },

  async openssl(c, ctx, round) {
    const set = ctx.sets[c.set];
    const cwd = join(ctx.workDir, c.set);
    const lanes = balance(set.files, c.procs);
    const t0 = process.hrtime.bigint();
    const results = await Promise.all(
      lanes.map(async (lane) => {
        let out = '';
        let rss = 0;
        let cpu = 0;
        for (const batch of argBatches(lane.files)) {
          const r = await runProcess(
            'openssl',
            ['dgst', `-${c.digest}`, ...batch],
            { cwd, timeDir: ctx.workDir },
          );
          out += r.stdout;
          rss = Math.max(rss, r.rssKiB ?? 0);
          cpu += r.cpuSeconds ?? 0;
        }
        return { out, rss, cpu };
      }),
    );
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    if (round === 0) {
      const digests = Object.assign(
        {},
        ...results.map((r) => parseDigestLines(r.out)),
      );
      ctx.digests.set(
        `${c.set}/${c.digest === 'blake2b512' ? 'blake2b' : c.digest}/openssl`,
        digests,
      );
    }
    const rss = results.map((r) => r.rss);
    return {
      seconds: wall,
      wallSeconds: wall,
      bytes: set.bytes,
      files: set.files.length,
      // The parallel reference is N processes: RSS is their sum (and the largest one).
      rssKiB: TIME ? rss.reduce((a, b) => a + b, 0) : undefined,
      rssMaxKiB: TIME ? Math.max(...rss) : undefined,
      procs: lanes.length,
      cpuSeconds: TIME ? results.reduce((a, r) => a + r.cpu, 0) : undefined,
    };
  },

  async command(c, ctx) {
    const set = ctx.sets[c.set];
    const cwd = join(ctx.workDir, c.set);
    const t0 = process.hrtime.bigint();
    let rss = 0;
    let cpu = 0;
    for (const batch of argBatches(set.files.map((f) => f.rel))) {
      const r = await runProcess(c.cmd, [...c.args, ...batch], {
        cwd,
        timeDir: ctx.workDir,
      });
      rss = Math.max(rss, r.rssKiB ?? 0);
      cpu += r.cpuSeconds ?? 0;
    }
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    return {
      seconds: wall,
      wallSeconds: wall,
      bytes: set.bytes,
      files: set.files.length,
      rssKiB: TIME ? rss : undefined,
      cpuSeconds: TIME ? cpu : undefined,
    };
  },
};

// ---------------------------------------------------------------- report

function summarise(cases, samples) {
  const rows = new Map();
  for (const c of cases) {
    const s = samples.get(c.id) ?? [];
    if (s.length === 0) continue;
    const secs = s.map((x) => x.seconds);
    const sec = median(secs);
    const bytes = s[0].bytes;
    const cpu = median(s.map((x) => x.cpuSeconds));
    rows.set(c.id, {
      id: c.id,
      kind: c.kind,
      set: c.set,
      runs: s.length,
      seconds: sec,
      gbps: bytes / sec / GB,
      wallGbps: bytes / median(s.map((x) => x.wallSeconds)) / GB,
      filesPerSec: s[0].files / sec,
      // Bytes per CPU-second (user + system, whole process): less sensitive than wall time to other load.
      gbPerCpuSecond: cpu !== undefined ? bytes / cpu / GB : undefined,
      spread: s.length > 1 ? (Math.max(...secs) - Math.min(...secs)) / sec : 0,
      rssMiB: median(s.map((x) => x.rssKiB)) / 1024,
      rssMaxMiB: median(s.map((x) => x.rssMaxKiB)) / 1024,
      bytes,
      files: s[0].files,
      resources: s[0].resources,
      samples: s,
    });
  }
  return rows;
}

/** Median over rounds of a's throughput ÷ b's in the same round (paired: drift cancels). */
function pairedRatio(rows, a, b, metric = (x) => x.bytes / x.seconds) {
  const ra = rows.get(a);
  const rb = b !== undefined ? rows.get(b) : undefined;
  if (!ra || !rb) return undefined;
  const n = Math.min(ra.samples.length, rb.samples.length);
  const ratios = [];
  for (let i = 0; i < n; i++) {
    const x = metric(ra.samples[i]);
    const y = metric(rb.samples[i]);
    if (Number.isFinite(x) && Number.isFinite(y) && y > 0) ratios.push(x / y);
  }
  return median(ratios);
}

const perCpu = (x) => (x.cpuSeconds ? x.bytes / x.cpuSeconds : NaN);

function label(c, r) {
  if (c.kind === 'modelseal')
    return `modelseal ${c.method} ${c.hash}${c.concurrency ? ` (${c.concurrency} thread)` : ''}`;
  if (c.kind === 'openssl')
    return `openssl dgst -${c.digest}, ${r.samples[0].procs ?? c.procs} proc`;
  return c.id;
}

function report(cases, rows, ctx) {
  const out = [];
  const N = ctx.procs;
  const pct = (r) => `${Math.round(r.spread * 100)}%`;

  out.push(
    `Model: ${fmtBytes(ctx.sets.model.bytes)} in ${ctx.sets.model.files.length} files (${ctx.opts.largeFiles} large), page cache warm; ${ctx.runs} round(s), medians.`,
  );
  out.push(
    'GB = 1e9 bytes. GB/s: bytes ÷ time of hashModel() in its own process (openssl: process wall time).',
  );
  out.push(
    `÷ ossl ${N} / ÷ ossl 1: median over rounds of the throughput ratio to openssl dgst run as ${N} parallel processes`,
  );
  out.push(
    `(one per core, files split by bytes) / as one process, over the same files in the same round.`,
  );
  out.push(
    'GB/CPU-s: bytes per CPU-second (user+sys, all threads; modelseal: during hashModel(), openssl: whole process); CPU ÷ ossl: its ratio.',
  );
  out.push(
    'spread: (max − min) ÷ median of the times. Absolute figures drift on a shared machine; ratios are what hold.',
  );
  out.push('');

  const body = [];
  for (const c of cases) {
    const r = rows.get(c.id);
    if (!r || c.set !== 'model') continue;
    if (c.kind === 'modelseal') {
      let vsPar = fmt(pairedRatio(rows, c.id, c.ref?.par));
      let vsOne = fmt(pairedRatio(rows, c.id, c.ref?.one));
      let cpuVs = fmt(pairedRatio(rows, c.id, c.ref?.par, perCpu));
      let rssVs = rows.get(c.ref?.par)
        ? fmt(r.rssMiB / rows.get(c.ref.par).rssMiB, 1)
        : '—';
      if (c.ref?.sha) {
        vsPar = `${fmt(pairedRatio(rows, c.id, c.ref.sha))} × our sha256`;
        vsOne = c.ref.b3
          ? `${fmt(pairedRatio(rows, c.id, c.ref.b3))} × b3sum`
          : 'no b3sum';
        cpuVs = `${fmt(pairedRatio(rows, c.id, c.ref.sha, perCpu))} × our sha256`;
        rssVs = '—';
      }
      body.push([
        label(c, r),
        fmt(r.gbps),
        vsPar,
        vsOne,
        fmt(r.gbPerCpuSecond),
        cpuVs,
        fmt(r.rssMiB, 1),
        rssVs,
        pct(r),
      ]);
    } else {
      const procs = r.samples[0].procs ?? 1;
      const rss =
        fmt(r.rssMiB, 1) +
        (procs > 1 ? ` (${procs} × ${fmt(r.rssMaxMiB, 1)})` : '');
      body.push([
        label(c, r),
        fmt(r.gbps),
        '',
        '',
        fmt(r.gbPerCpuSecond),
        '',
        rss,
        '',
        pct(r),
      ]);
    }
  }
  out.push(
    table(
      [
        'case',
        'GB/s',
        `÷ ossl ${N}`,
        '÷ ossl 1',
        'GB/CPU-s',
        'CPU ÷ ossl',
        'peak RSS MiB',
        `RSS ÷ ossl ${N}`,
        'spread',
      ],
      body,
    ),
  );
  const importRss = median(
    [...rows.values()].flatMap((r) => r.samples.map((x) => x.importRssKiB)),
  );
  if (importRss !== undefined) {
    out.push(
      `modelseal's peak RSS includes Node and the import of @modelseal/core/manifest: ${fmt(importRss / 1024, 1)} MiB before hashing starts.`,
    );
  }

  const small = [];
  for (const c of cases) {
    const r = rows.get(c.id);
    if (!r || c.set === 'model') continue;
    const desc =
      c.set === 'mix'
        ? `${r.files} files, 4 KiB–1 MiB (${fmtBytes(r.bytes)})`
        : `${r.files} files of 4 KiB`;
    small.push([
      `${label(c, r)}: ${desc}`,
      Math.round(r.filesPerSec).toLocaleString('en-US'),
      fmt(r.gbps),
      c.kind === 'modelseal' ? fmt(pairedRatio(rows, c.id, c.ref?.par)) : '',
      fmt(r.rssMiB, 1),
      pct(r),
    ]);
  }
  if (small.length > 0) {
    out.push('');
    out.push(
      table(
        [
          'small files',
          'files/s',
          'GB/s',
          `÷ ossl ${N}`,
          'peak RSS MiB',
          'spread',
        ],
        small,
      ),
    );
  }

  // The issue's targets (docs/performance.md).
  const targets = [];
  // On a busy machine wall-time ratios favour the side with more threads: judge by CPU-seconds then.
  const busy =
    ctx.busy && [...rows.values()].every((r) => r.gbPerCpuSecond !== undefined);
  for (const id of ['files-sha256', 'shards-sha256']) {
    const q = pairedRatio(rows, id, `openssl-sha256-${N}`);
    if (q === undefined) continue;
    const qc = pairedRatio(rows, id, `openssl-sha256-${N}`, perCpu);
    const v = busy ? qc : q;
    targets.push(
      `${v >= 0.9 ? 'MET ' : 'MISS'} ${id}: ${fmt(q)} × openssl -sha256 ${N} proc, ${fmt(qc)} per CPU-second (target ≥ 0.90${busy ? '; busy machine: judged per CPU-second' : ''})`,
    );
  }
  const b3 = pairedRatio(rows, 'files-blake3', 'files-sha256');
  if (b3 !== undefined) {
    const b3c = pairedRatio(rows, 'files-blake3', 'files-sha256', perCpu);
    const v = busy ? b3c : b3;
    targets.push(
      `${v > 1 ? 'MET ' : 'MISS'} files-blake3: ${fmt(b3)} × files-sha256, ${fmt(b3c)} per CPU-second (target > 1)`,
    );
  }
  const ours = [...rows.values()].filter((r) => r.kind === 'modelseal');
  if (ours.length > 0) {
    const worst = ours.reduce((a, b) => (b.rssMiB > a.rssMiB ? b : a));
    const note =
      ctx.sets.model.bytes >= 8 * 2 ** 30
        ? ''
        : ` (model ${fmtBytes(ctx.sets.model.bytes)}; the target is for 8 GiB)`;
    targets.push(
      `${worst.rssMiB < 200 ? 'MET ' : 'MISS'} peak RSS ${fmt(worst.rssMiB, 1)} MiB at most (${worst.id}; target < 200 MiB)${note}`,
    );
  }
  if (targets.length > 0) {
    out.push('');
    out.push('Targets:');
    if (ctx.sets.model.bytes < 2 ** 30)
      out.push(
        '  (smoke-test size: worker start-up and small-file costs weigh here; the targets are stated for an 8 GiB model)',
      );
    for (const t of targets) out.push('  ' + t);
  }
  return out.join('\n');
}

function checkDigests(ctx) {
  const problems = [];
  let compared = 0;
  for (const [key, ours] of ctx.digests) {
    if (!key.endsWith('/modelseal')) continue;
    const theirs = ctx.digests.get(key.replace(/\/modelseal$/, '/openssl'));
    if (!theirs) continue;
    for (const [name, digest] of Object.entries(ours)) {
      if (!(name in theirs)) continue;
      compared++;
      if (theirs[name] !== digest)
        problems.push(
          `${key.split('/').slice(0, 2).join('/')} ${name}: modelseal ${digest} != openssl ${theirs[name]}`,
        );
    }
  }
  return { compared, problems };
}

// ---------------------------------------------------------------- main

async function main() {
  const raw = parseOptions();
  if (raw.help) {
    console.log(usage());
    return;
  }
  if (raw.hostile) {
    const { runHostileBench } = await import('./hostile.mjs');
    const rows = await runHostileBench([
      ...(raw.only ? ['--only', raw.only] : []),
      ...(raw.keep ? ['--keep'] : []),
      ...(raw.json ? ['--json', raw.json] : []),
    ]);
    if (rows.some((r) => !r.ok)) process.exitCode = 1;
    return;
  }
  const opts = {
    size: parseSize(raw.size),
    largeFiles: intOption(raw['large-files'], 'large-files', 1),
    runs: intOption(raw.runs, 'runs', 1),
  };
  const small = opts.size < 2 ** 30;
  opts.smallFiles = intOption(
    raw['small-files'] ?? (small ? 1000 : 10000),
    'small-files',
    0,
  );
  opts.tinyFiles = intOption(
    raw['tiny-files'] ?? (small ? 2000 : 20000),
    'tiny-files',
    0,
  );
  if (opts.size < opts.largeFiles)
    throw new Error('--size is smaller than --large-files bytes');

  if (!existsSync(DIST))
    throw new Error(
      `${relative(REPO, DIST)} is missing: run \`pnpm build\` first`,
    );
  if (!which('openssl'))
    throw new Error(
      'openssl is not installed: the bench compares against `openssl dgst`',
    );

  const procs =
    raw.procs !== undefined
      ? intOption(raw.procs, 'procs', 1)
      : availableParallelism();
  const ctx = {
    opts,
    runs: opts.runs,
    procs,
    shardSize:
      raw['shard-size'] !== undefined
        ? parseSize(raw['shard-size'])
        : undefined,
    concurrency:
      raw.concurrency !== undefined
        ? intOption(raw.concurrency, 'concurrency', 0)
        : undefined,
    b3sum: which('b3sum'),
    digests: new Map(),
  };
  ctx.sets = planLayout(opts);

  const benchOut = join(REPO, 'bench-out');
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const workDir =
    raw.dir !== undefined
      ? resolve(raw.dir)
      : join(benchOut, `run-${stamp}-${process.pid}`);
  ctx.workDir = workDir;
  const ownsDir = raw.dir === undefined || !existsSync(workDir);
  const cleanup = () => {
    if (!raw.keep && ownsDir) rmSync(workDir, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      cleanup();
      process.exit(130);
    });
  }

  try {
    const total = Object.values(ctx.sets).reduce((s, set) => s + set.bytes, 0);
    const avail = memAvailable();
    const layout = JSON.stringify(
      Object.fromEntries(
        Object.entries(ctx.sets).map(([k, s]) => [k, s.files]),
      ),
    );
    const layoutFile = join(workDir, 'layout.json');
    const log = (msg) => process.stderr.write(msg + '\n');
    log(
      `bench: node ${process.version}, ${cpus()[0]?.model ?? 'cpu'} (${cpuFlags().join(' ')}), ${availableParallelism()} cores, ${spawnSync('openssl', ['version'], { encoding: 'utf8' }).stdout.trim()}`,
    );
    log(
      `bench: work dir ${relative(REPO, workDir) || workDir}${raw.keep ? ' (kept)' : ''}; data ${fmtBytes(total)}`,
    );
    if (avail !== undefined && avail < total * 1.2) {
      log(
        `bench: WARNING only ${fmtBytes(avail)} of memory available for ${fmtBytes(total)} of data: files may not stay cached, figures would measure the disk`,
      );
    }
    if (!TIME)
      log(
        'bench: /usr/bin/time not found: modelseal RSS from process.resourceUsage(), openssl RSS not measured',
      );

    mkdirSync(workDir, { recursive: true });
    if (existsSync(layoutFile) && readFileSync(layoutFile, 'utf8') === layout) {
      log('bench: reusing the generated files');
    } else {
      for (const name of Object.keys(ctx.sets))
        rmSync(join(workDir, name), { recursive: true, force: true });
      const t = Date.now();
      generate(workDir, ctx.sets);
      writeFileSync(layoutFile, layout);
      spawnSync('sync');
      log(
        `bench: generated ${fmtBytes(total)} in ${((Date.now() - t) / 1e3).toFixed(1)} s`,
      );
    }
    const t = Date.now();
    for (const [name, set] of Object.entries(ctx.sets))
      readAll(set.files.map((f) => join(workDir, name, f.rel)));
    log(`bench: page cache warmed in ${((Date.now() - t) / 1e3).toFixed(1)} s`);

    let cases = defineCases(ctx);
    if (raw.only) {
      const wanted = raw.only
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      cases = cases.filter((c) =>
        wanted.some((w) => c.id === w || c.id.includes(w)),
      );
      if (cases.length === 0)
        throw new Error(`--only ${raw.only} matches no case`);
    }

    const samples = new Map(cases.map((c) => [c.id, []]));
    const load0 = loadavg();
    ctx.busy = load0[0] > availableParallelism() / 2;
    if (load0[0] > availableParallelism() / 2) {
      log(
        `bench: WARNING load average ${load0[0].toFixed(2)} on ${availableParallelism()} cores: other processes compete for the CPU. modelseal (worker + I/O threads)`,
      );
      log(
        'bench: tends to win a larger share of a busy CPU than openssl processes do; GB/CPU-s ratios are the steadier comparison then.',
      );
    }
    for (let round = 0; round < ctx.runs; round++) {
      // Rotate the order each round so that drift spreads over every case.
      const order = cases.map((_, i) => cases[(i + round) % cases.length]);
      for (const c of order) {
        const s = await RUNNERS[c.kind](c, ctx, round);
        samples.get(c.id).push(s);
        log(
          `  round ${round + 1}/${ctx.runs} ${c.id.padEnd(24)} ${(s.bytes / s.seconds / GB).toFixed(2).padStart(6)} GB/s  ${s.seconds.toFixed(2).padStart(7)} s  ${s.rssKiB !== undefined ? (s.rssKiB / 1024).toFixed(1) + ' MiB' : ''}`,
        );
      }
    }
    const load1 = loadavg();
    const scan = raw.only ? undefined : await benchScan(ctx, log);

    const rows = summarise(cases, samples);
    const digestCheck = checkDigests(ctx);
    const text = report(cases, rows, ctx);
    console.log('');
    console.log(text);
    console.log('');
    console.log(
      `Load average ${load0[0].toFixed(2)} before, ${load1[0].toFixed(2)} after (${availableParallelism()} cores)${load0[0] > availableParallelism() / 2 ? ': a busy machine, see the warning above' : ''}.`,
    );
    if (scan !== undefined) {
      console.log('');
      console.log(scan.text);
    }
    if (digestCheck.problems.length > 0) {
      console.log(
        `DIGEST MISMATCH (${digestCheck.problems.length} of ${digestCheck.compared}):`,
      );
      for (const p of digestCheck.problems.slice(0, 10)) console.log('  ' + p);
      process.exitCode = 1;
    } else if (digestCheck.compared > 0) {
      console.log(
        `Digests: ${digestCheck.compared} file digests of modelseal equal openssl's.`,
      );
    }

    const jsonPath =
      raw.json !== undefined
        ? resolve(raw.json)
        : join(benchOut, `results-${stamp}.json`);
    mkdirSync(dirname(jsonPath), { recursive: true });
    writeFileSync(
      jsonPath,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          node: process.version,
          openssl: spawnSync('openssl', ['version'], {
            encoding: 'utf8',
          }).stdout.trim(),
          cpu: cpus()[0]?.model,
          cpuFlags: cpuFlags(),
          cores: availableParallelism(),
          loadavg: { before: load0, after: load1 },
          options: {
            ...opts,
            procs,
            shardSize: ctx.shardSize,
            concurrency: ctx.concurrency,
          },
          sets: Object.fromEntries(
            Object.entries(ctx.sets).map(([k, s]) => [
              k,
              { files: s.files.length, bytes: s.bytes },
            ]),
          ),
          rssSource: TIME ? TIME : 'process.resourceUsage',
          digestCheck,
          rows: [...rows.values()],
          scan: scan?.result,
        },
        null,
        2,
      ) + '\n',
    );
    console.log(`Results: ${relative(REPO, jsonPath)}`);
  } finally {
    cleanup();
  }
}

main().catch((error) => {
  process.stderr.write(
    `bench: ${error instanceof Error ? error.message : String(error)}\n`,
  );
  process.exitCode = 1;
});
