// SPDX-License-Identifier: Apache-2.0
// threats.md §8: Python's zipfile reads the last of two config.json entries; a
// scanner that reads only the first is bypassed. Both copies are scanned.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, scanBytes } from '../archive/format-harness.js';

const gen = (await import(
  join(REPO_ROOT, 'scripts/fixtures/gen-format-fixtures.mjs')
)) as {
  kerasArchive(configs: unknown[]): Buffer;
  kerasSequential(layers: unknown[]): unknown;
};

describe('keras duplicate config.json', () => {
  it('scans the copy python reads (the last)', async () => {
    const lambda = {
      module: 'keras.layers',
      class_name: 'Lambda',
      config: {
        name: 'x',
        function: { class_name: '__lambda__', config: { code: 'AA==' } },
      },
    };
    const { findings } = await scanBytes(
      gen.kerasArchive([
        gen.kerasSequential([]),
        gen.kerasSequential([lambda]),
      ]),
    );
    expect(
      findings.find((f) => f.ruleId === 'KERAS_LAMBDA')?.message,
    ).toContain('copy 2 of 2');
    expect(findings.some((f) => f.ruleId === 'KERAS_DUPLICATE_CONFIG')).toBe(
      true,
    );
  });

  it('scans the first copy too', async () => {
    const lambda = {
      module: 'keras.layers',
      class_name: 'Lambda',
      config: { name: 'x' },
    };
    const { findings } = await scanBytes(
      gen.kerasArchive([
        gen.kerasSequential([lambda]),
        gen.kerasSequential([]),
      ]),
    );
    expect(
      findings.find((f) => f.ruleId === 'KERAS_LAMBDA')?.message,
    ).toContain('copy 1 of 2');
  });
});
