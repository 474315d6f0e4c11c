// SPDX-License-Identifier: Apache-2.0
// Completeness in the scan gate: a scan that a limit stopped is never "clean";
// the attestation records which files were not fully scanned; sign refuses
// it by default; requireScan refuses an incomplete attestation and one that
// records no completeness at all (written before the field existed).
import { generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  decodeScanStatement,
  encodeScanStatement,
  scanModel,
  scanVerdict,
  verifyModel,
} from '../../src/index.js';
import { resignStatement } from '../helpers/forge.js';
import {
  attestationStatement,
  signScanned,
  signingPaths,
} from '../helpers/scan-signing.js';
import { makeTree } from '../helpers/tree.js';

// (1, 2) as a protocol 4 pickle: PROTO, BININT1, BININT1, TUPLE2, STOP. Benign.
const BENIGN_PICKLE = Buffer.from([
  0x80, 0x04, 0x4b, 0x01, 0x4b, 0x02, 0x86, 0x2e,
]);
// Two opcodes are read, the rest is not: the scan of weights.pkl stops early.
const TIGHT = { maxPickleOpcodes: 2 };

const { privateKey, publicKey } = generateKeyPairSync('ec', {
  namedCurve: 'P-256',
});

describe('scan completeness', () => {
  it('scanVerdict is never clean when a file was not fully scanned, whatever the threshold', async () => {
    const root = makeTree({ 'weights.pkl': BENIGN_PICKLE, 'a.txt': 'a' });
    const full = await scanModel(root);
    expect(full.summary.incomplete).toBe(0);
    expect(scanVerdict(full, 'high')).toBe('clean');

    const cut = await scanModel(root, { limits: TIGHT });
    expect(cut.summary.incomplete).toBe(1);
    expect(cut.files.find((f) => f.file === 'weights.pkl')?.complete).toBe(
      false,
    );
    for (const failOn of ['critical', 'high', 'medium'] as const)
      expect(scanVerdict(cut, failOn)).toBe('findings');
  });

  it('the predicate records completeness: complete, the count and the files', async () => {
    const root = makeTree({ 'weights.pkl': BENIGN_PICKLE, 'a.txt': 'a' });
    const common = {
      modelName: 'm',
      rootDigest: 'a'.repeat(64),
      failOn: 'critical' as const,
      toolVersion: 't',
    };
    const cut = decodeScanStatement(
      encodeScanStatement({
        ...common,
        report: await scanModel(root, { limits: TIGHT }),
      }),
    );
    expect(cut.predicate.result).toMatchObject({
      verdict: 'findings',
      complete: false,
      incomplete: 1,
      incompleteFiles: ['weights.pkl'],
    });
    const full = decodeScanStatement(
      encodeScanStatement({ ...common, report: await scanModel(root) }),
    );
    expect(full.predicate.result).toMatchObject({
      verdict: 'clean',
      complete: true,
      incomplete: 0,
      incompleteFiles: [],
    });
  });

  it('sign refuses an incomplete scan by default, even when no finding reaches --fail-on', async () => {
    const root = makeTree({ 'weights.pkl': BENIGN_PICKLE });
    for (const failOn of ['high', 'critical'] as const) {
      const { sig, att } = signingPaths();
      const error = await signScanned(
        root,
        privateKey,
        { sig, att },
        { limits: TIGHT, failOn },
      ).catch((e: unknown) => e);
      expect(error).toHaveCode('UNSAFE_CONTENT');
      expect(String(error)).toMatch(/weights\.pkl/);
      expect(
        (error as { details: { incompleteFiles: string[] } }).details
          .incompleteFiles,
      ).toEqual(['weights.pkl']);
      expect(existsSync(sig)).toBe(false);
      expect(existsSync(att)).toBe(false);
    }
  });

  it('an override signs an incomplete scan; requireScan refuses it with SCAN_INCOMPLETE', async () => {
    const root = makeTree({ 'weights.pkl': BENIGN_PICKLE });
    const { sig, att } = signingPaths();
    await signScanned(
      root,
      privateKey,
      { sig, att },
      { limits: TIGHT, overrideReason: 'limit lowered on purpose (test)' },
    );
    expect(attestationStatement(att).predicate.result).toMatchObject({
      complete: false,
      incompleteFiles: ['weights.pkl'],
    });
    const error = await verifyModel({
      method: 'key',
      modelPath: root,
      bundlePath: sig,
      publicKey,
      requireScan: true,
    }).catch((e: unknown) => e);
    expect(error).toHaveCode('SCAN_INCOMPLETE');
    expect((error as Error).message).toMatch(
      /records an incomplete scan: 1 file\(s\) not fully scanned \(weights\.pkl\)/,
    );
    expect((error as Error).message).not.toContain('\n');
  });

  it('requireScan refuses an attestation that records no completeness (fail closed), and one whose fields disagree', async () => {
    const root = makeTree({ 'weights.pkl': BENIGN_PICKLE });
    const { sig, att } = signingPaths();
    await signScanned(root, privateKey, { sig, att });
    // Clean and complete: accepted, and says so.
    const ok = await verifyModel({
      method: 'key',
      modelPath: root,
      bundlePath: sig,
      publicKey,
      requireScan: true,
    });
    expect(ok.scan).toMatchObject({ verdict: 'clean', complete: true });

    // The same attestation as an older modelseal wrote it: no completeness.
    resignStatement(att, privateKey, (statement) => {
      delete statement.predicate.result.complete;
      delete statement.predicate.result.incomplete;
      delete statement.predicate.result.incompleteFiles;
    });
    const legacy = await verifyModel({
      method: 'key',
      modelPath: root,
      bundlePath: sig,
      publicKey,
      requireScan: true,
    }).catch((e: unknown) => e);
    expect(legacy).toHaveCode('SCAN_INCOMPLETE');
    expect((legacy as Error).message).toMatch(/records no completeness/);
    expect((legacy as { details: { reason: string } }).details.reason).toBe(
      'not-recorded',
    );

    // "complete" yet naming a file not fully scanned: refused.
    resignStatement(att, privateKey, (statement) => {
      statement.predicate.result.complete = true;
      statement.predicate.result.incomplete = 1;
      statement.predicate.result.incompleteFiles = ['weights.pkl'];
    });
    await expect(
      verifyModel({
        method: 'key',
        modelPath: root,
        bundlePath: sig,
        publicKey,
        requireScan: true,
      }),
    ).rejects.toHaveCode('SCAN_INCOMPLETE');

    // A malformed completeness field is not a statement at all.
    resignStatement(att, privateKey, (statement) => {
      statement.predicate.result.complete = 'yes';
    });
    await expect(
      verifyModel({
        method: 'key',
        modelPath: root,
        bundlePath: sig,
        publicKey,
        requireScan: true,
      }),
    ).rejects.toHaveCode('STATEMENT_INVALID');
  });
});
