// SPDX-License-Identifier: Apache-2.0
// Threat: a file signed in shards grew after signing. When its signed size
// was a multiple of the shard size, every signed shard is still there and
// unchanged: the appended bytes are only a new range, `path:start:end`, that
// the statement does not list. That range belongs to a signed file: the file
// changed, and `ignoreUnsignedFiles` (which tolerates unsigned FILES, never
// changed ones) must not let it pass. Only a file with no signed shard at all
// (a new file, or one empty at signing: the documented limit) is unsigned.
//
// Every path of the comparison is checked: verify comparing digests as they
// arrive (ArrivalComparison), verify with a cache and checkModel (compact
// tables, compareTables), and manifests whose arrays were made
// (compareManifests).
import { randomBytes } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { readBundle } from '../../src/bundle/read.js';
import { isModelSealError } from '../../src/errors.js';
import { checkModel } from '../../src/manifest/check-model.js';
import { compareManifests } from '../../src/manifest/compare.js';
import { hashModel } from '../../src/manifest/hash-model.js';
import { decodeStatement } from '../../src/manifest/statement.js';
import { ArrivalComparison } from '../../src/manifest/table.js';
import type { CompareResult, Manifest } from '../../src/manifest/types.js';
import { signModel } from '../../src/sign/sign-model.js';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import { newKey, type TestKey } from '../helpers/pki.js';
import { makeTree, tempDir } from '../helpers/tree.js';

const SHARD = 1024;
const APPENDED = 'APPENDED PAYLOAD\n'; // 17 bytes, as in the report

let key: TestKey;
beforeAll(() => {
  key = newKey(tempDir(), 'signer', 'P-256');
});

afterEach(() => {
  vi.restoreAllMocks();
});

/** A model of 4 shards of weights (a multiple of the shard size), signed in shards. */
async function signed(
  files: Record<string, string | Buffer> = {},
): Promise<{ model: string; sig: string }> {
  const model = makeTree({
    'weights.bin': randomBytes(4 * SHARD),
    'config.json': '{"layers": 2}\n',
    ...files,
  });
  const sig = join(model, 'model.sig');
  await signModel({
    method: 'key',
    modelPath: model,
    signaturePath: sig,
    privateKey: key.keyPath,
    concurrency: 0,
    serialization: 'shards',
    shardSize: SHARD,
  });
  return { model, sig };
}

function verify(
  model: string,
  sig: string,
  extra: { ignoreUnsignedFiles?: boolean; verifyCache?: string } = {},
) {
  return verifyModelSignature({
    method: 'key',
    modelPath: model,
    bundlePath: sig,
    publicKey: key.publicKeyPath,
    concurrency: 0,
    ...extra,
  });
}

interface MismatchDetails {
  missing: { name: string }[];
  extra: { name: string }[];
  changed: {
    name: string;
    expected: { algorithm: string; digest: string };
    actual: { algorithm: string; digest: string };
  }[];
  extraTolerated: boolean;
}

async function mismatch(
  model: string,
  sig: string,
  extra: { ignoreUnsignedFiles?: boolean; verifyCache?: string } = {},
): Promise<MismatchDetails> {
  const error = await verify(model, sig, extra).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toHaveCode('MANIFEST_MISMATCH');
  if (!isModelSealError(error)) throw new Error('unreachable');
  expect(error.message).toContain('1 changed');
  expect(error.message).not.toContain('unsigned');
  return error.details as unknown as MismatchDetails;
}

/** The appended range, reported as a change of weights.bin with no signed digest. */
function expectGrown(changed: MismatchDetails['changed']): void {
  expect(changed).toEqual([
    {
      name: `weights.bin:4096:${4096 + APPENDED.length}`,
      expected: { algorithm: `sha256-sharded-${SHARD}`, digest: '' },
      actual: {
        algorithm: `sha256-sharded-${SHARD}`,
        digest: expect.stringMatching(/^[0-9a-f]{64}$/),
      },
    },
  ]);
}

async function signedManifest(sig: string): Promise<Manifest> {
  const bundle = await readBundle(sig);
  return decodeStatement(bundle.envelope.payload).manifest;
}

