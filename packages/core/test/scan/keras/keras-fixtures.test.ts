// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import { loadFixtureCases, scanBytes } from '../archive/format-harness.js';
import { itReportsFixtureRules } from '../archive/it-reports-fixture-rules.js';

const cases = await loadFixtureCases('keras');

describe('keras fixtures (test-vectors/formats/keras)', () => {
  itReportsFixtureRules(cases, (path) =>
    path.endsWith('.h5')
      ? 'hdf5'
      : path.endsWith('.pb')
        ? 'keras-metadata'
        : 'keras',
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
