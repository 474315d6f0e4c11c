// SPDX-License-Identifier: Apache-2.0
/**
 * The loopback redirect receiver of the browser flow (RFC 8252 §7.3): an HTTP
 * listener on 127.0.0.1 (and ::1 on the same port when the host has it) that
 * waits for the one `/auth/callback` request carrying our `state`. Requests
 * with another state or path are answered and ignored, so a web page poking
 * at the port can neither end nor hijack the sign-in.
 */
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { ModelSealError } from '../../errors.js';

export const CALLBACK_PATH = '/auth/callback';

/** The redirect that came back, held open until the sign-in outcome is known. */
export interface LoopbackCallback {
  /** The full callback URL as the browser requested it (code, state or error). */
  url: URL;
  /** Answer the browser with the outcome and stop holding the request. */
  finish(ok: boolean, message: string): void;
}

export interface LoopbackReceiver {
  /** `http://localhost:PORT/auth/callback`, what the issuer redirects to. */
  redirectURI: string;
  /** Resolves with the callback carrying `state`; rejects when `signal` aborts. */
  wait(state: string, signal: AbortSignal): Promise<LoopbackCallback>;
  close(): void;
}

const page = (title: string, message: string): string =>
  `<!DOCTYPE html><html><head><meta charset="utf-8"><title>${title}</title></head><body><h1>${title}</h1><p>${message}</p></body></html>`;

const escapeHTML = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => `&#${(c.codePointAt(0) ?? 0).toString()};`);

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen({ port, host, exclusive: true }, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/**
 * Start listening on the loopback interface.
 *
 * @param port - 0 for a port the system picks.
 * @throws ModelSealError `OIDC_TOKEN_UNAVAILABLE` when the port cannot be bound.
 */
export async function startLoopbackReceiver(
  port: number,
): Promise<LoopbackReceiver> {
  let pending:
    { state: string; resolve: (c: LoopbackCallback) => void } | undefined;
  let answered = false;
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', redirectURI);
    const reply = (status: number, body: string): void => {
      res
        .writeHead(status, {
          'content-type': 'text/html; charset=utf-8',
          'cache-control': 'no-store',
          'referrer-policy': 'no-referrer',
        })
        .end(body);
    };
    if (req.method !== 'GET' || url.pathname !== CALLBACK_PATH) {
      reply(404, page('Not found', 'This is the modelseal sign-in receiver.'));
      return;
    }
    if (
      pending === undefined ||
      answered ||
      url.searchParams.get('state') !== pending.state
    ) {
      reply(
        400,
        page(
          'Unexpected sign-in response',
          'This response does not belong to the sign-in modelseal is waiting for.',
        ),
      );
      return;
    }
    answered = true;
    pending.resolve({
      url,
      finish(ok, message) {
        reply(
          ok ? 200 : 400,
          page(
            ok ? 'Signed in' : 'Sign-in failed',
            `${escapeHTML(message)} You can close this tab.`,
          ),
        );
      },
    });
  };

  const v4 = createServer(onRequest);
  try {
    await listen(v4, port, '127.0.0.1');
  } catch (cause) {
    throw new ModelSealError({
      code: 'OIDC_TOKEN_UNAVAILABLE',
      message: `cannot listen for the sign-in redirect on 127.0.0.1:${port}: ${cause instanceof Error ? cause.message : String(cause)}`,
      cause,
    });
  }
  const bound = (v4.address() as AddressInfo).port;
  // A browser may resolve `localhost` to ::1 first; serve it too when the host can.
  const v6 = createServer(onRequest);
  await listen(v6, bound, '::1').catch(() => undefined);
  const redirectURI = `http://localhost:${bound}${CALLBACK_PATH}`;

  const close = (): void => {
    for (const server of [v4, v6]) {
      if (!server.listening) continue;
      server.close();
      server.closeAllConnections();
    }
  };

  return {
    redirectURI,
    wait(state, signal) {
      return new Promise<LoopbackCallback>((resolve, reject) => {
        if (signal.aborted) {
          reject(signal.reason as Error);
          return;
        }
        const onAbort = (): void => reject(signal.reason as Error);
        signal.addEventListener('abort', onAbort, { once: true });
        pending = {
          state,
          resolve: (callback) => {
            signal.removeEventListener('abort', onAbort);
            resolve(callback);
          },
        };
      });
    },
    close,
  };
}
