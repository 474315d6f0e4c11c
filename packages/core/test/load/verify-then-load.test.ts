// SPDX-License-Identifier: Apache-2.0
// Verify, then load: reads re-hash what they deliver. A file swapped between
// verification and the read is refused (the time-of-check/time-of-use window).
import { generateKeyPairSync } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { signModel, verifyModel } from '../../src/index.js';
import { makeTree, tempDir } from '../helpers/tree.js';

const { privateKey, publicKey } = generateKeyPairSync('ec', {
  namedCurve: 'P-256',
});

async function signed(
  files: Record<string, string>,
  extra: Record<string, unknown> = {},
): Promise<{ root: string; sig: string }> {
  const root = makeTree(files);
  const sig = join(tempDir(), 'model.sig');
  await signModel({
    method: 'key',
    modelPath: root,
    signaturePath: sig,
    privateKey,
    ...extra,
  } as never);
  return { root, sig };
}

const verify = (modelPath: string, bundlePath: string) =>
  verifyModel({ method: 'key', modelPath, bundlePath, publicKey });

describe('verifyModel + readFile', () => {
  it('returns the verified bytes of each signed file', async () => {
    const { root, sig } = await signed({
      'model.onnx': 'graph',
      'cfg/config.json': '{}',
    });
    const model = await verify(root, sig);
    expect(model.files().sort()).toEqual(['cfg/config.json', 'model.onnx']);
    expect((await model.readFile('model.onnx')).toString()).toBe('graph');
    expect(model.verification.signer.method).toBe('key');
  });

  it('a file swapped between verification and read is refused (toctou-swap)', async () => {
    const { root, sig } = await signed({ 'model.onnx': 'graph', other: 'x' });
    const model = await verify(root, sig);
    writeFileSync(join(root, 'evil'), 'malicious graph');
    renameSync(join(root, 'evil'), join(root, 'model.onnx'));
    await expect(model.readFile('model.onnx')).rejects.toHaveCode(
      'MANIFEST_MISMATCH',
    );
  });

  it('names that are not signed files are refused, including escapes', async () => {
    const { root, sig } = await signed({ a: 'a' });
    const model = await verify(root, sig);
    await expect(model.readFile('b')).rejects.toHaveCode('INVALID_PATH');
    await expect(model.readFile('../a')).rejects.toHaveCode('INVALID_PATH');
  });

  it('a tampered model is refused before anything can be read', async () => {
    const { root, sig } = await signed({ a: 'a' });
    writeFileSync(join(root, 'a'), 'A');
    await expect(verify(root, sig)).rejects.toHaveCode('MANIFEST_MISMATCH');
  });

  it('single-file models', async () => {
    const dir = makeTree({ 'w.bin': 'weights' });
    const file = join(dir, 'w.bin');
    const sig = join(tempDir(), 'model.sig');
    await signModel({
      method: 'key',
      modelPath: file,
      signaturePath: sig,
      privateKey,
    });
    const model = await verify(file, sig);
    expect((await model.readFile('.')).toString()).toBe('weights');
  });
});

describe('verifyModel + createReadStream', () => {
  it('streams the verified bytes (files and shards)', async () => {
    const content = 'abcdefghijklmnopqrstuvwxyz'.repeat(100);
    for (const extra of [{}, { serialization: 'shards', shardSize: 64 }]) {
      const { root, sig } = await signed({ big: content }, extra);
      const model = await verify(root, sig);
      expect(
        await text(model.createReadStream('big', { highWaterMark: 10 })),
      ).toBe(content);
    }
  });

  it('a stream over a swapped file fails and never ends successfully', async () => {
    for (const extra of [{}, { serialization: 'shards', shardSize: 64 }]) {
      const content = 'x'.repeat(1000);
      const { root, sig } = await signed({ big: content }, extra);
      const model = await verify(root, sig);
      writeFileSync(join(root, 'big'), `${'x'.repeat(999)}y`);
      const error = await text(
        model.createReadStream('big', { highWaterMark: 100 }),
      ).catch((e: unknown) => e);
      expect(error).toHaveCode('MANIFEST_MISMATCH');
    }
  });

  it('a stream over a file that grew fails', async () => {
    const { root, sig } = await signed(
      { f: 'abc' },
      { serialization: 'shards', shardSize: 2 },
    );
    const model = await verify(root, sig);
    writeFileSync(join(root, 'f'), 'abcd');
    await expect(text(model.createReadStream('f'))).rejects.toHaveCode(
      'MANIFEST_MISMATCH',
    );
  });

  it('an empty signed file streams as empty', async () => {
    const { root, sig } = await signed({ empty: '', other: 'o' });
    const model = await verify(root, sig);
    expect(await text(model.createReadStream('empty'))).toBe('');
  });
});
