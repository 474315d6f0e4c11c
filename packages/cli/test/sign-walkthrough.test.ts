// SPDX-License-Identifier: Apache-2.0
// The lines a new user met following the documented steps with the packed
// CLI, through the built bin: DER keys as openssl writes them sign; each
// error names the file and the flag once, in the CLI's words (flags, not the
// library's option names); mistakes in the signer's own material are usage
// errors (exit 2), not failed verifications (exit 1).
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createPki } from '../../core/test/helpers/pki.js';
import { makeTree, tempDir } from '../../core/test/helpers/tree.js';
import { runCli } from './helpers/run-cli.js';

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

const work = tempDir();
const ecPem = join(work, 'ec.pem');
openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', ecPem);
const edPem = join(work, 'ed.pem');
openssl('genpkey', '-algorithm', 'ed25519', '-out', edPem);
const model = makeTree({ 'config.json': '{"layers":2}' });
let sigs = 0;
const newSig = (): string => join(work, `s${++sigs}.sig`);

/** The only line on stderr (the test fails on more). */
function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

describe('sign key: DER private keys (openssl pkey/ec/rsa -outform DER)', () => {
  it.each([
    [
      'EC, SEC1 (openssl pkey -outform DER)',
      (out: string) =>
        openssl('pkey', '-in', ecPem, '-outform', 'DER', '-out', out),
      'ecdsa-p256',
    ],
    [
      'RSA, PKCS#1 (openssl rsa -traditional -outform DER)',
      (out: string) => {
        const pem = join(work, 'rsa.pem');
        openssl('genrsa', '-out', pem, '2048');
        openssl(
          'rsa',
          '-in',
          pem,
          '-traditional',
          '-outform',
          'DER',
          '-out',
          out,
        );
      },
      'rsa-2048',
    ],
  ])('%s signs', async (_, make, keyType) => {
    const der = join(work, `k${sigs}.der`);
    make(der);
    const r = await runCli([
      'sign',
      'key',
      model,
      '--private-key',
      der,
      '--signature',
      newSig(),
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(
      (JSON.parse(r.stdout) as { signer: { keyType: string } }).signer.keyType,
    ).toBe(keyType);
  });
});

describe('sign: one line naming the file and the flag, in the CLI’s words', () => {
  it('UNSUPPORTED_KEY names the key file and --private-key', async () => {
    const small = join(work, 'rsa1024.pem');
    openssl('genrsa', '-out', small, '1024');
    const r = await runCli([
      'sign',
      'key',
      model,
      '--private-key',
      small,
      '--signature',
      newSig(),
    ]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toBe(
      `modelseal: error [UNSUPPORTED_KEY]: unsupported private key ${small}: RSA keys need at least 2048 bits, this one has 1024 (--private-key)`,
    );
  });

  it('a missing model path: one hint, (MODEL_PATH)', async () => {
    const r = await runCli([
      'sign',
      'key',
      './nomodel',
      '--private-key',
      ecPem,
      '--signature',
      newSig(),
    ]);
    expect(r.code).toBe(3);
    expect(oneLine(r.stderr)).toBe(
      'modelseal: error [IO_ERROR]: ./nomodel: no such file or directory (MODEL_PATH)',
    );
  });

  it('FILE_EXISTS says --force, not the option force: true', async () => {
    const sig = newSig();
    writeFileSync(sig, 'keep');
    const r = await runCli([
      'sign',
      'key',
      model,
      '--private-key',
      ecPem,
      '--signature',
      sig,
      '--json',
    ]);
    expect(r.code).toBe(2);
    const line = `${sig} already exists: pass --force to overwrite it`;
    expect(oneLine(r.stderr)).toBe(`modelseal: error [FILE_EXISTS]: ${line}`);
    // The JSON error carries the same words.
    expect(
      (JSON.parse(r.stdout) as { error: { message: string } }).error.message,
    ).toBe(line);
  });

  it('a symlink in the model names --allow-symlinks', async () => {
    const linked = join(work, 'linked');
    mkdirSync(linked);
    writeFileSync(join(work, 'real.txt'), 'x');
    symlinkSync('../real.txt', join(linked, 'link'));
    const r = await runCli([
      'sign',
      'key',
      linked,
      '--private-key',
      ecPem,
      '--signature',
      newSig(),
    ]);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(
      'modelseal: error [SYMLINK_NOT_ALLOWED]: link: is a symlink (--allow-symlinks to follow links to files)',
    );
  });

  it('an empty folder: "no file to sign", not "to scan"', async () => {
    const empty = join(work, 'empty');
    mkdirSync(empty);
    const r = await runCli([
      'sign',
      'key',
      empty,
      '--private-key',
      ecPem,
      '--signature',
      newSig(),
    ]);
    expect(r.code).toBe(1);
    expect(oneLine(r.stderr)).toBe(
      `modelseal: error [EMPTY_MODEL]: ${empty}: no file to sign after ignores (MODEL_PATH)`,
    );
  });
});

describe('sign: --rsa-padding pss with a key that is not RSA', () => {
  it.each([
    ['Ed25519', edPem, 'ed25519'],
    ['EC P-256', ecPem, 'ecdsa-p256'],
  ])('%s: usage error (exit 2) naming the key type', async (_, key, type) => {
    const sig = newSig();
    const r = await runCli([
      'sign',
      'key',
      model,
      '--private-key',
      key,
      '--rsa-padding',
      'pss',
      '--signature',
      sig,
    ]);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toBe(
      `modelseal: error [INVALID_OPTIONS]: --rsa-padding pss applies to RSA keys only: private key ${key} is ${type}`,
    );
    expect(r.stdout).toBe('');
  });
});

describe('sign certificate: the signer’s own material is bad input (exit 2)', () => {
  const pki = createPki();
  afterAll(() => pki.cleanup());
  const sign = (...extra: string[]) =>
    runCli(['sign', 'certificate', model, '--signature', newSig(), ...extra]);

  it('a signing certificate for another key: KEY_INVALID, exit 2, naming the flag', async () => {
    const r = await sign(
      '--private-key',
      pki.intermediate.keyPath,
      '--signing-certificate',
      pki.leaf.certPath,
    );
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toMatch(
      /^modelseal: error \[KEY_INVALID\]: .*leaf\.pem \(CN=leaf\) does not certify the private key: it certifies the key sha256:[0-9a-f]{64}, the private key is sha256:[0-9a-f]{64} \(--signing-certificate\)$/,
    );
  });

  it('a public key as --signing-certificate or --certificate-chain: exit 2, naming the file and the flag', async () => {
    const pub = pki.leaf.publicKeyPath;
    const asLeaf = await sign(
      '--private-key',
      pki.leaf.keyPath,
      '--signing-certificate',
      pub,
    );
    expect(asLeaf.code).toBe(2);
    expect(oneLine(asLeaf.stderr)).toBe(
      `modelseal: error [KEY_INVALID]: no certificate found in ${pub} (--signing-certificate)`,
    );
    const inChain = await sign(
      '--private-key',
      pki.leaf.keyPath,
      '--signing-certificate',
      pki.leaf.certPath,
      '--certificate-chain',
      pub,
    );
    expect(inChain.code).toBe(2);
    expect(oneLine(inChain.stderr)).toBe(
      `modelseal: error [KEY_INVALID]: no certificate found in ${pub} (--certificate-chain)`,
    );
  });
});

describe('sign sigstore: where the identity token comes from', () => {
  const sigstore = (...extra: string[]) =>
    runCli([
      'sign',
      'sigstore',
      model,
      '--signature',
      newSig(),
      '--oidc-flow',
      'none',
      ...extra,
    ]);

  it('--identity-token PATH that does not exist: a usage error naming the path, not "not a jwt"', async () => {
    const missing = join(work, 'no-such-token');
    const r = await sigstore('--identity-token', missing);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toBe(
      `modelseal: usage error: --identity-token ${missing}: neither a JWT nor a readable file (no such file) (see --help)`,
    );
  });

  it('a token file without a JWT names the file; a non-JWT value is not printed', async () => {
    const file = join(work, 'token.txt');
    writeFileSync(file, 'not a token\n');
    const r = await sigstore('--identity-token', file);
    expect(r.code).toBe(2);
    expect(oneLine(r.stderr)).toContain(
      `--identity-token ${file}: the file does not hold a JWT`,
    );
    const secret = 'ya29_opaque_access_token_value';
    const opaque = await sigstore('--identity-token', secret);
    expect(opaque.code).toBe(2);
    expect(opaque.stderr).not.toContain(secret);
    expect(oneLine(opaque.stderr)).toContain(
      '--identity-token: neither a JWT nor a readable file',
    );
  });

  it('no token source: the line names --identity-token and --oidc-flow', async () => {
    const r = await sigstore('--no-use-ambient-credentials');
    expect(r.code).toBe(3);
    expect(oneLine(r.stderr)).toBe(
      'modelseal: error [OIDC_TOKEN_UNAVAILABLE]: no oidc identity token: pass --identity-token TOKEN|FILE, sign in with --oidc-flow browser|device, or leave out --no-use-ambient-credentials (in CI)',
    );
  });
});

describe('sign sigstore in CI without an ambient token', () => {
  it('the line names --identity-token and --oidc-flow, not the library options', async () => {
    const r = await runCli(
      ['sign', 'sigstore', model, '--signature', newSig()],
      {
        env: {
          SIGSTORE_ID_TOKEN: '',
          ACTIONS_ID_TOKEN_REQUEST_URL: '',
          ACTIONS_ID_TOKEN_REQUEST_TOKEN: '',
          BUILDKITE_AGENT_ACCESS_TOKEN: '',
        },
      },
    );
    expect(r.code).toBe(3);
    const line = oneLine(r.stderr);
    expect(line).toContain(
      'elsewhere set SIGSTORE_ID_TOKEN, pass --identity-token TOKEN|FILE, or sign in with --oidc-flow browser|device',
    );
    expect(line).not.toMatch(/identityToken|\(interactive\)/);
  });
});

describe('digest --help', () => {
  it('lists every --json field, schemaVersion and ok included', async () => {
    const r = await runCli(['digest', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      '--json                         print {schemaVersion, ok, modelName, rootDigest, serialization, resources}',
    );
  });
});
