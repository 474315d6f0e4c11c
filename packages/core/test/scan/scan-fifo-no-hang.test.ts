// SPDX-License-Identifier: Apache-2.0
// A FIFO must never hang the scanner: named directly it is an unreadable file,
// inside a directory it is reported (low) and never opened.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanPaths } from '../../src/index.js';
import { tempDir } from '../helpers/tree.js';

describe('special files', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'a.txt'), 'text');
  execFileSync('mkfifo', [join(dir, 'pipe')]);

  it('a FIFO in a directory is reported, not opened', async () => {
    const report = await scanPaths([dir], { root: dir });
    const pipe = report.files.find((f) => f.file === 'pipe');
    expect(pipe?.findings.map((f) => f.ruleId)).toEqual([
      'SCAN_SPECIAL_FILE_SKIPPED',
    ]);
    expect(report.summary.errors).toBe(0);
  });

  it('a FIFO named directly is an unreadable file, without blocking', async () => {
    const report = await scanPaths([join(dir, 'pipe')], { root: dir });
    expect(report.summary.errors).toBe(1);
    expect(report.files[0]!.error?.message).toMatch(
      /not a regular file|ENOTREG/,
    );
  });
});
