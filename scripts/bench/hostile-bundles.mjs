#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
/**
 * Hostile-bundle benchmark (issue 12, item 3): CPU seconds and peak RSS of
 * `modelseal verify` and `modelseal inspect` on bundles shaped to exhaust a
 * verifier, one child process each (the CLI, packages/cli/bin/modelseal.js;
 * `pnpm build` first). Every case must fail fast with a bundle code.
 *
 * The bundles are built at run time from the reference vector
 * test-vectors/oms-reference/v1.1.0-sigstore (public-good Sigstore, verifies
 * offline with the embedded trusted root):
 *
 *   ts-flood-4000        its RFC 3161 timestamp repeated 4,000 times
 *   ts-flood-8000        repeated 8,000 times
 *   tlog-flood-4000      its Rekor entry repeated 4,000 times
 *   dense-63mib-verify   63 MiB of `[],` in an unknown top-level field (ignored by readers), verify
 *   dense-63mib-inspect  the same bundle, inspect
 *   baseline-verify      the vector as is (must verify)
 *
 * Peak RSS and CPU (user + system) come from `/usr/bin/time -v` when present,
 * else wall time only.
 *
 *   node scripts/bench/hostile-bundles.mjs [--only id,id] [--timeout 120] [--keep]
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  cpSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const CLI = join(ROOT, 'packages/cli/bin/modelseal.js');
const VECTOR = join(ROOT, 'test-vectors/oms-reference/v1.1.0-sigstore');
const IDENTITY = [
  '--identity',
  'stefanb@us.ibm.com',
  '--identity-provider',
  'https://sigstore.verify.ibm.com/oauth2',
];

const args = process.argv.slice(2);
const opt = (name) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
const only = opt('--only')?.split(',');
const timeoutS = Number(opt('--timeout') ?? 120);
const keep = args.includes('--keep');

const work = mkdtempSync(join(tmpdir(), 'modelseal-hostile-bundles-'));
const model = join(work, 'model');
cpSync(VECTOR, model, { recursive: true });
rmSync(join(model, 'model.sig'));
const original = JSON.parse(readFileSync(join(VECTOR, 'model.sig'), 'utf8'));

function bundleWith(name, edit) {
  const b = structuredClone(original);
  edit(b);
  const path = join(work, `${name}.sig`);
  writeFileSync(path, JSON.stringify(b));
  return path;
}

function denseBundle(name, mib) {
  // Written as text: 63 MiB of `[],` inside one unknown key.
  const path = join(work, `${name}.sig`);
  const text = JSON.stringify(original);
  const unit = '[],';
  const count = Math.floor((mib * 1024 * 1024) / unit.length);
  const body = `[${unit.repeat(count)}[]]`;
  writeFileSync(path, `{"x":${body},${text.slice(1)}`);
  return path;
}

const flood = (n) => (b) => {
  const ts = b.verificationMaterial.timestampVerificationData.rfc3161Timestamps;
  b.verificationMaterial.timestampVerificationData.rfc3161Timestamps =
    Array.from({ length: n }, () => ts[0]);
};

const cases = [
  {
    id: 'baseline-verify',
    expect: 0,
    build: () => bundleWith('baseline', () => {}),
    cmd: 'verify',
  },
  {
    id: 'ts-flood-4000',
    expect: 1,
    build: () => bundleWith('ts4000', flood(4000)),
    cmd: 'verify',
  },
  {
    id: 'ts-flood-8000',
    expect: 1,
    build: () => bundleWith('ts8000', flood(8000)),
    cmd: 'verify',
  },
  {
    id: 'tlog-flood-4000',
    expect: 1,
    build: () =>
      bundleWith('tlog4000', (b) => {
        const e = b.verificationMaterial.tlogEntries[0];
        b.verificationMaterial.tlogEntries = Array.from(
          { length: 4000 },
          () => e,
        );
      }),
    cmd: 'verify',
  },
  {
    id: 'dense-63mib-verify',
    expect: 1,
    build: () => denseBundle('dense', 63),
    cmd: 'verify',
  },
  {
    id: 'dense-63mib-inspect',
    expect: 1,
    build: () => denseBundle('dense-i', 63),
    cmd: 'inspect',
  },
];

const hasTime = existsSync('/usr/bin/time');

function run(c) {
  const sig = c.build();
  const cli =
    c.cmd === 'verify'
      ? [
          CLI,
          'verify',
          'sigstore',
          model,
          '--signature',
          sig,
          ...IDENTITY,
          '--json',
          '-q',
        ]
      : [CLI, 'inspect', sig, '--json'];
  // `timeout` kills the node child itself (a killed /usr/bin/time would leave it running);
  // /usr/bin/time still sees its CPU and peak RSS through wait4.
  const limited = [
    'timeout',
    '-s',
    'KILL',
    String(timeoutS),
    process.execPath,
    ...cli,
  ];
  const argv = hasTime ? ['/usr/bin/time', '-v', ...limited] : limited;
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0], argv.slice(1), {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const stderr = r.stderr ?? '';
  const field = (re) => {
    const m = stderr.match(re);
    return m ? Number(m[1]) : undefined;
  };
  const user = field(/User time \(seconds\): ([\d.]+)/);
  const sys = field(/System time \(seconds\): ([\d.]+)/);
  const rssKiB = field(/Maximum resident set size \(kbytes\): (\d+)/);
  let code;
  try {
    const out = JSON.parse(r.stdout);
    code = out.ok ? 'ok' : out.error?.code;
  } catch {
    code = /Command terminated by signal 9|Exit status: 137/.test(stderr)
      ? `killed after ${timeoutS} s`
      : (r.stdout || stderr).split('\n')[0].slice(0, 80);
  }
  const exit =
    /Command terminated by signal 9/.test(stderr) || r.status === 137
      ? 'timeout'
      : (r.status ?? r.signal);
  return {
    id: c.id,
    bundleMiB: +(readFileSync(sig).length / 2 ** 20).toFixed(2),
    exit,
    expectedExit: c.expect,
    code,
    cpuS: user === undefined ? undefined : +(user + (sys ?? 0)).toFixed(2),
    peakRssMiB: rssKiB === undefined ? undefined : +(rssKiB / 1024).toFixed(1),
    wallS: +wallS.toFixed(2),
  };
}

const rows = [];
for (const c of cases) {
  if (only && !only.includes(c.id)) continue;
  const row = run(c);
  rows.push(row);
  console.log(
    `${row.id.padEnd(20)} ${String(row.bundleMiB).padStart(7)} MiB  exit ${String(row.exit).padEnd(3)} ${String(row.code).padEnd(26)} cpu ${String(row.cpuS ?? '?').padStart(7)} s  peak RSS ${String(row.peakRssMiB ?? '?').padStart(7)} MiB  wall ${row.wallS} s`,
  );
}
if (!keep) rmSync(work, { recursive: true, force: true });
else console.log(`kept ${work}`);
const bad = rows.filter((r) => r.exit !== r.expectedExit);
if (bad.length > 0) {
  console.error(`unexpected exit status: ${bad.map((r) => r.id).join(', ')}`);
  process.exitCode = 1;
}
