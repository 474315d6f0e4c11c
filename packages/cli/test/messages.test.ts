// SPDX-License-Identifier: Apache-2.0
// Failure messages of sign and verify through the real CLI (issue 10 item 8):
// each names the file and the flag, cheap checks come before any hashing or
// scanning in the order of the command line, mismatches show expected and
// actual, and wrapped Sigstore failures show their cause.
import { generateKeyPairSync } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createPki } from '../../core/test/helpers/pki.js';
import { mintOIDCToken } from '../../core/test/helpers/sigstore-server.js';
import { runCli } from './helpers/run-cli.js';

const work = mkdtempSync(join(tmpdir(), 'modelseal-cli-messages-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const { privateKey, publicKey } = generateKeyPairSync('ec', {
  namedCurve: 'P-256',
});
const keyFile = join(work, 'key.pem');
const pubFile = join(work, 'pub.pem');
writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
writeFileSync(pubFile, publicKey.export({ type: 'spki', format: 'pem' }));
const encrypted = join(work, 'enc.pem');
writeFileSync(
  encrypted,
  privateKey.export({
    type: 'pkcs8',
    format: 'pem',
    cipher: 'aes-256-cbc',
    passphrase: 'pw',
  }),
);
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const otherPub = join(work, 'other.pem');
writeFileSync(
  otherPub,
  other.publicKey.export({ type: 'spki', format: 'pem' }),
);

