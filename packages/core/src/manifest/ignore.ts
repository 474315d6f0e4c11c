// SPDX-License-Identifier: Apache-2.0
/**
 * Ignore rules (oms-format.md §11): an entry `p` matches the path `p` and
 * everything below it, nothing else. Pure component tests, no globbing, no
 * file-system access.
 */
import { isAbsolute, relative, resolve, sep } from 'node:path';

/** Normalises an ignore entry to a POSIX path relative to the model root, or `undefined` when it lies outside. */
export function normaliseIgnorePath(
  entry: string,
  modelRoot: string,
): string | undefined {
  if (entry === '') return undefined;
  let rel: string;
  if (isAbsolute(entry)) {
    rel = relative(resolve(modelRoot), resolve(entry));
  } else {
    // Lexical normalisation only: `a/./b/` → `a/b`. Entries that climb out are dropped.
    rel = relative(resolve('/', 'm'), resolve('/', 'm', entry));
  }
  if (sep !== '/') rel = rel.split(sep).join('/');
  if (rel === '' || rel === '..' || rel.startsWith('../') || isAbsolute(rel))
    return undefined;
  return rel;
}

/** True when a recorded entry is usable on verify: drops empty, `.`, absolute and `..` entries. */
export function isUsableRecordedIgnore(entry: string): boolean {
  if (entry === '' || entry === '.' || entry.startsWith('/')) return false;
  return !entry.split('/').some((part) => part === '..');
}

/** A set of ignore entries with component-prefix matching. */
export class IgnoreSet {
  private readonly entries: Set<string>;

  constructor(entries: Iterable<string>) {
    this.entries = new Set(
      [...entries]
        .map((e) => e.replace(/\/+$/, ''))
        .filter((e) => e !== '' && e !== '.'),
    );
  }

  /** True when `path` (POSIX, relative) equals an entry or lies below one. */
  matches(path: string): boolean {
    if (this.entries.size === 0) return false;
    let candidate = path;
    for (;;) {
      if (this.entries.has(candidate)) return true;
      const index = candidate.lastIndexOf('/');
      if (index <= 0) return false;
      candidate = candidate.slice(0, index);
    }
  }

  /** The entries, as given. */
  list(): string[] {
    return [...this.entries];
  }
}
