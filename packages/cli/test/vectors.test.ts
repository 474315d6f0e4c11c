// SPDX-License-Identifier: Apache-2.0
// All 21 cases of the shared vectors through the CLI in a subprocess: the 16
// valid ones exit 0, the spec's invalid ones exit 1 with a specific code.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  loadVectors,
  vectorPath,
  type VectorCase,
} from '../../core/test/helpers/vectors.js';
import { runCli } from './helpers/run-cli.js';

const EXPECTED_CODE: Record<string, string> = {
  // The spec edited the payload without re-signing it: the signature, checked
  // before the statement is trusted, already fails.
  'invalid-payload/wrong-predicate.bundle.json': 'SIGNATURE_INVALID',
  'invalid/empty.bundle.json': 'BUNDLE_MALFORMED',
  'invalid/missing-envelope.bundle.json': 'BUNDLE_MALFORMED',
  'invalid/missing-verification-material.bundle.json': 'BUNDLE_MALFORMED',
  'invalid/missing-tlog-entries.bundle.json': 'BUNDLE_MALFORMED|TLOG_INVALID',
};

function argsFor(v: VectorCase): string[] {
  const args = [
    'verify',
    v.method,
    vectorPath(v.model),
    '--signature',
    vectorPath(v.bundle),
  ];
  // Ignore paths are relative to the model directory; the CLI takes them relative to the cwd.
  const modelDir = v.model.endsWith('/signme-1')
    ? v.model.slice(0, -'/signme-1'.length)
    : v.model;
  for (const p of v.ignorePaths ?? [])
    args.push('--ignore-paths', vectorPath(join(modelDir, p)));
  if (v.method === 'key') args.push('--public-key', vectorPath(v.publicKey!));
  if (v.method === 'certificate')
    for (const ca of v.caCerts ?? [])
      args.push('--certificate-chain', vectorPath(ca));
  if (v.method === 'sigstore')
    // --offline: the embedded public-good root, no TUF refresh (tests never reach the internet).
    args.push(
      '--identity',
      v.identity!,
      '--identity-provider',
      v.issuer!,
      '--offline',
    );
  return args;
}

describe('shared vectors through the CLI', () => {
  const vectors = loadVectors();
  it('has 21 cases', () => expect(vectors).toHaveLength(21));
  for (const v of vectors) {
    it(`${v.id}: ${v.expect}`, async () => {
      const result = await runCli([...argsFor(v), '--json']);
      if (v.expect === 'pass') {
        expect(result.stderr.replace(/^modelseal: warning: .*\n/gm, '')).toBe(
          '',
        );
        expect(result.code).toBe(0);
        expect(JSON.parse(result.stdout)).toMatchObject({
          ok: true,
          method: v.method,
        });
      } else {
        expect(result.code).toBe(1);
        const out = JSON.parse(result.stdout);
        expect(out.ok).toBe(false);
        expect(out.error.code).toMatch(
          new RegExp(`^(${EXPECTED_CODE[v.id]!})$`),
        );
      }
    });
  }
});
