// SPDX-License-Identifier: Apache-2.0
// Fuzz target: random bytes behind the tflite signature and mutations of the
// committed fixtures. Hostile input must give findings, never exceptions.
import { describe } from 'vitest';
import { TfliteScanner } from '../../../src/scan/tflite/index.js';
import { loadFixtureCases } from '../archive/format-harness.js';
import { fuzzScanner } from '../archive/fuzz-harness.js';

const seeds = (await loadFixtureCases('tflite')).map((c) => c.bytes);

describe('tflite fuzz', () => {
  fuzzScanner(TfliteScanner, Buffer.from('1000000054464c33', 'hex'), seeds);
});
