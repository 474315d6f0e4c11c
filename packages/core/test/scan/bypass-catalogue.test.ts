// SPDX-License-Identifier: Apache-2.0
// The 2025-2026 bypass catalogue (issue 9 item 8): every technique has at
// least one fixture, every fixture is flagged at high or above, and the
// benign look-alikes built to resemble a technique stay clean. Fixtures:
// test-vectors/pickle (scripts/fixtures/gen-pickle-fixtures.py, entries
// tagged "catalogue" / "lookalike") and test-vectors/formats/gguf/ssti-*
// (scripts/fixtures/chat-templates.mjs, SSTI_CATALOGUE).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanFile } from '../../src/scan/engine.js';
import { analyzeChatTemplate } from '../../src/scan/gguf/chat-template.js';
import { findYamlTargets } from '../../src/scan/nemo/yaml-targets.js';
import { NEMO_RULES } from '../../src/scan/nemo/index.js';
import { ruleInfo } from '../../src/scan/rules.js';
import { SKOPS_RULES } from '../../src/scan/skops/index.js';
import { parseSchemaJson } from '../../src/scan/skops/schema-json.js';
import { severityRank, type FileScanResult } from '../../src/scan/types.js';
import { REPO_ROOT } from '../helpers/vectors.js';
import * as templates from '../../../../scripts/fixtures/chat-templates.mjs';

/** The techniques of item 8, in its order. */
const TECHNIQUES = [
  'nullifai-7z',
  'nullifai-broken-stream',
  'ext-bin',
  'ext-json',
  'ext-safetensors',
  'ext-none',
  'zip-name-mismatch',
  'zip-flag-bits',
  'zip-bad-crc',
  'zip-duplicate-data-pkl',
  'torch-zip-protocol-0',
  'torch-zip-protocol-1',
  'memo-invalid-read',
  'frame-lying',
  'ext1',
  'ext2',
  'ext4',
  'multi-stream',
  'pop-discarded-call',
  'exception-oriented',
  'memo-assembled-name',
  'pickle-_loads',
  'encoded-nested-payload',
  'gadget-pip-main',
  'gadget-asyncio-subprocess',
  'gadget-pkgutil-resolve-name',
  'gadget-importlib',
  'gadget-marshal-functiontype',
  'gadget-types-codetype',
  'gadget-operator',
  'gadget-functools',
  'gadget-logging-filehandler',
  'gadget-io-fileio',
  'gadget-urllib',
  'gadget-code',
  'gadget-cprofile',
  'gadget-doctest',
  'gadget-timeit',
  'gadget-trace',
  'gadget-pydoc',
  'gadget-bdb-pdb',
  'gadget-runpy',
  'gadget-zipimport',
  'gadget-ctypes',
  'nemo',
  'skops',
  'gguf-ssti',
] as const;

interface Fixture {
  path: string;
  technique: string;
  what: string;
}

const PICKLE_DIR = join(REPO_ROOT, 'test-vectors', 'pickle');
const FORMATS_DIR = join(REPO_ROOT, 'test-vectors', 'formats');
const pickleManifest = JSON.parse(
  readFileSync(join(PICKLE_DIR, 'manifest.json'), 'utf8'),
) as {
  samples: {
    file: string;
    technique: string;
    catalogue?: string;
    lookalike?: string;
  }[];
};
const SSTI = templates.SSTI_CATALOGUE as [string, string, string[]][];
const SSTI_LOOKALIKES = templates.SSTI_LOOKALIKES as [string, string][];

const fixtures: Fixture[] = [
  ...pickleManifest.samples
    .filter((s) => s.catalogue !== undefined)
    .map((s) => ({
      path: join(PICKLE_DIR, s.file),
      technique: s.catalogue!,
      what: s.technique,
    })),
  ...SSTI.map(([name]) => ({
    path: join(FORMATS_DIR, 'gguf', name),
    technique: 'gguf-ssti',
    what: name,
  })),
];
const lookalikes: Fixture[] = [
  ...pickleManifest.samples
    .filter((s) => s.lookalike !== undefined)
    .map((s) => ({
      path: join(PICKLE_DIR, s.file),
      technique: s.lookalike!,
      what: s.technique,
    })),
  ...SSTI_LOOKALIKES.map(([name]) => ({
    path: join(FORMATS_DIR, 'gguf', name),
    technique: 'gguf-ssti',
    what: name,
  })),
];

