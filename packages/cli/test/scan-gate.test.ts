// SPDX-License-Identifier: Apache-2.0
// `modelseal sign` scans first: a malicious pickle blocks signing (exit 1),
// --allow-unsafe REASON overrides and is recorded, --require-scan enforces it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { keyPairFiles } from './helpers/fixtures.js';
import { runCli } from './helpers/run-cli.js';

const work = mkdtempSync(join(tmpdir(), 'modelseal-gate-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const { key, pub } = keyPairFiles(work);

describe('sign scan gate and verify --require-scan', () => {
  it('refuses, overrides with a recorded reason, and only a clean attestation passes --require-scan', async () => {
    const model = join(work, 'model');
    mkdirSync(model);
    writeFileSync(join(model, 'config.json'), '{}');
    writeFileSync(
      join(model, 'pytorch_model.bin'),
      Buffer.from("cos\nsystem\n(S'id'\ntR.", 'latin1'),
    );
    const sig = join(work, 'model.sig');
    const signing = ['--private-key', key, '--signature', sig];
    const checking = ['--public-key', pub, '--signature', sig];
    const sign = (...more: string[]): ReturnType<typeof runCli> =>
      runCli(['sign', 'key', model, ...signing, ...more]);
    const verify = (...more: string[]): ReturnType<typeof runCli> =>
      runCli(['verify', 'key', model, ...checking, ...more]);
    const refused = await sign();
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /\[UNSAFE_CONTENT\]: refusing to sign .*PICKLE_DANGEROUS_GLOBAL in pytorch_model\.bin/,
    );

    const log = join(work, 'audit.jsonl');
    const overridden = await sign(
      '--allow-unsafe',
      'SEC-42 red-team sample',
      '--attest-scan',
      '--audit-log',
      log,
      '--json',
    );
    expect(overridden.code).toBe(0);
    expect(JSON.parse(overridden.stdout).scan).toMatchObject({
      verdict: 'findings',
      overrideReason: 'SEC-42 red-team sample',
    });
    expect(overridden.stderr).toMatch(
      /warning: signed despite the scan \(1 finding\(s\)\); override recorded: SEC-42/,
    );
    const { readFileSync } = await import('node:fs');
    expect(JSON.parse(readFileSync(log, 'utf8')).event.reason).toMatch(
      /SEC-42/,
    );

    expect((await verify()).code).toBe(0);
    const required = await verify('--require-scan');
    expect(required.code).toBe(1);
    expect(required.stderr).toMatch(/\[SCAN_REQUIRED\]/);

    rmSync(join(model, 'pytorch_model.bin'));
    expect((await sign('--attest-scan', '--force')).code).toBe(0);
    const clean = await verify('--require-scan');
    expect(clean.code).toBe(0);
    expect(clean.stdout).toMatch(/scanned clean: modelseal/);

    // --allow-unsafe on a clean model (a pipeline that always passes it)
    // overrides nothing: no warning, no "(overridden)", no override in the
    // attestation, so --require-scan still passes.
    const needless = await sign(
      '--attest-scan',
      '--allow-unsafe',
      'always passed in CI',
      '--force',
    );
    expect(needless.code, needless.stderr).toBe(0);
    expect(needless.stderr).not.toMatch(/despite|override/);
    expect(needless.stdout).toMatch(/ {2}scan: clean, /);
    const stillClean = await verify('--require-scan');
    expect(stillClean.code, stillClean.stderr).toBe(0);
    expect(stillClean.stdout).toMatch(/scanned clean: modelseal/);
  });
});
