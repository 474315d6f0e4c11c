// SPDX-License-Identifier: Apache-2.0
// `--limit NAME=VALUE` on scan and sign; files not fully scanned in the text
// report, the summary and the exit code; sign refuses an incomplete scan and
// verify --require-scan refuses an attestation of one (SCAN_INCOMPLETE).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keyPairFiles } from './helpers/fixtures.js';
import { parse } from '../src/args.js';
import { limitsFrom } from '../src/commands/limits.js';
import { UsageError } from '../src/exit-codes.js';
import { runCli } from './helpers/run-cli.js';

const work = mkdtempSync(join(tmpdir(), 'modelseal-limits-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// (1, 2) as a protocol 4 pickle: PROTO, BININT1, BININT1, TUPLE2, STOP. Benign.
const BENIGN_PICKLE = Buffer.from([
  0x80, 0x04, 0x4b, 0x01, 0x4b, 0x02, 0x86, 0x2e,
]);

const { key, pub } = keyPairFiles(work);

function model(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'weights.pkl'), BENIGN_PICKLE);
  writeFileSync(join(dir, 'config.json'), '{}');
  return dir;
}

function limits(...specs: string[]): ReturnType<typeof limitsFrom> {
  return limitsFrom(
    parse(
      specs.flatMap((s) => ['--limit', s]),
      { limit: { type: 'string', multiple: true } },
    ),
  );
}

