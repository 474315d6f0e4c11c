// SPDX-License-Identifier: Apache-2.0
// Fuzz target: random bytes behind the archive signature and mutations of the
// committed fixtures. Hostile input must give findings, never exceptions.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { fuzzScanner } from './fuzz-harness.js';
import { ZipArchiveScanner } from '../../../src/scan/archive/index.js';
import {
  assertWellFormed,
  loadFixtureCases,
  mutate,
  scanBytes,
} from '../archive/format-harness.js';

const seeds = (await loadFixtureCases('archive')).map((c) => c.bytes);
const prefix = Buffer.from('504b0304', 'hex');

describe('archive fuzz', () => {
  fuzzScanner(ZipArchiveScanner, prefix, seeds);

  it('never throws on mutated tar and gzip fixtures', async () => {
    const archives = (await loadFixtureCases('archive'))
      .filter((c) => /\.(tar|gz)$/.test(c.path))
      .map((c) => c.bytes);
    const { GzipScanner, TarArchiveScanner } =
      await import('../../../src/scan/archive/index.js');
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: archives.length - 1 }),
        fc.array(fc.record({ pos: fc.nat(), byte: fc.nat({ max: 255 }) }), {
          maxLength: 8,
        }),
        fc.option(fc.nat(), { nil: undefined }),
        async (index, edits, truncate) => {
          const bytes = mutate(archives[index]!, edits, truncate);
          const scanner = bytes[0] === 0x1f ? GzipScanner : TarArchiveScanner;
          assertWellFormed(
            await scanBytes(bytes, {
              scanner,
              limits: { maxExpandedBytes: 1 << 20, maxMemberBytes: 1 << 20 },
            }),
          );
        },
      ),
      { numRuns: 300, seed: 11 },
    );
  });
});

describe('keras zip fuzz', () => {
  it('never throws on mutated .keras fixtures', async () => {
    const kerasZips = (await loadFixtureCases('keras'))
      .filter((c) => c.path.endsWith('.keras'))
      .map((c) => c.bytes);
    const { KerasScanner } = await import('../../../src/scan/keras/index.js');
    await fc.assert(
      fc.asyncProperty(
        fc.nat({ max: kerasZips.length - 1 }),
        fc.array(fc.record({ pos: fc.nat(), byte: fc.nat({ max: 255 }) }), {
          maxLength: 8,
        }),
        async (index, edits) => {
          assertWellFormed(
            await scanBytes(mutate(kerasZips[index]!, edits, undefined), {
              scanner: KerasScanner,
            }),
          );
        },
      ),
      { numRuns: 200, seed: 13 },
    );
  });
});
