// SPDX-License-Identifier: Apache-2.0
// transformers.js (@huggingface/transformers, real, with onnxruntime-node) runs
// a feature-extraction pipeline on a tiny model built by the test, signed with
// a key and verified; every file it loads comes through @modelseal/core/transformers.
// A file changed after verification (onnx/model.onnx, tokenizer.json) fails the
// load with MANIFEST_MISMATCH, so no pipeline exists to run; a file the manifest
// does not list, or another model, is refused although it is on disk.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { env, pipeline } from '@huggingface/transformers';
import { afterEach, describe, expect, it } from 'vitest';
import { signModel, verifyModel } from '../../src/index.js';
import type { VerifiedModel } from '../../src/load/index.js';
import {
  useVerifiedModel,
  type TransformersEnvLike,
  type VerifiedModelHandle,
} from '../../src/transformers/index.js';
import { tempDir } from '../helpers/tree.js';
import { embeddingRow, HIDDEN, VOCAB, writeTinyModel } from './tiny-model.js';

const { privateKey, publicKey } = generateKeyPairSync('ec', {
  namedCurve: 'P-256',
});
const tjsEnv = env as unknown as TransformersEnvLike;

let handles: VerifiedModelHandle[] = [];
afterEach(() => {
  for (const h of handles) h.restore();
  handles = [];
});

/** Writes, signs and verifies the tiny model, with hooks between the steps. */
async function signedTinyModel(
  options: {
    beforeSign?: (dir: string) => void;
    beforeVerify?: (dir: string) => void;
    afterVerify?: (dir: string) => void;
    /** Where to write it (default: a new temporary folder). */
    dir?: string;
  } = {},
): Promise<{ dir: string; model: VerifiedModel }> {
  const dir = writeTinyModel(options.dir ?? join(tempDir(), 'tiny'));
  options.beforeSign?.(dir);
  const sig = join(tempDir(), 'model.sig');
  await signModel({
    method: 'key',
    modelPath: dir,
    signaturePath: sig,
    privateKey,
  });
  options.beforeVerify?.(dir);
  const model = await verifyModel({
    method: 'key',
    modelPath: dir,
    bundlePath: sig,
    publicKey,
  });
  options.afterVerify?.(dir);
  return { dir, model };
}

function use(model: VerifiedModel, modelId: string): VerifiedModelHandle {
  const handle = useVerifiedModel(tjsEnv, model, { modelId });
  handles.push(handle);
  return handle;
}

function flipByte(path: string, offset: (bytes: Buffer) => number): void {
  const bytes = readFileSync(path);
  const at = offset(bytes);
  bytes[at] = bytes[at]! ^ 0x01;
  writeFileSync(path, bytes);
}

/** The offset of a byte of the embedding row of "hello" in the ONNX model. */
function helloWeight(bytes: Buffer): number {
  const value = Buffer.alloc(4);
  value.writeFloatLE(embeddingRow(VOCAB.indexOf('hello'))[0]!);
  const at = bytes.indexOf(value);
  expect(at).toBeGreaterThan(0);
  return at + 3;
}

/** A decoy with the same id under env.localModelPath: different embeddings. */
function decoyModelRoot(modelId: string): string {
  const root = tempDir();
  const dir = writeTinyModel(join(root, modelId));
  flipByte(join(dir, 'onnx', 'model.onnx'), helloWeight);
  return root;
}

