// SPDX-License-Identifier: Apache-2.0
// Issue 13 item 4: the opt-in verification cache. A restart with an unchanged
// model reads no file byte; a touched file (mtime) or a replaced one (same
// size, new inode) is hashed again; a tampered file still fails; the cache
// file must be private to the user and is opened only after the signature
// verified.
import {
  chmodSync,
  chownSync,
  existsSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isModelSealError } from '../../src/errors.js';
import type { HashProgress } from '../../src/manifest/types.js';
import { signModel } from '../../src/sign/sign-model.js';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import { RACY_WINDOW_NS } from '../../src/verify-cache/index.js';
import { newKey, type TestKey } from '../helpers/pki.js';
import { makeTree, tempDir } from '../helpers/tree.js';

let key: TestKey;
let other: TestKey;
const models: { model: string; sig: string }[] = [];

const FILES = {
  'a.bin': randomBytes(300_000),
  'b.bin': randomBytes(100_000),
  'sub/c.json': Buffer.from('{"x":1}'),
};

async function signed(
  files: Record<string, Buffer>,
  extra: Record<string, unknown> = {},
): Promise<{ model: string; sig: string }> {
  const model = makeTree(files);
  const sig = join(model, 'model.sig');
  await signModel({
    method: 'key',
    modelPath: model,
    signaturePath: sig,
    privateKey: key.keyPath,
    concurrency: 0,
    ...extra,
  });
  return { model, sig };
}

beforeAll(async () => {
  const dir = tempDir();
  key = newKey(dir, 'signer', 'P-256');
  other = newKey(dir, 'other', 'P-256');
  models.push(await signed(FILES));
  models.push(
    await signed(FILES, { serialization: 'shards', shardSize: 65536 }),
  );
  models.push(
    await signed({
      'big.bin': randomBytes(17 * 1024 * 1024),
      'small.bin': randomBytes(10),
    }),
  );
  // Files changed within the racy window are hashed but not cached: let it pass once.
  await new Promise((r) =>
    setTimeout(r, Number(RACY_WINDOW_NS / 1_000_000n) + 200),
  );
}, 60_000);

/** Verifies and returns the result with the bytes the hashing read. */
async function verify(
  m: { model: string; sig: string },
  cache: string | undefined,
  extra: Record<string, unknown> = {},
) {
  let bytes = 0;
  const result = await verifyModelSignature({
    method: 'key',
    modelPath: m.model,
    bundlePath: m.sig,
    publicKey: key.publicKeyPath,
    concurrency: 0,
    ...(cache === undefined ? {} : { verifyCache: cache }),
    onProgress: (e: HashProgress) => {
      if (e.phase === 'hash') bytes = e.bytesDone;
    },
    ...extra,
  });
  return { result, bytes };
}

async function failure(p: Promise<unknown>) {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isModelSealError(error))
    throw new Error(`expected a failure, got ${String(error)}`);
  return error;
}

const TOTAL = 300_000 + 100_000 + 7;

