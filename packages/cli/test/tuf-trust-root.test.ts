// SPDX-License-Identifier: Apache-2.0
// `modelseal verify` refreshes the Sigstore trusted root through TUF by
// default. A TUF repository on loopback (core/test/helpers/tuf-repository.ts)
// serves the loopback Sigstore root; the CLI runs in a subprocess with its
// cache under a temporary XDG_CACHE_HOME. The public-good default is observed
// through a recording HTTPS proxy (NODE_USE_ENV_PROXY) that answers 502, so no
// request leaves the machine.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mintOIDCToken } from '../../core/test/helpers/sigstore-server.js';
import { startTufRepository } from '../../core/test/helpers/tuf-repository.js';
import { loadVectors, vectorPath } from '../../core/test/helpers/vectors.js';
import { runCli } from './helpers/run-cli.js';

const work = mkdtempSync(join(tmpdir(), 'modelseal-cli-tuf-'));
const model = join(work, 'model');
const sig = join(work, 'model.sig');
const identity = 'alice@acme.example';
const issuer = 'https://accounts.acme.example';
let proxy: Server;
let proxyURL: string;
const proxied: string[] = [];

beforeAll(async () => {
  mkdirSync(model);
  writeFileSync(join(model, 'config.json'), '{"layers": 2}');
  writeFileSync(join(model, 'model.safetensors'), Buffer.alloc(64, 1));
  const signed = await runCli([
    'sign',
    'sigstore',
    model,
    '--signature',
    sig,
    '--identity-token',
    mintOIDCToken({ email: identity, issuer }),
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
  proxy = createServer((req, res) => {
    proxied.push(`${req.method ?? ''} ${req.url ?? ''}`);
    res.writeHead(502).end();
  });
  proxy.on('connect', (req, socket) => {
    proxied.push(`CONNECT ${req.url ?? ''}`);
    socket.end('HTTP/1.1 502 Bad Gateway\r\n\r\n');
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyURL = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
afterAll(async () => {
  proxy.closeAllConnections();
  await new Promise<void>((r) => proxy.close(() => r()));
  rmSync(work, { recursive: true, force: true });
});

/** Environment of one case: its own cache; every HTTPS request goes to the recording proxy. */
function env(cache: string): NodeJS.ProcessEnv {
  return {
    XDG_CACHE_HOME: cache,
    NODE_USE_ENV_PROXY: '1',
    HTTPS_PROXY: proxyURL,
    https_proxy: proxyURL,
    HTTP_PROXY: proxyURL,
    http_proxy: proxyURL,
    NO_PROXY: '127.0.0.1',
    no_proxy: '127.0.0.1',
  };
}

const verifyArgs = (...extra: string[]): string[] => [
  'verify',
  'sigstore',
  model,
  '--signature',
  sig,
  '--identity',
  identity,
  '--identity-provider',
  issuer,
  ...extra,
];

describe('verify refreshes the trusted root through TUF', () => {
  it('fetches and caches; a second verify works from the cache with the mirror gone; the line says which root', async () => {
    const cache = join(work, 'cache-a');
    const repo = await startTufRepository(
      Buffer.from(inject('sigstoreTrustedRoot')),
      mkdtempSync(join(work, 'repo-a-')),
    );
    const tuf = ['--tuf-mirror', repo.url, '--tuf-root', repo.rootPath];
    const first = await runCli(verifyArgs(...tuf), { env: env(cache) });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain(
      `  trusted root: tuf ${repo.url} (targets v1, root v1, expires 2099-01-01T00:00:00.000Z)`,
    );
    expect(repo.requests).toContain('/targets/trusted_root.json');
    expect(
      existsSync(
        join(
          cache,
          'modelseal',
          'tuf',
          encodeURIComponent(new URL(repo.url).host),
          'targets',
          'trusted_root.json',
        ),
      ),
    ).toBe(true);

    await repo.close();
    const second = await runCli(verifyArgs(...tuf, '--json'), {
      env: env(cache),
    });
    expect(second.code).toBe(0);
    expect(second.stderr).toMatch(
      /^modelseal: warning: cannot reach the tuf repository .*: used the verified cache$/m,
    );
    expect(JSON.parse(second.stdout).trustRoot).toMatchObject({
      source: 'tuf',
      mirrorURL: repo.url,
      fromCache: true,
      targetsVersion: 1,
    });
    expect(proxied).toEqual([]);
  });

  it('expired TUF metadata fails closed: exit 3, TRUST_ROOT_INVALID, no fallback', async () => {
    const cache = join(work, 'cache-b');
    const repo = await startTufRepository(
      Buffer.from(inject('sigstoreTrustedRoot')),
      mkdtempSync(join(work, 'repo-b-')),
    );
    try {
      const tuf = ['--tuf-mirror', repo.url, '--tuf-root', repo.rootPath];
      expect((await runCli(verifyArgs(...tuf), { env: env(cache) })).code).toBe(
        0,
      );
      repo.publishExpiredTimestamp();
      const r = await runCli(verifyArgs(...tuf, '--json'), {
        env: env(cache),
      });
      expect(r.code).toBe(3);
      expect(JSON.parse(r.stdout).error.code).toBe('TRUST_ROOT_INVALID');
    } finally {
      await repo.close();
    }
  });

  it('by default the public-good mirror is asked; unreachable, the embedded root is used with a warning; --offline asks nobody', async () => {
    const v = loadVectors().find(
      (c) => c.method === 'sigstore' && c.expect === 'pass',
    )!;
    const args = [
      'verify',
      'sigstore',
      vectorPath(v.model),
      '--signature',
      vectorPath(v.bundle),
      '--identity',
      v.identity!,
      '--identity-provider',
      v.issuer!,
    ];
    for (const p of v.ignorePaths ?? [])
      args.push('--ignore-paths', vectorPath(p));
    const cache = join(work, 'cache-c');
    proxied.length = 0;
    const online = await runCli(args, { env: env(cache) });
    expect(online.code).toBe(0);
    expect(proxied).toContain('CONNECT tuf-repo-cdn.sigstore.dev:443');
    expect(online.stderr).toMatch(
      /^modelseal: warning: cannot reach the tuf repository https:\/\/tuf-repo-cdn\.sigstore\.dev.*: used the root embedded at install time$/m,
    );
    expect(online.stdout).toContain(
      '  trusted root: embedded (the public-good root shipped with modelseal)',
    );

    proxied.length = 0;
    const offline = await runCli([...args, '--offline'], {
      env: env(join(work, 'cache-d')),
    });
    expect(offline.code).toBe(0);
    expect(offline.stderr).not.toMatch(/warning: cannot reach/);
    expect(offline.stdout).toContain('  trusted root: embedded');
    expect(proxied).toEqual([]);
    // No TUF cache (the CLI's compile cache may live beside it).
    expect(existsSync(join(work, 'cache-d', 'modelseal', 'tuf'))).toBe(false);
  });

  it('--offline with a TUF mirror, or --trusted-root with one, is a usage error', async () => {
    const a = await runCli(
      verifyArgs('--offline', '--tuf-mirror', 'http://127.0.0.1:9'),
    );
    expect(a.code).toBe(2);
    const b = await runCli(
      verifyArgs(
        '--trusted-root',
        inject('sigstoreTrustedRootPath'),
        '--tuf-root',
        join(work, 'x.json'),
      ),
    );
    expect(b.code).toBe(2);
  });
});