describe('@modelseal/core/transformers', () => {
  it('runs a feature-extraction pipeline on the verified bytes only', async () => {
    const { model } = await signedTinyModel();
    // The disk path transformers.js would read holds another model: it is never read.
    const previousLocal = env.localModelPath;
    env.localModelPath = decoyModelRoot('acme/tiny-ok');
    try {
      const handle = use(model, 'acme/tiny-ok');
      const extract = await pipeline('feature-extraction', 'acme/tiny-ok', {
        dtype: 'fp32',
      });
      const out = await extract('Hello world zzz');
      expect(out.dims).toEqual([1, 3, HIDDEN]);
      const ids = [VOCAB.indexOf('hello'), VOCAB.indexOf('world'), 0];
      expect(Array.from(out.data as Float32Array)).toEqual(
        ids.flatMap(embeddingRow),
      );
      const pooled = await extract(['signed model', 'hello'], {
        pooling: 'mean',
      });
      expect(pooled.dims).toEqual([2, HIDDEN]);
      expect(pooled.tolist()).toEqual([
        embeddingRow(4).map((v, j) => (v + embeddingRow(5)[j]!) / 2),
        // Padded to two tokens: the mask zeroes the pad and mean pooling skips it.
        embeddingRow(2),
      ]);
      expect(new Set(handle.cache.served)).toEqual(
        new Set([
          'acme/tiny-ok/config.json',
          'acme/tiny-ok/tokenizer.json',
          'acme/tiny-ok/tokenizer_config.json',
          'acme/tiny-ok/onnx/model.onnx',
        ]),
      );
      await extract.dispose();
    } finally {
      env.localModelPath = previousLocal;
    }
  });

  it('a tampered onnx/model.onnx fails the load with MANIFEST_MISMATCH', async () => {
    const { model } = await signedTinyModel({
      // One byte of the embedding table, after verification.
      afterVerify: (dir) =>
        flipByte(join(dir, 'onnx', 'model.onnx'), helloWeight),
    });
    const handle = use(model, 'acme/tiny-onnx');
    await expect(
      pipeline('feature-extraction', 'acme/tiny-onnx', { dtype: 'fp32' }),
    ).rejects.toMatchObject({
      code: 'MANIFEST_MISMATCH',
      message: expect.stringContaining('onnx/model.onnx') as string,
    });
    expect(handle.cache.served).toContain('acme/tiny-onnx/onnx/model.onnx');
  });

  it('a tampered tokenizer.json fails the load with MANIFEST_MISMATCH', async () => {
    const { model } = await signedTinyModel({
      afterVerify: (dir) => {
        const path = join(dir, 'tokenizer.json');
        writeFileSync(
          path,
          readFileSync(path, 'utf8').replace('"hello"', '"jello"'),
        );
      },
    });
    use(model, 'acme/tiny-tok');
    await expect(
      pipeline('feature-extraction', 'acme/tiny-tok', { dtype: 'fp32' }),
    ).rejects.toMatchObject({
      code: 'MANIFEST_MISMATCH',
      message: expect.stringContaining('tokenizer.json') as string,
    });
  });

  it('a model tampered before verification is refused by verifyModel', async () => {
    await expect(
      signedTinyModel({
        beforeVerify: (dir) =>
          flipByte(join(dir, 'tokenizer.json'), (b) => b.length - 3),
      }),
    ).rejects.toMatchObject({ code: 'MANIFEST_MISMATCH' });
  });

  it('refuses a file the manifest does not list, and any other model, though both are on disk', async () => {
    // The model lies where transformers.js would look for it (env.localModelPath/acme/tiny-unlisted),
    // next to an unverified model, acme/other.
    const root = decoyModelRoot('acme/other');
    let tokenizer = Buffer.alloc(0);
    const { dir, model } = await signedTinyModel({
      dir: join(root, 'acme', 'tiny-unlisted'),
      // Signed without tokenizer.json, which appears after verification.
      beforeSign: (d) => {
        tokenizer = readFileSync(join(d, 'tokenizer.json'));
        rmSync(join(d, 'tokenizer.json'));
      },
      afterVerify: (d) => writeFileSync(join(d, 'tokenizer.json'), tokenizer),
    });
    expect(model.files()).not.toContain('tokenizer.json');
    expect(readFileSync(join(dir, 'tokenizer.json'))).toEqual(tokenizer);
    const previousLocal = env.localModelPath;
    env.localModelPath = root;
    try {
      const handle = use(model, 'acme/tiny-unlisted');
      await expect(
        pipeline('feature-extraction', 'acme/tiny-unlisted', { dtype: 'fp32' }),
      ).rejects.toThrow(
        /not found locally at ".*acme\/tiny-unlisted\/tokenizer\.json"/,
      );
      expect(handle.cache.served).not.toContain(
        'acme/tiny-unlisted/tokenizer.json',
      );
      expect(handle.cache.refused).toContainEqual({
        request: expect.stringContaining(
          'acme/tiny-unlisted/tokenizer.json',
        ) as string,
        reason: 'tokenizer.json: not a signed file of acme/tiny-unlisted',
      });
      // A real model under env.localModelPath, but not a verified one.
      await expect(
        pipeline('feature-extraction', 'acme/other', { dtype: 'fp32' }),
      ).rejects.toThrow(/not found locally at ".*acme\/other\//);
      expect(handle.cache.refused.map((r) => r.request)).toContainEqual(
        expect.stringContaining('acme/other/'),
      );
      expect(handle.cache.served.some((f) => f.startsWith('acme/other'))).toBe(
        false,
      );
    } finally {
      env.localModelPath = previousLocal;
    }
  });

  it('refuses a single-file model, which cannot hold a transformers.js folder', async () => {
    const dir = writeTinyModel(join(tempDir(), 'tiny'));
    const file = join(dir, 'onnx', 'model.onnx');
    const sig = join(tempDir(), 'single.sig');
    await signModel({
      method: 'key',
      modelPath: file,
      signaturePath: sig,
      privateKey,
    });
    const model = await verifyModel({
      method: 'key',
      modelPath: file,
      bundlePath: sig,
      publicKey,
    });
    expect(() =>
      useVerifiedModel(tjsEnv, model, { modelId: 'acme/single' }),
    ).toThrow(/single-file model/);
    expect(env.customCache).toBeNull();
  });

  it('restore() puts the env back as it was', async () => {
    const before = {
      useFS: env.useFS,
      useFSCache: env.useFSCache,
      allowRemoteModels: env.allowRemoteModels,
      allowLocalModels: env.allowLocalModels,
      useCustomCache: env.useCustomCache,
      customCache: env.customCache,
      fetch: env.fetch,
    };
    const { model } = await signedTinyModel();
    const a = useVerifiedModel(tjsEnv, model, { modelId: 'acme/a' });
    const b = useVerifiedModel(tjsEnv, model, { modelId: 'acme/b' });
    expect(b.cache).toBe(a.cache);
    expect(a.cache.modelIds()).toEqual(['acme/a', 'acme/b']);
    expect(env.useFS).toBe(false);
    expect(env.allowRemoteModels).toBe(false);
    a.restore();
    expect(env.customCache).toBe(b.cache);
    b.restore();
    expect({
      useFS: env.useFS,
      useFSCache: env.useFSCache,
      allowRemoteModels: env.allowRemoteModels,
      allowLocalModels: env.allowLocalModels,
      useCustomCache: env.useCustomCache,
      customCache: env.customCache,
      fetch: env.fetch,
    }).toEqual(before);
  });
});
