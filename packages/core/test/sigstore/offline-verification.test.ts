// SPDX-License-Identifier: Apache-2.0
// Gotcha #8 (sigstore-notes.md §7): @sigstore/tuf's getTrustedRoot() is not
// offline-capable, so verification uses the root embedded in its seeds.json. This
// file blocks every outgoing connection and DNS lookup (the fork is private to this
// file) and verifies all reference keyless bundles.
import dns from 'node:dns';
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifySigstoreBundle } from '../../src/verify/sigstore.js';
import { vectorPath } from '../helpers/vectors.js';

const attempts: string[] = [];
const saved = {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- restored onto the prototype, never called detached
  connect: net.Socket.prototype.connect,
  lookup: dns.lookup,
  promisesLookup: dns.promises.lookup,
  fetch: globalThis.fetch,
};

function blocked(what: string): never {
  attempts.push(what);
  throw new Error(`network blocked in this test: ${what}`);
}

beforeAll(() => {
  net.Socket.prototype.connect = function connect(...args: unknown[]) {
    return blocked(`connect ${JSON.stringify(args[0])}`);
  };
  dns.lookup = ((host: string) =>
    blocked(`lookup ${host}`)) as unknown as typeof dns.lookup;
  dns.promises.lookup = (host: string) => blocked(`lookup ${host}`);
  globalThis.fetch = (input) =>
    blocked(`fetch ${input instanceof Request ? input.url : String(input)}`);
});

afterAll(() => {
  net.Socket.prototype.connect = saved.connect;
  dns.lookup = saved.lookup;
  dns.promises.lookup = saved.promisesLookup;
  globalThis.fetch = saved.fetch;
});

describe('offline verification with the network blocked', () => {
  it('control: the block catches a connection attempt', async () => {
    const before = attempts.length;
    await new Promise<void>((resolve) => {
      try {
        const socket = net.connect(443, '192.0.2.1');
        socket.on('error', () => resolve());
      } catch {
        resolve();
      }
    });
    expect(attempts.length).toBe(before + 1);
    attempts.length = 0;
  });

  it.each([
    'oms-reference/v0.3.1-sigstore/model.sig',
    'oms-reference/v1.0.0-sigstore/model.sig',
    'oms-reference/v1.0.1-sigstore/model.sig',
    'oms-reference/v1.1.0-sigstore/model.sig',
    'oms-spec/test-vectors/v1.0/valid/sigstore.bundle.json',
  ])('%s verifies with the embedded root and no network', async (file) => {
    const bundle: unknown = JSON.parse(readFileSync(vectorPath(file), 'utf8'));
    const result = await verifySigstoreBundle(bundle, {
      identity: 'stefanb@us.ibm.com',
      issuer: 'https://sigstore.verify.ibm.com/oauth2',
    });
    expect(result.identity).toBe('stefanb@us.ibm.com');
    expect(attempts).toEqual([]);
  });
});
