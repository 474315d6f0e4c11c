// SPDX-License-Identifier: Apache-2.0
/**
 * Enumerates the files of a model (oms-format.md §6, §12): every regular file
 * under the root, names read as bytes and required to be valid UTF-8, ignore
 * rules applied before the symlink rule, and anything that is neither a file,
 * a directory nor an allowed symlink rejected by name.
 */
import type { Stats } from 'node:fs';
import {
  lstatSync,
  readdirSync,
  realpathSync,
  statSync,
  type Dirent,
} from 'node:fs';
import { lstat, stat } from 'node:fs/promises';
import { setImmediate } from 'node:timers/promises';
import { resolve } from 'node:path';
import { modelSealError } from '../errors.js';
import { checkHfCacheLink, type HfCacheSnapshot } from './hf-cache.js';
import { decodeName, displayName } from './names.js';
import { FileTable, NameList } from './table.js';
import type { ManifestWarning } from './types.js';

/** Options of {@link enumerateModel}. */
export interface WalkOptions {
  allowSymlinks: boolean;
  strictSymlinks: boolean;
  /**
   * The Hugging Face cache policy (hf-cache.ts): every symlink must lead
   * straight into this snapshot's repository `blobs/`, whatever
   * `allowSymlinks` says; any other link is refused.
   */
  hfCache?: HfCacheSnapshot | undefined;
  /**
   * Called when the model turns out large enough for worker threads (more
   * than 64 files, or 16 MiB), while the walk goes on, and again each time
   * the number of files listed doubles, with the files, bytes and largest
   * file's bytes so far.
   */
  onLarge?:
    ((files: number, bytes: number, largest: number) => void) | undefined;
  /** True when an entry is out of scope and must not be visited. */
  skip: (relative: string, isDirectory: boolean) => boolean;
  signal?: AbortSignal | undefined;
  /**
   * How many files, and bytes of names, to make room for at first (a
   * verify: the signed manifest's), so that the table of a large model is
   * not grown by copies (200,000 files: 5 MiB of the peak).
   */
  expect?: { files: number; nameBytes: number } | undefined;
}

/** Result of {@link enumerateModel}. */
export interface WalkResult {
  /** In the reference order (order.ts). */
  files: FileTable;
  warnings: ManifestWarning[];
  /** The model path is a file: one resource named `.`. */
  singleFile: boolean;
  /**
   * Links to directories met (symlinks allowed), skipped as the reference
   * skips them: nothing under them is hashed. Verification reports each as
   * an unsigned entry (check-model.ts). Relative paths, in the order met.
   */
  directoryLinks: string[];
}

/** Entries between two returns to the event loop (a walk of 200,000 files takes about a second). */
const YIELD_EVERY = 4096;

function fsError(error: unknown, what: string): Error {
  const code = (error as { code?: string }).code;
  const extra = { cause: error, details: { path: what } };
  if (code === 'ENOENT')
    return modelSealError(
      'IO_ERROR',
      `${what}: disappeared while reading the model`,
      extra,
    );
  if (code === 'EACCES' || code === 'EPERM')
    return modelSealError('IO_ERROR', `${what}: permission denied`, extra);
  if (code === 'ENOTDIR')
    return modelSealError(
      'IO_ERROR',
      `${what}: changed from a directory while reading the model`,
      extra,
    );
  const text = error instanceof Error ? error.message : String(error);
  return modelSealError('IO_ERROR', `${what}: cannot read: ${text}`, extra);
}

function typeName(s: Stats): string {
  if (s.isFIFO()) return 'a FIFO';
  if (s.isSocket()) return 'a socket';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

function isInside(root: string, target: string): boolean {
  return (
    target === root || target.startsWith(root.endsWith('/') ? root : `${root}/`)
  );
}

/**
 * A directory's entries in byte order of their names, the names' UTF-8 in
 * one buffer: no object per entry outlives the `readdir` call. An array of
 * `Dirent`s, each with a `Buffer` name, lived while its directory was
 * visited, was promoted to the old generation (collected late), and its
 * names were memory outside the heap: a 200,000-file walk peaked at 85 MiB,
 * 71–80 this way (issue 11 item 4).
 */
class PackedEntries {
  private readonly names: NameList;
  private readonly directory: Uint8Array;
  private readonly order: Uint32Array;
  readonly count: number;

  constructor(entries: readonly (Dirent<string> | Dirent<Buffer>)[]) {
    const n = entries.length;
    this.count = n;
    let bytes = 0;
    for (const e of entries)
      bytes +=
        typeof e.name === 'string' ? Buffer.byteLength(e.name) : e.name.length;
    this.names = new NameList(n, bytes);
    this.directory = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const e = entries[i]!;
      this.names.push(e.name);
      this.directory[i] = e.isDirectory() ? 1 : 0;
    }
    // Byte order: a name in a directory has no "/", the one byte the
    // list's comparison treats apart.
    const names = this.names;
    this.order = new Uint32Array(n);
    for (let i = 0; i < n; i++) this.order[i] = i;
    this.order.sort((a, b) => names.compare(a, names, b));
  }

  /** The `k`-th name in byte order. */
  name(k: number): Buffer {
    return this.names.bytes(this.order[k]!);
  }

  /** As readdir typed it (a directory found otherwise is caught by lstat). */
  isDirectory(k: number): boolean {
    return this.directory[this.order[k]!] === 1;
  }
}

