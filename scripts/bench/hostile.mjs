#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * Hostile-input benchmark (issue 9, item 5): peak memory and CPU of a scan of
 * each hostile memory/CPU fixture, one scan per child process. Target: peak
 * RSS under 512 MiB and CPU (user + system) under 10 s for every file.
 *
 * The fixtures are built at run time in a temporary directory (some are
 * hundreds of MiB on disk and compress to kilobytes, so none is committed):
 *
 *   pickle-none-10001        10,001 NONE opcodes, then an os.system payload
 *   pickle-2m-opcodes        2,000,000 opcodes (NONE/POP), then the payload
 *   pickle-25m-opcodes       25,000,000 opcodes: past maxPickleOpcodes (20M)
 *   pickle-dotted-names      641 KB of GLOBAL names made of dotted parts
 *   pickle-one-dotted-name   one 640 KB STACK_GLOBAL name of 320,000 dotted parts
 *   gzip-pickle-300mib       gzip'd pickle whose first operand is 300 MiB
 *   torch-zip-300mib         PyTorch zip whose stored data.pkl is 300 MiB
 *   keras-63mib-brackets     .keras whose deflated config.json is 63 MiB of `[]`
 *   zip-safetensors-99mb     zip holding a safetensors with a 99 MB `{}` header
 *   gguf-empty-strings-48mb  GGUF array of 6,000,000 empty strings (48 MB)
 *   tar-sparse-dir-pickle    tar: directory with data, GNU sparse, then a pickle
 *   tar-sparse-4gib          tar: a GNU sparse member of 4 GiB - 1 (a pickle, then holes)
 *   tar-long-names           tar: 5,000 members with 4,000-character names
 *   tar-pax-global-records   tar: 1 MiB of pax global records, then 50,000 members
 *
 * Each scan runs the built library (packages/core/dist; `pnpm build` first)
 * in `scripts/bench/hostile-run.mjs`, or the CLI with `--cli`. Peak RSS and
 * CPU come from `/usr/bin/time -v` when present, else from the child's own
 * `process.resourceUsage()`.
 *
 *   pnpm bench --hostile                 # through bench.mjs
 *   node scripts/bench/hostile.mjs [--only ids] [--timeout 120] [--cli] [--keep] [--json FILE]
 */
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../..');
const RUNNER = join(HERE, 'hostile-run.mjs');
const CLI = join(REPO, 'packages/cli/bin/modelseal.js');
const MiB = 1024 * 1024;
const RSS_TARGET_MIB = 512;
const CPU_TARGET_S = 10;

// ---------------------------------------------------------------- fixtures

/** `os.system('id')`, protocol 0 opcodes (valid after any PROTO). */
const PAYLOAD = Buffer.from('cposix\nsystem\n(Vid\ntR.', 'latin1');

function u32(n) {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}
function u64(n) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

