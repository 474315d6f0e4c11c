// SPDX-License-Identifier: Apache-2.0
// Issue 9, item 4 through the engine: scanFile on hostile tars settles, a
// malicious pickle after a GNU sparse member is found, and one hostile tar (or
// CPython's testtar.tar) in a directory never costs the rest of the report.
import { copyFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanFile, scanPaths } from '../../../src/scan/engine.js';
import { REPO_ROOT } from './format-harness.js';
import * as T from '../../../../../scripts/fixtures/tar-fixtures.mjs';

const evilPickle = Buffer.from(
  '\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R.',
  'latin1',
);
const cleanPickle = Buffer.from(
  '\x80\x02}q\x00X\x01\x00\x00\x00aK\x01s.',
  'latin1',
);
const TESTTAR = join(
  REPO_ROOT,
  'test-vectors',
  'real',
  'cpython',
  'testtar.tar',
);

function hostileTar(): Buffer {
  const segs = [
    [0, 512],
    [8192, 100],
    [16384, 10],
    [20000, 1],
    [30000, 5],
    [40000, 7],
  ];
  return Buffer.concat([
    // A directory whose declared data is really there (tar-stream used to
    // hang on this), an old GNU sparse member with an extension block, then
    // the payload.
    T.header({ name: 'd/', type: '5', size: 700, mode: 0o755 }),
    Buffer.alloc(1024, 0x41),
    T.oldSparse('d/sparse.bin', T.sparseContent(48 * 1024, segs), segs),
    T.member({ name: 'd/model.pkl' }, evilPickle),
    T.END,
  ]);
}

describe('tar through the engine', () => {
  it('scanFile settles on a hostile tar and finds the pickle after the sparse member', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelseal-tar-'));
    writeFileSync(join(dir, 'hostile.tar'), hostileTar());
    const r = await scanFile(join(dir, 'hostile.tar'), { root: dir });
    const critical = r.findings.filter((f) => f.severity === 'critical');
    expect(critical.map((f) => f.member)).toContainEqual(['d/model.pkl']);
    expect(r.findings.map((f) => f.ruleId)).toContain('SCAN_INCOMPLETE');
    expect(r.complete).toBe(false);
  });

  it('reads a legacy PyTorch tar as torch.load (tarfile) does: a directory with a size hides no pickle', async () => {
    // tarfile reads sys_info, d, pickle, ...; a reader that skips the 1024
    // bytes the directory declares never sees `pickle`.
    const dir = mkdtempSync(join(tmpdir(), 'modelseal-legacy-tar-'));
    writeFileSync(
      join(dir, 'model.pt'),
      Buffer.concat([
        T.member({ name: 'sys_info' }, cleanPickle),
        T.header({ name: 'd', type: '5', size: 1024 }),
        T.member({ name: 'pickle' }, evilPickle),
        T.member({ name: 'storages' }, cleanPickle),
        T.member({ name: 'tensors' }, cleanPickle),
        T.END,
      ]),
    );
    const r = await scanFile(join(dir, 'model.pt'), { root: dir });
    expect(r.formats[0]).toBe('pytorch-legacy-tar');
    expect(
      r.findings.filter((f) => f.severity === 'critical').map((f) => f.member),
    ).toContainEqual(['pickle']);
  });

  it('scanPaths over a directory with hostile tars, testtar.tar and other files returns a full report', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'modelseal-tar-dir-'));
    writeFileSync(join(dir, 'hostile.tar'), hostileTar());
    writeFileSync(
      join(dir, 'dir-with-size.tar'),
      Buffer.concat([
        T.member({ name: 'x/', type: '5', size: 255 }),
        T.member({ name: 'x/w.pkl' }, cleanPickle),
        T.END,
      ]),
    );
    writeFileSync(join(dir, 'clean.pkl'), cleanPickle);
    writeFileSync(join(dir, 'README.md'), '# model\n');
    const hasTesttar = existsSync(TESTTAR);
    if (hasTesttar) copyFileSync(TESTTAR, join(dir, 'testtar.tar'));
    const report = await scanPaths([dir], { root: dir });
    const byFile = new Map(report.files.map((r) => [r.file, r]));
    expect([...byFile.keys()].sort()).toEqual(
      [
        'README.md',
        'clean.pkl',
        'dir-with-size.tar',
        'hostile.tar',
        ...(hasTesttar ? ['testtar.tar'] : []),
      ].sort(),
    );
    expect(byFile.get('dir-with-size.tar')?.complete).toBe(true);
    expect(byFile.get('dir-with-size.tar')?.formats).toEqual(['tar', 'pickle']);
    expect(
      byFile
        .get('hostile.tar')
        ?.findings.some((f) => f.severity === 'critical'),
    ).toBe(true);
    if (hasTesttar) {
      const t = byFile.get('testtar.tar')!;
      expect(t.complete).toBe(true);
      expect(
        t.findings.filter(
          (f) => f.severity === 'critical' || f.severity === 'high',
        ),
      ).toEqual([]);
    }
  });
});
