// SPDX-License-Identifier: Apache-2.0
// Builds model trees for tests in a temporary directory.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll } from 'vitest';

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed after the test file. */
export function tempDir(prefix = 'modelseal-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
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
