// SPDX-License-Identifier: Apache-2.0
// Fuzz target: random bytes behind the gguf signature and mutations of the
// committed fixtures. Hostile input must give findings, never exceptions.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { GgufScanner } from '../../../src/scan/gguf/index.js';
import {
  assertWellFormed,
  loadFixtureCases,
  mutate,
  scanBytes,
} from '../archive/format-harness.js';

const seeds = (await loadFixtureCases('gguf')).map((c) => c.bytes);
const prefix = Buffer.from('4747554603000000', 'hex');

describe('gguf fuzz', () => {
  it('never throws on random bytes behind the signature', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (tail) => {
        assertWellFormed(
          await scanBytes(Buffer.concat([prefix, tail]), {
            scanner: GgufScanner,
            limits: { maxExpandedBytes: 1 << 20, maxMemberBytes: 1 << 20 },
          }),
        );
      }),
      { numRuns: 150, seed: 5 },
    );
  });

  it('never throws on mutated fixtures', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: seeds.length - 1 }),
        fc.array(fc.record({ pos: fc.nat(), byte: fc.nat({ max: 255 }) }), {
          maxLength: 8,
        }),
        fc.option(fc.nat(), { nil: undefined }),
        async (index, edits, truncate) => {
          assertWellFormed(
            await scanBytes(mutate(seeds[index]!, edits, truncate), {
              scanner: GgufScanner,
              limits: { maxExpandedBytes: 1 << 20, maxMemberBytes: 1 << 20 },
            }),
          );
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });
});
