// SPDX-License-Identifier: Apache-2.0
import { resolve } from 'node:path';
import { DEFAULT_SIGNATURE_NAME } from '@modelseal/core/constants';
import { hashModel, resourceCount } from '@modelseal/core/manifest/hash';
import { safeJSONStringify, safeText } from '@modelseal/core/output';
import { parse, positionals, str } from '../args.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import { progressReporter } from '../output/progress.js';
import type { Io } from '../io.js';
import {
  MODEL_FLAGS,
  OUTPUT_FLAGS,
  hashOptionsFrom,
  progressModeFrom,
  fileSha256Of,
} from './common.js';

export const DIGEST_HELP = `usage: modelseal digest MODEL_PATH [options]

Prints the model's OMS root digest (sha256:<hex>), the value \`sign\` would put
in the statement's subject. The signature file (--signature, default model.sig
in the current directory) is left out when it lies inside the model.

options:
  --hash sha256|blake2b|blake3   hash of each file or shard (default sha256)
  --shard-size N                 hash shards of N bytes instead of whole files
  --threads N                    hashing threads, this one included (default: one per core)
  --ignore-paths PATH            leave PATH out (repeatable; relative to the current directory or absolute)
  --no-ignore-git-paths          sign .git, .gitattributes, .github, .gitignore too
  --allow-symlinks               follow symlinks to files (hashes the target under the link's name)
  --signature FILE               the signature file to leave out (default model.sig)
  --json                         print {schemaVersion, ok, modelName, rootDigest, serialization, resources},
                                 the last four as they would be signed
  --progress auto|plain|none     progress on stderr (auto: a bar when stderr is a terminal)
  -q, --quiet                    no progress`;

/** `modelseal digest MODEL_PATH`. */
export async function digestCommand(
  argv: readonly string[],
  io: Io,
): Promise<ExitCode> {
  const parsed = parse(argv, {
    ...MODEL_FLAGS,
    ...OUTPUT_FLAGS,
    signature: { type: 'string' },
  });
  if (parsed.values.help === true) {
    io.out(DIGEST_HELP);
    return EXIT.OK;
  }
  const [modelPath] = positionals(parsed, ['MODEL_PATH']) as [string];
  if (io.audit) io.audit.modelPath = modelPath;
  const progress = progressReporter(progressModeFrom(parsed));
  const options = hashOptionsFrom(parsed);
  options.signaturePath = resolve(
    str(parsed, 'signature') ?? DEFAULT_SIGNATURE_NAME,
  );
  if (progress.onProgress) options.onProgress = progress.onProgress;
  if (io.signal) options.signal = io.signal;
  // The statement codec, for --json only, and loaded before the hashing: V8
  // flags set for a large model once it starts would cost its code cache
  // (process/v8-flags.ts).
  const codec =
    parsed.values.json === true
      ? await import('@modelseal/core/manifest')
      : undefined;
  let result;
  try {
    result = await hashModel(modelPath, options);
  } finally {
    progress.done();
  }
  for (const warning of result.warnings)
    io.err(`modelseal: warning: ${safeText(warning.message)}`);
  const { manifest } = result;
  if (io.audit)
    Object.assign(io.audit, {
      modelName: manifest.modelName,
      rootDigest: manifest.rootDigest,
      resources: resourceCount(manifest),
      bytes: result.bytes,
      ...(await fileSha256Of(manifest)),
    });
  if (codec !== undefined) {
    // The values exactly as `sign` would write them into the statement.
    const statement = JSON.parse(
      codec.encodeStatement(manifest).toString('utf8'),
    ) as {
      predicate: { serialization: unknown; resources: unknown };
    };
    io.out(
      safeJSONStringify(
        {
          schemaVersion: 1,
          ok: true,
          modelName: manifest.modelName,
          rootDigest: manifest.rootDigest,
          serialization: statement.predicate.serialization,
          resources: statement.predicate.resources,
        },
        2,
      ),
    );
  } else {
    io.out(`sha256:${manifest.rootDigest}`);
  }
  return EXIT.OK;
}
