// SPDX-License-Identifier: Apache-2.0
// The jazzer.js fuzz target: MODELSEAL_FUZZ_TARGET names one of fuzz/targets.mjs.
import { lib } from './lib-dist.mjs';
import { runTarget, scannersFor } from './targets.mjs';

const name = process.env['MODELSEAL_FUZZ_TARGET'] ?? '';
const scanners = scannersFor(lib, name);

/** Called by jazzer.js with each input. */
export async function fuzz(data) {
  await runTarget(lib, name, data, scanners);
}
