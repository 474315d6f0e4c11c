// SPDX-License-Identifier: Apache-2.0
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  loadFixtureCases,
  REPO_ROOT,
  scanBytes,
} from '../archive/format-harness.js';
import { itReportsFixtureRules } from '../archive/it-reports-fixture-rules.js';

const cases = await loadFixtureCases('keras');
const gen = (await import(
  join(REPO_ROOT, 'scripts/fixtures/gen-format-fixtures.mjs')
)) as { kerasArchive: (configs: (string | object)[]) => Buffer };

describe('keras fixtures (test-vectors/formats/keras)', () => {
  itReportsFixtureRules(cases, (path) =>
    path.endsWith('.h5')
      ? 'hdf5'
      : path.endsWith('.pb')
        ? 'keras-metadata'
        : 'keras',
  );

  it('refuses a config.json of 21 million tokens unparsed, as high SCAN_INCOMPLETE', async () => {
    const c = cases.find((x) => x.path.endsWith('config-token-bomb.keras'))!;
    const { findings } = await scanBytes(c.bytes);
    expect(
      findings.map((f) => [f.ruleId, f.severity, f.evidence?.limit]),
    ).toEqual([['SCAN_INCOMPLETE', 'high', 'maxJsonTokens']]);
  });

  it('names the depth limit when a config nests past maxJsonDepth', async () => {
    const deep = `${'['.repeat(40)}${']'.repeat(40)}`;
    const { findings } = await scanBytes(gen.kerasArchive([deep]), {
      limits: { maxJsonDepth: 32 },
    });
    expect(
      findings.map((f) => [f.ruleId, f.severity, f.evidence?.limit]),
    ).toEqual([['SCAN_INCOMPLETE', 'high', 'maxJsonDepth']]);
  });

  it('reports a config that is not json as high KERAS_MALFORMED', async () => {
    const { findings } = await scanBytes(gen.kerasArchive(['{"a": [1,']));
    expect(findings.map((f) => [f.ruleId, f.severity])).toEqual([
      ['KERAS_MALFORMED', 'high'],
    ]);
  });

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
