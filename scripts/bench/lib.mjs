// SPDX-License-Identifier: Apache-2.0
/**
 * Helpers of the whole-process bench (whole.mjs): sizes, generated data sets,
 * child processes timed by GNU time, medians and tables.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';

export const GB = 1e9;
export const MiB = 1024 * 1024;

/** "8GiB", "256MiB", "2GB", "1e9", "4096" -> bytes. */
export function parseSize(text, flag = 'size') {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?(?:e[0-9]+)?)\s*([kmgt]?)(i?)b?\s*$/i.exec(
    String(text),
  );
  if (!m)
    throw new Error(
      `--${flag}: cannot read size ${JSON.stringify(text)} (try 2GiB, 256MiB, 2GB)`,
    );
  const power = { '': 0, k: 1, m: 2, g: 3, t: 4 }[m[2].toLowerCase()];
  const base = m[3] !== '' ? 1024 : 1000;
  return Math.round(Number(m[1]) * base ** power);
}

export function intOption(value, name, min) {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min)
    throw new Error(`--${name} must be an integer ≥ ${min}, got ${value}`);
  return n;
}

export function fmtBytes(n) {
  if (n >= 2 ** 30) return `${+(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= MiB) return `${+(n / MiB).toFixed(1)} MiB`;
  return `${+(n / 1024).toFixed(1)} KiB`;
}

export function fmt(x, digits = 2) {
  return x === undefined || x === null || !Number.isFinite(x)
    ? '—'
    : x.toFixed(digits);
}

export function median(xs) {
  const v = xs
    .filter((x) => x !== undefined && x !== null && Number.isFinite(x))
    .sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

/** A markdown table, first column left-aligned, the others right-aligned. */
export function table(header, body) {
  const widths = header.map((h, i) =>
    Math.max(h.length, ...body.map((r) => String(r[i]).length)),
  );
  const line = (cells) =>
    '| ' +
    cells
      .map((c, i) =>
        i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]),
      )
      .join(' | ') +
    ' |';
  const sep =
    '|' +
    widths
      .map((w, i) => (i === 0 ? '-'.repeat(w + 2) : '-'.repeat(w + 1) + ':'))
      .join('|') +
    '|';
  return [line(header), sep, ...body.map(line)].join('\n');
}

/** Deterministic PRNG (mulberry32) for layouts; file bytes come from randomBytes. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Writes files [{ rel, size }] under `base`: a random 1 MiB block repeated,
 * each MiB stamped with a file number and its offset so that no two MiB are
 * equal (no dedup or compression can shortcut the work).
 */
export function writeFiles(base, files, firstFileNo = 0) {
  const block = randomBytes(MiB);
  const WRITE = 16 * MiB;
  const buf = Buffer.alloc(WRITE);
  for (let i = 0; i < WRITE; i += MiB) block.copy(buf, i);
  let fileNo = firstFileNo;
  for (const file of files) {
    fileNo++;
    const path = join(base, file.rel);
    mkdirSync(dirname(path), { recursive: true });
    const fd = openSync(path, 'w');
    try {
      let pos = 0;
      while (pos < file.size) {
        const n = Math.min(WRITE, file.size - pos);
        for (let off = 0; off + 12 <= n; off += MiB) {
          buf.writeUInt32LE(fileNo, off);
          buf.writeDoubleLE(pos + off, off + 4);
        }
        let done = 0;
        while (done < n) done += writeSync(fd, buf, done, n - done, pos + done);
        pos += n;
      }
    } finally {
      closeSync(fd);
    }
  }
  return fileNo;
}

/** Reads every file once (page cache warm-up). */
export function readAll(paths) {
  const buf = Buffer.allocUnsafe(8 * MiB);
  for (const path of paths) {
    const fd = openSync(path, 'r');
    try {
      while (readSync(fd, buf, 0, buf.length, null) > 0);
    } finally {
      closeSync(fd);
    }
  }
}

export function memAvailable() {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(
      readFileSync('/proc/meminfo', 'utf8'),
    );
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() || undefined : undefined;
}

/** The CPU features that decide hashing speed. */
export function cpuFlags() {
  try {
    const flags =
      /^flags\s*:\s*(.*)$/m
        .exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]
        .split(' ') ?? [];
    return ['sha_ni', 'avx2', 'avx512f'].filter((f) => flags.includes(f));
  } catch {
    return [];
  }
}

/** What the figures were measured on. */
export function machineInfo() {
  const openssl = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  return {
    cpu: cpus()[0]?.model ?? 'unknown CPU',
    cpuFlags: cpuFlags(),
    cores: availableParallelism(),
    logicalCpus: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    kernel: release(),
    openssl:
      openssl.status === 0 ? openssl.stdout.trim() : 'openssl not installed',
  };
}

/** GNU time, when installed: `-f '%e %U %S %M'` (wall, user, sys, peak RSS KiB). */
export const TIME = ['/usr/bin/time', '/usr/local/bin/time'].find((p) => {
  if (!existsSync(p)) return false;
  return (
    spawnSync(p, ['-f', '%e %U %S %M', 'true'], { encoding: 'utf8' }).status ===
    0
  );
});

let timeFileNo = 0;
/**
 * Runs one child process; resolves (never rejects on a non-zero exit) with
 * { code, stdout, stderr, wall, cpu, rssKiB }: wall seconds measured here,
 * user + system CPU seconds and peak RSS from GNU time (undefined without it).
 */
export function runTimed(cmd, args, { cwd, timeDir, env } = {}) {
  return new Promise((resolvePromise) => {
    let file;
    let argv = [cmd, ...args];
    if (TIME) {
      file = join(timeDir, `time-${process.pid}-${timeFileNo++}.txt`);
      argv = [TIME, '-f', '%e %U %S %M', '-o', file, cmd, ...args];
    }
    const t0 = process.hrtime.bigint();
    const child = spawn(argv[0], argv.slice(1), {
      cwd,
      env: env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    const done = (code, error) => {
      const wall = Number(process.hrtime.bigint() - t0) / 1e9;
      let cpu;
      let rssKiB;
      if (file !== undefined) {
        try {
          const lines = readFileSync(file, 'utf8').trim().split('\n');
          const [, user, sys, rss] = lines[lines.length - 1]
            .split(' ')
            .map(Number);
          cpu = user + sys;
          rssKiB = rss;
        } catch {
          // GNU time wrote nothing: the child did not start.
        }
        rmSync(file, { force: true });
      }
      resolvePromise({
        code: error ? -1 : code,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: error
          ? String(error.message)
          : Buffer.concat(err).toString('utf8'),
        wall,
        cpu,
        rssKiB,
      });
    };
    child.on('error', (error) => done(-1, error));
    child.on('close', (code) => done(code));
  });
}

/** Splits files over `n` lanes with about equal bytes (largest first, to the lightest lane). */
export function balance(files, n) {
  const lanes = Array.from({ length: n }, () => ({ files: [], bytes: 0 }));
  for (const file of [...files].sort((a, b) => b.size - a.size)) {
    const lane = lanes.reduce((min, l) => (l.bytes < min.bytes ? l : min));
    lane.files.push(file.rel);
    lane.bytes += file.size;
  }
  return lanes.filter((l) => l.files.length > 0);
}

/** Splits an argument list so that no command line gets near ARG_MAX. */
export function argBatches(items, maxChars = 512 * 1024) {
  const batches = [[]];
  let chars = 0;
  for (const p of items) {
    const len = String(p).length + 1;
    if (chars + len > maxChars && batches[batches.length - 1].length > 0) {
      batches.push([]);
      chars = 0;
    }
    batches[batches.length - 1].push(p);
    chars += len;
  }
  return batches;
}
