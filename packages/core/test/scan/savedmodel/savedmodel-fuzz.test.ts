// SPDX-License-Identifier: Apache-2.0
// Fuzz target: random bytes behind the savedmodel signature and mutations of the
// committed fixtures. Hostile input must give findings, never exceptions.
import { describe } from 'vitest';
import { SavedModelScanner } from '../../../src/scan/savedmodel/index.js';
import { loadFixtureCases } from '../archive/format-harness.js';
import { fuzzScanner } from '../archive/fuzz-harness.js';

const seeds = (await loadFixtureCases('savedmodel')).map((c) => c.bytes);

describe('savedmodel fuzz', () => {
  fuzzScanner(SavedModelScanner, Buffer.from('080112', 'hex'), seeds);
});
