// SPDX-License-Identifier: Apache-2.0
// The scan gate of signing and the signed scan attestation: sign refuses a
// model with a malicious pickle; an explicit override is recorded; verify with
// requireScan passes only with a clean signed scan statement for the same root.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { signModel, verifyModel } from '../../src/index.js';
import {
  attestationStatement,
  signScanned,
  signingPaths,
} from '../helpers/scan-signing.js';
import { makeTree } from '../helpers/tree.js';

// os.system('id') in protocol 0: what loading this "checkpoint" would run.
const MALICIOUS_PICKLE = Buffer.from("cos\nsystem\n(S'id'\ntR.", 'latin1');
const { privateKey, publicKey } = generateKeyPairSync('ec', {
  namedCurve: 'P-256',
});
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });

/** Signs a tree of `files` with the key, the scan attested into fresh paths. */
async function signTree(
  files: Record<string, string | Buffer>,
  overrideReason?: string,
): Promise<{
  root: string;
  sig: string;
  att: string;
  signed: Awaited<ReturnType<typeof signScanned>>;
}> {
  const root = makeTree(files);
  const paths = signingPaths();
  const signed = await signScanned(
    root,
    privateKey,
    paths,
    overrideReason === undefined ? {} : { overrideReason },
  );
  return { root, ...paths, signed };
}

describe('scan gate', () => {
  it('refuses to sign a model containing a malicious pickle', async () => {
    const root = makeTree({
      'config.json': '{}',
      'pytorch_model.bin': MALICIOUS_PICKLE,
    });
    const { sig } = signingPaths();
    const error = await signModel({
      method: 'key',
      modelPath: root,
      signaturePath: sig,
      privateKey,
      scan: {},
    }).catch((e: unknown) => e);
    expect(error).toHaveCode('UNSAFE_CONTENT');
    expect(String(error)).toMatch(
      /PICKLE_DANGEROUS_GLOBAL in pytorch_model\.bin/,
    );
    expect(() => readFileSync(sig)).toThrow();
  });

  it('signs a clean model and attests the scan; verify requireScan passes', async () => {
    const { root, sig, att, signed } = await signTree({
      'config.json': '{}',
      'w.txt': 'weights',
    });
    expect(signed.scan).toMatchObject({
      verdict: 'clean',
      attestationPath: att,
    });
    const model = await verifyModel({
      method: 'key',
      modelPath: root,
      bundlePath: sig,
      publicKey,
      requireScan: true,
    });
    expect(model.scan).toMatchObject({
      verdict: 'clean',
      policy: { failOn: 'high' },
    });
    expect(model.scan!.scanner.name).toBe('modelseal');
  });

  it('an override of a clean scan overrides nothing: none recorded, requireScan passes', async () => {
    const { root, sig, att, signed } = await signTree(
      { 'config.json': '{}', 'w.txt': 'weights' },
      'always passed in CI',
    );
    expect(signed.scan!.verdict).toBe('clean');
    expect(signed.scan!.overrideReason).toBeUndefined();
    expect(attestationStatement(att).predicate.override).toBeUndefined();
    const model = await verifyModel({
      method: 'key',
      modelPath: root,
      bundlePath: sig,
      publicKey,
      requireScan: true,
    });
    expect(model.scan).toMatchObject({ verdict: 'clean' });
  });

  it('an override signs, is recorded in the attestation, and fails requireScan', async () => {
    const { root, sig, att, signed } = await signTree(
      { 'pytorch_model.bin': MALICIOUS_PICKLE },
      'red-team fixture SEC-1',
    );
    expect(signed.scan).toMatchObject({
      verdict: 'findings',
      overrideReason: 'red-team fixture SEC-1',
    });
    const statement = attestationStatement(att);
    expect(statement.predicate.override).toEqual({
      reason: 'red-team fixture SEC-1',
    });
    expect(statement.rootDigest).toBe(signed.manifest.rootDigest);
    // The model itself verifies (it is what was signed) …
    await verifyModel({
      method: 'key',
      modelPath: root,
      bundlePath: sig,
      publicKey,
    });
    // … but not as "signed and scanned clean".
    await expect(
      verifyModel({
        method: 'key',
        modelPath: root,
        bundlePath: sig,
        publicKey,
        requireScan: true,
      }),
    ).rejects.toHaveCode('SCAN_REQUIRED');
  });

  it('requireScan fails without an attestation, for another model, or from another signer', async () => {
    const root = makeTree({ w: 'w' });
    const { sig, att } = signingPaths();
    await signModel({
      method: 'key',
      modelPath: root,
      signaturePath: sig,
      privateKey,
      scan: {},
    });
    await expect(
      verifyModel({
        method: 'key',
        modelPath: root,
        bundlePath: sig,
        publicKey,
        requireScan: true,
      }),
    ).rejects.toHaveCode('SCAN_REQUIRED');

    // A clean attestation of another model does not vouch for this one.
    const otherModel = makeTree({ x: 'x' });
    const otherPaths = signingPaths();
    await signScanned(otherModel, privateKey, otherPaths);
    await expect(
      verifyModel({
        method: 'key',
        modelPath: root,
        bundlePath: sig,
        publicKey,
        requireScan: { attestationPath: otherPaths.att },
      }),
    ).rejects.toHaveCode('SCAN_REQUIRED');

    // An attestation for this model signed by someone else is not trusted.
    rmSync(sig);
    await signModel({
      method: 'key',
      modelPath: root,
      signaturePath: sig,
      privateKey,
      scan: {},
    });
    const forged = signingPaths();
    await signScanned(root, other.privateKey, { sig: forged.sig, att });
    const error = await verifyModel({
      method: 'key',
      modelPath: root,
      bundlePath: sig,
      publicKey,
      requireScan: true,
    }).catch((e: unknown) => e);
    expect(['KEY_MISMATCH', 'SIGNATURE_INVALID']).toContain(
      (error as { code: string }).code,
    );
  });

  it('the attestation file inside the model is left out of the signed files', async () => {
    const root = makeTree({ w: 'w' });
    const sig = join(root, 'model.sig');
    const att = join(root, 'model.scan.sig');
    const signed = await signScanned(root, privateKey, { sig, att });
    expect(signed.manifest.resources.map((r) => r.name)).toEqual(['w']);
    expect(signed.manifest.serialization.ignorePaths).toEqual(
      expect.arrayContaining(['model.sig', 'model.scan.sig']),
    );
    writeFileSync(join(root, 'w'), 'w');
    await verifyModel({
      method: 'key',
      modelPath: root,
      bundlePath: sig,
      publicKey,
      requireScan: true,
    });
  });
});
