// SPDX-License-Identifier: Apache-2.0
// `modelseal sign sigstore` with no token and no CI credentials signs in
// interactively: the CLI in a subprocess prints the authorization URL (browser
// flow) or the user code (device flow) on stderr, the test plays the person
// against a real OpenID provider on loopback (oidc-provider), and the model is
// then verified with the signed-in identity and the provider as issuer.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { keyPairFiles } from './helpers/fixtures.js';
import {
  browse,
  startOidcProvider,
  type BrowseResult,
  type LoopbackOidcProvider,
} from '../../core/test/helpers/oidc-provider.js';
import { CLI, runCli } from './helpers/run-cli.js';

const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');
const HOOK = join(ROOT, 'packages/core/test/packaging/load-hook.mjs');

const work = mkdtempSync(join(tmpdir(), 'modelseal-cli-oidc-'));
let op: LoopbackOidcProvider;
beforeAll(async () => {
  op = await startOidcProvider();
});
afterAll(async () => {
  await op.close();
  rmSync(work, { recursive: true, force: true });
});

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
  '--rekor-entry-type',
  'intoto',
];

// No ambient token may leak in from the environment; no desktop, so no browser is launched.
const ENV = {
  SIGSTORE_ID_TOKEN: '',
  ACTIONS_ID_TOKEN_REQUEST_URL: '',
  ACTIONS_ID_TOKEN_REQUEST_TOKEN: '',
  DISPLAY: '',
  WAYLAND_DISPLAY: '',
  NO_PROXY: '127.0.0.1,localhost',
};

/**
 * Run `modelseal sign ...` and, when its stderr shows the sign-in prompt, act
 * as the person: `respond(stderrSoFar)` returns the browser session to run,
 * or undefined while the prompt is incomplete.
 */
function signInteractively(
  args: string[],
  respond: (stderr: string) => Promise<BrowseResult> | undefined,
): Promise<{
  code: number | null;
  stdout: string;
  stderr: string;
  page: BrowseResult | undefined;
}> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, CI: '1', NO_COLOR: '1', ...ENV },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let session: Promise<BrowseResult> | undefined;
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      session ??= respond(stderr);
    });
    child.on('error', fail);
    child.on('close', (code) => {
      if (session === undefined) {
        done({ code, stdout, stderr, page: undefined });
        return;
      }
      session.then(
        (page) => done({ code, stdout, stderr, page }),
        (error: unknown) =>
          fail(
            new Error(`browser session failed: ${String(error)}\n${stderr}`),
          ),
      );
    });
  });
}

const verify = (
  root: string,
  sig: string,
  identity: string,
  issuer: string,
): ReturnType<typeof runCli> =>
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