/**
 * Lists the files of a model directory or the single file a model path names.
 *
 * @throws IO_ERROR when the path or a directory cannot be read or vanishes
 * @throws INVALID_PATH for a name that is not valid UTF-8
 * @throws SYMLINK_NOT_ALLOWED for a symlink when links are not allowed (or a
 *   link leaving the root with `strictSymlinks`)
 * @throws UNSUPPORTED_FILE_TYPE for a FIFO, socket or device file
 * @throws ABORTED when the signal fires
 */
export async function enumerateModel(
  modelPath: string,
  options: WalkOptions,
): Promise<WalkResult> {
  const root = resolve(modelPath);
  let rootStat: Stats;
  try {
    rootStat = await lstat(root);
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') {
      throw modelSealError(
        'IO_ERROR',
        `${modelPath}: no such file or directory`,
        { cause: error, details: { path: modelPath } },
      );
    }
    throw fsError(error, modelPath);
  }
  if (rootStat.isSymbolicLink() && options.hfCache !== undefined) {
    const { blob, stats } = await checkHfCacheLink(
      root,
      modelPath,
      options.hfCache,
    );
    const files = new FileTable(root, true);
    files.add('.', stats.size, false, blob);
    return { files, warnings: [], singleFile: true, directoryLinks: [] };
  }
  if (rootStat.isSymbolicLink()) {
    if (!options.allowSymlinks) {
      throw modelSealError(
        'SYMLINK_NOT_ALLOWED',
        `${modelPath}: model path is a symlink (allowSymlinks: true to follow it)`,
        { details: { path: modelPath, option: 'allowSymlinks' } },
      );
    }
    try {
      rootStat = await stat(root);
    } catch (error) {
      throw modelSealError('IO_ERROR', `${modelPath}: broken symlink`, {
        cause: error,
        details: { path: modelPath },
      });
    }
  }
  if (rootStat.isFile()) {
    const files = new FileTable(root, true);
    files.add('.', rootStat.size, false);
    return { files, warnings: [], singleFile: true, directoryLinks: [] };
  }
  if (!rootStat.isDirectory()) {
    throw modelSealError(
      'UNSUPPORTED_FILE_TYPE',
      `${modelPath}: is ${typeName(rootStat)}`,
      { details: { path: modelPath } },
    );
  }

  // Synchronous calls, with the entry types readdir gives: a cached lstat
  // costs a few microseconds, a promise round trip about 18 (issue 11 item 3).
  const files = new FileTable(root, false, options.expect);
  const warnings: ManifestWarning[] = [];
  const directoryLinks: string[] = [];
  let rootReal: string | undefined;
  const rootBytes = Buffer.byteLength(root);
  // Each directory's entries are visited in byte order of their names, and a
  // subdirectory at its place among them: that lists the files in the
  // reference order (a name before every longer name it begins; order.ts)
  // with no sort of the whole tree.
  const frames: {
    abs: Buffer;
    rel: string;
    entries: PackedEntries;
    next: number;
  }[] = [];
  const openDir = (abs: Buffer, rel: string): void => {
    let entries: Dirent<string>[] | Dirent<Buffer>[];
    try {
      // Names as strings: a Buffer per name is memory allocated outside
      // the JavaScript heap, and freed late. A name that is not valid UTF-8
      // reads with U+FFFD: that directory is read again as bytes, so that
      // such a name is refused and a real U+FFFD kept.
      entries = readdirSync(abs, { withFileTypes: true });
      if (entries.some((e) => e.name.includes('\ufffd')))
        entries = readdirSync(abs, { encoding: 'buffer', withFileTypes: true });
    } catch (error) {
      throw fsError(error, rel === '' ? modelPath : rel);
    }
    frames.push({ abs, rel, entries: new PackedEntries(entries), next: 0 });
  };
  let sinceYield = 0;
  let bytes = 0;
  let largest = 0;
  let large = false;
  openDir(Buffer.from(root), '');
  while (frames.length > 0) {
    if (options.signal?.aborted)
      throw modelSealError('ABORTED', 'enumeration was cancelled');
    const dir = frames[frames.length - 1]!;
    if (dir.next >= dir.entries.count) {
      frames.pop();
      continue;
    }
    {
      const at = dir.next++;
      if (++sinceYield >= YIELD_EVERY) {
        sinceYield = 0;
        await setImmediate();
        if (options.signal?.aborted)
          throw modelSealError('ABORTED', 'enumeration was cancelled');
      }
      const raw = dir.entries.name(at);
      const abs = Buffer.allocUnsafe(dir.abs.length + 1 + raw.length);
      dir.abs.copy(abs, 0);
      abs[dir.abs.length] = 0x2f;
      raw.copy(abs, dir.abs.length + 1);
      const relBytes = abs.subarray(rootBytes + 1);
      // Decoded from the whole relative path: checked as UTF-8 once.
      const rel = decodeName(relBytes);
      if (rel === undefined) {
        const shown =
          dir.rel === '' ? displayName(raw) : `${dir.rel}/${displayName(raw)}`;
        throw modelSealError(
          'INVALID_PATH',
          `${shown}: file name is not valid UTF-8`,
          { details: { path: shown } },
        );
      }
      if (dir.entries.isDirectory(at)) {
        if (!options.skip(rel, true)) openDir(abs, rel);
        continue;
      }
      if (options.skip(rel, false)) continue;
      let s: Stats;
      try {
        s = lstatSync(abs);
      } catch (error) {
        throw fsError(error, rel);
      }
      if (s.isFile()) {
        files.add(relBytes, s.size, false);
        bytes += s.size;
        if (s.size > largest) largest = s.size;
        if (large) {
          // Asked again as the model grows (whether its files are small is
          // judged from those listed so far).
          const n = files.length;
          if ((n & (n - 1)) === 0) options.onLarge?.(n, bytes, largest);
        } else if (files.length > 64 || bytes >= 16 * 1024 * 1024) {
          large = true;
          options.onLarge?.(files.length, bytes, largest);
        }
        continue;
      }
      if (s.isDirectory()) {
        // Replaced by a directory since readdir: walked like the others.
        if (!options.skip(rel, true)) openDir(abs, rel);
        continue;
      }
      if (!s.isSymbolicLink()) {
        throw modelSealError(
          'UNSUPPORTED_FILE_TYPE',
          `${rel}: is ${typeName(s)}, not a regular file`,
          { details: { path: rel } },
        );
      }
      if (options.hfCache !== undefined) {
        const { blob, stats } = await checkHfCacheLink(
          abs.toString(),
          rel,
          options.hfCache,
        );
        files.add(relBytes, stats.size, false, blob);
        continue;
      }
      if (!options.allowSymlinks) {
        throw modelSealError(
          'SYMLINK_NOT_ALLOWED',
          `${rel}: is a symlink (allowSymlinks: true to follow links to files)`,
          { details: { path: rel, option: 'allowSymlinks' } },
        );
      }
      let target: Stats;
      try {
        target = statSync(abs);
      } catch (error) {
        throw modelSealError('IO_ERROR', `${rel}: broken symlink`, {
          cause: error,
          details: { path: rel },
        });
      }
      // A link to a directory is neither traversed nor listed (no cycles),
      // as the reference does; but a loader reads what is under it, so it
      // is reported: a warning here, an unsigned entry when verifying.
      if (target.isDirectory()) {
        directoryLinks.push(rel);
        warnings.push({
          code: 'SYMLINK_TO_DIRECTORY',
          path: rel,
          message: `${rel}: link to a directory, skipped: nothing under it is signed (verify reports it as unsigned; leave it out with an ignore path)`,
        });
        continue;
      }
      if (!target.isFile()) {
        throw modelSealError(
          'UNSUPPORTED_FILE_TYPE',
          `${rel}: symlink to ${typeName(target)}`,
          { details: { path: rel } },
        );
      }
      rootReal ??= realpathSync(root);
      let targetReal: string;
      try {
        targetReal = realpathSync(abs).toString();
      } catch (error) {
        throw fsError(error, rel);
      }
      if (!isInside(rootReal, targetReal)) {
        const message = `${rel}: symlink points outside the model (${targetReal})`;
        if (options.strictSymlinks)
          throw modelSealError('SYMLINK_NOT_ALLOWED', message, {
            details: { path: rel },
          });
        warnings.push({
          code: 'SYMLINK_OUTSIDE_ROOT',
          path: rel,
          message,
        });
      }
      files.add(relBytes, target.size, true);
    }
  }
  // Listed in the reference order; checked in one pass (sorted otherwise).
  return {
    files: files.inOrder() ? files : files.sorted(),
    warnings,
    singleFile: false,
    directoryLinks,
  };
}
