#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * Scan throughput and peak memory on large pickles (issue 11, item 4): the
 * whole CLI process (`modelseal scan FILE --format json`), the library alone
 * (scanFile in a child process, start-up left out, with its GC share) and
 * `openssl dgst -sha256` on the same file, alternating, in the same run.
 * Prints medians per case and the ratios against openssl. GB = 10^9 bytes.
 *
 * Cases (generated under --dir, reused when their size matches):
 *   huge    protocol 4 dict of 4 BINBYTES8 operands of --size / 4 (few huge operands)
 *   arrays  protocol 4 dict of 1 MiB BINBYTES operands (a state dict of mid-size arrays:
 *           16 MiB kept for nested-payload checks, the rest skipped by length)
 *   medium  protocol 4 list of 1 KiB BINBYTES, memoised, framed, APPENDS by 1,000 (many operands)
 *   small   protocol 2 dict of 1M str -> int and a list of 1.5M ints: about 30 MB, the most
 *           opcodes the default maxPickleOpcodes (6M) allows, whatever --size says
 *
 * Needs `pnpm build` first (it runs packages/cli/bin and imports packages/core/dist).
 *
 *   node scripts/bench/pickle-scan.mjs [--size 1GiB] [--runs 3] [--dir bench-out/pickle]
 *        [--cases huge,arrays,medium,small] [--json out.json]
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
const CLI = join(REPO, 'packages/cli/bin/modelseal.js');
const LIB = join(REPO, 'packages/core/dist/scan/index.js');
const MiB = 1024 * 1024;

// ---- child mode: one library scan, one JSON line --------------------------

if (process.argv[2] === '--child') {
  const file = process.argv[3];
  const { PerformanceObserver } = await import('node:perf_hooks');
  const { scanFile } = await import(pathToFileURL(LIB).href);
  let gcMs = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcMs += e.duration;
  });
  obs.observe({ entryTypes: ['gc'] });
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const r = await scanFile(file);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  // GC entries are delivered asynchronously.
  await new Promise((res) => setTimeout(res, 10));
  obs.disconnect();
  console.log(
    JSON.stringify({
      s,
      cpuS: (cpu.user + cpu.system) / 1e6,
      gcS: gcMs / 1e3,
      complete: r.complete,
      findings: r.findings.length,
      maxRssKiB: process.resourceUsage().maxRSS,
    }),
  );
  process.exit(0);
}

// ---- options ----------------------------------------------------------------

const { values: opt } = parseArgs({
  options: {
    size: { type: 'string', default: '1GiB' },
    runs: { type: 'string', default: '3' },
    dir: { type: 'string', default: join(REPO, 'bench-out/pickle') },
    cases: { type: 'string', default: 'huge,arrays,medium,small' },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (opt.help) {
  console.log(
    'node scripts/bench/pickle-scan.mjs [--size 1GiB] [--runs 3] [--dir bench-out/pickle] [--cases huge,arrays,medium,small] [--json out.json]',
  );
  process.exit(0);
}

/** Parses `1GiB`, `300MiB`, `512KiB`, `1e9`. */
function parseSize(s) {
  const m = /^(\d+(?:\.\d+)?(?:e\d+)?)\s*(KiB|MiB|GiB|KB|MB|GB|B)?$/i.exec(
    s.trim(),
  );
  if (m === null) throw new Error(`--size: cannot read ${s}`);
  const unit = (m[2] ?? 'B').toLowerCase();
  const mult = {
    b: 1,
    kib: 1024,
    mib: MiB,
    gib: 1024 * MiB,
    kb: 1e3,
    mb: 1e6,
    gb: 1e9,
  }[unit];
  return Math.round(Number(m[1]) * mult);
}

const SIZE = parseSize(opt.size);
const RUNS = Math.max(1, Number(opt.runs) | 0);
const DIR = resolve(opt.dir);
const CASES = opt.cases.split(',').filter(Boolean);
for (const c of CASES)
  if (!['huge', 'arrays', 'medium', 'small'].includes(c))
    throw new Error(`--cases: unknown case ${c}`);
if (!existsSync(LIB) || !existsSync(CLI))
  throw new Error('pickle-scan.mjs: run `pnpm build` first');

// ---- pickle writers ---------------------------------------------------------

/** Writes pieces to a file through a 4 MiB buffer. */
class Writer {
  constructor(path) {
    this.fd = openSync(path, 'w');
    this.buf = Buffer.allocUnsafe(4 * MiB);
    this.n = 0;
    this.size = 0;
  }
  put(b) {
    if (this.n + b.length > this.buf.length) this.flush();
    if (b.length > this.buf.length) {
      writeSync(this.fd, b);
    } else {
      b.copy(this.buf, this.n);
      this.n += b.length;
    }
    this.size += b.length;
  }
  flush() {
    if (this.n > 0) writeSync(this.fd, this.buf, 0, this.n);
    this.n = 0;
  }
  close() {
    this.flush();
    closeSync(this.fd);
  }
}

const u8 = (...b) => Buffer.from(b);
const u32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};
const i32 = (n) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
};
const u64 = (n) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
const shortUnicode = (s) => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([u8(0x8c, b.length), b]);
};

