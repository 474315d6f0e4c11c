// SPDX-License-Identifier: Apache-2.0
// Audit events: one ECS JSON line per operation, success and failure alike.
import { generateKeyPairSync } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/run-cli.js';

const work = mkdtempSync(join(tmpdir(), 'modelseal-audit-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('--audit-log', () => {
  const model = join(work, 'model');
  mkdirSync(model);
  writeFileSync(join(model, 'w.bin'), 'weights');
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writeFileSync(
    join(work, 'key.pem'),
    privateKey.export({ type: 'pkcs8', format: 'pem' }),
  );
  writeFileSync(
    join(work, 'pub.pem'),
    publicKey.export({ type: 'spki', format: 'pem' }),
  );
  const log = join(work, 'audit.jsonl');
  const sig = join(work, 'model.sig');

  it('appends one ECS event per sign and verify, with who, what digest and the outcome', async () => {
    expect(
      (
        await runCli([
          'sign',
          'key',
          model,
          '--private-key',
          join(work, 'key.pem'),
          '--signature',
          sig,
          '--audit-log',
          log,
        ])
      ).code,
    ).toBe(0);
    expect(
      (
        await runCli(
          [
            'verify',
            'key',
            model,
            '--public-key',
            join(work, 'pub.pem'),
            '--signature',
            sig,
          ],
          { env: { MODELSEAL_AUDIT_LOG: log } },
        )
      ).code,
    ).toBe(0);
    writeFileSync(join(model, 'w.bin'), 'tampered');
    expect(
      (
        await runCli([
          'verify',
          'key',
          model,
          '--public-key',
          join(work, 'pub.pem'),
          '--signature',
          sig,
          '--audit-log',
          log,
        ])
      ).code,
    ).toBe(1);
    const events = readFileSync(log, 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(events).toHaveLength(3);
    expect(events.map((e) => [e.event.action, e.event.outcome])).toEqual([
      ['model-sign', 'success'],
      ['model-verify', 'success'],
      ['model-verify', 'failure'],
    ]);
    expect(events[0]).toMatchObject({
      ecs: { version: '8.11.0' },
      modelseal: { method: 'key', signer: { method: 'key' } },
    });
    // A directory's root digest is modelseal's, not a file hash; file.path is absolute.
    expect(events[0].modelseal.model.root_digest).toMatch(/^[0-9a-f]{64}$/);
    expect(events[0].file.hash).toBeUndefined();
    expect(events[0].file.path).toBe(model);
    expect(events[1].modelseal.model.root_digest).toBe(
      events[0].modelseal.model.root_digest,
    );
    expect(events[1].file.code_signature).toMatchObject({
      exists: true,
      valid: true,
      trusted: true,
    });
    expect(events[2].file.code_signature).toMatchObject({
      exists: true,
      valid: false,
      status: 'MANIFEST_MISMATCH',
    });
    expect(events[2].event).toMatchObject({ code: 'MANIFEST_MISMATCH' });
    expect(events[2].event.reason).toMatch(/does not match/);
    expect(typeof events[2].event.duration).toBe('number');
  });

  it('an unwritable audit log is an operational error, never silent', async () => {
    const result = await runCli([
      'digest',
      model,
      '--audit-log',
      join(work, 'no-such-dir', 'audit.jsonl'),
    ]);
    expect(result.code).toBe(3);
    // Checked before the command does any work: no digest printed.
    expect(result.stderr).toMatch(
      /\[IO_ERROR\].*cannot write the audit log .*no-such-dir.*--audit-log/,
    );
    expect(result.stdout).toBe('');
  });
});
