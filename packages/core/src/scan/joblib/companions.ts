// SPDX-License-Identifier: Apache-2.0
/**
 * joblib companion files. A pickle that BUILDs joblib 0.9's `NDArrayWrapper`
 * makes `joblib.load` (current versions included) call
 * `numpy.load(os.path.join(dirname, filename), allow_pickle=True)`, and
 * `numpy.load` unpickles a file that is neither `.npy` nor `.npz`: the pickle
 * runs whatever file it names (stop 30). So each companion is scanned with
 * the pickle that names it, as the member `<companion NAME>`, when it lies in
 * the same folder; a name that leaves the folder (absolute, `..`, a link out)
 * or cannot be resolved here is high.
 */
import { realpath, stat } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { isAbsoluteEntryName, splitEntryName } from '../archive/entry-paths.js';
import { reportIncomplete } from '../incomplete.js';
import { openFileSource } from '../source.js';
import type { ByteSource, ScanContext } from '../types.js';
import type { JoblibCompanion } from './array-wrapper.js';

/** Most companion files one pickle may name before the rest is not followed. */
export const MAX_JOBLIB_COMPANIONS = 1000;

/** True when `name`, joined to a folder by `os.path.join`, may leave it. */
function leavesFolder(name: string): boolean {
  return (
    name === '' ||
    name.includes('\0') ||
    isAbsoluteEntryName(name) ||
    splitEntryName(name).includes('..')
  );
}

/**
 * Reports and scans the companions a pickle named. `member` is the pickle's
 * own sub-member path (a record inside a container), if any.
 */
export async function scanJoblibCompanions(
  companions: readonly JoblibCompanion[],
  ctx: ScanContext,
  member: string[] | undefined,
  source: ByteSource,
): Promise<void> {
  if (companions.length === 0) return;
  const at = member === undefined ? {} : { member };
  const unknown = companions.find((c) => 'unsure' in c);
  if (unknown !== undefined && 'unsure' in unknown)
    reportIncomplete(ctx, {
      limit: 'joblib-companion',
      message: `a file joblib.load unpickles (numpy.load with allow_pickle=True) whose name is not known (${unknown.unsure})`,
      ...at,
    });
  const names = [
    ...new Set(
      companions.flatMap((c) => ('filename' in c ? [c.filename] : [])),
    ),
  ];
  if (names.length > MAX_JOBLIB_COMPANIONS)
    reportIncomplete(ctx, {
      limit: 'joblib-companions',
      value: MAX_JOBLIB_COMPANIONS,
      message: `${names.length - MAX_JOBLIB_COMPANIONS} joblib companion files after the first ${MAX_JOBLIB_COMPANIONS}`,
      ...at,
    });
  // A pickle that is a file on disk (not a member of a container, nor bytes
  // handed to scanSource under a name): its folder is where joblib looks.
  const onDisk =
    ctx.member.length === 0 &&
    member === undefined &&
    ctx.absolutePath !== '' &&
    (await stat(ctx.absolutePath).then(
      (st) => st.isFile() && st.size === source.size,
      () => false,
    ));
  const folder = onDisk ? dirname(ctx.absolutePath) : '';
  const realFolder = onDisk
    ? await realpath(folder).catch(() => undefined)
    : undefined;
  for (const name of names.slice(0, MAX_JOBLIB_COMPANIONS)) {
    const shown = JSON.stringify(name.slice(0, 256));
    const evidence = { companion: name.slice(0, 256) };
    if (leavesFolder(name)) {
      ctx.report({
        ruleId: 'JOBLIB_COMPANION_FILE',
        severity: 'high',
        message: `joblib.load unpickles the file ${shown} (numpy.load with allow_pickle=True), outside the model's folder`,
        evidence,
        ...at,
      });
      continue;
    }
    if (realFolder === undefined) {
      reportIncomplete(ctx, {
        limit: 'joblib-companion',
        message: `the companion file ${shown} that joblib.load unpickles (numpy.load with allow_pickle=True) lies beside a file this scan does not have on disk`,
        evidence,
        ...at,
      });
      continue;
    }
    let real: string;
    try {
      real = await realpath(join(folder, name));
    } catch {
      // joblib fails on a missing file before it unpickles anything.
      ctx.report({
        ruleId: 'JOBLIB_COMPANION_FILE',
        severity: 'low',
        message: `joblib.load would unpickle the companion file ${shown}, which is missing`,
        evidence,
      });
      continue;
    }
    if (!real.startsWith(realFolder + sep)) {
      ctx.report({
        ruleId: 'JOBLIB_COMPANION_FILE',
        severity: 'high',
        message: `joblib.load unpickles the file ${shown} (numpy.load with allow_pickle=True), a link out of the model's folder`,
        evidence: { ...evidence, target: real },
      });
      continue;
    }
    let source;
    try {
      source = await openFileSource(real);
    } catch (error) {
      reportIncomplete(ctx, {
        limit: 'joblib-companion',
        message: `the companion file ${shown} cannot be read (${(error as Error).message.slice(0, 120)})`,
        evidence,
      });
      continue;
    }
    try {
      ctx.report({
        ruleId: 'JOBLIB_COMPANION_FILE',
        severity: 'info',
        message: `joblib.load unpickles the companion file ${shown} (numpy.load with allow_pickle=True): scanned with this file`,
        evidence,
      });
      await ctx.scanNested(source, `<companion ${name}>`);
    } finally {
      await source.close();
    }
  }
}