function highest(r: FileScanResult): number {
  return Math.max(-1, ...r.findings.map((f) => severityRank(f.severity)));
}

function summary(r: FileScanResult): string {
  return r.findings
    .map(
      (f) => `${f.severity} ${f.ruleId} [${f.member.join(' > ')}] ${f.message}`,
    )
    .join('\n');
}

describe('bypass catalogue (issue 9 item 8)', () => {
  it('has fixtures for every technique and nothing outside the list', () => {
    const tagged = new Set(fixtures.map((f) => f.technique));
    for (const t of TECHNIQUES) expect(tagged, t).toContain(t);
    for (const t of tagged)
      expect(TECHNIQUES as readonly string[]).toContain(t);
    for (const l of lookalikes)
      expect(TECHNIQUES as readonly string[]).toContain(l.technique);
    expect(fixtures.length).toBeGreaterThanOrEqual(130);
    expect(lookalikes.length).toBeGreaterThanOrEqual(15);
  });

  it.each(TECHNIQUES.map((t) => [t] as const))(
    '%s: every fixture is flagged at high or above',
    async (technique) => {
      const mine = fixtures.filter((f) => f.technique === technique);
      expect(mine.length).toBeGreaterThan(0);
      for (const f of mine) {
        const r = await scanFile(f.path, { root: REPO_ROOT });
        expect(r.error, f.what).toBeUndefined();
        expect(
          r.formats.length,
          `${f.what}: no format recognised`,
        ).toBeGreaterThan(0);
        expect(highest(r), `${f.what}\n${summary(r)}`).toBeGreaterThanOrEqual(
          severityRank('high'),
        );
      }
    },
  );

  it.each(
    lookalikes.map((l) => [l.path.slice(REPO_ROOT.length + 1), l] as const),
  )('look-alike %s stays clean', async (_p, l) => {
    const r = await scanFile(l.path, { root: REPO_ROOT });
    expect(r.error).toBeUndefined();
    expect(highest(r), `${l.what}\n${summary(r)}`).toBeLessThan(
      severityRank('medium'),
    );
  });

  it('recognises the look-alikes as their format (a clean result is a real scan)', async () => {
    const formats = async (p: string): Promise<string[]> =>
      (await scanFile(join(REPO_ROOT, p), { root: REPO_ROOT })).formats;
    expect(await formats('test-vectors/pickle/benign/nemo-asr.nemo')).toEqual(
      expect.arrayContaining(['tar', 'nemo-config', 'pytorch-zip']),
    );
    expect(
      await formats('test-vectors/pickle/benign/nemo-asr.nemo.yaml'),
    ).toEqual(['nemo-config']);
    expect(
      await formats('test-vectors/pickle/benign/skops-pipeline.skops'),
    ).toContain('skops');
    expect(
      await formats('test-vectors/pickle/benign/torch-zip-data-pkl-p0.pt'),
    ).toContain('pickle');
    expect(
      await formats('test-vectors/formats/gguf/benign-ssti-lookalikes.gguf'),
    ).toEqual(['gguf']);
  });
});

describe('chat template obfuscations', () => {
  it.each(SSTI.map(([name, t, rules]) => [name, t, rules] as const))(
    '%s is reported',
    (_name, t, rules) => {
      const issues = analyzeChatTemplate(t);
      expect(issues.length).toBeGreaterThan(0);
      const kinds = new Set(issues.map((i) => i.kind));
      expect(kinds.has('injection')).toBe(
        rules.includes('GGUF_TEMPLATE_INJECTION'),
      );
      expect(kinds.has('obfuscation')).toBe(
        rules.includes('GGUF_TEMPLATE_SUSPICIOUS'),
      );
    },
  );

  it('leaves the look-alike and the published-style templates alone', () => {
    for (const t of [
      ...SSTI_LOOKALIKES.map(([, x]) => x),
      templates.CHATML as string,
      templates.LLAMA3_TOOLS as string,
      templates.QWEN_TOOLS as string,
      templates.PROSE_MENTIONS as string,
    ])
      expect(analyzeChatTemplate(t)).toEqual([]);
  });
});

