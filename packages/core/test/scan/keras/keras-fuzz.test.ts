// SPDX-License-Identifier: Apache-2.0
// Fuzz target: random bytes behind the keras signature and mutations of the
// committed fixtures. Hostile input must give findings, never exceptions.
import { describe } from 'vitest';
import { KerasH5Scanner } from '../../../src/scan/keras/index.js';
import { loadFixtureCases } from '../archive/format-harness.js';
import { fuzzScanner } from '../archive/fuzz-harness.js';

const seeds = (await loadFixtureCases('keras')).map((c) => c.bytes);

describe('keras fuzz', () => {
  fuzzScanner(KerasH5Scanner, Buffer.from('89484446', 'hex'), seeds);
});