/** Pseudo-random bytes (xorshift), so that the data is not a run of zeros. */
function noise(n, seed) {
  const b = Buffer.allocUnsafe(n);
  let x = seed | 1;
  for (let i = 0; i + 4 <= n; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeInt32LE(x | 0, i);
  }
  return b;
}

/** `{'layer{i}.weight': <BINBYTES8 of size/4>}` x 4, protocol 4. */
function writeHuge(path, size) {
  const w = new Writer(path);
  const each = Math.max(1, Math.floor((size - 200) / 4));
  const chunk = noise(4 * MiB, 7);
  w.put(u8(0x80, 4, 0x7d, 0x94, 0x28)); // PROTO 4, EMPTY_DICT, MEMOIZE, MARK
  for (let i = 0; i < 4; i++) {
    w.put(shortUnicode(`layer${i}.weight`));
    w.put(u8(0x94, 0x8e)); // MEMOIZE, BINBYTES8
    w.put(u64(each));
    for (let left = each; left > 0; left -= chunk.length)
      w.put(left >= chunk.length ? chunk : chunk.subarray(0, left));
    w.put(u8(0x94));
  }
  w.put(u8(0x75, 0x2e)); // SETITEMS, STOP
  w.close();
}

/** `{'w{i}': <1 MiB bytes>}` for --size / 1 MiB keys, protocol 4. */
function writeArrays(path, size) {
  const w = new Writer(path);
  const data = noise(MiB, 13);
  const n = Math.max(1, Math.floor(size / (MiB + 32)));
  w.put(u8(0x80, 4, 0x7d, 0x94, 0x28)); // PROTO 4, EMPTY_DICT, MEMOIZE, MARK
  for (let i = 0; i < n; i++) {
    w.put(shortUnicode(`w${i}`));
    w.put(u8(0x94, 0x42)); // MEMOIZE, BINBYTES
    w.put(u32(MiB));
    w.put(data);
    w.put(u8(0x94));
    if (i % 1000 === 999) w.put(u8(0x75, 0x28)); // SETITEMS, MARK
  }
  w.put(u8(0x75, 0x2e)); // SETITEMS, STOP
  w.close();
}

/** `[<1 KiB bytes>, ...]`, protocol 4, framed like Python's pickler (about 64 KiB frames). */
function writeMedium(path, size) {
  const w = new Writer(path);
  const data = noise(1024 * 1024 + 1024, 11);
  w.put(u8(0x80, 4, 0x95));
  w.put(u64(3));
  w.put(u8(0x5d, 0x94, 0x28)); // EMPTY_LIST, MEMOIZE, MARK
  let k = 0;
  let inBatch = 0;
  while (w.size < size) {
    // One frame of 62 items (about 64 KiB), with the batch marks inside.
    const ops = [];
    for (let j = 0; j < 62; j++) {
      const off = (k % 1024) * 1024;
      ops.push(u8(0x42), u32(1024), data.subarray(off, off + 1024), u8(0x94));
      k++;
      if (++inBatch === 1000) {
        ops.push(u8(0x65, 0x28)); // APPENDS, MARK
        inBatch = 0;
      }
    }
    const frame = Buffer.concat(ops);
    w.put(u8(0x95));
    w.put(u64(frame.length));
    w.put(frame);
  }
  w.put(u8(0x95));
  w.put(u64(2));
  w.put(u8(0x65, 0x2e)); // APPENDS, STOP
  w.close();
}