/** A zip of `{ name, data, method }` entries (0 stored, 8 deflated). */
function zip(entries) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const body = e.method === 8 ? deflateRawSync(e.data) : e.data;
    const crc = crc32(e.data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4);
    lh.writeUInt16LE(e.method, 8);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(body.length, 18);
    lh.writeUInt32LE(e.data.length, 22);
    lh.writeUInt16LE(name.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4);
    ch.writeUInt16LE(20, 6);
    ch.writeUInt16LE(e.method, 10);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(body.length, 20);
    ch.writeUInt32LE(e.data.length, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt32LE(offset, 42);
    locals.push(lh, name, body);
    centrals.push(ch, name);
    offset += 30 + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** Protocol 4 pickle: `BINBYTES8` of `size` zero bytes, `POP`, then the payload. */
function bigOperandPickle(size) {
  const head = Buffer.concat([Buffer.from([0x80, 4, 0x8e]), u64(size)]);
  const tail = Buffer.concat([Buffer.from('0', 'latin1'), PAYLOAD]);
  const out = Buffer.alloc(head.length + size + tail.length);
  head.copy(out, 0);
  tail.copy(out, head.length + size);
  return out;
}

function tarHeader(name, type, size) {
  const h = Buffer.alloc(512);
  h.write(name, 0, 'utf8');
  h.write('0000644\0', 100, 'latin1');
  h.write('0000000\0', 108, 'latin1');
  h.write('0000000\0', 116, 'latin1');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write(type, 156, 'latin1');
  h.write('ustar\x0000', 257, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}
const pad512 = (b) =>
  Buffer.concat([b, Buffer.alloc((512 - (b.length % 512)) % 512)]);

/** Every case: id, what it is, and how to write it into `dir` (returns the path). */
const CASES = [
  {
    id: 'pickle-none-10001',
    what: '10,001 NONE, then os.system',
    build: (dir) =>
      write(
        dir,
        'none.pkl',
        Buffer.concat([
          Buffer.from([0x80, 2]),
          Buffer.alloc(10_001, 'N'),
          PAYLOAD,
        ]),
      ),
  },
  {
    id: 'pickle-2m-opcodes',
    what: '2,000,000 opcodes, then os.system',
    build: (dir) =>
      write(
        dir,
        'ops-2m.pkl',
        Buffer.concat([
          Buffer.from([0x80, 2]),
          Buffer.from('N0'.repeat(1_000_000), 'latin1'),
          PAYLOAD,
        ]),
      ),
  },
  {
    id: 'pickle-25m-opcodes',
    what: '25,000,000 opcodes (past maxPickleOpcodes)',
    build: (dir) =>
      write(
        dir,
        'ops-25m.pkl',
        Buffer.concat([
          Buffer.from([0x80, 2]),
          Buffer.from('N0'.repeat(12_500_000), 'latin1'),
          PAYLOAD,
        ]),
      ),
  },
  {
    id: 'pickle-dotted-names',
    what: '641 KB of dotted GLOBAL names',
    build: (dir) => {
      // 16 GLOBALs of 40,000-byte dotted names (each call popped), then the payload.
      const name = `${'a.'.repeat(19_999)}b`;
      const one = Buffer.from(`cbuiltins\n${name}\n0`, 'latin1');
      return write(
        dir,
        'dotted.pkl',
        Buffer.concat([
          Buffer.from([0x80, 2]),
          ...Array.from({ length: 16 }, () => one),
          PAYLOAD,
        ]),
      );
    },
  },
  {
    id: 'pickle-one-dotted-name',
    what: 'one 640 KB dotted name (STACK_GLOBAL)',
    build: (dir) => {
      // SHORT_BINUNICODE 'builtins', BINUNICODE of 320,000 dotted parts,
      // STACK_GLOBAL, POP, then the payload.
      const name = Buffer.from(`${'a.'.repeat(319_999)}b`, 'latin1');
      return write(
        dir,
        'one-dotted.pkl',
        Buffer.concat([
          Buffer.from([0x80, 4, 0x8c, 8]),
          Buffer.from('builtins', 'latin1'),
          Buffer.from([0x58]),
          u32(name.length),
          name,
          Buffer.from([0x93, 0x30]),
          PAYLOAD,
        ]),
      );
    },
  },
  {
    id: 'gzip-pickle-300mib',
    what: "gzip'd pickle, first operand 300 MiB",
    build: (dir) =>
      write(
        dir,
        'big-operand.pkl.gz',
        gzipSync(bigOperandPickle(300 * MiB), { level: 9 }),
      ),
  },
  {
    id: 'torch-zip-300mib',
    what: 'PyTorch zip, stored data.pkl of 300 MiB',
    build: (dir) =>
      write(
        dir,
        'big-data-pkl.pt',
        zip([
          {
            name: 'archive/data.pkl',
            data: bigOperandPickle(300 * MiB),
            method: 0,
          },
          { name: 'archive/version', data: Buffer.from('3\n'), method: 0 },
        ]),
      ),
  },
  {
    id: 'keras-63mib-brackets',
    what: '.keras, config.json = 63 MiB of []',
    build: (dir) =>
      write(
        dir,
        'brackets.keras',
        zip([
          {
            name: 'metadata.json',
            data: Buffer.from('{"keras_version": "3.11.3"}'),
            method: 8,
          },
          {
            name: 'config.json',
            data: Buffer.from(`[${'[],'.repeat(22_000_000)}[]]`),
            method: 8,
          },
          { name: 'model.weights.h5', data: Buffer.alloc(512), method: 0 },
        ]),
      ),
  },
  {
    id: 'zip-safetensors-99mb',
    what: 'zip: safetensors with a 99 MB {} header',
    build: (dir) => {
      const json = Buffer.from(`{"x":[${'{},'.repeat(33_000_000)}{}]}`);
      return write(
        dir,
        'header-bomb.zip',
        zip([
          {
            name: 'model.safetensors',
            data: Buffer.concat([u64(json.length), json]),
            method: 8,
          },
        ]),
      );
    },
  },
  {
    id: 'gguf-empty-strings-48mb',
    what: 'GGUF: array of 6,000,000 empty strings',
    build: (dir) => {
      const n = 6_000_000;
      const key = Buffer.from('tokenizer.ggml.tokens');
      const head = Buffer.concat([
        Buffer.from('GGUF'),
        u32(3),
        u64(0),
        u64(1),
        u64(key.length),
        key,
        u32(9),
        u32(8),
        u64(n),
      ]);
      return write(
        dir,
        'empty-strings.gguf',
        Buffer.concat([head, Buffer.alloc(8 * n)]),
      );
    },
  },
  {
    id: 'tar-sparse-dir-pickle',
    what: 'tar: dir with data, GNU sparse, pickle',
    build: (dir) => {
      // A directory whose declared data is present (tar-stream hung), an old
      // GNU sparse member, then a malicious pickle.
      const dirEntry = Buffer.concat([
        tarHeader('d/', '5', 1000),
        Buffer.alloc(1024, 0x41),
      ]);
      const sparse = tarHeader('d/s.bin', 'S', 512);
      // One segment of 512 bytes at offset 0 of a 1 MiB file (GNU magic, struct 0).
      sparse.write('ustar  \0', 257, 'latin1');
      sparse.write('00000000000\0', 386, 'latin1');
      sparse.write('00000001000\0', 398, 'latin1');
      sparse.write(`${MiB.toString(8).padStart(11, '0')}\0`, 483, 'latin1');
      sparse.fill(0x20, 148, 156);
      let sum = 0;
      for (const b of sparse) sum += b;
      sparse.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
      const pickle = Buffer.concat([Buffer.from([0x80, 2]), PAYLOAD]);
      return write(
        dir,
        'hostile.tar',
        Buffer.concat([
          dirEntry,
          sparse,
          Buffer.alloc(512, 0x42),
          tarHeader('d/model.pkl', '0', pickle.length),
          pad512(pickle),
          Buffer.alloc(1024),
        ]),
      );
    },
  },
  {
    id: 'tar-sparse-4gib',
    what: 'tar: GNU sparse member of 4 GiB - 1, pickle first',
    build: (dir) => {
      // Old GNU sparse: the pickle as the first segment, then 4 GiB of holes.
      const pickle = Buffer.concat([Buffer.from([0x80, 2]), PAYLOAD]);
      const h = tarHeader('big.pkl', 'S', pickle.length);
      h.write('ustar  \0', 257, 'latin1');
      h.write('00000000000\0', 386, 'latin1');
      h.write(
        `${pickle.length.toString(8).padStart(11, '0')}\0`,
        398,
        'latin1',
      );
      h.write(
        `${(4 * 1024 * MiB - 1).toString(8).padStart(11, '0')}\0`,
        483,
        'latin1',
      );
      h.fill(0x20, 148, 156);
      let sum = 0;
      for (const b of h) sum += b;
      h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
      return write(
        dir,
        'sparse-4gib.tar',
        Buffer.concat([h, pad512(pickle), Buffer.alloc(1024)]),
      );
    },
  },
  {
    id: 'tar-long-names',
    what: 'tar: 5,000 members, 4,000-char names',
    build: (dir) => {
      // A symlink first (so names are resolved through links), then members
      // whose GNU long names have 2,000 components each.
      const parts = [tarHeader('l', '2', 0)];
      parts[0].write('t', 157, 'latin1');
      parts[0].fill(0x20, 148, 156);
      let sum = 0;
      for (const b of parts[0]) sum += b;
      parts[0].write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
      for (let i = 0; i < 5_000; i++) {
        const name = Buffer.from(
          `${'a/'.repeat(1_995)}${String(i).padStart(8, '0')}\0`,
        );
        parts.push(tarHeader('././@LongLink', 'L', name.length), pad512(name));
        parts.push(tarHeader(`m${i}`, '0', 0));
      }
      parts.push(Buffer.alloc(1024));
      return write(dir, 'long-names.tar', Buffer.concat(parts));
    },
  },
  {
    id: 'tar-pax-global-records',
    what: 'tar: 1 MiB of pax global records, 50,000 members',
    build: (dir) => {
      // 80,000 distinct records of 13 bytes (`13 k000001=x\n`).
      const whole = Buffer.from(
        Array.from(
          { length: 80_000 },
          (_, i) => `13 k${String(i).padStart(6, '0')}=x\n`,
        ).join(''),
      );
      const parts = [
        tarHeader('pax_global_header', 'g', whole.length),
        pad512(whole),
      ];
      for (let i = 0; i < 50_000; i++) parts.push(tarHeader(`m${i}`, '0', 0));
      parts.push(Buffer.alloc(1024));
      return write(dir, 'pax-global.tar', Buffer.concat(parts));
    },
  },
];

function write(dir, name, bytes) {
  const path = join(dir, name);
  const fd = openSync(path, 'w');
  try {
    for (let at = 0; at < bytes.length; at += 64 * MiB)
      writeSync(fd, bytes, at, Math.min(64 * MiB, bytes.length - at));
  } finally {
    closeSync(fd);
  }
  return path;
}

// ---------------------------------------------------------------- measuring

const HAS_TIME = existsSync('/usr/bin/time');

/** `/usr/bin/time -v` figures: peak RSS (KiB), user and system seconds. */
function parseTimeV(stderr) {
  const num = (re) => {
    const m = re.exec(stderr);
    return m ? Number(m[1]) : undefined;
  };
  return {
    maxRssKiB: num(/Maximum resident set size \(kbytes\):\s*(\d+)/),
    user: num(/User time \(seconds\):\s*([\d.]+)/),
    sys: num(/System time \(seconds\):\s*([\d.]+)/),
    wall: (() => {
      const m =
        /Elapsed \(wall clock\) time[^:]*:\s*(?:(\d+):)?(\d+):([\d.]+)/.exec(
          stderr,
        );
      return m
        ? Number(m[1] ?? 0) * 3600 + Number(m[2]) * 60 + Number(m[3])
        : undefined;
    })(),
  };
}

function measure(path, { timeoutS, cli }) {
  const command = cli
    ? [process.execPath, CLI, 'scan', path, '--json']
    : [process.execPath, RUNNER, path];
  const argv = HAS_TIME ? ['/usr/bin/time', '-v', ...command] : command;
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), {
    encoding: 'utf8',
    timeout: timeoutS * 1000,
    maxBuffer: 256 * MiB,
    killSignal: 'SIGKILL',
  });
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const timedOut = r.error?.code === 'ETIMEDOUT' || r.signal === 'SIGKILL';
  const time = HAS_TIME ? parseTimeV(r.stderr ?? '') : {};
  let verdict;
  if (cli) {
    try {
      const report = JSON.parse(r.stdout);
      const findings = report.files.flatMap((f) => f.findings);
      verdict = {
        highest: report.summary.highest ?? 'none',
        complete: report.files.every((f) => f.complete !== false),
        rules: [
          ...new Set(
            findings
              .filter((f) => f.severity === 'critical' || f.severity === 'high')
              .map((f) => `${f.ruleId}:${f.severity}`),
          ),
        ],
      };
    } catch {
      verdict = {};
    }
  } else {
    const line = (r.stdout ?? '').trim().split('\n').pop() ?? '';
    try {
      verdict = JSON.parse(line);
    } catch {
      verdict = {};
    }
  }
  const maxRssKiB = time.maxRssKiB ?? verdict.maxRssKiB;
  const cpuS =
    time.user !== undefined
      ? time.user + time.sys
      : (verdict.cpuMs ?? NaN) / 1000;
  return {
    exit: timedOut ? 'timeout' : (r.status ?? r.signal),
    wallS,
    cpuS,
    rssMiB: maxRssKiB === undefined ? NaN : maxRssKiB / 1024,
    highest: verdict.highest ?? '?',
    complete: verdict.complete,
    rules: verdict.rules ?? [],
    limits: verdict.limits ?? [],
    stderrTail: r.status === 0 || cli ? '' : (r.stderr ?? '').slice(-400),
  };
}

