// SPDX-License-Identifier: Apache-2.0
// sign, verify and inspect through the real CLI, with real keys.
import { generateKeyPairSync } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
  renameSync,
  existsSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './helpers/run-cli.js';

const work = mkdtempSync(join(tmpdir(), 'modelseal-cli-sv-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function tree(name: string, files: Record<string, string>): string {
  const root = join(work, name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

const { privateKey, publicKey } = generateKeyPairSync('ec', {
  namedCurve: 'P-384',
});
const keyFile = join(work, 'key.pem');
const pubFile = join(work, 'pub.pem');
const encFile = join(work, 'enc.pem');
writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(pubFile, publicKey.export({ type: 'spki', format: 'pem' }));
writeFileSync(
  encFile,
  privateKey.export({
    type: 'pkcs8',
    format: 'pem',
    cipher: 'aes-256-cbc',
    passphrase: 'hunter2',
  }),
);
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const otherPub = join(work, 'other.pem');
writeFileSync(
  otherPub,
  other.publicKey.export({ type: 'spki', format: 'pem' }),
);

describe('modelseal sign/verify key', () => {
  const model = tree('model', {
    'config.json': '{}',
    'weights/a.bin': 'aaaa',
    'weights/b.bin': 'bbbb',
  });
  const sig = join(work, 'model.sig');

  it('signs, verifies, and refuses to overwrite without --force', async () => {
    const signed = await runCli([
      'sign',
      'key',
      model,
      '--private-key',
      keyFile,
      '--signature',
      sig,
    ]);
    expect(signed).toMatchObject({ code: 0, stderr: '' });
    expect(signed.stdout).toMatch(
      /^signed model: 3 resources, root sha256:[0-9a-f]{64}\n/,
    );
    const verified = await runCli([
      'verify',
      'key',
      model,
      '--public-key',
      pubFile,
      '--signature',
      sig,
    ]);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toMatch(
      /^verified .*model: 3 resources match root sha256:/,
    );
    const again = await runCli([
      'sign',
      'key',
      model,
      '--private-key',
      keyFile,
      '--signature',
      sig,
    ]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/\[FILE_EXISTS\]/);
    expect(
      (
        await runCli([
          'sign',
          'key',
          model,
          '--private-key',
          keyFile,
          '--bundle',
          sig,
          '--force',
        ])
      ).code,
    ).toBe(0);
  });

  it('the default signature is model.sig in the current directory, left out of the model', async () => {
    const inside = tree('inside', { w: 'w' });
    expect(
      (
        await runCli(['sign', 'key', '.', '--private-key', keyFile], {
          cwd: inside,
        })
      ).code,
    ).toBe(0);
    expect(existsSync(join(inside, 'model.sig'))).toBe(true);
    const result = await runCli(
      ['verify', 'key', '.', '--public-key', pubFile, '--json'],
      { cwd: inside },
    );
    expect(result.code).toBe(0);
    const out = JSON.parse(result.stdout);
    expect(out).toMatchObject({ schemaVersion: 1, ok: true, method: 'key' });
    expect(out.manifest.resources.map((r: { name: string }) => r.name)).toEqual(
      ['w'],
    );
  });

  it('lists every changed, missing and unsigned file by name and exits 1', async () => {
    const m = tree('tamper', { a: 'a', b: 'b', c: 'c' });
    const s = join(work, 'tamper.sig');
    expect(
      (
        await runCli([
          'sign',
          'key',
          m,
          '--private-key',
          keyFile,
          '--signature',
          s,
        ])
      ).code,
    ).toBe(0);
    writeFileSync(join(m, 'a'), 'A');
    renameSync(join(m, 'b'), join(m, 'b2'));
    const result = await runCli([
      'verify',
      'key',
      m,
      '--public-key',
      pubFile,
      '--signature',
      s,
    ]);
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('  missing: b\n');
    expect(result.stderr).toContain('  unsigned: b2\n');
    expect(result.stderr).toContain('  changed: a\n');
    expect(result.stderr).toMatch(/modelseal: error \[MANIFEST_MISMATCH\]/);
    const json = await runCli([
      'verify',
      'key',
      m,
      '--public-key',
      pubFile,
      '--signature',
      s,
      '--json',
    ]);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      error: { code: 'MANIFEST_MISMATCH' },
    });
  });

  it('--ignore-unsigned-files tolerates extras, not missing files', async () => {
    const m = tree('extras', { a: 'a', b: 'b' });
    const s = join(work, 'extras.sig');
    await runCli([
      'sign',
      'key',
      m,
      '--private-key',
      keyFile,
      '--signature',
      s,
    ]);
    writeFileSync(join(m, 'new'), 'n');
    const ok = await runCli([
      'verify',
      'key',
      m,
      '--public-key',
      pubFile,
      '--signature',
      s,
      '--ignore-unsigned-files',
    ]);
    expect(ok.code).toBe(0);
    rmSync(join(m, 'a'));
    expect(
      (
        await runCli([
          'verify',
          'key',
          m,
          '--public-key',
          pubFile,
          '--signature',
          s,
          '--ignore-unsigned-files',
        ])
      ).code,
    ).toBe(1);
  });

  it('a wrong key fails with KEY_MISMATCH or SIGNATURE_INVALID', async () => {
    const result = await runCli([
      'verify',
      'key',
      model,
      '--public-key',
      otherPub,
      '--signature',
      sig,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/\[(KEY_MISMATCH|SIGNATURE_INVALID)\]/);
  });

  it('an encrypted key: --password-env works, a wrong or missing password is a usage error', async () => {
    const s = join(work, 'enc.sig');
    const ok = await runCli(
      [
        'sign',
        'key',
        model,
        '--private-key',
        encFile,
        '--password-env',
        'KEY_PW',
        '--signature',
        s,
      ],
      { env: { KEY_PW: 'hunter2' } },
    );
    expect(ok.code).toBe(0);
    const wrong = await runCli([
      'sign',
      'key',
      model,
      '--private-key',
      encFile,
      '--password',
      'nope',
      '--signature',
      s,
      '--force',
    ]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/\[KEY_INVALID\].*enc\.pem/);
    const missing = await runCli([
      'sign',
      'key',
      model,
      '--private-key',
      encFile,
      '--signature',
      s,
      '--force',
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/\[PASSWORD_REQUIRED\]/);
    expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a malformed bundle fails closed with exit 1', async () => {
    const bad = join(work, 'bad.sig');
    writeFileSync(bad, readFileSync(sig, 'utf8').slice(0, 100));
    const result = await runCli([
      'verify',
      'key',
      model,
      '--public-key',
      pubFile,
      '--signature',
      bad,
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/\[BUNDLE_MALFORMED\]/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('inspect labels everything as unverified', async () => {
    const result = await runCli(['inspect', sig]);
    expect(result.code).toBe(0);
    expect(result.stdout.split('\n')[0]).toMatch(/^UNVERIFIED/);
    expect(result.stdout).toContain('weights/a.bin');
  });

  it('usage: missing key, flags of another method, sigstore without identity', async () => {
    expect((await runCli(['sign', 'key', model])).code).toBe(2);
    expect(
      (
        await runCli([
          'verify',
          'key',
          model,
          '--certificate-chain',
          pubFile,
          '--public-key',
          pubFile,
        ])
      ).code,
    ).toBe(2);
    const r = await runCli(['verify', model, '--signature', sig]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--identity/);
  });
});

describe('oms adapter', () => {
  const adapter = new URL('../bin/oms-adapter.js', import.meta.url).pathname;
  it('signs and verifies a round trip, fails a tampered model', async () => {
    const { spawnSync } = await import('node:child_process');
    const m = tree('adapter', { 'a.bin': 'a', 'sub/b.bin': 'b' });
    const bundle = join(m, 'model.sig');
    const run = (args: string[]): number | null =>
      spawnSync(process.execPath, [adapter, ...args], { encoding: 'utf8' })
        .status;
    expect(
      run([
        'sign-model',
        '--method',
        'key',
        '--model-path',
        m,
        '--output-bundle',
        bundle,
        '--private-key',
        keyFile,
      ]),
    ).toBe(0);
    expect(
      run([
        'verify-model',
        '--method',
        'key',
        '--model-path',
        m,
        '--bundle',
        bundle,
        '--public-key',
        pubFile,
      ]),
    ).toBe(0);
    writeFileSync(join(m, 'a.bin'), 'changed');
    expect(
      run([
        'verify-model',
        '--method',
        'key',
        '--model-path',
        m,
        '--bundle',
        bundle,
        '--public-key',
        pubFile,
      ]),
    ).toBe(1);
    expect(run(['no-such-command'])).toBe(2);
  });
});
