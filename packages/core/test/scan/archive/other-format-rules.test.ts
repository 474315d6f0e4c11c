// SPDX-License-Identifier: Apache-2.0
// Every rule id the non-pickle scanners can emit has metadata in its format's
// RuleInfo list, in the shared registry, and a row in docs/scanner-rules.md;
// every rule a fixture expects is one of them.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ARCHIVE_RULES } from '../../../src/scan/archive/index.js';
import { GGUF_RULES } from '../../../src/scan/gguf/index.js';
import { KERAS_RULES } from '../../../src/scan/keras/index.js';
import { ONNX_RULES } from '../../../src/scan/onnx/index.js';
import { ruleInfo } from '../../../src/scan/rules.js';
import { SAFETENSORS_RULES } from '../../../src/scan/safetensors/index.js';
import { TF_RULES } from '../../../src/scan/savedmodel/index.js';
import { TFLITE_RULES } from '../../../src/scan/tflite/index.js';
import { SEVERITIES } from '../../../src/scan/types.js';
import { FORMAT_VECTORS, REPO_ROOT } from './format-harness.js';

const OWN = [
  'onnx',
  'safetensors',
  'gguf',
  'keras',
  'savedmodel',
  'tflite',
  'archive',
];
const SRC = join(REPO_ROOT, 'packages', 'core', 'src', 'scan');
const ALL = [
  ...ONNX_RULES,
  ...SAFETENSORS_RULES,
  ...GGUF_RULES,
  ...KERAS_RULES,
  ...TF_RULES,
  ...TFLITE_RULES,
  ...ARCHIVE_RULES,
];
const PREFIX =
  /'((?:ONNX|SAFETENSORS|GGUF|KERAS|TF|TFLITE|ARCHIVE)_[A-Z0-9_]+)'/g;

const emitted = new Set<string>();
for (const dir of OWN) {
  for (const f of readdirSync(join(SRC, dir)).filter(
    (n) => n.endsWith('.ts') && n !== 'rules.ts',
  )) {
    for (const m of readFileSync(join(SRC, dir, f), 'utf8').matchAll(PREFIX))
      emitted.add(m[1]!);
  }
}

describe('other-format rules', () => {
  it('finds the rule ids in the sources', () => {
    expect(emitted.size).toBeGreaterThan(40);
  });

  it('has unique ids with complete metadata', () => {
    expect(new Set(ALL.map((r) => r.id)).size).toBe(ALL.length);
    for (const r of ALL) {
      expect(SEVERITIES).toContain(r.severity);
      expect(r.title.length, r.id).toBeGreaterThan(5);
      expect(r.description.length, r.id).toBeGreaterThan(20);
      expect(r.remediation.length, r.id).toBeGreaterThan(5);
    }
  });

  it.each([...emitted].sort())(
    '%s is declared, registered and documented',
    (id) => {
      const r = ALL.find((x) => x.id === id);
      expect(r, id).toBeDefined();
      expect(ruleInfo(id), `${id} missing from SCAN_RULES`).toEqual(r);
      const doc = readFileSync(
        join(REPO_ROOT, 'docs', 'scanner-rules.md'),
        'utf8',
      );
      expect(doc).toMatch(
        new RegExp(
          `\\| (<a id="[a-z0-9_]+"><\\/a>)?\`${id}\`\\s*\\| ${r!.severity}\\s*\\|`,
        ),
      );
    },
  );

  it('declares no rule that no scanner emits', () => {
    expect(ALL.map((r) => r.id).filter((id) => !emitted.has(id))).toEqual([]);
  });

  it('expects only registered rules in the fixtures', () => {
    const manifest = JSON.parse(
      readFileSync(join(FORMAT_VECTORS, 'manifest.json'), 'utf8'),
    ) as { fixtures: { rules: string[] }[] };
    for (const id of new Set(manifest.fixtures.flatMap((f) => f.rules)))
      expect(ruleInfo(id), id).toBeDefined();
  });
});
