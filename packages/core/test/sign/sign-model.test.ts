// SPDX-License-Identifier: Apache-2.0
// signModel → verifyModelSignature round trips for key and certificate
// signing, every hash algorithm and both serialization methods.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeRootDigest } from '../../src/manifest/index.js';
import { signModel } from '../../src/sign/sign-model.js';
import type { SignModelOptions } from '../../src/sign/types.js';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import type { VerifyModelSignatureOptions } from '../../src/verify/types.js';
import { createPki, newKey, type TestPki } from '../helpers/pki.js';
import { readStatement } from '../helpers/forge.js';
import { DEMO_TREE, makeTree, tempDir } from '../helpers/tree.js';

let pki: TestPki;
beforeAll(() => {
  pki = createPki({ leafKeyType: 'P-384' });
});
afterAll(() => pki.cleanup());

type Method = 'key' | 'certificate';
const HASHES = ['sha256', 'blake2b', 'blake3'] as const;
const SERIALIZATIONS = ['files', 'shards'] as const;

function signOptions(
  method: Method,
  modelPath: string,
  signaturePath: string,
): SignModelOptions {
  return method === 'key'
    ? {
        method,
        modelPath,
        signaturePath,
        privateKey: pki.leaf.keyPath,
        concurrency: 0,
      }
    : {
        method,
        modelPath,
        signaturePath,
        privateKey: pki.leaf.keyPath,
        signingCertificate: pki.leaf.certPath,
        certificateChain: [pki.intermediate.certPath],
        concurrency: 0,
      };
}

function verifyOptions(
  method: Method,
  modelPath: string,
  bundlePath: string,
): VerifyModelSignatureOptions {
  return method === 'key'
    ? {
        method,
        modelPath,
        bundlePath,
        publicKey: pki.leaf.publicKeyPath,
        concurrency: 0,
      }
    : {
        method,
        modelPath,
        bundlePath,
        trustAnchors: [pki.root.certPath],
        concurrency: 0,
      };
}

describe('round trips', () => {
  for (const method of ['key', 'certificate'] as const) {
    for (const hashAlgorithm of HASHES) {
      for (const serialization of SERIALIZATIONS) {
        const name = `${method} × ${hashAlgorithm} × ${serialization}`;
        if (hashAlgorithm === 'blake3' && serialization === 'shards') {
          it(`${name} is refused when signing (INVALID_OPTIONS)`, async () => {
            const model = makeTree({ 'w.bin': 'x' });
            const sig = join(tempDir(), 'model.sig');
            await expect(
              signModel({
                ...signOptions(method, model, sig),
                hashAlgorithm,
                serialization,
                shardSize: 8,
              }),
            ).rejects.toHaveCode('INVALID_OPTIONS');
            expect(existsSync(sig)).toBe(false);
          });
          continue;
        }
        it(name, async () => {
          const model = makeTree(DEMO_TREE, 'demo');
          const sig = join(model, 'model.sig');
          const signed = await signModel({
            ...signOptions(method, model, sig),
            hashAlgorithm,
            serialization,
            ...(serialization === 'shards' ? { shardSize: 8 } : {}),
          });
          expect(signed.method).toBe(method);
          expect(signed.signaturePath).toBe(sig);
          expect(signed.manifest.serialization).toMatchObject({
            method: serialization,
            hashType: hashAlgorithm,
          });
          expect(signed.manifest.resources.map((r) => r.name)).not.toContain(
            'model.sig',
          );
          expect(signed.manifest.serialization.ignorePaths).toContain(
            'model.sig',
          );
          if (hashAlgorithm === 'sha256' && serialization === 'files') {
            // oms-format §8.1: the same root as the reference for the demo tree.
            expect(signed.manifest.rootDigest).toBe(
              '03fc090513214db372003a88bce91baac4ea7e8c0b9ce621daacc3dbdbae8ad2',
            );
          }
          if (hashAlgorithm === 'sha256' && serialization === 'shards') {
            expect(signed.manifest.rootDigest).toBe(
              'e980e933b717837e5bbebe54edfc67f9c36ddc0ca4c93e89d52054d51aaccf6b',
            );
          }
          const verified = await verifyModelSignature(
            verifyOptions(method, model, sig),
          );
          expect(verified.manifest).toEqual(signed.manifest);
          expect(verified.signer.method).toBe(method);
          expect(verified.compare.ok).toBe(true);
          // The statement is exactly what we encode, and the root recomputes.
          const statement = readStatement(sig) as {
            subject: { digest: { sha256: string } }[];
          };
          expect(statement.subject[0]!.digest.sha256).toBe(
            computeRootDigest(signed.manifest.resources),
          );
          expect(readFileSync(sig, 'utf8')).toBe(JSON.stringify(signed.bundle));
        });
      }
    }
  }
});

