// SPDX-License-Identifier: Apache-2.0
// Issue 13 item 2: a Hugging Face hub-cache snapshot (every file a relative
// symlink into the repository's blobs/) verifies as-is against a bundle
// signed in the publisher's plain folder; links leaving the repository's
// blobs/ (another repository, outside the cache, chains) are refused by name.
import { createHash, randomBytes } from 'node:crypto';
import {
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isModelSealError } from '../../src/errors.js';
import { verifyModel } from '../../src/load/verified-model.js';
import { detectHfCacheSnapshot } from '../../src/manifest/hf-cache.js';
import { signModel } from '../../src/sign/sign-model.js';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import { newKey, type TestKey } from '../helpers/pki.js';
import { makeTree, tempDir } from '../helpers/tree.js';

const REV = 'a'.repeat(8) + '0123456789abcdef0123456789abcdef';

let key: TestKey;
let files: Record<string, Buffer>;
beforeAll(() => {
  key = newKey(tempDir(), 'publisher', 'P-256');
  files = {
    'config.json': Buffer.from('{"model_type":"tiny"}\n'),
    'model.safetensors': randomBytes(200_000),
    'tokenizer/vocab.txt': Buffer.from('a\nb\nc\n'),
  };
});

const sha256 = (b: Buffer): string =>
  createHash('sha256').update(b).digest('hex');
const gitSha1 = (b: Buffer): string =>
  createHash('sha1')
    .update(Buffer.concat([Buffer.from(`blob ${b.length}\0`), b]))
    .digest('hex');

/** Signs the publisher's plain folder; model.sig is uploaded with the files. */
async function publish(): Promise<{ folder: string; sig: Buffer }> {
  const folder = makeTree(files, 'tiny');
  const sigPath = join(folder, 'model.sig');
  await signModel({
    method: 'key',
    modelPath: folder,
    signaturePath: sigPath,
    privateKey: key.keyPath,
    concurrency: 0,
  });
  return { folder, sig: readFileSync(sigPath) };
}

/**
 * Lays the files out as huggingface_hub does: blobs named by SHA-256 (large
 * files) or git blob SHA-1 (small ones), snapshot entries as relative links.
 */
function cacheOf(
  content: Record<string, Buffer>,
  hub = join(tempDir(), 'hub'),
  repo = 'models--acme--tiny',
): {
  hub: string;
  repo: string;
  snapshot: string;
  blobOf: (name: string) => string;
} {
  const repoDir = join(hub, repo);
  const blobs = join(repoDir, 'blobs');
  const snapshot = join(repoDir, 'snapshots', REV);
  mkdirSync(blobs, { recursive: true });
  mkdirSync(join(repoDir, 'refs'), { recursive: true });
  writeFileSync(join(repoDir, 'refs', 'main'), REV);
  const names: Record<string, string> = {};
  for (const [name, data] of Object.entries(content)) {
    const blob = data.length > 1000 ? sha256(data) : gitSha1(data);
    names[name] = blob;
    writeFileSync(join(blobs, blob), data);
    const link = join(snapshot, name);
    mkdirSync(dirname(link), { recursive: true });
    const up = '../'.repeat(name.split('/').length + 1);
    symlinkSync(`${up}blobs/${blob}`, link);
  }
  return {
    hub,
    repo: repoDir,
    snapshot,
    blobOf: (name) => join(blobs, names[name]!),
  };
}

function verify(
  model: string,
  bundle: string,
  extra: { hfCache?: boolean; allowSymlinks?: boolean } = {},
) {
  return verifyModelSignature({
    method: 'key',
    modelPath: model,
    bundlePath: bundle,
    publicKey: key.publicKeyPath,
    concurrency: 0,
    ...extra,
  });
}

async function failure(p: Promise<unknown>): Promise<{
  code: string;
  message: string;
  details: Record<string, unknown>;
}> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isModelSealError(error))
    throw new Error(`expected a failure, got ${String(error)}`);
  return {
    code: error.code,
    message: error.message,
    details: error.details ?? {},
  };
}

