// SPDX-License-Identifier: Apache-2.0
// Interactive keyless signing against a real OpenID provider on loopback
// (`oidc-provider`, test/helpers/oidc-provider.ts) in front of the loopback
// Fulcio and Rekor: the browser flow (authorization code + PKCE, loopback
// redirect) and the device flow, each signing a model through signModel and
// verifying it with the provider's issuer and the signed-in identity.
import { createPublicKey, verify as verifySignature } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { resolveIdentityProvider } from '../../src/sign/identity.js';
import {
  desktopAvailable,
  interactiveToken,
  type OidcPrompt,
} from '../../src/sign/oidc/index.js';
import { signModel } from '../../src/sign/sign-model.js';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import {
  browse,
  startOidcProvider,
  type BrowseResult,
  type LoopbackOidcProvider,
} from '../helpers/oidc-provider.js';

const url = inject('sigstoreURL');
const trustedRoot = inject('sigstoreTrustedRootPath');

let dir: string;
let op: LoopbackOidcProvider;
let noDevice: LoopbackOidcProvider;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'modelseal-oidc-'));
  op = await startOidcProvider();
  noDevice = await startOidcProvider({ deviceFlow: false });
});
afterAll(async () => {
  await op.close();
  await noDevice.close();
  rmSync(dir, { recursive: true, force: true });
});

function model(name: string): string {
  const root = join(dir, name);
  mkdirSync(root);
  writeFileSync(join(root, 'config.json'), '{"hidden":8}');
  writeFileSync(join(root, 'weights.bin'), Buffer.alloc(2048, 3));
  return root;
}

const services = {
  fulcioURL: url,
  rekorURL: url,
  tsaURL: null,
  rekorEntryType: 'intoto',
  retries: 0,
} as const;

/** The person: signs in at whatever the prompt shows, as `login`. */
function person(login: string): {
  onPrompt: (p: OidcPrompt) => void;
  prompts: OidcPrompt[];
  done: () => Promise<BrowseResult>;
} {
  const prompts: OidcPrompt[] = [];
  let session: Promise<BrowseResult> | undefined;
  return {
    prompts,
    onPrompt(p) {
      prompts.push(p);
      session =
        p.flow === 'browser'
          ? browse(p.url, { login, password: 'any' })
          : browse(p.verificationURL, {
              user_code: p.userCode,
              login,
              password: 'any',
            });
    },
    done: () => {
      if (session === undefined) throw new Error('no prompt was shown');
      return session;
    },
  };
}

async function signAndVerify(
  name: string,
  interactive: Record<string, unknown>,
): Promise<Awaited<ReturnType<typeof verifyModelSignature>>> {
  const root = model(name);
  const bundlePath = join(dir, `${name}.sig`);
  await signModel({
    method: 'sigstore',
    modelPath: root,
    signaturePath: bundlePath,
    useAmbientCredentials: false,
    interactive,
    ...services,
  });
  return verifyModelSignature({
    method: 'sigstore',
    modelPath: root,
    bundlePath,
    identity: op.emailOf(name),
    issuer: op.issuer,
    trustedRoot,
  });
}

/** Check an ES256 JWT against the provider's published keys; return its claims. */
async function verifiedClaims(
  token: string,
  issuer: string,
): Promise<Record<string, unknown>> {
  const [h = '', p = '', s = ''] = token.split('.');
  const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as {
    alg: string;
    kid: string;
  };
  const jwks = (await (await fetch(`${issuer}/jwks`)).json()) as {
    keys: { kid: string }[];
  };
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  expect(header.alg).toBe('ES256');
  expect(jwk).toBeDefined();
  const key = createPublicKey({ key: jwk as never, format: 'jwk' });
  expect(
    verifySignature(
      'sha256',
      Buffer.from(`${h}.${p}`),
      { key, dsaEncoding: 'ieee-p1363' },
      Buffer.from(s, 'base64url'),
    ),
  ).toBe(true);
  return JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<
    string,
    unknown
  >;
}