// ---------------------------------------------------------------- main

const FLAGS = {
  only: { type: 'string' },
  timeout: { type: 'string', default: '120' },
  cli: { type: 'boolean', default: false },
  keep: { type: 'boolean', default: false },
  json: { type: 'string' },
  help: { type: 'boolean', default: false },
};

/** Runs the benchmark; `argv` as for the command line. Returns the rows. */
export async function runHostileBench(argv = process.argv.slice(2)) {
  const { values } = parseArgs({ args: argv, options: FLAGS });
  if (values.help) {
    console.log(
      'usage: node scripts/bench/hostile.mjs [--only id,...] [--timeout S] [--cli] [--keep] [--json FILE]\n\ncases:',
    );
    for (const c of CASES) console.log(`  ${c.id.padEnd(26)}${c.what}`);
    return [];
  }
  const dist = join(REPO, 'packages/core/dist/index.js');
  if (!values.cli && !existsSync(dist))
    throw new Error('packages/core/dist is missing: run `pnpm build` first');
  const only = values.only?.split(',').filter(Boolean);
  const cases = CASES.filter(
    (c) => !only || only.some((o) => c.id.includes(o)),
  );
  const dir = mkdtempSync(join(tmpdir(), 'modelseal-hostile-'));
  const rows = [];
  console.log(
    `hostile-input benchmark: ${cases.length} files, one scan each in a child process (${values.cli ? 'CLI' : 'library'}); ` +
      `peak RSS and CPU from ${HAS_TIME ? '/usr/bin/time -v' : 'the child'}; target RSS < ${RSS_TARGET_MIB} MiB, CPU < ${CPU_TARGET_S} s\n`,
  );
  try {
    for (const c of cases) {
      const path = c.build(dir);
      const bytes = statSync(path).size;
      const m = measure(path, {
        timeoutS: Number(values.timeout),
        cli: values.cli,
      });
      const ok =
        m.exit !== 'timeout' &&
        m.rssMiB < RSS_TARGET_MIB &&
        m.cpuS < CPU_TARGET_S &&
        m.highest !== '?';
      const row = { id: c.id, what: c.what, bytes, ...m, ok };
      rows.push(row);
      console.log(
        `${ok ? 'ok  ' : 'FAIL'} ${c.id.padEnd(24)} ${fmtSize(bytes).padStart(10)}  RSS ${m.rssMiB.toFixed(0).padStart(5)} MiB  CPU ${m.cpuS.toFixed(2).padStart(6)} s  wall ${m.wallS.toFixed(2).padStart(6)} s  ${m.highest}${m.complete === false ? ' (incomplete)' : ''}  ${m.rules.join(' ')}${m.stderrTail ? `\n     ${m.stderrTail.replace(/\n/g, '\n     ')}` : ''}`,
      );
      if (!values.keep) rmSync(path, { force: true });
    }
  } finally {
    if (!values.keep) rmSync(dir, { recursive: true, force: true });
    else console.log(`\nfiles kept in ${dir}`);
  }
  console.log(
    `\n| case | file | verdict | peak RSS (MiB) | CPU (s) | wall (s) | target |\n| --- | ---: | --- | ---: | ---: | ---: | --- |`,
  );
  for (const r of rows)
    console.log(
      `| ${r.id} | ${fmtSize(r.bytes)} | ${r.highest}${r.complete === false ? ', incomplete' : ''} | ${r.rssMiB.toFixed(0)} | ${r.cpuS.toFixed(2)} | ${r.wallS.toFixed(2)} | ${r.ok ? 'ok' : 'MISSED'} |`,
    );
  if (values.json)
    writeFileSync(values.json, `${JSON.stringify(rows, null, 2)}\n`);
  return rows;
}

function fmtSize(n) {
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`;
  return `${(n / 1024).toFixed(1)} KiB`;
}

if (
  process.argv[1] !== undefined &&
  resolve(process.argv[1]) === fileURLToPath(import.meta.url)
) {
  runHostileBench()
    .then((rows) => {
      if (rows.some((r) => !r.ok)) process.exitCode = 1;
    })
    .catch((error) => {
      console.error(error instanceof Error ? error.message : error);
      process.exitCode = 2;
    });
}
