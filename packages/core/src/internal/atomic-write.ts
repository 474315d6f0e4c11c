// SPDX-License-Identifier: Apache-2.0
/**
 * Atomic file writes: a temporary file in the target's directory, flushed,
 * then moved into place, so a reader never sees half a file and a crash never
 * leaves a truncated signature behind.
 */
import { randomBytes } from 'node:crypto';
import { lstat, link, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ModelSealError } from '../errors.js';

/** Options of {@link writeFileAtomic}. */
export interface AtomicWriteOptions {
  /** Replace an existing file. Default false: an existing file is `FILE_EXISTS`. */
  force?: boolean;
  /** File mode of a new file. Default `0o644` (before the umask). */
  mode?: number;
}

function ioError(file: string, error: unknown): ModelSealError {
  return new ModelSealError({
    code: 'IO_ERROR',
    message: `cannot write ${file}: ${(error as Error).message}`,
    cause: error,
    details: { path: file },
  });
}

function exists(file: string, cause?: unknown): ModelSealError {
  return new ModelSealError({
    code: 'FILE_EXISTS',
    message: `${file} already exists (use force to overwrite it)`,
    ...(cause === undefined ? {} : { cause }),
    details: { path: file },
  });
}

/**
 * Fail early, before expensive work, when `file` exists and `force` is not
 * set, or when it is not a regular file. Not a guarantee (another process may
 * create the file later): {@link writeFileAtomic} checks again atomically.
 *
 * @throws ModelSealError `FILE_EXISTS`, `IO_ERROR`
 */
export async function assertWritable(
  file: string,
  force = false,
): Promise<void> {
  let stat;
  try {
    stat = await lstat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw ioError(file, error);
  }
  if (!force) throw exists(file);
  if (!stat.isFile()) throw ioError(file, new Error('not a regular file'));
}

/**
 * Write `data` to `file` atomically: temporary file in the same directory,
 * `fsync`, then a hard link (no overwrite) or a rename (with `force`).
 *
 * @throws ModelSealError `FILE_EXISTS` when the file exists and `force` is
 *   not set; `IO_ERROR` otherwise
 */
export async function writeFileAtomic(
  file: string,
  data: string | Uint8Array,
  options: AtomicWriteOptions = {},
): Promise<void> {
  const force = options.force ?? false;
  await assertWritable(file, force);
  const tmp = join(
    dirname(file),
    `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`,
  );
  try {
    const handle = await open(tmp, 'wx', options.mode ?? 0o644);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    await unlink(tmp).catch(() => undefined);
    throw ioError(file, error);
  }
  try {
    if (force) {
      await rename(tmp, file);
      return;
    }
    try {
      // link() refuses to replace an existing name: atomic "create if absent".
      await link(tmp, file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') throw exists(file, error);
      if (
        code !== 'EPERM' &&
        code !== 'ENOTSUP' &&
        code !== 'EOPNOTSUPP' &&
        code !== 'EXDEV'
      ) {
        throw error;
      }
      // File systems without hard links: check-then-rename (racy, best effort).
      await assertWritable(file, false);
      await rename(tmp, file);
    }
  } catch (error) {
    if (error instanceof ModelSealError) throw error;
    throw ioError(file, error);
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}
