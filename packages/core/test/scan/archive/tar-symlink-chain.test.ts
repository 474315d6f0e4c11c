// SPDX-License-Identifier: Apache-2.0
// threats.md §7: `d/up → ..`, `d/up/up2 → ..`, then `d/up/up2/x`. Each link
// looks contained relative to its own parent; following the earlier link, the
// second one escapes, and so does the file written through it.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, scanBytes } from './format-harness.js';

const { tarball } = (await import(
  join(REPO_ROOT, 'scripts/fixtures/gen-format-fixtures.mjs')
)) as {
  tarball: (
    entries: {
      name: string;
      type?: string;
      linkname?: string;
      data?: Buffer;
    }[],
  ) => Buffer;
};

describe('tar symlink chain', () => {
  it('flags the second link and the write through it', async () => {
    const bytes = tarball([
      { name: 'd/up', type: '2', linkname: '..' },
      { name: 'd/up/up2', type: '2', linkname: '..' },
      { name: 'd/up/up2/x', data: Buffer.from('x') },
    ]);
    const { findings } = await scanBytes(bytes);
    const escapes = findings
      .filter((f) => f.ruleId === 'ARCHIVE_SYMLINK_ESCAPE')
      .map((f) => f.evidence?.name);
    expect(escapes).toEqual(['d/up/up2', 'd/up/up2/x']);
    expect(findings.find((f) => f.evidence?.name === 'd/up')?.ruleId).toBe(
      'ARCHIVE_LINK',
    );
  });

  it('accepts the same names when no link precedes them', async () => {
    const bytes = tarball([{ name: 'd/up/up2/x', data: Buffer.from('x') }]);
    expect((await scanBytes(bytes)).findings).toEqual([]);
  });

  it('stops resolving link loops', async () => {
    const bytes = tarball([
      { name: 'a', type: '2', linkname: 'b' },
      { name: 'b', type: '2', linkname: 'a' },
      { name: 'a/x', data: Buffer.from('x') },
    ]);
    const { findings } = await scanBytes(bytes);
    expect(
      findings.some(
        (f) =>
          f.ruleId === 'ARCHIVE_SYMLINK_ESCAPE' &&
          f.evidence?.reason === 'loop',
      ),
    ).toBe(true);
  });
});
