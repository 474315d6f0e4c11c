// SPDX-License-Identifier: Apache-2.0
// Fuzz target: random bytes behind the archive signature and mutations of the
// committed fixtures. Hostile input must give findings, never exceptions.
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { edits, fuzzScanner } from './fuzz-harness.js';
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
        edits,
        fc.option(fc.nat(), { nil: undefined }),
        async (index, changes, truncate) => {
          const bytes = mutate(archives[index]!, changes, truncate);
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
        edits,
        async (index, changes) => {
          assertWellFormed(
            await scanBytes(mutate(kerasZips[index]!, changes, undefined), {
              scanner: KerasScanner,
            }),
          );
        },
      ),
      { numRuns: 200, seed: 13 },
    );
  });
});