describe('--limit NAME=VALUE', () => {
  it('maps names to ScanLimits and reads byte, time and count suffixes', () => {
    expect(limits()).toBeUndefined();
    expect(
      limits(
        'maxMemberBytes=512MiB',
        'maxExpandedBytes=4GiB',
        'maxFileMs=2min',
        'maxPickleOpcodes=20_000_000',
        'maxJsonDepth=64',
      ),
    ).toEqual({
      maxMemberBytes: 512 * 1024 ** 2,
      maxExpandedBytes: 4 * 1024 ** 3,
      maxFileMs: 120_000,
      maxPickleOpcodes: 20_000_000,
      maxJsonDepth: 64,
    });
    expect(limits('maxMemberBytes=1.5GiB')).toEqual({
      maxMemberBytes: 1.5 * 1024 ** 3,
    });
    expect(limits('maxMemberBytes=2GB')).toEqual({ maxMemberBytes: 2e9 });
    expect(limits('maxMemberBytes=64k')).toEqual({ maxMemberBytes: 65_536 });
    expect(limits('maxFileMs=30s')).toEqual({ maxFileMs: 30_000 });
    expect(limits('maxFileMs=500')).toEqual({ maxFileMs: 500 });
  });

  it('an unknown name, a bad value or unit, or a conflicting repeat is a usage error naming the flag', () => {
    for (const [spec, pattern] of [
      ['maxBogus=1', /--limit "maxBogus=1": unknown limit "maxBogus"/],
      ['maxPickleOpcodes', /expected NAME=VALUE/],
      ['=5', /expected NAME=VALUE/],
      ['maxPickleOpcodes=-1', /not a non-negative number/],
      ['maxPickleOpcodes=lots', /not a non-negative number/],
      ['maxPickleOpcodes=1.5', /whole number/],
      ['maxPickleOpcodes=5MiB', /unit "MiB" of maxPickleOpcodes/],
      ['maxMemberBytes=5XB', /unit "XB" of maxMemberBytes/],
      ['maxFileMs=5GiB', /unit "GiB" of maxFileMs/],
      ['maxMemberBytes=99999999999999999TiB', /too large/],
    ] as const) {
      expect(() => limits(spec), spec).toThrow(UsageError);
      expect(() => limits(spec), spec).toThrow(pattern);
    }
    expect(() => limits('maxJsonDepth=1', 'maxJsonDepth=2')).toThrow(
      /given twice/,
    );
    expect(limits('maxJsonDepth=2', 'maxJsonDepth=2')).toEqual({
      maxJsonDepth: 2,
    });
  });

  it('scan: exit 2 naming --limit for a bad limit', async () => {
    const dir = model('usage');
    for (const spec of ['nope=1', 'maxMemberBytes=12XB']) {
      const r = await runCli(['scan', dir, '--limit', spec]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/usage error: --limit /);
      expect(r.stdout).toBe('');
    }
  });

  it('scan: a file a limit stopped is listed as not fully scanned, counted, and fails the default --fail-on', async () => {
    const dir = model('scan');
    const full = await runCli(['scan', dir]);
    expect(full.code).toBe(0);
    expect(full.stdout).not.toMatch(/NOT FULLY SCANNED|not fully scanned/);

    const cut = await runCli(['scan', dir, '--limit', 'maxPickleOpcodes=2']);
    expect(cut.code).toBe(1);
    expect(cut.stdout).toMatch(
      /^HIGH +weights\.pkl( @\d+)? +SCAN_INCOMPLETE +not fully scanned/m,
    );
    expect(cut.stdout).toMatch(/^NOT FULLY SCANNED: 1 file \(/m);
    expect(cut.stdout).toMatch(/^ {2}weights\.pkl \(maxPickleOpcodes\)$/m);
    expect(cut.stdout).toMatch(
      /^scanned 2 files .*: .*1 high.*; 1 not fully scanned$/m,
    );

    // The exit code follows --fail-on; the report still says it.
    const lenient = await runCli([
      'scan',
      dir,
      '--limit',
      'maxPickleOpcodes=2',
      '--fail-on',
      'critical',
    ]);
    expect(lenient.code).toBe(0);
    expect(lenient.stdout).toMatch(/; 1 not fully scanned$/m);

    const json = await runCli([
      'scan',
      dir,
      '--limit',
      'maxPickleOpcodes=2',
      '--format',
      'json',
    ]);
    const report = JSON.parse(json.stdout) as {
      summary: { incomplete: number };
      files: { file: string; complete: boolean }[];
    };
    expect(report.summary.incomplete).toBe(1);
    expect(report.files.find((f) => f.file === 'weights.pkl')?.complete).toBe(
      false,
    );
  });

  it('sign: --limit applies to the sign-time scan; an incomplete scan refuses; its attestation fails --require-scan', async () => {
    const dir = model('sign');
    const sig = join(work, 'sign.sig');
    const bad = await runCli([
      'sign',
      'key',
      dir,
      '--private-key',
      key,
      '--signature',
      sig,
      '--limit',
      'maxPickleOpcodes=bogus',
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/usage error: --limit "maxPickleOpcodes=bogus"/);

    const refused = await runCli([
      'sign',
      'key',
      dir,
      '--private-key',
      key,
      '--signature',
      sig,
      '--attest-scan',
      '--limit',
      'maxPickleOpcodes=2',
      '--fail-on',
      'critical',
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /\[UNSAFE_CONTENT\]: refusing to sign .*1 file\(s\) not fully scanned, first weights\.pkl/,
    );
    expect(refused.stderr).toMatch(/^ {2}not fully scanned: weights\.pkl$/m);

    const overridden = await runCli([
      'sign',
      'key',
      dir,
      '--private-key',
      key,
      '--signature',
      sig,
      '--attest-scan',
      '--limit',
      'maxPickleOpcodes=2',
      '--allow-unsafe',
      'limit lowered for the test',
    ]);
    expect(overridden.code).toBe(0);
    expect(overridden.stdout).toMatch(
      /scan: findings \(overridden\), 2 files, .*1 not fully scanned/,
    );
    // The warning names what was overridden.
    expect(overridden.stderr).toMatch(
      /warning: signed despite the scan \(.*1 file\(s\) not fully scanned\); override recorded: limit lowered for the test/,
    );

    const verify = await runCli([
      'verify',
      'key',
      dir,
      '--public-key',
      pub,
      '--signature',
      sig,
      '--require-scan',
      '-q',
    ]);
    expect(verify.code).toBe(1);
    const lines = verify.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^modelseal: error \[SCAN_INCOMPLETE\]: the scan attestation .* records an incomplete scan: 1 file\(s\) not fully scanned \(weights\.pkl\)$/,
    );

    // Signed again with the default limits: complete, and --require-scan passes.
    const clean = await runCli([
      'sign',
      'key',
      dir,
      '--private-key',
      key,
      '--signature',
      sig,
      '--attest-scan',
      '--force',
      '-q',
    ]);
    expect(clean.code).toBe(0);
    const ok = await runCli([
      'verify',
      'key',
      dir,
      '--public-key',
      pub,
      '--signature',
      sig,
      '--require-scan',
      '-q',
    ]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/scanned clean: .*every file to its end/);
  });
});
