// SPDX-License-Identifier: Apache-2.0
// The opt-in online trusted-root refresh maps every TUF failure to
// TRUST_ROOT_UNAVAILABLE. Only loopback mirrors are used.
import { createRequire } from 'node:module';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { signWithSigstore } from '../../src/sign/sigstore.js';
import { fetchTrustedRoot } from '../../src/trust/tuf.js';
import { verifySigstoreBundle } from '../../src/verify/sigstore.js';
import { mintOIDCToken } from '../helpers/sigstore-server.js';

/** OLPC canonical JSON, as TUF signs it: sorted keys, no whitespace, only double quote and backslash escaped. */
function canonical(value: unknown): string {
  if (typeof value === 'string')
    return `"${value.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  if (typeof value === 'number' || typeof value === 'boolean' || value === null)
    return String(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>).sort(
    ([a], [b]) => (a < b ? -1 : 1),
  );
  return `{${entries.map(([k, v]) => `${canonical(k)}:${canonical(v)}`).join(',')}}`;
}

/** A minimal one-key TUF repository (spec 1.0, no consistent snapshots) serving one target. */
function tufRepository(target: Buffer): {
  files: Record<string, Buffer>;
  root: Buffer;
} {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
  const key = {
    keytype: 'ed25519',
    scheme: 'ed25519',
    keyval: { public: raw.toString('hex') },
  };
  const keyid = createHash('sha256').update(canonical(key)).digest('hex');
  const role = { keyids: [keyid], threshold: 1 };
  const common = {
    spec_version: '1.0.31',
    version: 1,
    expires: '2099-01-01T00:00:00Z',
  };
  const signed = (body: Record<string, unknown>): Buffer =>
    Buffer.from(
      JSON.stringify({
        signed: body,
        signatures: [
          {
            keyid,
            sig: sign(null, Buffer.from(canonical(body)), privateKey).toString(
              'hex',
            ),
          },
        ],
      }),
    );
  const root = signed({
    _type: 'root',
    ...common,
    consistent_snapshot: false,
    keys: { [keyid]: key },
    roles: { root: role, timestamp: role, snapshot: role, targets: role },
  });
  const targets = signed({
    _type: 'targets',
    ...common,
    targets: {
      'trusted_root.json': {
        length: target.length,
        hashes: { sha256: createHash('sha256').update(target).digest('hex') },
      },
    },
  });
  const snapshot = signed({
    _type: 'snapshot',
    ...common,
    meta: { 'targets.json': { version: 1 } },
  });
  const timestamp = signed({
    _type: 'timestamp',
    ...common,
    meta: { 'snapshot.json': { version: 1 } },
  });
  return {
    root,
    files: {
      '/1.root.json': root,
      '/timestamp.json': timestamp,
      '/snapshot.json': snapshot,
      '/targets.json': targets,
      '/targets/trusted_root.json': target,
    },
  };
}

let dir: string;
let server: Server;
let mirror: string;
const requests: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'modelseal-tuf-'));
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

describe('fetchTrustedRoot', () => {
  it('a mirror with no known TUF root fails before any request', async () => {
    const before = requests.length;
    const error: unknown = await fetchTrustedRoot({
      mirrorURL: mirror,
      cachePath: join(dir, 'a'),
    }).catch((e: unknown) => e);
    expect(error).toHaveCode('TRUST_ROOT_UNAVAILABLE');
    expect((error as Error).cause).toMatchObject({
      code: 'TUF_INIT_CACHE_ERROR',
    });
    expect(requests.length).toBe(before);
  });

  it('a mirror that serves no metadata fails with the TUF error as cause', async () => {
    // Start from the public-good TUF root embedded in @sigstore/tuf, served by nobody.
    const seeds = createRequire(import.meta.url)(
      '@sigstore/tuf/seeds.json',
    ) as Record<string, { 'root.json': string }>;
    const rootPath = join(dir, 'root.json');
    writeFileSync(
      rootPath,
      Buffer.from(
        seeds['https://tuf-repo-cdn.sigstore.dev']!['root.json'],
        'base64',
      ),
    );
    const error: unknown = await fetchTrustedRoot({
      mirrorURL: mirror,
      rootPath,
      cachePath: join(dir, 'b'),
      retries: 0,
      timeoutMs: 5000,
    }).catch((e: unknown) => e);
    expect(error).toHaveCode('TRUST_ROOT_UNAVAILABLE');
    expect((error as Error).cause).toMatchObject({
      code: expect.stringMatching(/^TUF_/) as unknown,
    });
    expect(requests.length).toBeGreaterThan(0);
  });

  it('fetches, verifies and returns the trusted root of a TUF repository', async () => {
    const served = Buffer.from(inject('sigstoreTrustedRoot'));
    const repo = tufRepository(served);
    const tuf = createServer((req, res) => {
      const body = repo.files[req.url ?? ''];
      if (body === undefined) res.writeHead(404).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((r) => tuf.listen(0, '127.0.0.1', r));
    try {
      const rootPath = join(dir, 'repo-root.json');
      writeFileSync(rootPath, repo.root);
      const json = await fetchTrustedRoot({
        mirrorURL: `http://127.0.0.1:${(tuf.address() as AddressInfo).port}`,
        rootPath,
        cachePath: join(dir, 'c'),
        retries: 0,
      });
      expect(json['mediaType']).toBe(
        'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      );
      // The fetched root is usable as is: a loopback signature verifies against it.
      const url = inject('sigstoreURL');
      const bundle = await signWithSigstore(Buffer.from('{}'), {
        identityToken: mintOIDCToken(),
        fulcioURL: url,
        rekorURL: url,
        tsaURL: null,
        rekorEntryType: 'intoto',
        retries: 0,
      });
      await expect(
        verifySigstoreBundle(
          bundle,
          {
            identity: inject('sigstoreIdentity'),
            issuer: inject('sigstoreOIDCIssuer'),
          },
          { trustedRootJSON: json },
        ),
      ).resolves.toMatchObject({ identity: inject('sigstoreIdentity') });
    } finally {
      tuf.closeAllConnections();
      await new Promise<void>((r) => tuf.close(() => r()));
    }
  });

  it('staging together with a mirror URL is INVALID_OPTIONS', async () => {
    await expect(
      fetchTrustedRoot({ staging: true, mirrorURL: mirror }),
    ).rejects.toHaveCode('INVALID_OPTIONS');
  });
});
