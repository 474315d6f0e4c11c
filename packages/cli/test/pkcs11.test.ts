// SPDX-License-Identifier: Apache-2.0
// `modelseal sign key --pkcs11-uri` against a real SoftHSM2 token initialised
// here (keys generated in the token): sign, export the token key's public
// key, verify with it through `verify key --public-key`; a wrong PIN and a
// missing module fail with one line on stderr.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  USER_PIN,
  generateKeyPair,
  initToken,
  softhsm,
  type Token,
} from '../../core/test/sign/pkcs11-token.js';
import { makeTree, tempDir } from '../../core/test/helpers/tree.js';
import { keyPairFiles, keySignArgs } from './helpers/fixtures.js';
import { CLI, runCli } from './helpers/run-cli.js';

const HOOK = fileURLToPath(
  new URL('../../core/test/packaging/load-hook.mjs', import.meta.url),
);

/** The packages a CLI run loads (the load hook of the import-graph tests). */
function packages(args: string[], env: NodeJS.ProcessEnv = {}): string[] {
  const out = execFileSync(process.execPath, ['--import', HOOK, CLI, ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const line = out.split('\n').find((l) => l.startsWith('LOADED '));
  if (line === undefined) throw new Error(`no LOADED line in: ${out}`);
  return (JSON.parse(line.slice('LOADED '.length)) as { packages: string[] })
    .packages;
}

describe('the PKCS#11 binding loads only for --pkcs11-uri', () => {
  it('sign key --private-key and verify key never load pkcs11js', () => {
    const dir = tempDir();
    const model = makeTree({ 'a.bin': 'a' });
    const { key, pub } = keyPairFiles(dir);
    const sig = join(dir, 'model.sig');
    const signed = packages(keySignArgs(model, key, sig));
    expect(signed).not.toContain('pkcs11js');
    expect(signed.length).toBeGreaterThan(0);
    expect(
      packages([
        'verify',
        'key',
        model,
        '--public-key',
        pub,
        '--signature',
        sig,
      ]),
    ).not.toContain('pkcs11js');
  });
});

const hsm = softhsm();
if ('skip' in hsm) console.warn(`pkcs11 CLI tests skipped: ${hsm.skip}`);

describe.skipIf('skip' in hsm)('modelseal sign key --pkcs11-uri', () => {
  let token: Token;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    token = initToken((hsm as { module: string }).module, 'cli-token');
    generateKeyPair(token, 'P-256', 'model-key', Buffer.from([1]));
    generateKeyPair(token, 'RSA-2048', 'rsa-key', Buffer.from([2]));
    env = { SOFTHSM2_CONF: token.conf };
  });
  afterAll(() => token?.cleanup());
  const model = makeTree({
    'config.json': '{"layers":2}',
    'weights/a.bin': 'a'.repeat(1000),
  });

  it.each([
    ['model-key', [], 'ecdsa-p256-sha256'],
    ['rsa-key', ['--rsa-padding', 'pss'], 'rsa-pss-sha256'],
  ])(
    '%s: signs, exports the public key, and verify key accepts it',
    async (object, extra, scheme) => {
      const dir = tempDir();
      const sig = join(dir, 'model.sig');
      const pub = join(dir, 'token-pub.pem');
      const signed = await runCli(
        [
          'sign',
          'key',
          model,
          '--pkcs11-uri',
          token.uri(object),
          '--pin-env',
          'TOKEN_PIN',
          '--export-public-key',
          pub,
          '--signature',
          sig,
          '--json',
          ...extra,
        ],
        { env: { ...env, TOKEN_PIN: USER_PIN } },
      );
      expect(signed.stderr).toBe('');
      expect(signed.code).toBe(0);
      const result = JSON.parse(signed.stdout) as {
        method: string;
        signer: { scheme: string };
      };
      expect(result.method).toBe('key');
      expect(result.signer.scheme).toBe(scheme);
      expect(readFileSync(pub, 'utf8')).toMatch(/^-----BEGIN PUBLIC KEY-----/);
      const verified = await runCli([
        'verify',
        'key',
        model,
        '--signature',
        sig,
        '--public-key',
        pub,
      ]);
      expect(verified.stderr).toBe('');
      expect(verified.code).toBe(0);
      // A change to the model after signing fails verification.
      const copy = makeTree({
        'config.json': '{"layers":3}',
        'weights/a.bin': 'a'.repeat(1000),
      });
      const tampered = await runCli([
        'verify',
        'key',
        copy,
        '--signature',
        sig,
        '--public-key',
        pub,
      ]);
      expect(tampered.code).not.toBe(0);
    },
  );

  it('--pkcs11-uri loads pkcs11js (the load hook sees the binding)', () => {
    const loadedPackages = packages(
      [
        'sign',
        'key',
        model,
        '--pkcs11-uri',
        token.uri('model-key', `pin-value=${USER_PIN}`),
        '--signature',
        join(tempDir(), 'model.sig'),
      ],
      env,
    );
    expect(loadedPackages).toContain('pkcs11js');
  });

  it('a wrong PIN is one line on stderr and no bundle', async () => {
    const dir = tempDir();
    const sig = join(dir, 'model.sig');
    const r = await runCli(
      [
        'sign',
        'key',
        model,
        '--pkcs11-uri',
        token.uri('model-key', 'pin-value=999999'),
        '--signature',
        sig,
      ],
      { env },
    );
    expect(r.code).not.toBe(0);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(
      'login to the PKCS#11 token "cli-token" failed: wrong PIN (CKR_PIN_INCORRECT)',
    );
    expect(() => readFileSync(sig)).toThrow();
  });

  it('no PIN and no terminal: one hint in the CLI words (--pin-env), not "the pin option"', async () => {
    const r = await runCli(
      [
        'sign',
        'key',
        model,
        '--pkcs11-uri',
        token.uri('model-key'),
        '--signature',
        join(tempDir(), 'model.sig'),
      ],
      { env },
    );
    expect(r.code).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toEqual([
      'modelseal: error [PASSWORD_REQUIRED]: the PKCS#11 token "cli-token" needs a PIN (pin-value or pin-source in the URI, --pin-env VAR, or run on a terminal to be asked for it)',
    ]);
  });

  it('--rsa-padding pss with the token EC key: usage error naming the key type', async () => {
    const r = await runCli(
      [
        'sign',
        'key',
        model,
        '--pkcs11-uri',
        token.uri('model-key', `pin-value=${USER_PIN}`),
        '--rsa-padding',
        'pss',
        '--signature',
        join(tempDir(), 'model.sig'),
      ],
      { env },
    );
    expect(r.code).toBe(2);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^modelseal: error \[INVALID_OPTIONS\]: --rsa-padding pss applies to RSA keys only: the PKCS#11 key .* is ecdsa-p256$/,
    );
  });

  it('a missing module is one line on stderr naming it', async () => {
    const missing = join(tempDir(), 'libmissing.so');
    const r = await runCli(
      [
        'sign',
        'key',
        model,
        '--pkcs11-uri',
        `pkcs11:token=cli-token;object=model-key?module-path=${missing}&pin-value=${USER_PIN}`,
        '--signature',
        join(tempDir(), 'model.sig'),
      ],
      { env },
    );
    expect(r.code).not.toBe(0);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`cannot load the PKCS#11 module ${missing}`);
  });

  it('refuses --private-key with --pkcs11-uri, and --pin-env without it', async () => {
    const keyDir = tempDir();
    mkdirSync(join(keyDir, 'k'), { recursive: true });
    writeFileSync(join(keyDir, 'k', 'key.pem'), 'x');
    const both = await runCli(
      [
        'sign',
        'key',
        model,
        '--pkcs11-uri',
        token.uri('model-key'),
        '--private-key',
        join(keyDir, 'k', 'key.pem'),
      ],
      { env },
    );
    expect(both.code).toBe(2);
    expect(both.stderr).toContain(
      '--private-key does not apply with --pkcs11-uri',
    );
    const pinOnly = await runCli(
      ['sign', 'key', model, '--private-key', 'k.pem', '--pin-env', 'X'],
      { env },
    );
    expect(pinOnly.code).toBe(2);
    expect(pinOnly.stderr).toContain('--pin-env needs --pkcs11-uri');
    const cert = await runCli(
      ['sign', 'certificate', model, '--pkcs11-uri', token.uri('model-key')],
      { env },
    );
    expect(cert.code).toBe(2);
    expect(cert.stderr).toContain(
      '--pkcs11-uri does not apply to the certificate method',
    );
  });
});
