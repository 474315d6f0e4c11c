// SPDX-License-Identifier: Apache-2.0
// modelseal scan through the CLI: verdicts, exit codes, JSON and SARIF reports.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../core/test/helpers/vectors.js';
import { runCli } from './helpers/run-cli.js';

const work = mkdtempSync(join(tmpdir(), 'modelseal-scan-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const pickles = join(REPO_ROOT, 'test-vectors/pickle');

describe('modelseal scan', () => {
  it('malicious samples exit 1 and are listed; benign ones exit 0', async () => {
    const bad = await runCli(['scan', join(pickles, 'malicious')]);
    expect(bad.code).toBe(1);
    expect(bad.stdout).toMatch(
      /^CRITICAL +\S+( @\d+)? +PICKLE_DANGEROUS_GLOBAL/m,
    );
    expect(bad.stdout).toMatch(/scanned \d+ files .*: \d+ critical/);
    const good = await runCli(['scan', join(pickles, 'benign')]);
    expect(good.code).toBe(0);
    expect(good.stdout).not.toMatch(/^(CRITICAL|HIGH|MEDIUM) /m);
  });

  it('--fail-on moves the threshold; none never fails', async () => {
    expect(
      (await runCli(['scan', join(pickles, 'malicious'), '--fail-on', 'none']))
        .code,
    ).toBe(0);
    expect(
      (
        await runCli([
          'scan',
          join(pickles, 'malicious'),
          '--fail-on',
          'critical',
        ])
      ).code,
    ).toBe(1);
    expect(
      (await runCli(['scan', join(pickles, 'benign'), '--fail-on', 'bogus']))
        .code,
    ).toBe(2);
  });

  it('JSON `ok` answers as the exit code does (it was always true)', async () => {
    const bad = await runCli([
      'scan',
      join(pickles, 'malicious'),
      '--format',
      'json',
    ]);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ ok: false, failOn: 'high' });
    const waved = await runCli([
      'scan',
      join(pickles, 'malicious'),
      '--format',
      'json',
      '--fail-on',
      'none',
    ]);
    expect(waved.code).toBe(0);
    expect(JSON.parse(waved.stdout).ok).toBe(true);
    const good = await runCli([
      'scan',
      join(pickles, 'benign'),
      '--format',
      'json',
    ]);
    expect(good.code).toBe(0);
    expect(JSON.parse(good.stdout).ok).toBe(true);
  });

  it('SARIF 2.1.0: rules with security-severity, levels, relative URIs with !/ for members, fingerprints', async () => {
    const result = await runCli([
      'scan',
      join(pickles, 'malicious'),
      '--format',
      'sarif',
    ]);
    expect(result.code).toBe(1);
    const sarif = JSON.parse(result.stdout);
    expect(sarif.version).toBe('2.1.0');
    const run = sarif.runs[0];
    expect(run.tool.driver.name).toBe('modelseal');
    const rule = run.tool.driver.rules.find(
      (r: { id: string }) => r.id === 'PICKLE_DANGEROUS_GLOBAL',
    );
    expect(rule.properties['security-severity']).toBe('9.5');
    const results = run.results as {
      ruleId: string;
      level: string;
      locations: { physicalLocation: { artifactLocation: { uri: string } } }[];
      partialFingerprints: Record<string, string>;
    }[];
    const critical = results.find(
      (r) => r.ruleId === 'PICKLE_DANGEROUS_GLOBAL',
    )!;
    expect(critical.level).toBe('error');
    expect(critical.partialFingerprints.primaryLocationLineHash).toMatch(/\S+/);
    const uris = results.map(
      (r) => r.locations[0]!.physicalLocation.artifactLocation.uri,
    );
    expect(uris.every((u) => !u.startsWith('/'))).toBe(true);
    expect(uris.some((u) => u.includes('!/archive/data.pkl'))).toBe(true);
  });

  it('--output writes atomically and never overwrites without --force', async () => {
    const out = join(work, 'report.json');
    const first = await runCli([
      'scan',
      join(pickles, 'benign'),
      '--format',
      'json',
      '--output',
      out,
    ]);
    expect(first.code).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8')).summary.files).toBeGreaterThan(
      40,
    );
    const again = await runCli([
      'scan',
      join(pickles, 'benign'),
      '--format',
      'json',
      '--output',
      out,
    ]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/\[FILE_EXISTS\]/);
    expect(
      (
        await runCli([
          'scan',
          join(pickles, 'benign'),
          '--format',
          'json',
          '--output',
          out,
          '--force',
        ])
      ).code,
    ).toBe(0);
  });

  it('a file that cannot be read exits 3; a FIFO never blocks', async () => {
    const fifo = join(work, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const result = await runCli(['scan', fifo]);
    expect(result.code).toBe(3);
    expect(result.stdout).toMatch(/ERROR +pipe/);
    expect((await runCli(['scan', join(work, 'missing.pkl')])).code).toBe(3);
  });

  it('a mixed directory: every format in one JSON report and one SARIF run', async () => {
    const dir = join(REPO_ROOT, 'test-vectors');
    const json = await runCli([
      'scan',
      dir,
      '--format',
      'json',
      '--fail-on',
      'none',
    ]);
    expect(json.code).toBe(0);
    const report = JSON.parse(json.stdout);
    const formats = new Set(
      report.files.flatMap((f: { formats: string[] }) => f.formats),
    );
    for (const format of [
      'pickle',
      'pytorch-zip',
      'pytorch-legacy',
      'numpy-npy',
      'joblib',
      'onnx',
      'safetensors',
      'gguf',
      'keras',
      'keras-h5',
      'tf-savedmodel',
      'tflite',
      'tar',
      'zip',
    ]) {
      expect(formats, format).toContain(format);
    }
    const sarif = JSON.parse(
      (await runCli(['scan', dir, '--format', 'sarif', '--fail-on', 'none']))
        .stdout,
    );
    expect(sarif.runs).toHaveLength(1);
    const ruleIds = new Set(
      sarif.runs[0].results.map(
        (r: { ruleId: string }) => r.ruleId.split('_')[0],
      ),
    );
    for (const family of [
      'PICKLE',
      'ONNX',
      'SAFETENSORS',
      'GGUF',
      'KERAS',
      'TF',
      'ARCHIVE',
    ])
      expect(ruleIds, family).toContain(family);
  });
});
