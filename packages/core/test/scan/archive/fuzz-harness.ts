// SPDX-License-Identifier: Apache-2.0
// The two fuzz properties every format parser gets: random bytes behind the
// format's signature, and byte edits plus truncation of the committed fixtures.
// Hostile input must give findings, never exceptions. Fixed seeds, bounded runs.
import fc from 'fast-check';
import { it } from 'vitest';
import type { FormatScanner } from '../../../src/scan/types.js';
import { assertWellFormed, mutate, scanBytes } from './format-harness.js';

const LIMITS = { maxExpandedBytes: 1 << 20, maxMemberBytes: 1 << 20 };

/** Byte edits at arbitrary positions, then an optional truncation. */
export const edits = fc.array(
  fc.record({ pos: fc.nat(), byte: fc.nat({ max: 255 }) }),
  { maxLength: 8 },
);

/** Declares the standard fuzz properties for `scanner`. */
export function fuzzScanner(
  scanner: FormatScanner,
  signature: Buffer,
  seeds: readonly Buffer[],
): void {
  it('never throws on random bytes behind the signature', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), async (tail) => {
        assertWellFormed(
          await scanBytes(Buffer.concat([signature, tail]), {
            scanner,
            limits: LIMITS,
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
        edits,
        fc.option(fc.nat(), { nil: undefined }),
        async (index, changes, truncate) => {
          assertWellFormed(
            await scanBytes(mutate(seeds[index]!, changes, truncate), {
              scanner,
              limits: LIMITS,
            }),
          );
        },
      ),
      { numRuns: 300, seed: 7 },
    );
  });
}
