// SPDX-License-Identifier: Apache-2.0
// Fuzz target: random bytes behind the onnx signature and mutations of the
// committed fixtures. Hostile input must give findings, never exceptions.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { edits, fuzzScanner } from '../archive/fuzz-harness.js';
import { OnnxScanner } from '../../../src/scan/onnx/index.js';
import {
  assertWellFormed,
  loadFixtureCases,
  mutate,
  scanBytes,
} from '../archive/format-harness.js';

const seeds = (await loadFixtureCases('onnx')).map((c) => c.bytes);
const prefix = Buffer.from('0808', 'hex');

describe('onnx fuzz', () => {
  fuzzScanner(OnnxScanner, prefix, seeds);

  it('never throws on mutated fixtures rebuilt without weights (size above the limit)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: seeds.length - 1 }),
        edits,
        async (index, changes) => {
          const bytes = mutate(seeds[index]!, changes, undefined);
          assertWellFormed(
            await scanBytes(bytes, {
              scanner: OnnxScanner,
              limits: { maxMemberBytes: Math.max(1, bytes.length - 1) },
            }),
          );
        },
      ),
      { numRuns: 200, seed: 17 },
    );
  });
});
