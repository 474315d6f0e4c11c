// SPDX-License-Identifier: Apache-2.0
// Replays the inputs kept from the coverage-guided fuzzing campaigns
// (test-vectors/fuzz-regressions/<target>/, see docs/fuzzing.md) through the
// same targets and properties the fuzzer checks (fuzz/targets.mjs), bound here
// to the TypeScript sources instead of the compiled dist: nothing throws, no
// scanner fails inside the engine, the file settles before the deadline, and
// every finding is well formed.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { analysePickleSource } from '../../src/scan/pickle/vm.js';
import { FALLBACK_SCANNERS, SCANNERS } from '../../src/scan/registry.js';
import { ruleInfo } from '../../src/scan/rules.js';
import { bufferSource } from '../../src/scan/source.js';
import type { FileScanResult } from '../../src/scan/types.js';
import { readZipDirectory, readZipEntry } from '../../src/scan/zip/reader.js';
import {
  decodeOwnedStatement,
  decodeStatement,
  decodeStatementWindows,
} from '../../src/manifest/statement.js';
import { parseBundle } from '../../src/bundle/read.js';
import { FuzzFailure, TARGETS, runTarget } from '../../../../fuzz/targets.mjs';
import { REPO_ROOT } from '../helpers/vectors.js';

const lib = {
  decodeStatement,
  decodeOwnedStatement,
  decodeStatementWindows,
  parseBundle,
  scanSource,
  bufferSource,
  SCANNERS,
  FALLBACK_SCANNERS,
  ruleInfo,
  analysePickleSource,
  readZipDirectory,
  readZipEntry,
};

const DIR = join(REPO_ROOT, 'test-vectors', 'fuzz-regressions');

/**
 * Findings not fixed yet, by `<target>/<file>`: skipped (a hang would block
 * the test worker) until the fix lands; then the entry is removed. Details in
 * test-vectors/fuzz-regressions/README.md.
 */
const OPEN: Readonly<Record<string, string>> = {};

const cases = readdirSync(DIR)
  .filter((t) => statSync(join(DIR, t)).isDirectory())
  .flatMap((target) =>
    readdirSync(join(DIR, target))
      .sort()
      .map((file) => ({ target, file })),
  );
const fixed = cases.filter((c) => OPEN[`${c.target}/${c.file}`] === undefined);
const open = cases.filter((c) => OPEN[`${c.target}/${c.file}`] !== undefined);

describe('fuzz regressions', () => {
  it('every folder names a fuzz target and holds inputs', () => {
    expect(cases.length).toBeGreaterThan(0);
    for (const { target } of cases)
      expect(Object.keys(TARGETS)).toContain(target);
  });

  it('every open finding names a kept input', () => {
    const kept = new Set(cases.map((c) => `${c.target}/${c.file}`));
    for (const key of Object.keys(OPEN)) expect(kept).toContain(key);
  });

  it.skip.each(open)('$target/$file (open finding, not fixed yet)', () => {});

  it.each(fixed)(
    '$target/$file keeps every fuzz property',
    async ({ target, file }) => {
      const data = readFileSync(join(DIR, target, file));
      const result = (await runTarget(lib, target, data)) as FileScanResult;
      expect(result.findings.every((f) => f.file === 'fuzzed-input')).toBe(
        true,
      );
    },
  );

  it('a property violation is reported, not swallowed', async () => {
    // With a catalogue that knows no rule, every finding is malformed: the
    // target must reject a malicious pickle's scan instead of passing it.
    const noRules = { ...lib, ruleInfo: (): undefined => undefined };
    const hostile = readFileSync(
      join(
        REPO_ROOT,
        'test-vectors',
        'pickle',
        'malicious',
        'os-system-p4-framed.pkl',
      ),
    );
    await expect(runTarget(noRules, 'pickle', hostile)).rejects.toThrow(
      FuzzFailure,
    );
  });
});
