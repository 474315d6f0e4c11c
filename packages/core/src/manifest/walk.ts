// SPDX-License-Identifier: Apache-2.0
/**
 * Enumerates the files of a model (oms-format.md §6, §12): every regular file
 * under the root, names read as bytes and required to be valid UTF-8, ignore
 * rules applied before the symlink rule, and anything that is neither a file,
 * a directory nor an allowed symlink rejected by name.
 */
import type { Stats } from 'node:fs';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { modelSealError } from '../errors.js';
import { checkHfCacheLink, type HfCacheSnapshot } from './hf-cache.js';
import { decodeName, displayName } from './names.js';
import type { ManifestWarning } from './types.js';

/** A file that will become one or more resources. */
export interface ModelFile {
  /** POSIX path relative to the model root; `.` for a single-file model. */
  readonly name: string;
  /** Absolute path as bytes (what we open), made when asked for. */
  readonly path: Buffer;
  readonly size: number;
  /** Reached through a symlink (then opened following it). */
  readonly viaSymlink: boolean;
}

/**
 * One enumerated file, kept small (issue 12 item 6: 200,000 files must fit in
 * well under 100 MiB): a flat name string, the size and a flag; the absolute
 * path is rebuilt from the root when the file is opened. Names are valid
 * UTF-8 (checked on enumeration), so the rebuilt bytes are the bytes read
 * from the directory.
 */
class WalkedFile implements ModelFile {
  constructor(
    private readonly root: string,
    readonly name: string,
    readonly size: number,
    readonly viaSymlink: boolean,
  ) {}

  get path(): Buffer {
    return Buffer.from(
      this.name === '.' ? this.root : `${this.root}/${this.name}`,
    );
  }
}

/**
 * A file of a Hugging Face cache snapshot: named by the link, read from the
 * blob the link was checked to lead to (opened there without following links).
 */
class BlobFile implements ModelFile {
  readonly viaSymlink = false;
  constructor(
    readonly name: string,
    private readonly blob: string,
    readonly size: number,
  ) {}

  get path(): Buffer {
    return Buffer.from(this.blob);
  }
}

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
  /** True when an entry is out of scope and must not be visited. */
  skip: (relative: string, isDirectory: boolean) => boolean;
  signal?: AbortSignal | undefined;
}

/** Result of {@link enumerateModel}. */
export interface WalkResult {
  files: ModelFile[];
  warnings: ManifestWarning[];
  /** The model path is a file: one resource named `.`. */
  singleFile: boolean;
}

const LSTAT_PARALLEL = 64;
const SLASH = Buffer.from('/');

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
    return {
      files: [new BlobFile('.', blob, stats.size)],
      warnings: [],
      singleFile: true,
    };
  }
  if (rootStat.isSymbolicLink()) {
    if (!options.allowSymlinks) {
      throw modelSealError(
        'SYMLINK_NOT_ALLOWED',
        `${modelPath}: model path is a symlink (allow symlinks to follow it)`,
        { details: { path: modelPath } },
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
    return {
      files: [new WalkedFile(root, '.', rootStat.size, false)],
      warnings: [],
      singleFile: true,
    };
  }
  if (!rootStat.isDirectory()) {
    throw modelSealError(
      'UNSUPPORTED_FILE_TYPE',
      `${modelPath}: is ${typeName(rootStat)}`,
      { details: { path: modelPath } },
    );
  }

  const files: ModelFile[] = [];
  const warnings: ManifestWarning[] = [];
  let rootReal: string | undefined;
  const rootBytes = Buffer.byteLength(root);
  const stack: { abs: Buffer; rel: string }[] = [
    { abs: Buffer.from(root), rel: '' },
  ];
  while (stack.length > 0) {
    if (options.signal?.aborted)
      throw modelSealError('ABORTED', 'enumeration was cancelled');
    const dir = stack.pop()!;
    let names: Buffer[];
    try {
      names = await readdir(dir.abs, { encoding: 'buffer' });
    } catch (error) {
      throw fsError(error, dir.rel === '' ? modelPath : dir.rel);
    }
    const entries = names.map((raw) => {
      const abs = Buffer.concat([dir.abs, SLASH, raw]);
      // Decoded from the whole relative path: one flat string, not a rope of
      // parent + '/' + name (which costs twice the memory per file).
      const rel = decodeName(abs.subarray(rootBytes + 1));
      if (rel === undefined) {
        const shown =
          dir.rel === '' ? displayName(raw) : `${dir.rel}/${displayName(raw)}`;
        throw modelSealError(
          'INVALID_PATH',
          `${shown}: file name is not valid UTF-8`,
          { details: { path: shown } },
        );
      }
      return { rel, abs };
    });
    for (let i = 0; i < entries.length; i += LSTAT_PARALLEL) {
      const slice = entries.slice(i, i + LSTAT_PARALLEL);
      const stats = await Promise.all(
        slice.map((entry) =>
          lstat(entry.abs).catch((error: unknown) => {
            throw fsError(error, entry.rel);
          }),
        ),
      );
      for (const [j, entry] of slice.entries()) {
        const s = stats[j]!;
        if (s.isDirectory()) {
          if (!options.skip(entry.rel, true)) stack.push(entry);
          continue;
        }
        if (options.skip(entry.rel, false)) continue;
        if (s.isFile()) {
          files.push(new WalkedFile(root, entry.rel, s.size, false));
          continue;
        }
        if (!s.isSymbolicLink()) {
          throw modelSealError(
            'UNSUPPORTED_FILE_TYPE',
            `${entry.rel}: is ${typeName(s)}, not a regular file`,
            { details: { path: entry.rel } },
          );
        }
        if (options.hfCache !== undefined) {
          const { blob, stats } = await checkHfCacheLink(
            entry.abs.toString(),
            entry.rel,
            options.hfCache,
          );
          files.push(new BlobFile(entry.rel, blob, stats.size));
          continue;
        }
        if (!options.allowSymlinks) {
          throw modelSealError(
            'SYMLINK_NOT_ALLOWED',
            `${entry.rel}: is a symlink (allow symlinks to follow links to files)`,
            { details: { path: entry.rel } },
          );
        }
        let target: Stats;
        try {
          target = await stat(entry.abs);
        } catch (error) {
          throw modelSealError('IO_ERROR', `${entry.rel}: broken symlink`, {
            cause: error,
            details: { path: entry.rel },
          });
        }
        // A link to a directory is neither traversed nor listed: no cycles.
        if (target.isDirectory()) continue;
        if (!target.isFile()) {
          throw modelSealError(
            'UNSUPPORTED_FILE_TYPE',
            `${entry.rel}: symlink to ${typeName(target)}`,
            { details: { path: entry.rel } },
          );
        }
        rootReal ??= await realpath(root);
        const targetReal = await realpath(entry.abs).catch((error: unknown) => {
          throw fsError(error, entry.rel);
        });
        if (!isInside(rootReal, targetReal.toString())) {
          const message = `${entry.rel}: symlink points outside the model (${targetReal.toString()})`;
          if (options.strictSymlinks)
            throw modelSealError('SYMLINK_NOT_ALLOWED', message, {
              details: { path: entry.rel },
            });
          warnings.push({
            code: 'SYMLINK_OUTSIDE_ROOT',
            path: entry.rel,
            message,
          });
        }
        files.push(new WalkedFile(root, entry.rel, target.size, true));
      }
    }
  }
  return { files, warnings, singleFile: false };
}
