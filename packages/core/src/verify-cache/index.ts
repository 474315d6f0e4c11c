// SPDX-License-Identifier: Apache-2.0
/**
 * "Verify once, start fast" (docs/user-guide.md, "Verification cache"): an
 * opt-in cache of file digests for services that restart often.
 *
 * Each entry says only "the file whose inode state was (device, inode, size,
 * mtime ns, ctime ns) had these digests with this algorithm (and shard
 * size)". The state is taken from the very descriptor that was hashed, before
 * and after reading, and the entry is written only when both agree and the
 * digest equals the signed one (check-model.ts). It holds
 * no trust: verify reads it only after the bundle's signature verified, and
 * a cached digest is then compared with the signed one like a computed one.
 * Any change of the five fields means the file is hashed again.
 *
 * The cache file belongs to the user: created 0600, refused when it is a
 * symlink, not a regular file, owned by someone else or group/world-writable,
 * or when its folder is writable by others without the sticky bit.
 */
import { constants, type BigIntStats } from 'node:fs';
import { lstat, open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { modelSealError } from '../errors.js';
import { fileState } from '../manifest/hash-worker.js';

export { fileState };

/** Format marker of the cache file. */
export const VERIFY_CACHE_FORMAT = 'modelseal-verify-cache/v1';
/** Entries kept; the least recently used go first. */
export const VERIFY_CACHE_MAX_ENTRIES = 500_000;
/** A cache file larger than this is not read (it is rewritten). */
export const VERIFY_CACHE_MAX_BYTES: number = 256 * 1024 * 1024;
/**
 * A file changed less than this long ago is hashed but not cached: file
 * times come from a coarse clock (a jiffy on Linux, a second or two on some
 * file systems), so a write in the same tick as the hash could leave the
 * state unchanged ("racy" entries, as git calls them).
 */
export const RACY_WINDOW_NS: bigint = 2_000_000_000n;

/** What one verification got from the cache. */
export interface VerifyCacheStats {
  /** Files whose digests came from the cache. */
  hits: number;
  /** Files hashed (absent, stale or changed entries). */
  misses: number;
  /** Bytes not read thanks to the cache. */
  bytesSkipped: number;
  /** Entries written for files hashed this time. */
  recorded: number;
  /** Problems that made the cache start empty (unreadable or corrupt content). */
  problems: string[];
}

type Entry = [state: string, used: number, ...digests: string[]];

function insecure(path: string, why: string): never {
  throw modelSealError(
    'INVALID_OPTIONS',
    `verification cache ${path}: refused: ${why}`,
    { details: { path } },
  );
}

const uid = (): number | undefined =>
  typeof process.getuid === 'function' ? process.getuid() : undefined;

function checkOwnership(
  path: string,
  s: BigIntStats | import('node:fs').Stats,
): void {
  const me = uid();
  if (me !== undefined && Number(s.uid) !== me)
    insecure(path, `owned by uid ${s.uid}, not by this user (uid ${me})`);
  if ((Number(s.mode) & 0o022) !== 0)
    insecure(
      path,
      `writable by ${(Number(s.mode) & 0o002) !== 0 ? 'everyone' : 'its group'} (mode ${(Number(s.mode) & 0o7777).toString(8)}; chmod 600)`,
    );
}

async function checkFolder(path: string): Promise<void> {
  const folder = dirname(path);
  const s = await lstat(folder).catch((error: unknown) => {
    throw modelSealError(
      'IO_ERROR',
      `verification cache ${path}: its folder cannot be read`,
      { cause: error, details: { path } },
    );
  });
  if (!s.isDirectory()) insecure(path, `${folder} is not a directory`);
  const me = uid();
  const sticky = (s.mode & 0o1000) !== 0;
  if ((s.mode & 0o022) !== 0 && !sticky)
    insecure(
      path,
      `its folder ${folder} is writable by others without the sticky bit, who could replace the file`,
    );
  if (me !== undefined && s.uid !== me && s.uid !== 0 && !sticky)
    insecure(path, `its folder ${folder} belongs to uid ${s.uid}`);
}

/**
 * An opened verification cache. {@link VerifyCache.open} checks the file's
 * ownership and mode; {@link VerifyCache.save} writes it back atomically.
 */
export class VerifyCache {
  readonly path: string;
  readonly stats: VerifyCacheStats = {
    hits: 0,
    misses: 0,
    bytesSkipped: 0,
    recorded: 0,
    problems: [],
  };
  private readonly entries: Map<string, Entry>;
  private readonly now: number;
  private dirty = false;

  private constructor(path: string, entries: Map<string, Entry>) {
    this.path = path;
    this.entries = entries;
    this.now = Math.floor(Date.now() / 1000);
  }

  /**
   * Opens (or prepares to create) the cache file at `path`.
   *
   * @throws INVALID_OPTIONS when the file or its folder is not private to this
   *   user; IO_ERROR when it cannot be read
   */
  static async open(path: string): Promise<VerifyCache> {
    const file = resolve(path);
    await checkFolder(file);
    const s = await lstat(file).catch((error: unknown) => {
      if ((error as { code?: string }).code === 'ENOENT') return undefined;
      throw modelSealError(
        'IO_ERROR',
        `verification cache ${file}: cannot be read`,
        { cause: error, details: { path: file } },
      );
    });
    if (s === undefined) return new VerifyCache(file, new Map());
    if (s.isSymbolicLink()) insecure(file, 'it is a symlink');
    if (!s.isFile()) insecure(file, 'it is not a regular file');
    checkOwnership(file, s);
    let handle;
    try {
      handle = await open(
        file,
        constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
      );
    } catch (error) {
      throw modelSealError(
        'IO_ERROR',
        `verification cache ${file}: cannot be opened`,
        { cause: error, details: { path: file } },
      );
    }
    const problems: string[] = [];
    let entries = new Map<string, Entry>();
    try {
      const fs = await handle.stat();
      if (!fs.isFile()) insecure(file, 'it is not a regular file');
      checkOwnership(file, fs);
      if (fs.size > VERIFY_CACHE_MAX_BYTES) {
        problems.push(
          `larger than ${VERIFY_CACHE_MAX_BYTES} bytes; starting empty`,
        );
      } else {
        entries = parseEntries(
          (await handle.readFile()).toString('utf8'),
          problems,
        );
      }
    } finally {
      await handle.close();
    }
    const cache = new VerifyCache(file, entries);
    cache.stats.problems.push(...problems);
    if (problems.length > 0) cache.dirty = true;
    return cache;
  }

  /** Digests cached for a file in state `state` with `algorithm`, or undefined. */
  lookup(state: string, algorithm: string): string[] | undefined {
    const entry = this.entries.get(entryKey(state, algorithm));
    if (entry === undefined || entry[0] !== state) return undefined;
    // Use times only order pruning: refreshed daily, so that a restart of an
    // unchanged model does not rewrite the file.
    if (this.now - entry[1] > 86_400) {
      entry[1] = this.now;
      this.dirty = true;
    }
    return entry.slice(2) as string[];
  }

  /**
   * Records the digests of a file hashed in state `state` (from the
   * descriptor that was read). A state changed within {@link RACY_WINDOW_NS}
   * of now is not recorded.
   */
  record(
    state: string,
    algorithm: string,
    digests: readonly string[],
  ): boolean {
    const fields = state.split(':');
    const mtime = BigInt(fields[3] ?? '0');
    const ctime = BigInt(fields[4] ?? '0');
    const now = BigInt(Date.now()) * 1_000_000n;
    const newest = mtime > ctime ? mtime : ctime;
    if (now - newest < RACY_WINDOW_NS) return false;
    this.entries.set(entryKey(state, algorithm), [state, this.now, ...digests]);
    this.dirty = true;
    this.stats.recorded += 1;
    return true;
  }

  /** Writes the cache back when anything changed: a private temporary file renamed over it. */
  async save(): Promise<void> {
    if (!this.dirty) return;
    let list = [...this.entries];
    if (list.length > VERIFY_CACHE_MAX_ENTRIES) {
      list.sort((a, b) => b[1][1] - a[1][1]);
      list = list.slice(0, VERIFY_CACHE_MAX_ENTRIES);
    }
    const text = JSON.stringify({
      format: VERIFY_CACHE_FORMAT,
      entries: Object.fromEntries(list),
    });
    const temp = join(
      dirname(this.path),
      `.${basename(this.path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`,
    );
    try {
      const handle = await open(
        temp,
        constants.O_WRONLY |
          constants.O_CREAT |
          constants.O_EXCL |
          constants.O_NOFOLLOW,
        0o600,
      );
      try {
        await handle.chmod(0o600);
        await handle.writeFile(text);
      } finally {
        await handle.close();
      }
      await rename(temp, this.path);
      this.dirty = false;
    } catch (error) {
      await unlink(temp).catch(() => undefined);
      throw modelSealError(
        'IO_ERROR',
        `verification cache ${this.path}: cannot be written`,
        { cause: error, details: { path: this.path } },
      );
    }
  }
}

/** One entry per inode and algorithm (the algorithm names the shard size). */
function entryKey(state: string, algorithm: string): string {
  const [dev, ino] = state.split(':');
  return `${dev}:${ino}:${algorithm}`;
}

const STATE = /^\d+:\d+:\d+:\d+:\d+$/;
const DIGEST = /^[0-9a-f]{16,128}$/;

function parseEntries(text: string, problems: string[]): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    problems.push('not valid JSON; starting empty');
    return entries;
  }
  const doc = json as { format?: unknown; entries?: unknown };
  if (
    typeof doc !== 'object' ||
    doc === null ||
    doc.format !== VERIFY_CACHE_FORMAT ||
    typeof doc.entries !== 'object' ||
    doc.entries === null
  ) {
    problems.push(`not a ${VERIFY_CACHE_FORMAT} file; starting empty`);
    return entries;
  }
  for (const [key, value] of Object.entries(doc.entries)) {
    // Malformed entries are dropped one by one: they can only cost a re-hash.
    if (
      !Array.isArray(value) ||
      value.length < 3 ||
      typeof value[0] !== 'string' ||
      !STATE.test(value[0]) ||
      typeof value[1] !== 'number' ||
      !value.slice(2).every((d) => typeof d === 'string' && DIGEST.test(d))
    )
      continue;
    entries.set(key, value as Entry);
  }
  return entries;
}
