// SPDX-License-Identifier: Apache-2.0
/**
 * Atomic file writes: a temporary file in the target's directory, flushed,
 * then moved into place, so a reader never sees half a file and a crash never
 * leaves a truncated signature behind.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import {
  access,
  lstat,
  link,
  open,
  readdir,
  rename,
  stat,
  unlink,
} from 'node:fs/promises';
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
    // The option that overwrites it, in `details.option`: the CLI names its flag instead.
    message: `${file} already exists: set force: true to overwrite it`,
    ...(cause === undefined ? {} : { cause }),
    details: { path: file, option: 'force' },
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
  let info;
  try {
    info = await lstat(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT')
      throw ioError(file, error);
  }
  if (info !== undefined) {
    if (!force) throw exists(file);
    if (!info.isFile()) throw ioError(file, new Error('not a regular file'));
  }
  // The temporary file is created in the same directory: it must exist and be writable.
  const dir = dirname(file);
  try {
    if (!(await stat(dir)).isDirectory())
      throw ioError(file, new Error(`${dir} is not a directory`));
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    if (error instanceof ModelSealError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw ioError(
      file,
      new Error(
        code === 'ENOENT'
          ? `directory ${dir} does not exist`
          : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
            ? `directory ${dir} is not writable`
            : (error as Error).message,
      ),
    );
  }
  await removeStaleTemporaries(file);
}

/** Temporary names: `.NAME.PID.RANDOM.tmp` (older versions: `.NAME.RANDOM.tmp`). */
function temporaryName(file: string): string {
  return join(
    dirname(file),
    `.${basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
  );
}

/** A temporary file whose writer may still be running is kept this long. */
const LIVE_WRITER_MS = 60 * 60 * 1000;
/** A temporary file of an older version (no pid in its name) is kept this long. */
const UNKNOWN_WRITER_MS = 60 * 1000;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the temporary files a killed writer of `file` left behind (a
 * SIGKILL or a power cut between create and rename): those whose process is
 * gone, those of an older version after a minute, and any after an hour.
 * A writer still running keeps its file. Best effort: errors are ignored.
 */
export async function removeStaleTemporaries(
  file: string,
  now: number = Date.now(),
): Promise<string[]> {
  const dir = dirname(file);
  const prefix = `.${basename(file)}.`;
  const removed: string[] = [];
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.tmp')) continue;
    const middle = /^(?:([0-9]{1,10})\.)?[0-9a-f]{12}$/.exec(
      name.slice(prefix.length, -'.tmp'.length),
    );
    if (middle === null) continue;
    const path = join(dir, name);
    try {
      const info = await lstat(path);
      if (!info.isFile()) continue;
      const age = now - info.mtimeMs;
      const pid = middle[1] === undefined ? undefined : Number(middle[1]);
      const stale =
        age > LIVE_WRITER_MS ||
        (pid === undefined
          ? age > UNKNOWN_WRITER_MS
          : pid !== process.pid && !processAlive(pid));
      if (!stale) continue;
      await unlink(path);
      removed.push(path);
    } catch {
      // Gone already, or not ours to remove: the next write tries again.
    }
  }
  return removed;
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
  const tmp = temporaryName(file);
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
