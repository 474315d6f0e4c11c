// SPDX-License-Identifier: Apache-2.0
// A TUF repository built with @tufjs/models (the metadata classes tuf-js itself
// verifies with), signed with a throwaway Ed25519 key and served over loopback
// HTTP. It publishes one target, `trusted_root.json`. Every request is recorded.
import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  Key,
  Metadata,
  MetaFile,
  Root,
  Signature,
  Snapshot,
  TargetFile,
  Targets,
  Timestamp,
} from '@tufjs/models';

export interface TufRepository {
  /** Base URL of the repository (metadata at `/`, targets at `/targets/`). */
  url: string;
  /** The repository's `1.root.json`, to start a client from. */
  rootPath: string;
  /** Request paths seen, in order. */
  requests: string[];
  /** Serve the next version of timestamp metadata, already expired (correctly signed). */
  publishExpiredTimestamp(): void;
  /** Serve timestamp metadata whose signed part was changed after signing. */
  publishTamperedTimestamp(): void;
  /** Serve other bytes at the target's URL than targets metadata lists. */
  tamperTarget(bytes: Buffer): void;
  close(): Promise<void>;
}

const FUTURE = '2099-01-01T00:00:00Z';
const SPEC = '1.0.31';

export async function startTufRepository(
  target: Buffer,
  dir: string,
  /** Expiry of the timestamp metadata first served; default 2099. */
  timestampExpires: string = FUTURE,
): Promise<TufRepository> {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
  const keyID = createHash('sha256').update(raw).digest('hex');
  const key = new Key({
    keyID,
    keyType: 'ed25519',
    scheme: 'ed25519',
    keyVal: { public: raw.toString('hex') },
  });
  const signer = (data: Buffer): Signature =>
    new Signature({ keyID, sig: sign(null, data, privateKey).toString('hex') });
  const serialize = (m: Metadata<Root | Timestamp | Snapshot | Targets>) =>
    Buffer.from(JSON.stringify(m.toJSON()));
  const signed = <T extends Root | Timestamp | Snapshot | Targets>(
    body: T,
  ): Buffer => {
    const m = new Metadata(body);
    m.sign(signer);
    return serialize(m);
  };

  const root = new Root({
    version: 1,
    specVersion: SPEC,
    expires: FUTURE,
    consistentSnapshot: false,
  });
  for (const role of ['root', 'timestamp', 'snapshot', 'targets'])
    root.addKey(key, role);
  const targets = new Targets({
    version: 1,
    specVersion: SPEC,
    expires: FUTURE,
    targets: {
      'trusted_root.json': new TargetFile({
        path: 'trusted_root.json',
        length: target.length,
        hashes: { sha256: createHash('sha256').update(target).digest('hex') },
      }),
    },
  });
  const snapshot = new Snapshot({
    version: 1,
    specVersion: SPEC,
    expires: FUTURE,
    meta: { 'targets.json': new MetaFile({ version: 1 }) },
  });
  let timestampVersion = 1;
  const timestamp = (expires: string): Timestamp =>
    new Timestamp({
      version: timestampVersion,
      specVersion: SPEC,
      expires,
      snapshotMeta: new MetaFile({ version: 1 }),
    });

  const files: Record<string, Buffer> = {
    '/1.root.json': signed(root),
    '/timestamp.json': signed(timestamp(timestampExpires)),
    '/snapshot.json': signed(snapshot),
    '/targets.json': signed(targets),
    '/targets/trusted_root.json': target,
  };
  const rootPath = join(dir, 'tuf-root.json');
  writeFileSync(rootPath, files['/1.root.json']!);

  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const body = files[req.url ?? ''];
    if (body === undefined) res.writeHead(404).end();
    else res.writeHead(200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    rootPath,
    requests,
    publishExpiredTimestamp() {
      timestampVersion += 1;
      files['/timestamp.json'] = signed(timestamp('2001-01-01T00:00:00Z'));
    },
    publishTamperedTimestamp() {
      timestampVersion += 1;
      const json = JSON.parse(signed(timestamp(FUTURE)).toString('utf8')) as {
        signed: { version: number };
      };
      json.signed.version += 1; // no longer what the signature covers
      files['/timestamp.json'] = Buffer.from(JSON.stringify(json));
    },
    tamperTarget(bytes: Buffer) {
      files['/targets/trusted_root.json'] = bytes;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