describe('Hugging Face cache snapshots', () => {
  it('verifies the cached snapshot against the bundle signed in the publisher folder', async () => {
    const { sig } = await publish();
    const cache = cacheOf({ ...files, 'model.sig': sig });
    const bundle = join(cache.snapshot, 'model.sig'); // itself a link into blobs/
    const result = await verify(cache.snapshot, bundle);
    expect(result.ok).toBe(true);
    expect(result.manifest.resources.map((r) => r.name)).toEqual([
      'config.json',
      'model.safetensors',
      'tokenizer/vocab.txt',
    ]);
    expect(result.compare.extra).toEqual([]);
    expect(result.hfCache).toMatchObject({
      repository: 'models--acme--tiny',
      revision: REV,
    });
    // Explicit policy: the same.
    expect((await verify(cache.snapshot, bundle, { hfCache: true })).ok).toBe(
      true,
    );
  });

  it('reads verified files through the snapshot links (verifyModel)', async () => {
    const { sig } = await publish();
    const cache = cacheOf({ ...files, 'model.sig': sig });
    const model = await verifyModel({
      method: 'key',
      modelPath: cache.snapshot,
      bundlePath: join(cache.snapshot, 'model.sig'),
      publicKey: key.publicKeyPath,
      concurrency: 0,
    });
    expect(await model.readFile('tokenizer/vocab.txt')).toEqual(
      files['tokenizer/vocab.txt'],
    );
  });

  it('detects the layout only where it is: repository folder, snapshots/REV, a real blobs/', async () => {
    const cache = cacheOf(files);
    const found = await detectHfCacheSnapshot(
      join(cache.snapshot, 'tokenizer'),
    );
    expect(found?.revision).toBe(REV);
    expect(found?.repositoryName).toBe('models--acme--tiny');
    expect(await detectHfCacheSnapshot(makeTree({ a: 'b' }))).toBeUndefined();
    // No blobs/ beside snapshots/: not a cache.
    rmSync(join(cache.repo, 'blobs'), { recursive: true });
    expect(await detectHfCacheSnapshot(cache.snapshot)).toBeUndefined();
  });

  it('refuses the policy when it is off, or asked for on a plain folder', async () => {
    const { folder, sig } = await publish();
    const cache = cacheOf(files);
    const bundle = join(tempDir(), 'model.sig');
    writeFileSync(bundle, sig);
    const off = await failure(
      verify(cache.snapshot, bundle, { hfCache: false }),
    );
    expect(off.code).toBe('SYMLINK_NOT_ALLOWED');
    const tightened = await failure(
      verify(cache.snapshot, bundle, { allowSymlinks: false }),
    );
    expect(tightened.code).toBe('SYMLINK_NOT_ALLOWED');
    const plain = await failure(
      verify(folder, join(folder, 'model.sig'), { hfCache: true }),
    );
    expect(plain.code).toBe('INVALID_OPTIONS');
    // The plain folder still verifies without the policy.
    expect((await verify(folder, join(folder, 'model.sig'))).ok).toBe(true);
  });

  it('does not loosen symlinks outside a cache layout', async () => {
    const { folder } = await publish();
    const outside = join(tempDir(), 'w.bin');
    writeFileSync(outside, files['model.safetensors']!);
    unlinkSync(join(folder, 'model.safetensors'));
    symlinkSync(outside, join(folder, 'model.safetensors'));
    const f = await failure(verify(folder, join(folder, 'model.sig')));
    expect(f.code).toBe('SYMLINK_NOT_ALLOWED');
  });

  it('refuses a link into another repository of the same cache, naming the link', async () => {
    const { sig } = await publish();
    const cache = cacheOf(files);
    // Another repository holding the same bytes: still not this repository's blob.
    const other = cacheOf(files, cache.hub, 'models--evil--tiny');
    const link = join(cache.snapshot, 'model.safetensors');
    unlinkSync(link);
    symlinkSync(
      `../../../models--evil--tiny/blobs/${sha256(files['model.safetensors']!)}`,
      link,
    );
    expect(readFileSync(link)).toEqual(
      readFileSync(other.blobOf('model.safetensors')),
    );
    const bundle = join(tempDir(), 'model.sig');
    writeFileSync(bundle, sig);
    const f = await failure(verify(cache.snapshot, bundle));
    expect(f.code).toBe('SYMLINK_NOT_ALLOWED');
    expect(f.details).toMatchObject({
      path: 'model.safetensors',
      reason: 'HF_LINK_OUTSIDE_BLOBS',
    });
    expect(f.message).toContain('model.safetensors');
    expect(f.message).toContain('models--evil--tiny');
  });

  it('refuses links outside the cache, relative or absolute, and chains', async () => {
    const { sig } = await publish();
    const bundle = join(tempDir(), 'model.sig');
    writeFileSync(bundle, sig);
    const outside = join(tempDir(), 'config.json');
    writeFileSync(outside, files['config.json']!);

    const absolute = cacheOf(files);
    unlinkSync(join(absolute.snapshot, 'config.json'));
    symlinkSync(outside, join(absolute.snapshot, 'config.json'));
    const a = await failure(verify(absolute.snapshot, bundle));
    expect(a.code).toBe('SYMLINK_NOT_ALLOWED');
    expect(a.details).toMatchObject({
      path: 'config.json',
      reason: 'HF_LINK_OUTSIDE_BLOBS',
    });

    const relative = cacheOf(files);
    const nested = join(relative.snapshot, 'tokenizer', 'vocab.txt');
    unlinkSync(nested);
    symlinkSync('../../../../../x/vocab.txt', nested);
    const r = await failure(verify(relative.snapshot, bundle));
    expect(r.details).toMatchObject({
      path: 'tokenizer/vocab.txt',
      reason: 'HF_LINK_OUTSIDE_BLOBS',
    });

    // A blob that is itself a link to a file outside (a chain).
    const chain = cacheOf(files);
    const blob = chain.blobOf('config.json');
    unlinkSync(blob);
    symlinkSync(outside, blob);
    const c = await failure(verify(chain.snapshot, bundle));
    expect(c.code).toBe('SYMLINK_NOT_ALLOWED');
    expect(c.details).toMatchObject({
      path: 'config.json',
      reason: 'HF_LINK_CHAIN',
    });

    // A link to something in blobs/ that is not a content address.
    const named = cacheOf(files);
    writeFileSync(
      join(named.repo, 'blobs', 'config.json'),
      files['config.json']!,
    );
    unlinkSync(join(named.snapshot, 'config.json'));
    symlinkSync('../../blobs/config.json', join(named.snapshot, 'config.json'));
    const n = await failure(verify(named.snapshot, bundle));
    expect(n.details).toMatchObject({ reason: 'HF_LINK_NOT_A_BLOB_NAME' });
  });

  it('accepts an absolute link into the repository own blobs/ (as the hub writes where relative paths fail)', async () => {
    const { sig } = await publish();
    const cache = cacheOf(files);
    const link = join(cache.snapshot, 'config.json');
    unlinkSync(link);
    symlinkSync(cache.blobOf('config.json'), link);
    const bundle = join(tempDir(), 'model.sig');
    writeFileSync(bundle, sig);
    expect((await verify(cache.snapshot, bundle)).ok).toBe(true);
  });

  it('refuses a tampered blob, reported under the link name', async () => {
    const { sig } = await publish();
    const cache = cacheOf(files);
    const blob = cache.blobOf('model.safetensors');
    const data = readFileSync(blob);
    data[1234] = (data[1234]! + 1) % 256;
    writeFileSync(blob, data);
    const bundle = join(tempDir(), 'model.sig');
    writeFileSync(bundle, sig);
    const f = await failure(verify(cache.snapshot, bundle));
    expect(f.code).toBe('MANIFEST_MISMATCH');
    expect(
      (f.details.changed as { name: string }[]).map((c) => c.name),
    ).toEqual(['model.safetensors']);
  });

  it('verifies one file of a snapshot (the model path is itself a link)', async () => {
    const single = { 'model.safetensors': files['model.safetensors']! };
    const folder = makeTree(single, 'w');
    const sigPath = join(tempDir(), 'model.sig');
    await signModel({
      method: 'key',
      modelPath: join(folder, 'model.safetensors'),
      signaturePath: sigPath,
      privateKey: key.keyPath,
      concurrency: 0,
    });
    const cache = cacheOf(single);
    const result = await verify(
      join(cache.snapshot, 'model.safetensors'),
      sigPath,
    );
    expect(result.ok).toBe(true);
    expect(result.hfCache?.revision).toBe(REV);
  });
});