describe('signModel', () => {
  it('single-file model: resource ".", named after the file', async () => {
    const model = makeTree({ 'weights.bin': 'abcdefghijklmnopqrstuvw' });
    const file = join(model, 'weights.bin');
    const sig = join(tempDir(), 'model.sig');
    const signed = await signModel(signOptions('key', file, sig));
    expect(signed.manifest.modelName).toBe('weights.bin');
    expect(signed.manifest.resources.map((r) => r.name)).toEqual(['.']);
    expect(signed.manifest.rootDigest).toBe(
      '6e60c10a80d211eba88ac040dea590284bd338f34a7c6e7f77ce638bdd17701e',
    );
    await expect(
      verifyModelSignature(verifyOptions('key', file, sig)),
    ).resolves.toMatchObject({ ok: true });
  });

  it('signing twice gives the same statement (determinism)', async () => {
    const model = makeTree(DEMO_TREE);
    const a = await signModel(
      signOptions('key', model, join(tempDir(), 'a.sig')),
    );
    const b = await signModel(
      signOptions('key', model, join(tempDir(), 'b.sig')),
    );
    expect(a.statement.equals(b.statement)).toBe(true);
  });

  it('refuses an empty model (EMPTY_MODEL) and writes nothing', async () => {
    const model = makeTree({ '.git/HEAD': 'x', '.gitignore': 'y' });
    const sig = join(tempDir(), 'model.sig');
    await expect(signModel(signOptions('key', model, sig))).rejects.toHaveCode(
      'EMPTY_MODEL',
    );
    expect(existsSync(sig)).toBe(false);
  });

  it('a model whose only file is the signature is empty', async () => {
    const model = makeTree({ 'model.sig': 'old' });
    await expect(
      signModel({
        ...signOptions('key', model, join(model, 'model.sig')),
        force: true,
      }),
    ).rejects.toHaveCode('EMPTY_MODEL');
  });

  it('refuses to overwrite a bundle unless force, before hashing', async () => {
    const model = makeTree({ 'w.bin': 'x' });
    const sig = join(tempDir(), 'model.sig');
    writeFileSync(sig, 'keep');
    await expect(signModel(signOptions('key', model, sig))).rejects.toHaveCode(
      'FILE_EXISTS',
    );
    expect(readFileSync(sig, 'utf8')).toBe('keep');
    await signModel({ ...signOptions('key', model, sig), force: true });
    expect(readFileSync(sig, 'utf8')).toContain('"mediaType"');
  });

  it('checks the key before hashing: PASSWORD_REQUIRED for an encrypted key', async () => {
    const dir = tempDir();
    const key = newKey(dir, 'k');
    const encrypted = join(dir, 'enc.pem');
    writeFileSync(
      encrypted,
      key.privateKey.export({
        type: 'pkcs8',
        format: 'pem',
        cipher: 'aes-256-cbc',
        passphrase: 'pw',
      }),
    );
    const model = makeTree({ 'w.bin': 'x' });
    const sig = join(dir, 'model.sig');
    await expect(
      signModel({
        method: 'key',
        modelPath: model,
        signaturePath: sig,
        privateKey: encrypted,
      }),
    ).rejects.toHaveCode('PASSWORD_REQUIRED');
    const ok = await signModel({
      method: 'key',
      modelPath: model,
      signaturePath: sig,
      privateKey: encrypted,
      password: 'pw',
    });
    expect(ok.signedBy.method).toBe('key');
  });

  it('certificate signing refuses a certificate for another key (KEY_INVALID: bad signer input, not a verdict)', async () => {
    const model = makeTree({ 'w.bin': 'x' });
    await expect(
      signModel({
        method: 'certificate',
        modelPath: model,
        signaturePath: join(tempDir(), 'model.sig'),
        privateKey: pki.intermediate.keyPath,
        signingCertificate: pki.leaf.certPath,
      }),
    ).rejects.toHaveCode('KEY_INVALID');
  });

  it('ignore paths are left out and recorded', async () => {
    const model = makeTree({ 'w.bin': 'x', 'notes/readme.md': 'y' });
    const sig = join(tempDir(), 'model.sig');
    const signed = await signModel({
      ...signOptions('key', model, sig),
      ignorePaths: ['notes'],
    });
    expect(signed.manifest.resources.map((r) => r.name)).toEqual(['w.bin']);
    expect(signed.manifest.serialization.ignorePaths).toContain('notes');
    writeFileSync(join(model, 'notes', 'readme.md'), 'changed');
    await expect(
      verifyModelSignature(verifyOptions('key', model, sig)),
    ).resolves.toMatchObject({ ok: true });
  });

  it('a custom StatementSigner plugs in', async () => {
    const { createKeySigner } = await import('../../src/sign/key.js');
    const signer = await createKeySigner({ privateKey: pki.leaf.keyPath });
    const model = makeTree({ 'w.bin': 'x' });
    const sig = join(tempDir(), 'model.sig');
    const r = await signModel({
      method: 'signer',
      signer,
      modelPath: model,
      signaturePath: sig,
    });
    expect(r.method).toBe('key');
    await expect(
      verifyModelSignature(verifyOptions('key', model, sig)),
    ).resolves.toMatchObject({ ok: true });
  });

  it('unknown method and missing paths are INVALID_OPTIONS', async () => {
    await expect(
      signModel({
        method: 'pgp',
        modelPath: 'm',
        signaturePath: 's',
      } as unknown as SignModelOptions),
    ).rejects.toHaveCode('INVALID_OPTIONS');
    await expect(
      signModel({
        method: 'key',
        modelPath: '',
        signaturePath: 's',
        privateKey: pki.leaf.keyPath,
      }),
    ).rejects.toHaveCode('INVALID_OPTIONS');
  });
});
