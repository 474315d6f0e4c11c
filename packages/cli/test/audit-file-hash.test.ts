// SPDX-License-Identifier: Apache-2.0
// ECS `file.hash.sha256` holds a single file's own SHA-256 (what a SIEM compares
// with other sightings of the file), never a directory's root digest.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/run-cli.js';

const work = mkdtempSync(join(tmpdir(), 'modelseal-audit-hash-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function event(stdout: string): Record<string, unknown> {
  const line = stdout
    .split('\n')
    .find((l) => l.startsWith('{') && l.includes('"event"'));
  if (line === undefined) throw new Error(`no audit line in: ${stdout}`);
  return JSON.parse(line) as Record<string, unknown>;
}

describe('audit file.hash.sha256', () => {
  const file = join(work, 'model.safetensors');
  writeFileSync(file, 'single-file model bytes');
  const dir = join(work, 'dir');
  mkdirSync(dir);
  writeFileSync(join(dir, 'a.bin'), 'a');

  it('is the single file own SHA-256 for a one-file model', async () => {
    const r = await runCli(['digest', file, '--audit-log', '-']);
    expect(r.code).toBe(0);
    const e = event(r.stdout) as {
      file: { hash?: { sha256?: string }; path?: string };
    };
    expect(e.file.hash?.sha256).toBe(
      createHash('sha256').update('single-file model bytes').digest('hex'),
    );
    expect(e.file.path).toBe(file);
  });

  it('is absent for a directory (the root digest is in modelseal.*)', async () => {
    const r = await runCli(['digest', dir, '--audit-log', '-']);
    expect(r.code).toBe(0);
    const e = event(r.stdout) as {
      file: { hash?: unknown };
      modelseal: { model: { root_digest: string } };
    };
    expect(e.file.hash).toBeUndefined();
    expect(e.modelseal.model.root_digest).toMatch(/^[0-9a-f]{64}$/);
  });
});