describe('browser flow (authorization code + PKCE, loopback redirect)', () => {
  it('signs a model as the signed-in person; it verifies with that identity and the provider as issuer', async () => {
    const alice = person('alice');
    const result = await signAndVerify('alice', {
      flow: 'browser',
      issuer: op.issuer,
      clientId: op.clientId,
      openBrowser: false,
      onPrompt: alice.onPrompt,
    });
    expect(result.signer).toMatchObject({
      method: 'sigstore',
      identity: 'alice@oidc.modelseal.test',
      issuer: op.issuer,
    });
    const [prompt] = alice.prompts;
    if (prompt?.flow !== 'browser')
      throw new Error('expected a browser prompt');
    expect(prompt.opened).toBe(false);
    const auth = new URL(prompt.url);
    expect(auth.origin).toBe(op.issuer);
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('code_challenge')).toMatch(
      /^[A-Za-z0-9_-]{43}$/,
    );
    expect(auth.searchParams.has('code_verifier')).toBe(false);
    expect(auth.searchParams.get('state')).not.toBe('');
    expect(auth.searchParams.get('nonce')).not.toBe('');
    expect(auth.searchParams.get('scope')).toBe('openid email');
    expect(auth.searchParams.get('redirect_uri')).toMatch(
      /^http:\/\/localhost:\d+\/auth\/callback$/,
    );
    // The browser ended on the loopback receiver, told that it worked.
    const page = await alice.done();
    expect(page.url.startsWith(auth.searchParams.get('redirect_uri')!)).toBe(
      true,
    );
    expect(page.status).toBe(200);
    expect(page.body).toContain('Signed in');
  });

  it('the token is the provider-signed ID token: audience the client id, the identity in email', async () => {
    const bob = person('bob@example.org');
    const provider = interactiveToken({
      issuer: op.issuer,
      clientId: op.clientId,
      onPrompt: bob.onPrompt,
    });
    const token = await provider.getToken();
    const claims = await verifiedClaims(token, op.issuer);
    expect(claims).toMatchObject({
      iss: op.issuer,
      aud: 'sigstore',
      email: 'bob@example.org',
      email_verified: true,
    });
    // Asked once: a second call reuses the token instead of a second sign-in.
    expect(await provider.getToken()).toBe(token);
    expect(bob.prompts).toHaveLength(1);
  });

  it('listens on the requested redirect port', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port: free } = probe.address() as { port: number };
        probe.close(() => resolve(free));
      });
    });
    const carol = person('carol');
    const token = await interactiveToken({
      issuer: op.issuer,
      redirectPort: port,
      onPrompt: carol.onPrompt,
    }).getToken();
    expect(token.split('.')).toHaveLength(3);
    const [prompt] = carol.prompts;
    if (prompt?.flow !== 'browser')
      throw new Error('expected a browser prompt');
    expect(new URL(prompt.url).searchParams.get('redirect_uri')).toBe(
      `http://localhost:${port}/auth/callback`,
    );
  });

  it('ignores a callback with a foreign state and still completes the real one', async () => {
    let forged: Response | undefined;
    const dave = person('dave');
    const token = await interactiveToken({
      issuer: op.issuer,
      onPrompt: (p) => {
        if (p.flow !== 'browser') return;
        const redirect = new URL(p.url).searchParams.get('redirect_uri')!;
        // A page in another tab pokes the receiver first, with a code of its own.
        void fetch(`${redirect}?code=attacker&state=guess`).then((r) => {
          forged = r;
          dave.onPrompt(p);
        });
      },
    }).getToken();
    expect(forged?.status).toBe(400);
    const claims = JSON.parse(
      Buffer.from(token.split('.')[1]!, 'base64url').toString(),
    ) as Record<string, unknown>;
    expect(claims.email).toBe('dave@oidc.modelseal.test');
  });

  it('a denied consent fails with OIDC_TOKEN_UNAVAILABLE and the error the provider sent', async () => {
    const provider = interactiveToken({
      issuer: op.issuer,
      onPrompt: (p) => {
        if (p.flow !== 'browser') return;
        // Sign in, then press "abort" on the consent page instead of consenting.
        void browse(
          p.url,
          { login: 'mallory', password: 'any' },
          { deny: true },
        );
      },
    });
    const failure = provider.getToken();
    await expect(failure).rejects.toHaveCode('OIDC_TOKEN_UNAVAILABLE');
    await expect(failure).rejects.toThrow(/access_denied/);
  });

  it('nobody signs in: OIDC_TOKEN_UNAVAILABLE after the timeout; the signal gives ABORTED', async () => {
    await expect(
      interactiveToken({
        issuer: op.issuer,
        timeoutMs: 300,
        onPrompt: () => undefined,
      }).getToken(),
    ).rejects.toHaveCode('OIDC_TOKEN_UNAVAILABLE');
    const controller = new AbortController();
    const pending = interactiveToken({
      issuer: op.issuer,
      signal: controller.signal,
      onPrompt: () => controller.abort(),
    }).getToken();
    await expect(pending).rejects.toHaveCode('ABORTED');
  });
});

