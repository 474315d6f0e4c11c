// SPDX-License-Identifier: Apache-2.0
/**
 * The Hugging Face hub-cache policy (docs/hugging-face.md): a snapshot
 * `…/models--ORG--NAME/snapshots/REV/` holds only symlinks
 * (`../../blobs/<sha>`) into the same repository's `blobs/` directory. Under
 * this policy such links are followed (the blob's bytes are hashed under the
 * link's name); any other link is refused with `SYMLINK_NOT_ALLOWED`, naming
 * the link, where it points and why (`details.reason`).
 *
 * A link is accepted only when all of these hold:
 * - it points straight at `<repository>/blobs/<name>` of the repository the
 *   snapshot belongs to (relative as the hub writes it, or absolute);
 * - `<name>` is a content address as the hub writes it: 40 (git blob SHA-1)
 *   or 64 (SHA-256) lowercase hex digits;
 * - the blob is a regular file, not another link (no chains);
 * - the kernel resolves the link to that same file (no linked directory on
 *   the way).
 */
import type { Stats } from 'node:fs';
import { lstat, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { modelSealError } from '../errors.js';

/** A snapshot of the hub cache, found by {@link detectHfCacheSnapshot}. */
export interface HfCacheSnapshot {
  /** Real path of the repository folder (`…/models--ORG--NAME`). */
  readonly repository: string;
  /** Real path of its `blobs/` directory: the only place links may lead. */
  readonly blobs: string;
  /** Real path of the snapshot (`…/snapshots/REV`). */
  readonly snapshot: string;
  /** `models--ORG--NAME` as on disk. */
  readonly repositoryName: string;
  /** The snapshot's folder name (a commit hash). */
  readonly revision: string;
}

/** Why a link was refused (`details.reason` of `SYMLINK_NOT_ALLOWED`). */
export type HfCacheLinkRefusal =
  | 'HF_LINK_OUTSIDE_BLOBS'
  | 'HF_LINK_NOT_A_BLOB_NAME'
  | 'HF_LINK_CHAIN'
  | 'HF_LINK_NOT_A_FILE'
  | 'HF_LINK_BROKEN';

/** Repository folders of the hub cache: `models--`, `datasets--`, `spaces--`. */
const REPOSITORY = /^(models|datasets|spaces)--./;
/** Blob names the hub writes: git blob SHA-1 or SHA-256, lowercase hex. */
const BLOB_NAME = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

function isRealDirectory(s: Stats | undefined): boolean {
  return s !== undefined && s.isDirectory() && !s.isSymbolicLink();
}

/**
 * Finds the hub-cache snapshot that `modelPath` is (or lies inside): walks up
 * from its real path to a folder whose parent is `snapshots` inside a
 * repository folder (`models--…`, `datasets--…`, `spaces--…`) that also holds
 * a real `blobs/` directory. Returns undefined when there is none.
 *
 * A model path that is itself a link (one file of a snapshot) is located by
 * its parent folder.
 */
export async function detectHfCacheSnapshot(
  modelPath: string,
): Promise<HfCacheSnapshot | undefined> {
  const absolute = resolve(modelPath);
  const own = await lstat(absolute).catch(() => undefined);
  let start: string;
  try {
    start =
      own?.isSymbolicLink() === true
        ? join(await realpath(dirname(absolute)), basename(absolute))
        : await realpath(absolute);
  } catch {
    return undefined;
  }
  for (let dir = start; ;) {
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    if (basename(parent) === 'snapshots') {
      const repository = dirname(parent);
      const name = basename(repository);
      if (REPOSITORY.test(name)) {
        const blobs = join(repository, 'blobs');
        if (isRealDirectory(await lstat(blobs).catch(() => undefined))) {
          return {
            repository,
            blobs,
            snapshot: dir,
            repositoryName: name,
            revision: basename(dir),
          };
        }
      }
    }
    dir = parent;
  }
}

function refuse(
  shown: string,
  reason: HfCacheLinkRefusal,
  why: string,
  target: string,
): never {
  throw modelSealError(
    'SYMLINK_NOT_ALLOWED',
    `${shown}: symlink refused by the Hugging Face cache policy: ${why} (points to ${target})`,
    { details: { path: shown, target, reason } },
  );
}

/**
 * Checks one link of a snapshot against the policy and returns the real path
 * of the blob it leads to, with its stats (a regular file).
 *
 * @param link absolute path of the link as reached from the model path
 * @param shown the resource name, for messages
 * @throws SYMLINK_NOT_ALLOWED (with `details.reason`) for any other link
 */
export async function checkHfCacheLink(
  link: string,
  shown: string,
  snapshot: HfCacheSnapshot,
): Promise<{ blob: string; stats: Stats }> {
  let text: string;
  try {
    text = await readlink(link);
  } catch (error) {
    throw modelSealError('IO_ERROR', `${shown}: cannot read the symlink`, {
      cause: error,
      details: { path: shown },
    });
  }
  // The kernel resolves a relative target from the link's real folder.
  const folder = await realpath(dirname(link)).catch(() => dirname(link));
  const target = isAbsolute(text) ? resolve(text) : resolve(folder, text);
  if (dirname(target) !== snapshot.blobs) {
    const why = target.startsWith(snapshot.repository + sep)
      ? `it leads inside ${snapshot.repositoryName} but not into its blobs/`
      : `it leaves ${snapshot.repositoryName}/blobs/`;
    refuse(shown, 'HF_LINK_OUTSIDE_BLOBS', why, text);
  }
  if (!BLOB_NAME.test(basename(target)))
    refuse(
      shown,
      'HF_LINK_NOT_A_BLOB_NAME',
      'the blob name is not a 40 or 64 digit lowercase hex content address',
      text,
    );
  const stats = await lstat(target).catch(() => undefined);
  if (stats === undefined)
    refuse(shown, 'HF_LINK_BROKEN', 'the blob does not exist', text);
  if (stats.isSymbolicLink())
    refuse(shown, 'HF_LINK_CHAIN', 'the blob is itself a symlink', text);
  if (!stats.isFile())
    refuse(shown, 'HF_LINK_NOT_A_FILE', 'the blob is not a regular file', text);
  // A linked folder on the way would make the kernel land elsewhere.
  const real = await realpath(link).catch(() => undefined);
  if (real !== target)
    refuse(
      shown,
      'HF_LINK_CHAIN',
      `the kernel resolves it to ${real ?? 'nothing'}, through another link`,
      text,
    );
  return { blob: target, stats };
}
