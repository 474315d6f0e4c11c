// SPDX-License-Identifier: Apache-2.0
// Fuzz target: random bytes behind the gguf signature and mutations of the
// committed fixtures. Hostile input must give findings, never exceptions.
import { describe } from 'vitest';
import { GgufScanner } from '../../../src/scan/gguf/index.js';
import { loadFixtureCases } from '../archive/format-harness.js';
import { fuzzScanner } from '../archive/fuzz-harness.js';

const seeds = (await loadFixtureCases('gguf')).map((c) => c.bytes);

describe('gguf fuzz', () => {
  fuzzScanner(GgufScanner, Buffer.from('4747554603000000', 'hex'), seeds);
});