describe('a signed file grown from a shard boundary', () => {
  it('unchanged: verifies, with nothing extra or changed', async () => {
    const { model, sig } = await signed();
    const result = await verify(model, sig);
    expect(result.ok).toBe(true);
    expect(result.compare).toMatchObject({
      missing: [],
      extra: [],
      changed: [],
    });
  });

  it('appended bytes: changed, not unsigned (verify as digests arrive)', async () => {
    const { model, sig } = await signed();
    appendFileSync(join(model, 'weights.bin'), APPENDED);
    const arrival = vi.spyOn(ArrivalComparison.prototype, 'result');
    const d = await mismatch(model, sig);
    expect(arrival).toHaveBeenCalled();
    expect(d.missing).toEqual([]);
    expect(d.extra).toEqual([]);
    expectGrown(d.changed);
  });

  it('appended bytes: still fails with ignoreUnsignedFiles', async () => {
    const { model, sig } = await signed();
    appendFileSync(join(model, 'weights.bin'), APPENDED);
    const d = await mismatch(model, sig, { ignoreUnsignedFiles: true });
    expect(d.extraTolerated).toBe(true);
    expect(d.extra).toEqual([]);
    expectGrown(d.changed);
  });

  it('appended bytes: still fails with ignoreUnsignedFiles and a verify cache (compact tables)', async () => {
    const { model, sig } = await signed();
    const cache = join(tempDir(), 'verify-cache.json');
    await expect(
      verify(model, sig, { verifyCache: cache }),
    ).resolves.toMatchObject({ ok: true });
    appendFileSync(join(model, 'weights.bin'), APPENDED);
    const arrival = vi.spyOn(ArrivalComparison.prototype, 'result');
    const d = await mismatch(model, sig, {
      ignoreUnsignedFiles: true,
      verifyCache: cache,
    });
    expect(arrival).not.toHaveBeenCalled();
    expect(d.extra).toEqual([]);
    expectGrown(d.changed);
  });

  it('checkModel with ignoreUnsignedFiles: not ok, the range in changed', async () => {
    const { model, sig } = await signed();
    appendFileSync(join(model, 'weights.bin'), APPENDED);
    const { compare } = await checkModel(model, await signedManifest(sig), {
      signaturePath: sig,
      ignoreUnsignedFiles: true,
      concurrency: 0,
    });
    expect(compare.ok).toBe(false);
    expect(compare.extra).toEqual([]);
    expectGrown(compare.changed);
  });

  it('compareManifests over resource arrays with ignoreUnsignedFiles: not ok, the range in changed', async () => {
    const { model, sig } = await signed();
    const options = {
      method: 'shards',
      shardSize: SHARD,
      signaturePath: sig,
      concurrency: 0,
    } as const;
    const before = (await hashModel(model, options)).manifest;
    appendFileSync(join(model, 'weights.bin'), APPENDED);
    const after = (await hashModel(model, options)).manifest;
    // Reading the arrays takes the comparison off the compact tables.
    expect(before.resources.length).toBe(5);
    expect(after.resources.length).toBe(6);
    const compare: CompareResult = compareManifests(before, after, {
      ignoreUnsignedFiles: true,
    });
    expect(compare.ok).toBe(false);
    expect(compare.extra).toEqual([]);
    expectGrown(compare.changed);
  });

  it('grown past a shard boundary (not from one): the cut shard is missing and the new ranges changed', async () => {
    const { model, sig } = await signed({
      'tail.bin': randomBytes(SHARD + 10),
    });
    appendFileSync(join(model, 'tail.bin'), randomBytes(SHARD));
    const error = await verify(model, sig, { ignoreUnsignedFiles: true }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toHaveCode('MANIFEST_MISMATCH');
    if (!isModelSealError(error)) throw new Error('unreachable');
    const d = error.details as unknown as MismatchDetails;
    expect(d.missing.map((r) => r.name)).toEqual(['tail.bin:1024:1034']);
    expect(d.extra).toEqual([]);
    expect(d.changed.map((c) => c.name)).toEqual([
      'tail.bin:1024:2048',
      'tail.bin:2048:2058',
    ]);
  });
});

describe('files with no signed shard stay unsigned extras', () => {
  it('a new file: extra, tolerated with ignoreUnsignedFiles', async () => {
    const { model, sig } = await signed();
    writeFileSync(join(model, 'weights.bin.extra'), APPENDED);
    const error = await verify(model, sig).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toHaveCode('MANIFEST_MISMATCH');
    const result = await verify(model, sig, { ignoreUnsignedFiles: true });
    expect(result.ok).toBe(true);
    expect(result.compare.changed).toEqual([]);
    expect(result.compare.extra.map((r) => r.name)).toEqual([
      `weights.bin.extra:0:${APPENDED.length}`,
    ]);
  });

  it('documented limit: a file empty at signing that grew is unsigned (no shard was signed)', async () => {
    const { model, sig } = await signed({ 'empty.bin': '' });
    writeFileSync(join(model, 'empty.bin'), APPENDED);
    const result = await verify(model, sig, { ignoreUnsignedFiles: true });
    expect(result.ok).toBe(true);
    expect(result.compare.changed).toEqual([]);
    expect(result.compare.extra.map((r) => r.name)).toEqual([
      `empty.bin:0:${APPENDED.length}`,
    ]);
  });
});
