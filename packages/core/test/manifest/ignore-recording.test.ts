// SPDX-License-Identifier: Apache-2.0
// Issue 12 item 4: what was signed is what is checked. The ignore rules in
// force at signing are recorded in `serialization.ignore_paths` (an empty list
// included) and verify applies exactly those.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isModelSealError } from '../../src/errors.js';
import { decodeStatement, encodeStatement } from '../../src/manifest/index.js';
import { signModel } from '../../src/sign/index.js';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import { createPki, type TestPki } from '../helpers/pki.js';
import { makeTree, tempDir } from '../helpers/tree.js';

let pki: TestPki;
beforeAll(() => {
  pki = createPki();
});
afterAll(() => pki.cleanup());

async function sign(
  model: string,
  signaturePath: string,
  ignoreGitPaths: boolean,
) {
  return signModel({
    method: 'key',
    modelPath: model,
    signaturePath,
    privateKey: pki.leaf.keyPath,
    ignoreGitPaths,
    concurrency: 0,
  });
}

const verify = (model: string, bundlePath: string) =>
  verifyModelSignature({
    method: 'key',
    modelPath: model,
    bundlePath,
    publicKey: pki.leaf.publicKeyPath,
    concurrency: 0,
  });

function serializationOf(statement: Buffer): Record<string, unknown> {
  const json = JSON.parse(statement.toString('utf8')) as {
    predicate: { serialization: Record<string, unknown> };
  };
  return json.predicate.serialization;
}

describe('git defaults off, signature outside the model', () => {
  it('records an empty ignore_paths list, and verify then refuses files added under .git/, .github/ and .gitattributes', async () => {
    const model = makeTree({ 'weights.bin': 'w', 'config.json': '{}' });
    const sig = join(tempDir(), 'model.sig');
    const signed = await sign(model, sig, false);
    expect(serializationOf(signed.statement).ignore_paths).toEqual([]);
    await expect(verify(model, sig)).resolves.toMatchObject({ ok: true });

    mkdirSync(join(model, '.git'));
    writeFileSync(join(model, '.git', 'hooks-post-checkout'), '#!/bin/sh\n');
    mkdirSync(join(model, '.github', 'workflows'), { recursive: true });
    writeFileSync(join(model, '.github', 'workflows', 'x.yml'), 'on: push\n');
    writeFileSync(join(model, '.gitattributes'), '* filter=evil\n');

    let caught: unknown;
    try {
      await verify(model, sig);
    } catch (error) {
      caught = error;
    }
    expect(isModelSealError(caught)).toBe(true);
    const error = caught as {
      code: string;
      details: { extra: { name: string }[] };
    };
    expect(error.code).toBe('MANIFEST_MISMATCH');
    expect(error.details.extra.map((r) => r.name)).toEqual([
      '.git/hooks-post-checkout',
      '.gitattributes',
      '.github/workflows/x.yml',
    ]);
  });

  it('a signed .gitignore is checked, not ignored', async () => {
    const model = makeTree({ 'weights.bin': 'w', '.gitignore': '*.tmp\n' });
    const sig = join(tempDir(), 'model.sig');
    await sign(model, sig, false);
    await expect(verify(model, sig)).resolves.toMatchObject({ ok: true });
    writeFileSync(join(model, '.gitignore'), '*\n');
    await expect(verify(model, sig)).rejects.toHaveCode('MANIFEST_MISMATCH');
  });
});

describe('git defaults on', () => {
  it('records the git names, and files under .git/ stay out of scope', async () => {
    const model = makeTree({ 'weights.bin': 'w' });
    const sig = join(tempDir(), 'model.sig');
    const signed = await sign(model, sig, true);
    expect(serializationOf(signed.statement).ignore_paths).toEqual([
      '.git',
      '.gitattributes',
      '.github',
      '.gitignore',
    ]);
    mkdirSync(join(model, '.git'));
    writeFileSync(join(model, '.git', 'HEAD'), 'ref: x\n');
    await expect(verify(model, sig)).resolves.toMatchObject({ ok: true });
  });
});

describe('statement round trip', () => {
  it('an empty recorded list survives encode/decode; an absent one stays absent', async () => {
    const model = makeTree({ 'weights.bin': 'w' });
    const signed = await sign(model, join(tempDir(), 'a.sig'), false);
    const decoded = decodeStatement(signed.statement).manifest;
    expect(decoded.serialization).toMatchObject({
      ignorePaths: [],
      ignorePathsRecorded: true,
    });
    expect(encodeStatement(decoded).equals(signed.statement)).toBe(true);

    const legacy = JSON.parse(signed.statement.toString('utf8')) as {
      predicate: { serialization: Record<string, unknown> };
    };
    delete legacy.predicate.serialization.ignore_paths;
    const absent = decodeStatement(Buffer.from(JSON.stringify(legacy)));
    expect(absent.manifest.serialization.ignorePathsRecorded).toBeUndefined();
    expect(
      serializationOf(encodeStatement(absent.manifest)).ignore_paths,
    ).toBeUndefined();
  });
});
