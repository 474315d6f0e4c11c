// SPDX-License-Identifier: Apache-2.0
// A loopback Sigstore for tests (sigstore-notes.md §8): the @sigstore/mock Fulcio,
// Rekor v1 and (optionally) TSA handlers served over real HTTP on 127.0.0.1, so a
// CLI subprocess can use them too, plus the TrustedRoot that matches them.
//
// Fault injection: a request to `<url>/status/<code>/…` is answered with that HTTP
// status, e.g. `fulcioURL: `${url}/status/500`` makes Fulcio fail.
import { generateKeyPairSync } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  fulcioHandler,
  initializeCA,
  initializeCTLog,
  initializeTLog,
  initializeTSA,
  rekorHandler,
  tsaHandler,
} from '@sigstore/mock';
import { buildTrustedRootJSON } from '../../src/trust/build-trusted-root.js';

/** The OIDC issuer the helper tokens carry (the mock Fulcio copies `iss` into the certificate). */
export const TEST_OIDC_ISSUER = 'https://oidc.modelseal.test';
/** The e-mail identity the helper tokens carry by default. */
export const TEST_IDENTITY = 'signer@modelseal.test';

export interface LoopbackSigstoreOptions {
  /** Also serve the mock TSA (flaky, see §8); default false. */
  tsa?: boolean;
}

export interface LoopbackSigstore {
  /** Base URL of all services, e.g. `http://127.0.0.1:41234`; Fulcio, Rekor and TSA share it. */
  url: string;
  /** TrustedRoot JSON for the mock CA, CT log, Rekor (and TSA). */
  trustedRootJSON: Record<string, unknown>;
  /** The fixed clock of the mock services (a whole second 5 s ahead of startup, + 123 ms). */
  clock: Date;
  /** Every request seen: method, path, status. */
  requests: { method: string; path: string; status: number }[];
  close(): Promise<void>;
}

/** Mint an unsigned (`alg: none`) OIDC token: the mock Fulcio does not check signatures. */
export function mintOIDCToken(
  claims: {
    email?: string;
    issuer?: string;
    emailVerified?: boolean;
    sub?: string;
  } & Record<string, unknown> = {},
): string {
  const {
    email = TEST_IDENTITY,
    issuer = TEST_OIDC_ISSUER,
    emailVerified = true,
    sub,
    ...rest
  } = claims;
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o: unknown): string =>
    Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({
    iss: issuer,
    sub: sub ?? email,
    aud: 'sigstore',
    iat: now,
    nbf: now,
    exp: now + 600,
    email,
    email_verified: emailVerified,
    ...rest,
  })}.`;
}

const bytes = (v: ArrayBufferView): Buffer =>
  Buffer.from(v.buffer, v.byteOffset, v.byteLength);

/** Start the loopback services on an ephemeral port. */
export async function startSigstoreServer(
  options: LoopbackSigstoreOptions = {},
): Promise<LoopbackSigstore> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  // Whole second + 123 ms: the mock TSA drops trailing zeros from fractional
  // seconds and @sigstore/core's time parser only accepts exactly three digits.
  // Five seconds ahead: the mock's CA and TSA root certificates take their
  // notBefore from the real clock (whole seconds), not from `clock`; a clock at
  // "now" lost that race whenever a second ticked over during startup, and the
  // chain then failed at the signing time (about 1 TSA server in 30).
  const clock = new Date((Math.floor(Date.now() / 1000) + 5) * 1000 + 123);
  const keyPair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const ctlog = await initializeCTLog(keyPair, clock);
  const ca = await initializeCA(keyPair, ctlog, clock);
  const tlog = await initializeTLog(url, keyPair, clock); // after listen(): the log embeds its URL
  const tsa =
    options.tsa === true ? await initializeTSA(keyPair, clock) : undefined;

  const handlers = [
    fulcioHandler(ca, { strict: true, subjectClaim: 'email' }),
    rekorHandler(tlog, { strict: true }),
    ...(tsa === undefined ? [] : [tsaHandler(tsa, { strict: true })]),
  ];
  const requests: LoopbackSigstore['requests'] = [];

  const respond = (
    req: IncomingMessage,
    res: ServerResponse,
    status: number,
    body: string | ArrayBufferView,
    contentType = 'text/plain',
  ): void => {
    requests.push({ method: req.method ?? '', path: req.url ?? '', status });
    res.writeHead(status, { 'content-type': contentType }).end(body);
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    const fault = /^\/status\/(\d{3})(?:\/|$)/.exec(path);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (fault !== null)
        return respond(req, res, Number(fault[1]), 'injected fault');
      const handler = handlers.find(
        (h) => req.method === 'POST' && h.path === path,
      );
      if (handler === undefined) return respond(req, res, 404, 'not found');
      handler.fn(Buffer.concat(chunks).toString()).then(
        (out) =>
          respond(req, res, out.statusCode, out.response, out.contentType),
        (error: unknown) => respond(req, res, 500, String(error)),
      );
    });
  });

  const trustedRootJSON = buildTrustedRootJSON({
    certificateAuthorities: [
      { uri: url, certChain: [bytes(ca.rootCertificate)] },
    ],
    tlogs: [{ baseURL: url, publicKey: tlog.publicKey }],
    ctlogs: [
      { baseURL: url, publicKey: ctlog.publicKey, logID: bytes(ctlog.logID) },
    ],
    timestampAuthorities:
      tsa === undefined
        ? []
        : [
            {
              uri: url,
              certChain: [
                bytes(tsa.intCertificate),
                bytes(tsa.rootCertificate),
              ],
            },
          ],
  });

  return {
    url,
    trustedRootJSON,
    clock,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) =>
          error === undefined ? resolve() : reject(error),
        );
      }),
  };
}
