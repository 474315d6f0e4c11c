// SPDX-License-Identifier: Apache-2.0
// A FIFO named as the signature (a mistake, or a trap) is refused at once
// with IO_ERROR: the bundle is opened without waiting for a writer, also by
// the bin's peek at the bundle of one large file (helper-30's finding: both
// waited forever).
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/run-cli.js';

const work = mkdtempSync(join(tmpdir(), 'modelseal-fifo-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const pubFile = join(work, 'pub.pem');
writeFileSync(pubFile, publicKey.export({ type: 'spki', format: 'pem' }));

describe.skipIf(process.platform === 'win32')('a FIFO as the signature', () => {
  const fifo = join(work, 'model.sig');
  execFileSync('mkfifo', [fifo]);

  it.each([
    ['a small model', 'small', 10],
    // 17 MiB (sparse): the bin peeks at the bundle for a shard size.
    ['one large file', 'large.bin', 17 * 1024 * 1024],
  ])('is refused at once for %s', async (_label, name, size) => {
    const model = join(work, name);
    writeFileSync(model, 'w');
    truncateSync(model, size);
    const started = Date.now();
    const r = await runCli([
      'verify',
      'key',
      model,
      '--public-key',
      pubFile,
      '--signature',
      fifo,
    ]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('[IO_ERROR]');
    expect(r.stderr).toContain('not a regular file');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(Date.now() - started).toBeLessThan(15_000);
  });
});