/** `{'d': {'k%08d': 7 i}, 'l': [i % 100000]}` with 1M keys and 1.5M ints, protocol 2. */
function writeSmall(path) {
  const w = new Writer(path);
  let memo = 0;
  const put = () => {
    const m = memo++;
    return m < 256 ? u8(0x71, m) : Buffer.concat([u8(0x72), u32(m)]);
  };
  const int = (v) =>
    v < 256
      ? u8(0x4b, v)
      : v < 65536
        ? Buffer.concat([u8(0x4d), Buffer.from([v & 0xff, v >> 8])])
        : Buffer.concat([u8(0x4a), i32(v)]);
  const unicode = (s) => {
    const b = Buffer.from(s, 'utf8');
    return Buffer.concat([u8(0x58), u32(b.length), b]);
  };
  w.put(u8(0x80, 2, 0x7d));
  w.put(put());
  w.put(u8(0x28));
  w.put(unicode('d'));
  w.put(put());
  w.put(u8(0x7d));
  w.put(put());
  for (let i = 0; i < 1_000_000; i += 1000) {
    w.put(u8(0x28));
    for (let j = i; j < i + 1000; j++) {
      w.put(unicode(`k${String(j).padStart(8, '0')}`));
      w.put(put());
      w.put(int(j * 7));
    }
    w.put(u8(0x75)); // SETITEMS
  }
  w.put(unicode('l'));
  w.put(put());
  w.put(u8(0x5d));
  w.put(put());
  for (let i = 0; i < 1_500_000; i += 1000) {
    w.put(u8(0x28));
    for (let j = i; j < i + 1000; j++) w.put(int(j % 100_000));
    w.put(u8(0x65)); // APPENDS
  }
  w.put(u8(0x75, 0x2e)); // SETITEMS, STOP
  w.close();
}

const WRITERS = {
  huge: writeHuge,
  arrays: writeArrays,
  medium: writeMedium,
  small: writeSmall,
};

/** The case's file, written unless one of the expected size is there (recorded in a side file). */
function prepare(name) {
  mkdirSync(DIR, { recursive: true });
  const path = join(DIR, `${name}.pkl`);
  const tag = join(DIR, `${name}.size`);
  const want = name === 'small' ? 'fixed' : String(SIZE);
  if (existsSync(path) && existsSync(tag) && readFileSync(tag, 'utf8') === want)
    return path;
  const t = Date.now();
  WRITERS[name](path, SIZE);
  writeFileSync(tag, want);
  console.error(
    `wrote ${path} (${(statSync(path).size / 1e6).toFixed(0)} MB) in ${((Date.now() - t) / 1e3).toFixed(1)} s`,
  );
  return path;
}

// ---- measuring --------------------------------------------------------------

const HAVE_TIME = existsSync('/usr/bin/time');

/** Runs a command; returns wall seconds, CPU seconds, peak RSS (KiB, from /usr/bin/time) and stdout. */
function timed(cmd, args) {
  const argv = HAVE_TIME ? ['-f', '@@ %e %U %S %M', cmd, ...args] : args;
  const t0 = process.hrtime.bigint();
  const r = spawnSync(HAVE_TIME ? '/usr/bin/time' : cmd, argv, {
    encoding: 'utf8',
    maxBuffer: 64 * MiB,
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error !== undefined) throw r.error;
  const line = /@@ ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr ?? '');
  return {
    status: r.status,
    wall: line !== null ? Number(line[1]) : wall,
    cpu: line !== null ? Number(line[2]) + Number(line[3]) : undefined,
    rssKiB: line !== null ? Number(line[4]) : undefined,
    stdout: r.stdout,
    stderr: r.stderr,
  };
}

