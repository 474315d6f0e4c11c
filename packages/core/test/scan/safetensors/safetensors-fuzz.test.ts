// SPDX-License-Identifier: Apache-2.0
// Fuzz target: random bytes behind the safetensors signature and mutations of the
// committed fixtures. Hostile input must give findings, never exceptions.
import { describe } from 'vitest';
import { SafetensorsScanner } from '../../../src/scan/safetensors/index.js';
import { loadFixtureCases } from '../archive/format-harness.js';
import { fuzzScanner } from '../archive/fuzz-harness.js';

const seeds = (await loadFixtureCases('safetensors')).map((c) => c.bytes);

describe('safetensors fuzz', () => {
  fuzzScanner(
    SafetensorsScanner,
    Buffer.from('0800000000000000', 'hex'),
    seeds,
  );
});
