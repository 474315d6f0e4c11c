// SPDX-License-Identifier: Apache-2.0
import {
  inspectBundle,
  type InspectBundleResult,
} from '@modelseal/core/verify';
import { safeJSONStringify, safeText } from '@modelseal/core/output';
import { flag, parse, positionals } from '../args.js';
import { EXIT, type ExitCode } from '../exit-codes.js';
import type { Io } from '../io.js';
import { OUTPUT_FLAGS } from './common.js';

export const INSPECT_HELP = `usage: modelseal inspect BUNDLE [--json]

Shows what a bundle claims: who signed, when, how, and the file list.
NOTHING IS VERIFIED: use \`modelseal verify\` before trusting any of it.`;

function signerLine(result: InspectBundleResult): string {
  const s = result.signer;
  switch (s.method) {
    case 'key':
      return `key, hint ${safeText(s.hint ?? s.rawBytesHint ?? '(none recorded)')}${s.keyDetails ? ` (${safeText(s.keyDetails)})` : ''}`;
    case 'certificate':
      return `certificate ${safeText(s.certificates[0]?.subject ?? '(unreadable)')} issued by ${safeText(s.certificates[0]?.issuer ?? '?')} (${s.certificates.length} in chain)`;
    case 'sigstore':
      return `sigstore ${safeText(s.identity ?? '(no identity)')} via ${safeText(s.issuer ?? '(no issuer)')}`;
  }
}

/** `modelseal inspect BUNDLE`. */
export async function inspectCommand(
  argv: readonly string[],
  io: Io,
): Promise<ExitCode> {
  const parsed = parse(argv, OUTPUT_FLAGS);
  if (parsed.values.help === true) {
    io.out(INSPECT_HELP);
    return EXIT.OK;
  }
  const [bundle] = positionals(parsed, ['BUNDLE']) as [string];
  const result = await inspectBundle(bundle);
  if (flag(parsed, 'json')) {
    io.out(safeJSONStringify({ schemaVersion: 1, ok: true, ...result }, 2));
    return EXIT.OK;
  }
  io.out(
    'UNVERIFIED: this shows what the bundle claims; nothing has been checked.',
  );
  io.out(`bundle:    ${safeText(bundle)} (${safeText(result.mediaType)})`);
  io.out(`method:    ${safeText(result.method)}`);
  io.out(`signer:    ${signerLine(result)} [unverified]`);
  if (result.claimedLogTime !== undefined)
    io.out(`logged at: ${result.claimedLogTime.toISOString()} [unverified]`);
  io.out(
    `log entries: ${result.tlogEntryCount}, timestamps: ${result.rfc3161TimestampCount}, signatures: ${result.signatureCount}`,
  );
  io.out(`predicate: ${safeText(result.predicateType ?? '(unreadable)')}`);
  if (result.manifest === undefined) {
    io.out(
      `statement: does not decode: ${safeText(result.statementProblem?.message ?? 'unknown problem')}`,
    );
    return EXIT.OK;
  }
  const m = result.manifest;
  const s = m.serialization;
  io.out(
    `model:     ${safeText(m.modelName)}, root sha256:${safeText(m.rootDigest)}`,
  );
  io.out(
    `hashing:   ${safeText(s.method)}, ${safeText(s.hashType)}${s.method === 'shards' ? `, shards of ${safeText(s.shardSize)}` : ''}, symlinks ${s.allowSymlinks ? 'allowed' : 'refused'}`,
  );
  if (s.ignorePaths.length > 0)
    io.out(`ignored:   ${s.ignorePaths.map((p) => safeText(p)).join(', ')}`);
  io.out(`resources (${m.resources.length}):`);
  for (const r of m.resources)
    io.out(`  ${safeText(r.digest)}  ${safeText(r.name)}`);
  return EXIT.OK;
}