describe('device flow', () => {
  it('signs a model after the person enters the user code; it verifies with that identity', async () => {
    const erin = person('erin');
    const result = await signAndVerify('erin', {
      flow: 'device',
      issuer: op.issuer,
      onPrompt: erin.onPrompt,
    });
    expect(result.signer).toMatchObject({
      identity: 'erin@oidc.modelseal.test',
      issuer: op.issuer,
    });
    const [prompt] = erin.prompts;
    if (prompt?.flow !== 'device') throw new Error('expected a device prompt');
    expect(prompt.userCode).toMatch(/^[A-Z]{4}-?[A-Z]{4}$/);
    expect(prompt.verificationURL).toBe(`${op.issuer}/device`);
    expect(prompt.expiresIn).toBeGreaterThan(0);
    const page = await erin.done();
    expect(page.body).toContain('Sign-in Success');
  }, 30_000);

  it('an issuer without a device endpoint is refused with a clear message', async () => {
    const failure = interactiveToken({
      flow: 'device',
      issuer: noDevice.issuer,
      onPrompt: () => undefined,
    }).getToken();
    await expect(failure).rejects.toHaveCode('OIDC_TOKEN_UNAVAILABLE');
    await expect(failure).rejects.toThrow(/offers no device flow/);
  });
});

describe('options and token sources', () => {
  it('refuses a plain-http issuer off loopback, a bad port, and a port with the device flow', () => {
    expect(() =>
      interactiveToken({ issuer: 'http://idp.example/auth' }),
    ).toThrowWithCode('INVALID_OPTIONS');
    expect(() => interactiveToken({ redirectPort: 70000 })).toThrowWithCode(
      'INVALID_OPTIONS',
    );
    expect(() =>
      interactiveToken({ flow: 'device', redirectPort: 8080 }),
    ).toThrowWithCode('INVALID_OPTIONS');
    expect(() => interactiveToken({ clientId: ' ' })).toThrowWithCode(
      'INVALID_OPTIONS',
    );
  });

  it('resolveIdentityProvider: interactive only when allowed; after ambient credentials that yield none', async () => {
    expect(() =>
      resolveIdentityProvider({ useAmbientCredentials: false }),
    ).toThrowWithCode('OIDC_TOKEN_UNAVAILABLE');
    const saved = process.env.SIGSTORE_ID_TOKEN;
    delete process.env.SIGSTORE_ID_TOKEN;
    try {
      const frank = person('frank');
      const token = await resolveIdentityProvider({
        useAmbientCredentials: true,
        interactive: {
          issuer: op.issuer,
          openBrowser: false,
          onPrompt: frank.onPrompt,
        },
      }).getToken();
      expect(frank.prompts).toHaveLength(1);
      expect(token.split('.')).toHaveLength(3);
    } finally {
      if (saved !== undefined) process.env.SIGSTORE_ID_TOKEN = saved;
    }
  });

  it('desktopAvailable: a browser only on a desktop session, never in CI or a bare SSH login', () => {
    expect(desktopAvailable({}, 'darwin')).toBe(true);
    expect(desktopAvailable({}, 'win32')).toBe(true);
    expect(desktopAvailable({}, 'linux')).toBe(false);
    expect(desktopAvailable({ DISPLAY: ':0' }, 'linux')).toBe(true);
    expect(desktopAvailable({ WAYLAND_DISPLAY: 'wayland-0' }, 'linux')).toBe(
      true,
    );
    expect(desktopAvailable({ DISPLAY: ':0', CI: 'true' }, 'linux')).toBe(
      false,
    );
    expect(desktopAvailable({ SSH_CONNECTION: '1 2 3 4' }, 'darwin')).toBe(
      false,
    );
  });
});