let models = 0;
function model(files: Record<string, string> = { 'w.bin': 'weights' }): string {
  const root = join(work, `model-${models++}`);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

const signKey = (path: string, sig: string, ...extra: string[]) =>
  runCli([
    'sign',
    'key',
    path,
    '--private-key',
    keyFile,
    '--signature',
    sig,
    '--progress',
    'plain',
    ...extra,
  ]);

/** One error line on stderr, and no hashing or scanning before it. */
function expectEarlyFailure(stderr: string): string {
  expect(stderr).not.toMatch(/^(scanned|hashing|hashed) /m);
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('sign: checks that need no work, before hashing, in order', () => {
  it('a missing model path is reported before an existing bundle (FILE_EXISTS)', async () => {
    const sig = join(work, 'exists.sig');
    writeFileSync(sig, 'keep');
    const r = await signKey(join(work, 'no-such-model'), sig);
    expect(r.code).toBe(3);
    const line = expectEarlyFailure(r.stderr);
    expect(line).toMatch(
      /\[IO_ERROR\]: .*no-such-model: no such file or directory.*MODEL_PATH/,
    );
  });

  it('FILE_EXISTS names the file and says --force, not "use force"', async () => {
    const sig = join(work, 'exists2.sig');
    writeFileSync(sig, 'keep');
    const r = await signKey(model(), sig);
    expect(r.code).toBe(2);
    const line = expectEarlyFailure(r.stderr);
    expect(line).toContain('[FILE_EXISTS]');
    expect(line).toContain(sig);
    expect(line).toContain('--force');
    expect(line).not.toMatch(/use force/);
  });

  it('FILE_EXISTS comes before the password of an encrypted key is asked for', async () => {
    const sig = join(work, 'exists3.sig');
    writeFileSync(sig, 'keep');
    const r = await runCli([
      'sign',
      'key',
      model(),
      '--private-key',
      encrypted,
      '--signature',
      sig,
    ]);
    expect(expectEarlyFailure(r.stderr)).toContain('[FILE_EXISTS]');
  });

  it('an output directory that does not exist fails before hashing, naming --signature', async () => {
    const sig = join(work, 'no-such-dir', 'model.sig');
    const r = await signKey(model(), sig);
    expect(r.code).toBe(3);
    const line = expectEarlyFailure(r.stderr);
    expect(line).toMatch(
      /\[IO_ERROR\]: cannot write .*no-such-dir\/model\.sig: directory .*no-such-dir does not exist \(--signature FILE\)/,
    );
  });

  it('an unwritable audit log fails before the bundle is written (and the rerun is not FILE_EXISTS)', async () => {
    const sig = join(work, 'audited.sig');
    const audit = join(work, 'no-such-dir', 'audit.jsonl');
    const root = model();
    const r = await signKey(root, sig, '--audit-log', audit);
    expect(r.code).toBe(3);
    expect(expectEarlyFailure(r.stderr)).toMatch(
      /cannot write the audit log .*audit\.jsonl: directory .* does not exist \(--audit-log FILE/,
    );
    expect(existsSync(sig)).toBe(false);
    const rerun = await signKey(
      root,
      sig,
      '--audit-log',
      join(work, 'a.jsonl'),
    );
    expect(rerun.code).toBe(0);
  });

  it('an encrypted key with no password names --password-env', async () => {
    const r = await runCli([
      'sign',
      'key',
      model(),
      '--private-key',
      encrypted,
      '--signature',
      join(work, 'pw.sig'),
    ]);
    expect(r.code).toBe(2);
    expect(expectEarlyFailure(r.stderr)).toMatch(
      /\[PASSWORD_REQUIRED\]: .*enc\.pem.*--password-env VAR/,
    );
  });
});

describe('sign: a file the scan cannot read', () => {
  const root = process.getuid?.() === 0;
  it('is named with its reason', async () => {
    const dir = model({ 'config.json': '{}', 'secret.bin': 'x' });
    chmodSync(join(dir, 'secret.bin'), 0o000);
    const sig = join(work, 'unreadable', 'model.sig');
    mkdirSync(join(work, 'unreadable'));
    if (root) {
      // root reads anything: run as nobody, who may read everything else.
      chmodSync(work, 0o755);
      chownSync(join(work, 'unreadable'), 65534, 65534);
      chmodSync(keyFile, 0o644);
    }
    const r = await runCli(
      ['sign', 'key', dir, '--private-key', keyFile, '--signature', sig],
      root ? { uid: 65534, gid: 65534 } : {},
    );
    if (root) chmodSync(keyFile, 0o600);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /\[UNSAFE_CONTENT\]: refusing to sign .*: 1 file\(s\) could not be read, first secret\.bin: .*(permission denied|EACCES)/i,
    );
    expect(existsSync(sig)).toBe(false);
  });
});

describe('each failure names the file and its flag', () => {
  it('verify: a missing bundle, public key or model; sign: a missing policy file', async () => {
    const root = model();
    const sig = join(work, 'named.sig');
    expect((await signKey(root, sig)).code).toBe(0);
    const verify = (...args: string[]) => runCli(['verify', 'key', ...args]);
    const cases: [Promise<{ stderr: string }>, RegExp][] = [
      [
        verify(
          root,
          '--signature',
          join(work, 'nope.sig'),
          '--public-key',
          pubFile,
        ),
        /cannot read bundle .*nope\.sig: .*\(--signature FILE\)$/,
      ],
      [
        verify(
          root,
          '--signature',
          sig,
          '--public-key',
          join(work, 'nope.pem'),
        ),
        /cannot read public key .*nope\.pem: .*\(--public-key\)$/,
      ],
      [
        verify(
          join(work, 'nope-model'),
          '--signature',
          sig,
          '--public-key',
          pubFile,
        ),
        /nope-model: no such file or directory.*\(MODEL_PATH\)$/,
      ],
      [
        signKey(
          root,
          join(work, 'p.sig'),
          '--scan-policy',
          join(work, 'nope.json'),
        ),
        /cannot read policy file .*nope\.json \(--scan-policy FILE\); cause: ENOENT: no such file or directory$/,
      ],
    ];
    for (const [run, pattern] of cases) {
      const { stderr } = await run;
      expect(stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(stderr.trimEnd()).toMatch(pattern);
    }
  });
});

describe('verify: mismatches show expected and actual', () => {
  it('KEY_MISMATCH shows the hint of the key given and of the key that signed', async () => {
    const root = model();
    const sig = join(work, 'km.sig');
    expect((await signKey(root, sig)).code).toBe(0);
    const r = await runCli([
      'verify',
      'key',
      root,
      '--signature',
      sig,
      '--public-key',
      otherPub,
    ]);
    expect(r.code).toBe(1);
    const m =
      /\[KEY_MISMATCH\]: .*hint ([0-9a-f]{64}).*hint ([0-9a-f]{64})/.exec(
        r.stderr,
      );
    expect(m).not.toBeNull();
    expect(m![1]).not.toBe(m![2]);
    expect(r.stderr).toContain('other.pem');
  });

  it('a private key given as --public-key is refused in one line', async () => {
    const root = model();
    const sig = join(work, 'priv.sig');
    expect((await signKey(root, sig)).code).toBe(0);
    const r = await runCli([
      'verify',
      'key',
      root,
      '--signature',
      sig,
      '--public-key',
      keyFile,
    ]);
    expect(r.code).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/--public-key .*key\.pem is a PRIVATE key/);
    // DER private keys too.
    const der = join(work, 'key.der');
    writeFileSync(der, privateKey.export({ type: 'pkcs8', format: 'der' }));
    const r2 = await runCli([
      'verify',
      'key',
      root,
      '--signature',
      sig,
      '--public-key',
      der,
    ]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/PRIVATE key/);
    // The public key still verifies.
    const ok = await runCli([
      'verify',
      'key',
      root,
      '--signature',
      sig,
      '--public-key',
      pubFile,
    ]);
    expect(ok.code).toBe(0);
  });

  it('IDENTITY_MISMATCH (keyless) shows the expected and the actual identity and issuer', async () => {
    const root = model();
    const sig = join(work, 'keyless.sig');
    const signed = await runCli([
      'sign',
      'sigstore',
      root,
      '--signature',
      sig,
      '--identity-token',
      mintOIDCToken({
        email: 'alice@acme.example',
        issuer: 'https://accounts.acme.example',
      }),
      '--no-use-ambient-credentials',
      '--fulcio-url',
      inject('sigstoreURL'),
      '--rekor-url',
      inject('sigstoreURL'),
      '--no-tsa',
      '--rekor-entry-type',
      'intoto',
    ]);
    expect(signed.code).toBe(0);
    for (const [identity, issuer] of [
      ['mallory@acme.example', 'https://accounts.acme.example'],
      ['alice@acme.example', 'https://accounts.evil.example'],
    ] as const) {
      const r = await runCli([
        'verify',
        'sigstore',
        root,
        '--signature',
        sig,
        '--trusted-root',
        inject('sigstoreTrustedRootPath'),
        '--identity',
        identity,
        '--identity-provider',
        issuer,
      ]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('[IDENTITY_MISMATCH]');
      // actual (what the certificate claims) and expected, both fields each
      const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      expect(r.stderr).toMatch(
        new RegExp(
          `certificate identity alice@acme\\.example and issuer https://accounts\\.acme\\.example do not match: expected identity ${esc(identity)} and issuer ${esc(issuer)}`,
        ),
      );
    }
  });
});

describe('sign: a certificate for another key', () => {
  it('KEY_INVALID (bad input, exit 2) shows the key the certificate certifies and the private key given', async () => {
    const pki = createPki({ leafKeyType: 'P-256' });
    try {
      const r = await runCli([
        'sign',
        'certificate',
        model(),
        '--private-key',
        pki.intermediate.keyPath,
        '--signing-certificate',
        pki.leaf.certPath,
        '--signature',
        join(work, 'cert-mismatch.sig'),
      ]);
      expect(r.code).toBe(2);
      const m =
        /\[KEY_INVALID\]: .*certifies the key sha256:([0-9a-f]{64}), the private key is sha256:([0-9a-f]{64})/.exec(
          r.stderr,
        );
      expect(m).not.toBeNull();
      expect(m![1]).not.toBe(m![2]);
    } finally {
      pki.cleanup();
    }
  });
});

describe('Sigstore failures carry their cause', () => {
  it('an unreachable Fulcio shows the network error under the Sigstore one', async () => {
    // A port that refuses: bound, then closed.
    const server = createServer();
    await new Promise<void>((resolve) =>
      server.listen(0, '127.0.0.1', resolve),
    );
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const url = `http://127.0.0.1:${port}`;
    const r = await runCli([
      'sign',
      'sigstore',
      model(),
      '--signature',
      join(work, 'unreachable.sig'),
      '--identity-token',
      mintOIDCToken(),
      '--no-use-ambient-credentials',
      '--fulcio-url',
      url,
      '--rekor-url',
      url,
      '--no-tsa',
    ]);
    expect(r.code).toBe(3);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/\[SIGSTORE_SERVICE_ERROR\].*; cause: .*/);
    expect(lines[0]).toContain('ECONNREFUSED');
    expect(lines[0]).toContain(`127.0.0.1:${port}`);
    // The token never appears in the line.
    expect(lines[0]).not.toMatch(/eyJ/);
  });
});
