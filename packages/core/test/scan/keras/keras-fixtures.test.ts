// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { loadFixtureCases, scanBytes } from '../archive/format-harness.js';

const cases = await loadFixtureCases('keras');

describe('keras fixtures (test-vectors/formats/keras)', () => {
  it.each(cases.map((c) => [c.path, c] as const))(
    '%s reports exactly its expected rules',
    async (_path, c) => {
      const result = await scanBytes(c.bytes);
      expect(result.formats[0]).toBe(
        c.path.endsWith('.h5')
          ? 'hdf5'
          : c.path.endsWith('.pb')
            ? 'keras-metadata'
            : 'keras',
      );
      expect(result.ruleIds).toEqual(c.rules);
    },
  );

  it('finds a lambda nested in wrappers and names its path', async () => {
    const c = cases.find((x) =>
      x.path.endsWith('lambda-nested-functional.keras'),
    )!;
    const { findings } = await scanBytes(c.bytes);
    const lambda = findings.find((f) => f.ruleId === 'KERAS_LAMBDA')!;
    expect(String(lambda.evidence?.path)).toContain(
      '.config.layers[0].config.layer.config.layers[0]',
    );
  });
});