describe('Hydra _target_ extraction', () => {
  const values = (src: string): string[] =>
    findYamlTargets(src).targets.map(
      (t) => `${t.key}=${t.kind}:${t.value ?? ''}`,
    );

  it('decodes quoted keys, resolves aliases, reads block scalars and flow mappings', () => {
    expect(values('a: {"\\x5ftarget\\x5f": "os.system"}')).toEqual([
      '_target_=scalar:os.system',
    ]);
    expect(values("x: &t 'builtins.eval'\ny:\n  _target_: *t\n")).toEqual([
      '_target_=scalar:builtins.eval',
    ]);
    expect(
      values('y:\n  _target_: >-\n    runpy.\n    run_path\nz: 1\n'),
    ).toEqual(['_target_=scalar:runpy. run_path']);
    expect(values('_target_: ${oc.env:X}')).toEqual([
      '_target_=computed:${oc.env:X}',
    ]);
    expect(values('k: &k _target_\nh:\n  *k : os.system\n')).toEqual([
      '_target_=scalar:os.system',
    ]);
    expect(values('_target_: !!python/name:os.system ""')).toEqual([
      '_target_=tagged:',
    ]);
  });

  it('reads a value on the line below its key, and a nested mapping as a non-name', () => {
    expect(values('h:\n  _target_:\n    os.system\n  x: 1\n')).toEqual([
      '_target_=scalar:os.system',
    ]);
    expect(values('_target_:\n  a: 1\n')).toEqual(['_target_=collection:']);
    expect(values('_target_:\n')).toEqual([]);
    expect(values('h:\n  _target_:\n  a: os.system\n')).toEqual([]);
  });

  it('ignores comments, quoted text and keys that only contain the word', () => {
    expect(
      values(
        '# _target_: os.system\nnote: "_target_: os.system"\ntarget_lang: en\nmy_target_: x\n',
      ),
    ).toEqual([]);
  });
});

describe('skops schema.json parsing', () => {
  it('accepts the NaN and Infinity Python writes, and stops at the budgets', () => {
    expect(
      parseSchemaJson('{"a": NaN, "b": [-Infinity, "NaN"]}', 100, 10),
    ).toEqual({
      ok: true,
      value: { a: null, b: [null, 'NaN'] },
    });
    expect(parseSchemaJson('[[[[1]]]]', 100, 3)).toMatchObject({
      ok: false,
      error: { kind: 'depth' },
    });
    expect(parseSchemaJson('[1,2,3,4,5]', 3, 10)).toMatchObject({
      ok: false,
      error: { kind: 'tokens' },
    });
  });
});

describe('NeMo and skops rules', () => {
  const src = join(REPO_ROOT, 'packages', 'core', 'src', 'scan');
  const emitted = new Set<string>();
  for (const dir of ['nemo', 'skops'])
    for (const f of readdirSync(join(src, dir)))
      for (const m of readFileSync(join(src, dir, f), 'utf8').matchAll(
        /'((?:NEMO|SKOPS)_[A-Z_]+)'/g,
      ))
        emitted.add(m[1]!);
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'scanner-rules.md'), 'utf8');

  it.each([...emitted].sort())('%s is registered and documented', (id) => {
    const r = [...NEMO_RULES, ...SKOPS_RULES].find((x) => x.id === id);
    expect(r, id).toBeDefined();
    expect(ruleInfo(id)).toEqual(r);
    expect(doc).toMatch(
      new RegExp(`\`${id}\`\\s*\\|\\s*${r!.severity}\\s*\\|`),
    );
  });
});