describe('interactive keyless signing through the CLI (loopback OpenID provider)', () => {
  it('browser flow: prints the URL, completes on the loopback redirect, verifies as the signed-in person', async () => {
    const root = model('browser');
    const sig = join(work, 'browser.sig');
    const run = await signInteractively(
      [
        'sign',
        'sigstore',
        root,
        '--signature',
        sig,
        '--oidc-flow',
        'browser',
        '--oidc-issuer',
        op.issuer,
        '--oidc-client-id',
        op.clientId,
        '--progress',
        'none',
        ...services(),
      ],
      (stderr) => {
        const url = /^ {2}(http\S+)$/m.exec(stderr)?.[1];
        return url === undefined
          ? undefined
          : browse(url, { login: 'alice', password: 'any' });
      },
    );
    expect(run.stderr).toContain(
      'modelseal: to sign in, open this URL in a browser on this machine',
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('alice@oidc.modelseal.test');
    expect(run.page?.status).toBe(200);
    expect(run.page?.url).toMatch(/^http:\/\/localhost:\d+\/auth\/callback\?/);

    const ok = await verify(root, sig, 'alice@oidc.modelseal.test', op.issuer);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout).signer).toEqual({
      method: 'sigstore',
      identity: 'alice@oidc.modelseal.test',
      issuer: op.issuer,
    });
    const wrong = await verify(
      root,
      sig,
      'mallory@oidc.modelseal.test',
      op.issuer,
    );
    expect(wrong.code).toBe(1);
    expect(JSON.parse(wrong.stdout).error.code).toBe('IDENTITY_MISMATCH');
  });

  it('device flow (headless): prints the code, the person enters it elsewhere, verifies', async () => {
    const root = model('device');
    const sig = join(work, 'device.sig');
    const run = await signInteractively(
      [
        'sign',
        'sigstore',
        root,
        '--signature',
        sig,
        '--oidc-flow',
        'device',
        '--oidc-issuer',
        op.issuer,
        '--progress',
        'none',
        ...services(),
      ],
      (stderr) => {
        const m = /visit (\S+) and enter the code (\S+)/.exec(stderr);
        return m === null
          ? undefined
          : browse(m[1]!, {
              user_code: m[2]!,
              login: 'bob',
              password: 'any',
            });
      },
    );
    expect(run.code).toBe(0);
    expect(run.page?.body).toContain('Sign-in Success');
    const ok = await verify(root, sig, 'bob@oidc.modelseal.test', op.issuer);
    expect(ok.code).toBe(0);
  }, 30_000);

  it('without a terminal or --oidc-flow, nothing waits for a person: no token is an error', async () => {
    const root = model('none');
    const r = await runCli(
      [
        'sign',
        'sigstore',
        root,
        '--signature',
        join(work, 'none.sig'),
        '--progress',
        'none',
        ...services(),
      ],
      { env: ENV },
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/OIDC_TOKEN_UNAVAILABLE|oidc/i);
    expect(r.stderr).not.toContain('to sign in');
  });

  it('refuses bad or contradictory --oidc-* flags as usage errors', async () => {
    const root = model('usage');
    for (const flags of [
      ['--oidc-flow', 'popup'],
      ['--oidc-flow', 'device', '--oidc-redirect-port', '8080'],
      ['--oidc-redirect-port', '99999'],
      ['--oidc-flow', 'none', '--oidc-issuer', op.issuer],
    ]) {
      const r = await runCli(['sign', 'sigstore', root, ...flags], {
        env: ENV,
      });
      expect(r.code, flags.join(' ')).toBe(2);
    }
    const r = await runCli(
      [
        'sign',
        'sigstore',
        root,
        '--oidc-flow',
        'browser',
        '--oidc-issuer',
        'http://idp.example/auth',
      ],
      { env: ENV },
    );
    expect(r.code).toBe(2);
  });

  it('the OpenID client loads only for an interactive sign-in, never for key signing or verification', () => {
    const loaded = (args: string[]): string[] => {
      let out: string;
      try {
        out = execFileSync(process.execPath, ['--import', HOOK, CLI, ...args], {
          encoding: 'utf8',
          env: { ...process.env, CI: '1', ...ENV },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
      } catch (error) {
        const { stdout } = error as { stdout?: string };
        out = stdout ?? '';
      }
      const line = out.split('\n').find((l) => l.startsWith('LOADED '));
      if (line === undefined) throw new Error(`no LOADED line in: ${out}`);
      return (
        JSON.parse(line.slice('LOADED '.length)) as { packages: string[] }
      ).packages;
    };
    const root = model('lazy');
    keyPairFiles(work);
    const sig = join(work, 'lazy.sig');
    expect(
      loaded([
        'sign',
        'key',
        root,
        '--private-key',
        join(work, 'key.pem'),
        '--signature',
        sig,
      ]),
    ).not.toContain('openid-client');
    expect(
      loaded([
        'verify',
        'key',
        root,
        '--public-key',
        join(work, 'pub.pem'),
        '--signature',
        sig,
      ]),
    ).not.toContain('openid-client');
    // Positive control: an interactive sign-in (here against a closed port) does load it.
    expect(
      loaded([
        'sign',
        'sigstore',
        root,
        '--signature',
        join(work, 'lazy-keyless.sig'),
        '--oidc-flow',
        'device',
        '--oidc-issuer',
        'http://127.0.0.1:9',
        ...services(),
      ]),
    ).toContain('openid-client');
  });
});
