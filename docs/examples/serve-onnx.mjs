// SPDX-License-Identifier: Apache-2.0
// Verify a signed ONNX model, then load it into onnxruntime-node only through
// the verified read, and run one inference (Silero VAD: is there speech?).
//
//   node docs/examples/serve-onnx.mjs MODEL_DIR MODEL_SIG PUBLIC_KEY
//
// In your own project the two imports are simply:
//   import { verifyModel, isModelSealError } from '@modelseal/core';
//   import * as ort from 'onnxruntime-node';
import { createRequire } from 'node:module';

const here = createRequire(
  new URL('../../packages/core/package.json', import.meta.url),
);
const { verifyModel, isModelSealError } = await import(
  new URL('../../packages/core/dist/index.js', import.meta.url).href
);
const ort = here('onnxruntime-node');

const [modelDir, bundlePath, publicKey] = process.argv.slice(2);
if (!publicKey) {
  console.error('usage: node serve-onnx.mjs MODEL_DIR MODEL_SIG PUBLIC_KEY');
  process.exit(2);
}

try {
  // 1. Signature, signer and every file of the model, before anything is loaded.
  const model = await verifyModel({
    method: 'key',
    modelPath: modelDir,
    bundlePath,
    publicKey,
  });
  console.log(
    `verified ${model.files().length} files, root sha256:${model.manifest.rootDigest}`,
  );

  // 2. Load only verified bytes: readFile re-hashes what it returns.
  const session = await ort.InferenceSession.create(
    await model.readFile('model.onnx'),
  );

  // 3. Serve.
  const samples = new Float32Array(512).map(
    (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / 16000),
  );
  const out = await session.run({
    input: new ort.Tensor('float32', samples, [1, 512]),
    state: new ort.Tensor('float32', new Float32Array(256), [2, 1, 128]),
    sr: new ort.Tensor('int64', BigInt64Array.from([16000n]), []),
  });
  console.log(`speech probability: ${out.output.data[0].toFixed(3)}`);
} catch (error) {
  if (isModelSealError(error)) {
    // A specific, stable code: MANIFEST_MISMATCH, SIGNATURE_INVALID, KEY_MISMATCH, …
    console.error(
      `refusing to load ${modelDir}: [${error.code}] ${error.message}`,
    );
    process.exit(1);
  }
  throw error;
}
