// SPDX-License-Identifier: Apache-2.0
// Where the OIDC token comes from (sigstore-notes.md §3), including gotcha #9:
// CIContextProvider rejects with a plain string, which we wrap.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  afterEach,
  beforeEach,
  describe,
  expect,
  inject,
  it,
  vi,
} from 'vitest';
import {
  ambientToken,
  decodeTokenClaims,
  resolveIdentityProvider,
  staticToken,
} from '../../src/sign/identity.js';
import { signWithSigstore } from '../../src/sign/sigstore.js';
import { verifySigstoreBundle } from '../../src/verify/sigstore.js';
import { mintOIDCToken } from '../helpers/sigstore-server.js';

const AMBIENT_VARS = [
  'ACTIONS_ID_TOKEN_REQUEST_URL',
  'ACTIONS_ID_TOKEN_REQUEST_TOKEN',
  'BUILDKITE',
  'SIGSTORE_ID_TOKEN',
];

beforeEach(() => {
  // No ambient source at all, whatever CI this suite runs on.
  for (const name of AMBIENT_VARS) vi.stubEnv(name, '');
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe('gotcha #9: ambient token lookup failure', () => {
  it('rejects with OIDC_TOKEN_UNAVAILABLE and keeps the string rejection as cause', async () => {
    const error: unknown = await ambientToken()
      .getToken()
      .catch((e: unknown) => e);
    expect(error).toHaveCode('OIDC_TOKEN_UNAVAILABLE');
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).cause).toBe('CI: no tokens available');
  });

  it('keyless signing with ambient credentials and no source fails before any request', async () => {
    const url = inject('sigstoreURL');
    const error: unknown = await signWithSigstore(Buffer.from('{}'), {
      useAmbientCredentials: true,
      fulcioURL: url,
      rekorURL: url,
      tsaURL: null,
      retries: 0,
    }).catch((e: unknown) => e);
    expect(error).toHaveCode('OIDC_TOKEN_UNAVAILABLE');
    expect((error as Error).cause).toBe('CI: no tokens available');
  });
});

describe('ambient sources', () => {
  it('SIGSTORE_ID_TOKEN is used as is', async () => {
    const token = mintOIDCToken();
    vi.stubEnv('SIGSTORE_ID_TOKEN', token);
    await expect(ambientToken().getToken()).resolves.toBe(token);
  });

  async function withTokenServer<T>(
    value: unknown,
    run: (
      url: string,
      seen: { url: string; auth: string | undefined }[],
    ) => Promise<T>,
  ): Promise<T> {
    const seen: { url: string; auth: string | undefined }[] = [];
    const server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', auth: req.headers.authorization });
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ value }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as AddressInfo).port;
      return await run(`http://127.0.0.1:${port}/token?api-version=2.0`, seen);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }

  it('GitHub Actions: asks the request URL for audience `sigstore` with the bearer request token', async () => {
    const token = mintOIDCToken({ email: 'ci@example.org' });
    await withTokenServer(token, async (url, seen) => {
      vi.stubEnv('ACTIONS_ID_TOKEN_REQUEST_URL', url);
      vi.stubEnv('ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'request-secret');
      await expect(ambientToken().getToken()).resolves.toBe(token);
      expect(seen).toHaveLength(1);
      const requested = new URL(seen[0]!.url, 'http://x');
      expect(requested.searchParams.get('audience')).toBe('sigstore');
      expect(seen[0]!.auth).toBe('Bearer request-secret');
    });
  });

  it('GitHub Actions answering an empty token is OIDC_TOKEN_UNAVAILABLE', async () => {
    await withTokenServer('', async (url) => {
      vi.stubEnv('ACTIONS_ID_TOKEN_REQUEST_URL', url);
      vi.stubEnv('ACTIONS_ID_TOKEN_REQUEST_TOKEN', 'request-secret');
      await expect(ambientToken().getToken()).rejects.toHaveCode(
        'OIDC_TOKEN_UNAVAILABLE',
      );
    });
  });

  it('an ambient token signs end to end against the loopback Sigstore', async () => {
    const url = inject('sigstoreURL');
    vi.stubEnv(
      'SIGSTORE_ID_TOKEN',
      mintOIDCToken({ email: 'ambient@example.org' }),
    );
    const bundle = await signWithSigstore(Buffer.from('{"_type":"x"}'), {
      useAmbientCredentials: true,
      fulcioURL: url,
      rekorURL: url,
      tsaURL: null,
      rekorEntryType: 'intoto',
      retries: 0,
    });
    const result = await verifySigstoreBundle(
      bundle,
      { identity: 'ambient@example.org', issuer: inject('sigstoreOIDCIssuer') },
      { trustedRoot: inject('sigstoreTrustedRootPath') },
    );
    expect(result.identity).toBe('ambient@example.org');
  });
});

describe('explicit tokens and precedence', () => {
  it('staticToken trims the newline of a token file', async () => {
    const token = mintOIDCToken();
    await expect(staticToken(`${token}\n`).getToken()).resolves.toBe(token);
  });

  it.each([
    ['empty', ''],
    ['blank', ' \n'],
    ['not a JWT', 'abc'],
    ['four segments', 'a.b.c.d'],
    ['non-base64url characters', 'a+b.c.d'],
  ])('staticToken rejects a token that is %s', (_, token) => {
    expect(() => staticToken(token)).toThrowWithCode('OIDC_TOKEN_UNAVAILABLE');
  });

  it('an explicit token wins over ambient credentials', async () => {
    vi.stubEnv(
      'SIGSTORE_ID_TOKEN',
      mintOIDCToken({ email: 'ambient@example.org' }),
    );
    const explicit = mintOIDCToken({ email: 'explicit@example.org' });
    const provider = resolveIdentityProvider({
      identityToken: explicit,
      useAmbientCredentials: true,
    });
    await expect(provider.getToken()).resolves.toBe(explicit);
  });

  it('ambient credentials are used only when enabled', async () => {
    const token = mintOIDCToken();
    vi.stubEnv('SIGSTORE_ID_TOKEN', token);
    await expect(
      resolveIdentityProvider({ useAmbientCredentials: true }).getToken(),
    ).resolves.toBe(token);
    expect(() => resolveIdentityProvider({})).toThrowWithCode(
      'OIDC_TOKEN_UNAVAILABLE',
    );
    expect(() =>
      resolveIdentityProvider({ useAmbientCredentials: false }),
    ).toThrowWithCode('OIDC_TOKEN_UNAVAILABLE');
  });

  it('decodeTokenClaims reads the unverified claims', () => {
    expect(
      decodeTokenClaims(mintOIDCToken({ email: 'a@b.c', issuer: 'https://i' })),
    ).toMatchObject({
      email: 'a@b.c',
      iss: 'https://i',
      email_verified: true,
    });
    expect(() => decodeTokenClaims('a.b.c')).toThrowWithCode(
      'OIDC_TOKEN_UNAVAILABLE',
    );
    expect(() => decodeTokenClaims('abc')).toThrowWithCode(
      'OIDC_TOKEN_UNAVAILABLE',
    );
    const notObject = `e30.${Buffer.from('[1]').toString('base64url')}.`;
    expect(() => decodeTokenClaims(notObject)).toThrowWithCode(
      'OIDC_TOKEN_UNAVAILABLE',
    );
  });
});
