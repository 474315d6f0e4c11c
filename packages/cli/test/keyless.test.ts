// SPDX-License-Identifier: Apache-2.0
// Keyless signing through the CLI in a subprocess, against the Sigstore
// project's mock Fulcio and Rekor served over loopback HTTP (global setup),
// verified with the trusted root built from the mock's keys. Also the release
// pipeline: ambient GitHub Actions credentials (ACTIONS_ID_TOKEN_REQUEST_URL)
// served by a local token endpoint, and a consumer policy pinning identity and issuer.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { mintOIDCToken } from '../../core/test/helpers/sigstore-server.js';
import { runCli } from './helpers/run-cli.js';

const work = mkdtempSync(join(tmpdir(), 'modelseal-keyless-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function model(name: string): string {
  const root = join(work, name);
  mkdirSync(root);
  writeFileSync(join(root, 'config.json'), '{"layers": 2}');
  writeFileSync(join(root, 'model.safetensors'), Buffer.alloc(64, 1));
  return root;
}

const services = (): string[] => [
  '--fulcio-url',
  inject('sigstoreURL'),
  '--rekor-url',
  inject('sigstoreURL'),
  '--no-tsa',
  // The mock Rekor cannot verify `dsse` entries (sigstore-notes.md §8); real ones are covered by the reference vectors.
  '--rekor-entry-type',
  'intoto',
];

describe('keyless signing through the CLI (loopback Sigstore)', () => {
  it('signs with an identity token and verifies with the exact identity and issuer', async () => {
    const root = model('keyless');
    const sig = join(work, 'keyless.sig');
    const token = mintOIDCToken({
      email: 'alice@acme.example',
      issuer: 'https://accounts.acme.example',
    });
    const signed = await runCli([
      'sign',
      'sigstore',
      root,
      '--signature',
      sig,
      '--identity-token',
      token,
      '--no-use-ambient-credentials',
      ...services(),
    ]);
    expect(signed.stderr).toBe('');
    expect(signed.code).toBe(0);
    const verify = (identity: string, issuer: string) =>
      runCli([
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
        '--json',
      ]);
    const ok = await verify(
      'alice@acme.example',
      'https://accounts.acme.example',
    );
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).signer).toEqual({
      method: 'sigstore',
      identity: 'alice@acme.example',
      issuer: 'https://accounts.acme.example',
    });
    for (const [identity, issuer] of [
      ['mallory@acme.example', 'https://accounts.acme.example'],
      ['alice@acme.example', 'https://accounts.evil.example'],
      ['lice@acme.example', 'https://accounts.acme.example'],
      ['alice@acme.exampl', 'https://accounts.acme.example'],
    ] as const) {
      const r = await verify(identity, issuer);
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).error.code).toBe('IDENTITY_MISMATCH');
    }
    // Without --trusted-root the public-good root is used: the mock's CA is not in it.
    const publicGood = await runCli([
      'verify',
      'sigstore',
      '--offline',
      root,
      '--signature',
      sig,
      '--identity',
      'alice@acme.example',
      '--identity-provider',
      'https://accounts.acme.example',
    ]);
    expect(publicGood.code).toBe(1);
  });

  it('release pipeline: ambient GitHub Actions OIDC credentials, consumer policy pins identity and issuer', async () => {
    const issuer = 'https://token.actions.githubusercontent.com';
    // The mock Fulcio issues e-mail SANs only, so the workflow identity is carried as the e-mail claim.
    const identity = 'release-bot@acme.example';
    const seen: string[] = [];
    const tokenServer = createServer(
      (req: IncomingMessage, res: ServerResponse) => {
        seen.push(`${req.url ?? ''} ${req.headers.authorization ?? ''}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            value: mintOIDCToken({ email: identity, issuer }),
          }),
        );
      },
    );
    await new Promise<void>((resolve) =>
      tokenServer.listen(0, '127.0.0.1', resolve),
    );
    try {
      const port = (tokenServer.address() as AddressInfo).port;
      const root = model('release');
      const sig = join(work, 'release.sig');
      const env = {
        ACTIONS_ID_TOKEN_REQUEST_URL: `http://127.0.0.1:${port}/token?api-version=2.0`,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-request-token',
        SIGSTORE_ID_TOKEN: '',
        NO_PROXY: '127.0.0.1,localhost',
      };
      const signed = await runCli(
        [
          'sign',
          'sigstore',
          root,
          '--signature',
          sig,
          '--attest-scan',
          ...services(),
        ],
        { env },
      );
      expect(signed.stderr).toBe('');
      expect(signed.code).toBe(0);
      expect(
        seen.some(
          (s) =>
            s.includes('audience=sigstore') &&
            s.endsWith('Bearer runner-request-token'),
        ),
      ).toBe(true);
      const consumer = await runCli([
        'verify',
        'sigstore',
        root,
        '--signature',
        sig,
        '--trusted-root',
        inject('sigstoreTrustedRootPath'),
        '--certificate-identity',
        identity,
        '--certificate-oidc-issuer',
        issuer,
        '--require-scan',
      ]);
      expect(consumer.code).toBe(0);
      expect(consumer.stdout).toMatch(/scanned clean/);
      const regexp = await runCli([
        'verify',
        'sigstore',
        root,
        '--signature',
        sig,
        '--trusted-root',
        inject('sigstoreTrustedRootPath'),
        '--certificate-identity-regexp',
        'release-bot@acme\\.example',
        '--certificate-oidc-issuer-regexp',
        'https://token\\.actions\\.githubusercontent\\.com',
      ]);
      expect(regexp.code).toBe(0);
      const wrongIssuer = await runCli([
        'verify',
        'sigstore',
        root,
        '--signature',
        sig,
        '--trusted-root',
        inject('sigstoreTrustedRootPath'),
        '--certificate-identity',
        identity,
        '--certificate-oidc-issuer',
        'https://token.actions.githubusercontent.com.evil',
      ]);
      expect(wrongIssuer.code).toBe(1);
    } finally {
      tokenServer.close();
    }
  });

  it('without any token, keyless signing fails with OIDC_TOKEN_UNAVAILABLE (exit 3) and says what to do', async () => {
    const root = model('notoken');
    const result = await runCli(
      [
        'sign',
        'sigstore',
        root,
        '--signature',
        join(work, 'notoken.sig'),
        ...services(),
      ],
      {
        env: {
          ACTIONS_ID_TOKEN_REQUEST_URL: '',
          ACTIONS_ID_TOKEN_REQUEST_TOKEN: '',
          SIGSTORE_ID_TOKEN: '',
          BUILDKITE: '',
        },
      },
    );
    expect(result.code).toBe(3);
    expect(result.stderr).toMatch(
      /\[OIDC_TOKEN_UNAVAILABLE\].*id-token: write/,
    );
  });
});