describe('verification cache', () => {
  it('is off by default and, once filled, skips every byte of an unchanged model', async () => {
    const m = models[0]!;
    const plain = await verify(m, undefined);
    expect(plain.bytes).toBe(TOTAL);
    expect(plain.result.verifyCache).toBeUndefined();

    const cache = join(tempDir(), 'verify-cache.json');
    const first = await verify(m, cache);
    expect(first.bytes).toBe(TOTAL);
    expect(first.result.verifyCache).toMatchObject({
      hits: 0,
      misses: 3,
      recorded: 3,
    });
    expect(statSync(cache).mode & 0o777).toBe(0o600);

    const written = statSync(cache).ino;
    const second = await verify(m, cache);
    expect(second.bytes).toBe(0);
    // Nothing new to remember: the cache file is not rewritten.
    expect(statSync(cache).ino).toBe(written);
    expect(second.result.verifyCache).toMatchObject({
      hits: 3,
      misses: 0,
      bytesSkipped: TOTAL,
    });
    // The same resources and root as a full hash.
    expect(second.result.compare.ok).toBe(true);
    expect(second.result.manifest.rootDigest).toBe(
      plain.result.manifest.rootDigest,
    );
  });

  it('re-hashes a touched file (mtime) and a replaced file (same size, new inode)', async () => {
    const m = models[0]!;
    const cache = join(tempDir(), 'c.json');
    await verify(m, cache);
    const a = join(m.model, 'a.bin');
    const old = statSync(a);
    utimesSync(a, old.atime, new Date(old.mtimeMs - 60_000));
    const touched = await verify(m, cache);
    expect(touched.bytes).toBe(300_000);
    expect(touched.result.verifyCache).toMatchObject({ hits: 2, misses: 1 });

    const b = join(m.model, 'b.bin');
    const copy = join(m.model, 'b.new');
    writeFileSync(copy, readFileSync(b));
    renameSync(copy, b);
    expect(statSync(b).ino).not.toBe(statSync(a).ino);
    const replaced = await verify(m, cache);
    expect(replaced.result.verifyCache?.misses).toBeGreaterThanOrEqual(1);
    expect(replaced.bytes).toBeGreaterThanOrEqual(100_000);
    expect(replaced.result.compare.ok).toBe(true);
  });

  it('still refuses a tampered file of the same size', async () => {
    const m = await signed(FILES);
    await new Promise((r) =>
      setTimeout(r, Number(RACY_WINDOW_NS / 1_000_000n) + 200),
    );
    const cache = join(tempDir(), 'c.json');
    await verify(m, cache);
    const b = join(m.model, 'b.bin');
    const data = readFileSync(b);
    data[10] = (data[10]! + 1) % 256;
    writeFileSync(b, data); // same inode, same size: ctime and mtime move
    const error = await failure(verify(m, cache));
    expect(error.code).toBe('MANIFEST_MISMATCH');
    expect(
      (error.details?.changed as { name: string }[]).map((c) => c.name),
    ).toEqual(['b.bin']);
    // A digest the signature does not vouch for is never cached: once the
    // change is older than the racy window, b.bin is still read every time.
    await new Promise((r) =>
      setTimeout(r, Number(RACY_WINDOW_NS / 1_000_000n) + 200),
    );
    for (let i = 0; i < 2; i++) {
      let bytes = -1;
      const again = await failure(
        verifyModelSignature({
          method: 'key',
          modelPath: m.model,
          bundlePath: m.sig,
          publicKey: key.publicKeyPath,
          concurrency: 0,
          verifyCache: cache,
          onProgress: (e: HashProgress) => {
            if (e.phase === 'hash') bytes = e.bytesDone;
          },
        }),
      );
      expect(again.code).toBe('MANIFEST_MISMATCH');
      expect(bytes).toBe(100_000);
    }
  });

  it('binds digests to the shard size and algorithm, and works on worker threads', async () => {
    const shards = models[1]!;
    const cache = join(tempDir(), 'c.json');
    expect((await verify(shards, cache)).bytes).toBe(TOTAL);
    const again = await verify(shards, cache);
    expect(again.bytes).toBe(0);
    expect(again.result.manifest.resources.length).toBeGreaterThan(3);
    // The files-mode bundle of the same bytes does not reuse shard digests.
    const files = await verify(models[0]!, cache);
    expect(files.bytes).toBe(TOTAL);

    const big = models[2]!;
    const first = await verify(big, cache, { concurrency: 2 });
    expect(first.result.verifyCache?.recorded).toBe(2);
    const second = await verify(big, cache, { concurrency: 2 });
    expect(second.bytes).toBe(0);
  });

  it('refuses an insecure cache file', async () => {
    const m = models[0]!;
    const dir = tempDir();
    const cache = join(dir, 'c.json');
    await verify(m, cache);
    for (const mode of [0o666, 0o620, 0o602]) {
      chmodSync(cache, mode);
      const error = await failure(verify(m, cache));
      expect(error.code).toBe('INVALID_OPTIONS');
      expect(error.message).toContain('writable by');
    }
    chmodSync(cache, 0o600);
    if (process.getuid?.() === 0) {
      chownSync(cache, 4321, 4321);
      const error = await failure(verify(m, cache));
      expect(error.code).toBe('INVALID_OPTIONS');
      expect(error.message).toContain('owned by uid 4321');
      chownSync(cache, 0, 0);
    }
    const link = join(dir, 'link.json');
    symlinkSync(cache, link);
    expect((await failure(verify(m, link))).code).toBe('INVALID_OPTIONS');
    const open = tempDir();
    chmodSync(open, 0o777);
    expect((await failure(verify(m, join(open, 'c.json')))).message).toContain(
      'without the sticky bit',
    );
  });

  it('is opened only after the signature verified', async () => {
    const m = models[0]!;
    const cache = join(tempDir(), 'never.json');
    const error = await failure(
      verifyModelSignature({
        method: 'key',
        modelPath: m.model,
        bundlePath: m.sig,
        publicKey: other.publicKeyPath,
        verifyCache: cache,
      }),
    );
    expect(error.code).not.toBe('INVALID_OPTIONS');
    expect(existsSync(cache)).toBe(false);
    // Even an insecure cache is not looked at before the signature.
    writeFileSync(cache, '{}', { mode: 0o666 });
    chmodSync(cache, 0o666);
    const again = await failure(
      verifyModelSignature({
        method: 'key',
        modelPath: m.model,
        bundlePath: m.sig,
        publicKey: other.publicKeyPath,
        verifyCache: cache,
      }),
    );
    expect(again.code).toBe(error.code);
  });

  it('starts empty, with a warning, from a corrupt cache file', async () => {
    const m = models[0]!;
    const cache = join(tempDir(), 'c.json');
    writeFileSync(cache, 'not json', { mode: 0o600 });
    const r = await verify(m, cache);
    expect(r.bytes).toBe(TOTAL);
    expect(r.result.warnings.map((w) => w.code)).toContain(
      'VERIFY_CACHE_RESET',
    );
    expect((await verify(m, cache)).bytes).toBe(0);
  });
});
