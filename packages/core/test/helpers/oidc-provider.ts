// SPDX-License-Identifier: Apache-2.0
// A real OpenID provider on loopback (`oidc-provider`) for the interactive
// sign-in tests: one public native client (`sigstore` by default) allowing the
// authorization code flow with PKCE to a loopback redirect on any port
// (RFC 8252 §7.3) and the device authorization grant. ID tokens are signed
// with a fresh key and carry `email` + `email_verified`, the identity the
// loopback Fulcio certifies (it copies `iss` into the certificate and takes the
// SAN from `email`; it does not check the token's signature, so this provider's
// JWKS need not be registered with it).
//
// The person is played by `browse()`: an HTTP client with a cookie jar that
// follows redirects and submits the provider's dev login/consent pages
// (devInteractions: any login name is accepted) and, for the device flow, the
// user-code and confirmation forms.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface LoopbackOidcProvider {
  /** The issuer URL, `http://127.0.0.1:PORT` (the `iss` of its tokens). */
  issuer: string;
  clientId: string;
  /** The e-mail the tokens of a login name carry. */
  emailOf(login: string): string;
  close(): Promise<void>;
}

export interface OidcProviderOptions {
  clientId?: string;
  /** Offer the device flow (default true). */
  deviceFlow?: boolean;
}

/** Login names become `NAME@oidc.modelseal.test` unless they already are an e-mail address. */
const emailOf = (login: string): string =>
  login.includes('@') ? login : `${login}@oidc.modelseal.test`;

export async function startOidcProvider(
  options: OidcProviderOptions = {},
): Promise<LoopbackOidcProvider> {
  const clientId = options.clientId ?? 'sigstore';
  const server: Server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = {
    ...privateKey.export({ format: 'jwk' }),
    kid: 'test',
    alg: 'ES256',
    use: 'sig',
  };
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        // Native loopback redirects: the provider ignores the port (RFC 8252 §7.3).
        redirect_uris: [
          'http://localhost/auth/callback',
          'http://127.0.0.1/auth/callback',
        ],
        grant_types: [
          'authorization_code',
          ...(options.deviceFlow === false
            ? []
            : ['urn:ietf:params:oauth:grant-type:device_code']),
        ],
        response_types: ['code'],
        id_token_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: options.deviceFlow !== false },
    },
    pkce: { required: () => true },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    // Scope claims in the ID token itself (Fulcio reads only the ID token).
    conformIdTokenClaims: false,
    findAccount: (_ctx, id) => ({
      accountId: id,
      claims: () => ({ sub: id, email: emailOf(id), email_verified: true }),
    }),
  });
  // Quiet: the dev-interactions warnings are expected here.
  provider.on('server_error', () => undefined);
  const handle = provider.callback();
  server.on('request', (req, res) => void handle(req, res));
  return {
    issuer,
    clientId,
    emailOf,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) =>
          error === undefined ? resolve() : reject(error),
        );
      }),
  };
}

/** One HTML form of a page: where it posts and its named inputs. */
function firstForm(
  html: string,
  base: string,
): { action: string; fields: Record<string, string> } {
  const form = /<form\b([^>]*)>([\s\S]*?)<\/form>/i.exec(html);
  if (form === null) throw new Error(`no form in page:\n${html.slice(0, 500)}`);
  const attr = (tag: string, name: string): string | undefined =>
    new RegExp(`\\b${name}="([^"]*)"`, 'i').exec(tag)?.[1];
  const action = new URL(attr(form[1] ?? '', 'action') ?? '', base).href;
  const fields: Record<string, string> = {};
  for (const input of (form[2] ?? '').matchAll(/<input\b[^>]*>/gi)) {
    const name = attr(input[0], 'name');
    if (name !== undefined) fields[name] = attr(input[0], 'value') ?? '';
  }
  return { action, fields };
}

export interface BrowseResult {
  /** The last URL requested (e.g. the loopback callback). */
  url: string;
  status: number;
  body: string;
  /** Every URL visited, in order. */
  visited: string[];
}

/**
 * Play the person at a browser: open `url`, follow redirects, and submit each
 * form the provider shows (login with `login`, consent, device user code and
 * confirmation) until a page with no form is reached.
 *
 * @param fill - values for inputs the page leaves empty (`login`, `password`, `user_code`).
 * @param deny - at the consent page, press "abort" instead of consenting.
 */
export async function browse(
  url: string,
  fill: Record<string, string>,
  { deny = false, maxSteps = 20 }: { deny?: boolean; maxSteps?: number } = {},
): Promise<BrowseResult> {
  const jar = new Map<string, string>();
  const visited: string[] = [];
  let method = 'GET';
  let body: URLSearchParams | undefined;
  let current = url;
  for (let step = 0; step < maxSteps; step++) {
    visited.push(current);
    const headers: Record<string, string> = {};
    if (jar.size > 0)
      headers.cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
    const res = await fetch(current, {
      method,
      headers,
      redirect: 'manual',
      ...(body === undefined ? {} : { body }),
    });
    for (const cookie of res.headers.getSetCookie()) {
      const [pair = ''] = cookie.split(';');
      const eq = pair.indexOf('=');
      if (eq > 0) jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1));
    }
    const location = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && location !== null) {
      await res.arrayBuffer();
      current = new URL(location, current).href;
      method = 'GET';
      body = undefined;
      continue;
    }
    const text = await res.text();
    if (!/<form\b/i.test(text))
      return { url: current, status: res.status, body: text, visited };
    const form = firstForm(text, current);
    if (deny && form.fields.prompt === 'consent') {
      current = `${form.action}/abort`;
      method = 'GET';
      body = undefined;
      continue;
    }
    for (const [name, value] of Object.entries(fill))
      if (name in form.fields && form.fields[name] === '')
        form.fields[name] = value;
    current = form.action;
    method = 'POST';
    body = new URLSearchParams(form.fields);
  }
  throw new Error(
    `browse: more than ${maxSteps} steps: ${visited.join(' -> ')}`,
  );
}