const TOOLS = {
  cli(file) {
    const r = timed(process.execPath, [CLI, 'scan', file, '--format', 'json']);
    let complete;
    try {
      complete = JSON.parse(r.stdout).files[0].complete;
    } catch {
      throw new Error(
        `modelseal scan ${file}: no JSON report (exit ${r.status}): ${r.stderr.slice(0, 300)}`,
      );
    }
    return { s: r.wall, cpuS: r.cpu, rssKiB: r.rssKiB, complete };
  },
  library(file) {
    const r = timed(process.execPath, [
      fileURLToPath(import.meta.url),
      '--child',
      file,
    ]);
    if (r.status !== 0)
      throw new Error(
        `library scan ${file}: exit ${r.status}: ${r.stderr.slice(0, 300)}`,
      );
    const j = JSON.parse(r.stdout.trim().split('\n').pop());
    return {
      s: j.s,
      cpuS: j.cpuS,
      gcS: j.gcS,
      rssKiB: r.rssKiB ?? j.maxRssKiB,
      complete: j.complete,
    };
  },
  openssl(file) {
    const r = timed('openssl', ['dgst', '-sha256', file]);
    if (r.status !== 0)
      throw new Error(`openssl dgst ${file}: exit ${r.status}`);
    return { s: r.wall, cpuS: r.cpu, rssKiB: r.rssKiB };
  },
};

const median = (xs) => {
  const s = xs.filter((x) => x !== undefined).sort((a, b) => a - b);
  if (s.length === 0) return undefined;
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const results = {
  machine: {
    cpu: cpus()[0]?.model,
    cores: cpus().length,
    node: process.version,
    loadavg: loadavg(),
  },
  size: SIZE,
  runs: RUNS,
  cases: {},
};

for (const name of CASES) {
  const file = prepare(name);
  const bytes = statSync(file).size;
  // Warm the page cache.
  TOOLS.openssl(file);
  const samples = { cli: [], library: [], openssl: [] };
  const order = Object.keys(samples);
  for (let run = 0; run < RUNS; run++) {
    // Rotate the order each run so that no tool always follows another.
    for (let i = 0; i < order.length; i++) {
      const tool = order[(i + run) % order.length];
      samples[tool].push(TOOLS[tool](file));
    }
  }
  const med = (tool, key) => median(samples[tool].map((x) => x[key]));
  const row = { bytes };
  for (const tool of order) {
    const s = med(tool, 's');
    row[tool] = {
      s,
      MBps: bytes / s / 1e6,
      cpuS: med(tool, 'cpuS'),
      peakRssMiB:
        med(tool, 'rssKiB') === undefined
          ? undefined
          : med(tool, 'rssKiB') / 1024,
    };
  }
  row.library.gcShare = median(samples.library.map((x) => x.gcS / x.cpuS));
  row.complete =
    samples.cli.every((x) => x.complete) &&
    samples.library.every((x) => x.complete);
  // Paired ratios (same run), then their median.
  row.cliVsOpenssl = median(
    samples.cli.map((x, i) => samples.openssl[i].s / x.s),
  );
  row.libraryVsOpenssl = median(
    samples.library.map((x, i) => samples.openssl[i].s / x.s),
  );
  results.cases[name] = row;
  const f = (x, d = 0) => (x === undefined ? 'n/a' : x.toFixed(d));
  console.log(
    `${name.padEnd(7)} ${f(bytes / 1e6)} MB  cli ${f(row.cli.MBps)} MB/s ${f(row.cli.peakRssMiB)} MiB (x${f(row.cliVsOpenssl, 2)} openssl)` +
      `  library ${f(row.library.MBps)} MB/s ${f(row.library.peakRssMiB)} MiB gc ${f(100 * row.library.gcShare)}% (x${f(row.libraryVsOpenssl, 2)} openssl)` +
      `  openssl ${f(row.openssl.MBps)} MB/s${row.complete ? '' : '  INCOMPLETE SCAN'}`,
  );
}
if (opt.json !== undefined) {
  writeFileSync(opt.json, JSON.stringify(results, null, 2) + '\n');
  console.error(`wrote ${opt.json}`);
}
