// SPDX-License-Identifier: Apache-2.0
// Builds model trees for tests in a temporary directory.
import {
  mkdirSync,
  mkdtempSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/**
 * Where test folders go: the system's temporary folder, unless its file
 * system never writes pages back (tmpfs, ramfs), where the verify cache
 * records nothing (hash-worker.ts, `writtenBackState`): then `.tmp/` in the
 * repository, so that the cache's tests run the same on such a machine.
 */
export const TEST_DIR_BASE: string = ((): string => {
  const base = tmpdir();
  try {
    const type = Number(statfsSync(base).type);
    if (
      process.platform === 'linux' &&
      [0x01021994, 0x858458f6].includes(type)
    ) {
      const inRepo = fileURLToPath(
        new URL('../../../../.tmp/test-dirs', import.meta.url),
      );
      mkdirSync(inRepo, { recursive: true });
      return inRepo;
    }
  } catch {
    // The system's folder, as before.
  }
  return base;
})();

/** A fresh temporary directory, removed after the test file. */
export function tempDir(prefix = 'modelseal-'): string {
  const dir = mkdtempSync(join(TEST_DIR_BASE, prefix));
  made.push(dir);
  return dir;
}

/** Writes `files` (relative path → content) under a new directory named `name`. */
export function makeTree(
  files: Record<string, string | Buffer>,
  name = 'model',
): string {
  const root = join(tempDir(), name);
  mkdirSync(root, { recursive: true });
  for (const [path, content] of Object.entries(files)) {
    const full = join(root, path);
    mkdirSync(dirname(full), { recursive: true });
    writeFileSync(full, content);
  }
  return root;
}

/** The `demo` tree of oms-format.md §8. */
export const DEMO_TREE: Record<string, string> = {
  '.git/HEAD': 'ref: x\n',
  '.hidden': 'h',
  'a-b': 'dash\n',
  'a.b': '',
  'a/b/deep.bin': 'deep\n',
  'a/x.txt': 'abcdefghijklmnopqrstuvw',
  'sub/.gitignore': '*\n',
  'tokenizer.json': '{}',
  'tokenizer/vocab.txt': 'v\n',
  '\ufb01.bin': 'f',
  '\u{1f600}.bin': 'e',
};
