// SPDX-License-Identifier: Apache-2.0
// Every rule id the pickle-family scanners can emit has registry metadata and
// a row in docs/scanner-rules.md.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  PICKLE_FAMILY_RULES,
  ruleInfo,
  SCAN_RULES,
} from '../../src/scan/rules.js';
import { SEVERITIES } from '../../src/scan/types.js';
import { REPO_ROOT } from '../helpers/vectors.js';

const SRC = join(REPO_ROOT, 'packages', 'core', 'src', 'scan');
const OWN = [
  'pickle',
  'torch',
  'numpy',
  'joblib',
  'zip',
  'compression',
  'engine.ts',
];

function files(p: string): string[] {
  return statSync(p).isDirectory()
    ? readdirSync(p).flatMap((f) => files(join(p, f)))
    : p.endsWith('.ts')
      ? [p]
      : [];
}

const emitted = new Set<string>();
for (const f of OWN.flatMap((o) => files(join(SRC, o)))) {
  for (const m of readFileSync(f, 'utf8').matchAll(
    /'((?:PICKLE|TORCH|NUMPY|ZIP|COMPRESSION|SCAN)_[A-Z0-9_]+)'/g,
  ))
    emitted.add(m[1]!);
}
emitted.delete('PICKLE_POLICY_SETTING');

describe('rule registry', () => {
  it('finds the rule ids in the sources', () => {
    expect(emitted.size).toBeGreaterThan(30);
  });

  it.each([...emitted].sort())('%s has metadata and documentation', (id) => {
    const r = ruleInfo(id);
    expect(r, id).toBeDefined();
    expect(SEVERITIES).toContain(r!.severity);
    expect(r!.title.length).toBeGreaterThan(5);
    expect(r!.description.length).toBeGreaterThan(20);
    expect(r!.remediation.length).toBeGreaterThan(5);
    const doc = readFileSync(
      join(REPO_ROOT, 'docs', 'scanner-rules.md'),
      'utf8',
    );
    expect(doc).toMatch(
      new RegExp(`\`${id}\`\\s*\\|\\s*${r!.severity}\\s*\\|`),
    );
  });

  it('has unique ids', () => {
    const ids = SCAN_RULES.map((r) => r.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(
      PICKLE_FAMILY_RULES.every((r) => /^[A-Z][A-Z0-9_]+$/.test(r.id)),
    ).toBe(true);
  });
});
