// SPDX-License-Identifier: Apache-2.0
import { diffModels } from '@modelseal/core/diff';
import { safeJSONStringify, safeText } from '@modelseal/core/output';
import { flag, parse, positionals } from '../args.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { Io } from '../io.js';
import { progressReporter } from '../output/progress.js';
import {
  MODEL_FLAGS,
  OUTPUT_FLAGS,
  hashOptionsFrom,
  progressModeFrom,
} from './common.js';

export const DIFF_HELP = `usage: modelseal diff OLD NEW [options]

Lists the files added, removed and changed between two versions of a model or
data set. OLD and NEW are each a bundle (model.sig) or a directory. A directory
compared with a bundle is hashed the way the bundle was made; two directories
with the hashing flags below. Bundles are read, NOT verified: run
\`modelseal verify\` on them first when it matters. Exit 0 whether or not
anything changed.

options:
  --hash, --shard-size, --ignore-paths, --no-ignore-git-paths, --allow-symlinks, --threads
                                 hashing of directories (as for digest)
  --json                         {schemaVersion, ok, added, removed, changed, unchanged, old, new, verified: false}
  --progress auto|plain|none, -q progress on stderr`;

/** `modelseal diff OLD NEW`. */
export async function diffCommand(
  argv: readonly string[],
  io: Io,
): Promise<ExitCode> {
  const parsed = parse(argv, { ...MODEL_FLAGS, ...OUTPUT_FLAGS });
  if (parsed.values.help === true) {
    io.out(DIFF_HELP);
    return EXIT.OK;
  }
  const [oldPath, newPath] = positionals(parsed, ['OLD', 'NEW']) as [
    string,
    string,
  ];
  if (io.audit) io.audit.modelPath = newPath;
  const progress = progressReporter(progressModeFrom(parsed));
  const options = hashOptionsFrom(parsed);
  if (progress.onProgress) options.onProgress = progress.onProgress;
  if (io.signal) options.signal = io.signal;
  let result;
  try {
    result = await diffModels(oldPath, newPath, options);
  } finally {
    progress.done();
  }
  if (flag(parsed, 'json')) {
    const side = (s: typeof result.old): Record<string, unknown> => ({
      path: s.path,
      kind: s.kind,
      modelName: s.manifest.modelName,
      rootDigest: s.manifest.rootDigest,
    });
    io.out(
      safeJSONStringify(
        {
          schemaVersion: 1,
          ok: true,
          added: result.added,
          removed: result.removed,
          changed: result.changed,
          unchanged: result.unchanged,
          old: side(result.old),
          new: side(result.new),
          verified: false,
        },
        2,
      ),
    );
    return EXIT.OK;
  }
  for (const path of result.added) io.out(`added:   ${safeText(path)}`);
  for (const path of result.removed) io.out(`removed: ${safeText(path)}`);
  for (const change of result.changed)
    io.out(`changed: ${safeText(change.path)}`);
  const bundles =
    result.old.kind === 'bundle' || result.new.kind === 'bundle'
      ? ' (bundles read, not verified)'
      : '';
  io.out(
    `${result.added.length} added, ${result.removed.length} removed, ${result.changed.length} changed, ${result.unchanged} unchanged${bundles}`,
  );
  return EXIT.OK;
}
