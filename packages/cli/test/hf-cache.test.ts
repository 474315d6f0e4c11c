// SPDX-License-Identifier: Apache-2.0
// modelseal verify on a Hugging Face hub-cache snapshot (issue 13 item 2) and
// with --verify-cache (item 4), through the real CLI.
import { createHash, randomBytes } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_DIR_BASE } from '../../core/test/helpers/tree.js';
import { keyPairFiles } from './helpers/fixtures.js';
import { runCli } from './helpers/run-cli.js';

const work = mkdtempSync(join(TEST_DIR_BASE, 'modelseal-cli-hf-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const { key: keyFile, pub: pubFile } = keyPairFiles(work);

const FILES: Record<string, Buffer> = {
  'config.json': Buffer.from('{"model_type":"tiny"}\n'),
  'model.safetensors': randomBytes(50_000),
  'onnx/model.onnx': randomBytes(3_000),
};
const REV = '0123456789abcdef0123456789abcdef01234567';
const sha256 = (b: Buffer): string =>
  createHash('sha256').update(b).digest('hex');

const publisher = join(work, 'publisher', 'tiny');
for (const [name, data] of Object.entries(FILES)) {
  mkdirSync(dirname(join(publisher, name)), { recursive: true });
  writeFileSync(join(publisher, name), data);
}
const repo = join(work, 'hub', 'models--acme--tiny');
const snapshot = join(repo, 'snapshots', REV);
mkdirSync(join(repo, 'blobs'), { recursive: true });
for (const [name, data] of Object.entries(FILES)) {
  writeFileSync(join(repo, 'blobs', sha256(data)), data);
  mkdirSync(dirname(join(snapshot, name)), { recursive: true });
  symlinkSync(
    `${'../'.repeat(name.split('/').length + 1)}blobs/${sha256(data)}`,
    join(snapshot, name),
  );
}
const sig = join(work, 'model.sig');

const verify = (model: string, ...extra: string[]) =>
  runCli([
    'verify',
    'key',
    model,
    '--public-key',
    pubFile,
    '--signature',
    sig,
    ...extra,
  ]);

describe('modelseal verify on a Hugging Face cache snapshot', () => {
  it('signs the publisher folder and verifies the cached snapshot as-is', async () => {
    const signed = await runCli([
      'sign',
      'key',
      publisher,
      '--private-key',
      keyFile,
      '--signature',
      sig,
    ]);
    expect(signed.code).toBe(0);
    const detected = await verify(snapshot);
    expect(detected.stderr).toBe('');
    expect(detected.code).toBe(0);
    expect(detected.stdout).toContain('3 resources match');
    expect(detected.stdout).toContain(
      `hugging face cache: models--acme--tiny snapshot ${REV}`,
    );
    expect((await verify(snapshot, '--hf-cache')).code).toBe(0);
    const off = await verify(snapshot, '--no-hf-cache');
    expect(off.code).toBe(1);
    expect(off.stderr).toMatch(/\[SYMLINK_NOT_ALLOWED\]/);
    const plain = await verify(publisher, '--hf-cache');
    expect(plain.code).toBe(2);
    expect(plain.stderr).toContain('not a Hugging Face cache snapshot');
  });

  it('refuses a link leaving the repository blobs/, naming it', async () => {
    const outside = join(work, 'elsewhere.json');
    writeFileSync(outside, FILES['config.json']!);
    const link = join(snapshot, 'config.json');
    unlinkSync(link);
    symlinkSync(outside, link);
    try {
      const refused = await verify(snapshot, '--json');
      expect(refused.code).toBe(1);
      const error = JSON.parse(refused.stdout) as {
        error: { code: string; details: Record<string, unknown> };
      };
      expect(error.error.code).toBe('SYMLINK_NOT_ALLOWED');
      expect(error.error.details).toMatchObject({
        path: 'config.json',
        reason: 'HF_LINK_OUTSIDE_BLOBS',
      });
    } finally {
      unlinkSync(link);
      symlinkSync(`../../blobs/${sha256(FILES['config.json']!)}`, link);
    }
  });

  it('--verify-cache records, then reports the unchanged files; refuses a world-writable cache', async () => {
    const cache = join(work, 'cache', 'verify.json');
    mkdirSync(dirname(cache), { mode: 0o700 });
    // Let the racy window (2 s after the last change) pass so entries are recorded.
    await new Promise((r) => setTimeout(r, 2200));
    const first = await verify(snapshot, '--verify-cache', cache);
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('verify cache: 0 of 3 files');
    expect(statSync(cache).mode & 0o777).toBe(0o600);
    const second = await verify(snapshot, '--verify-cache', cache);
    expect(second.code).toBe(0);
    expect(second.stdout).toContain('verify cache: 3 of 3 files');
    writeFileSync(cache, '{}', { mode: 0o666 });
    const { chmodSync } = await import('node:fs');
    chmodSync(cache, 0o666);
    const refused = await verify(snapshot, '--verify-cache', cache);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('writable by everyone');
  });
});
