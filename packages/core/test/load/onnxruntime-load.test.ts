// SPDX-License-Identifier: Apache-2.0
// The verify-then-load example of docs/protect-inference-service.md, for real:
// sign a real ONNX model (Silero VAD, from an npm package, pinned by sha256),
// verify it, load it into onnxruntime-node only through the verified read, run
// one inference; and show that a tampered copy never reaches the runtime.
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { signModel, verifyModel } from '../../src/index.js';
import { readPinnedModel, SILERO_VAD } from '../helpers/benign-models.js';
import { tempDir } from '../helpers/tree.js';

const { privateKey, publicKey } = generateKeyPairSync('ec', {
  namedCurve: 'P-256',
});

async function signedCopy(
  mutate?: (bytes: Buffer) => void,
): Promise<{ dir: string; sig: string }> {
  const bytes = Buffer.from(readPinnedModel(SILERO_VAD));
  const dir = join(tempDir(), 'silero-vad');
  mkdirSync(dir);
  writeFileSync(join(dir, 'model.onnx'), bytes);
  writeFileSync(
    join(dir, 'config.json'),
    JSON.stringify({ sampleRate: 16000, windowSamples: 512 }),
  );
  const sig = join(tempDir(), 'model.sig');
  await signModel({
    method: 'key',
    modelPath: dir,
    signaturePath: sig,
    privateKey,
  });
  if (mutate) {
    mutate(bytes);
    writeFileSync(join(dir, 'model.onnx'), bytes);
  }
  return { dir, sig };
}

async function runVad(session: ort.InferenceSession): Promise<number> {
  const samples = new Float32Array(512).map(
    (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / 16000),
  );
  const out = await session.run({
    input: new ort.Tensor('float32', samples, [1, 512]),
    state: new ort.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]),
    sr: new ort.Tensor('int64', BigInt64Array.from([16000n]), []),
  });
  const probability = out.output!.data as Float32Array;
  return probability[0]!;
}

describe('verify, then load into onnxruntime-node', () => {
  it('loads the verified bytes and runs one inference', async () => {
    const { dir, sig } = await signedCopy();
    const model = await verifyModel({
      method: 'key',
      modelPath: dir,
      bundlePath: sig,
      publicKey,
    });
    const session = await ort.InferenceSession.create(
      await model.readFile('model.onnx'),
    );
    expect(session.inputNames).toEqual(['input', 'state', 'sr']);
    const p = await runVad(session);
    expect(p).toBeGreaterThanOrEqual(0);
    expect(p).toBeLessThanOrEqual(1);
    await session.release();
  });

  it('a tampered copy is refused with MANIFEST_MISMATCH before the runtime sees it', async () => {
    const { dir, sig } = await signedCopy((bytes) => {
      bytes.writeUInt8(
        bytes.readUInt8(bytes.length - 100) ^ 0x01,
        bytes.length - 100,
      );
    });
    let created = false;
    const load = async (): Promise<void> => {
      const model = await verifyModel({
        method: 'key',
        modelPath: dir,
        bundlePath: sig,
        publicKey,
      });
      created = true;
      await ort.InferenceSession.create(await model.readFile('model.onnx'));
    };
    await expect(load()).rejects.toHaveCode('MANIFEST_MISMATCH');
    expect(created).toBe(false);
  });

  it('a copy swapped after verification is refused at the read', async () => {
    const { dir, sig } = await signedCopy();
    const model = await verifyModel({
      method: 'key',
      modelPath: dir,
      bundlePath: sig,
      publicKey,
    });
    const bytes = Buffer.from(readPinnedModel(SILERO_VAD));
    bytes.writeUInt8(bytes.readUInt8(200) ^ 0xff, 200);
    writeFileSync(join(dir, 'model.onnx'), bytes);
    await expect(model.readFile('model.onnx')).rejects.toHaveCode(
      'MANIFEST_MISMATCH',
    );
  });
});
