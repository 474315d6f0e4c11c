// SPDX-License-Identifier: Apache-2.0
// Key signing: every supported key type signs a bundle our verifier accepts;
// key loading errors have their own codes and name the key file.
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBundle } from '../../src/bundle/read.js';
import {
  loadPrivateKey,
  loadPublicKey,
  keyHint,
} from '../../src/internal/keys.js';
import { createKeySigner } from '../../src/sign/key.js';
import { verifyKeyBundleSignature } from '../../src/verify/key.js';
import { newKey, type TestKeyType } from '../helpers/pki.js';
import { tempDir } from '../helpers/tree.js';
import { vectorPath } from '../helpers/vectors.js';

const statement = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}');

describe('createKeySigner', () => {
  const expectations: [TestKeyType, string, string][] = [
    ['P-256', 'ecdsa-p256-sha256', 'ecdsa-p256'],
    ['P-384', 'ecdsa-p384-sha384', 'ecdsa-p384'],
    ['P-521', 'ecdsa-p521-sha512', 'ecdsa-p521'],
    ['ed25519', 'ed25519', 'ed25519'],
    ['rsa', 'rsa-pkcs1v15-sha256', 'rsa-2048'],
  ];
  for (const [type, scheme, keyType] of expectations) {
    it(`${type} signs with ${scheme} and verifies`, async () => {
      const key = newKey(tempDir(), 'k', type);
      const signer = await createKeySigner({ privateKey: key.keyPath });
      expect(signer.signedBy).toMatchObject({ method: 'key', scheme, keyType });
      const bundle = parseBundle(await signer.sign(statement));
      const r = verifyKeyBundleSignature(
        bundle,
        await loadPublicKey(key.publicKeyPath),
      );
      expect(r.signer.scheme).toBe(scheme);
      expect(r.signer.hint).toBe(keyHint(key.publicKey));
      expect(bundle.publicKey?.hint).toBe(keyHint(key.publicKey));
    });
  }

  it('EC signatures use the curve hash (P-384 does not verify as SHA-256)', async () => {
    const { createVerify } = await import('node:crypto');
    const key = newKey(tempDir(), 'k', 'P-384');
    const signer = await createKeySigner({ privateKey: key.privateKey });
    const bundle = parseBundle(await signer.sign(statement));
    const { pae } = await import('../../src/bundle/dsse.js');
    const data = pae('application/vnd.in-toto+json', statement);
    const v256 = createVerify('sha256')
      .update(data)
      .verify(key.publicKey, bundle.envelope.signature.sig);
    const v384 = createVerify('sha384')
      .update(data)
      .verify(key.publicKey, bundle.envelope.signature.sig);
    expect([v256, v384]).toEqual([false, true]);
  });

  it('RSA-PSS on request, and the verifier accepts it', async () => {
    const key = newKey(tempDir(), 'k', 'rsa');
    const signer = await createKeySigner({
      privateKey: key.keyPath,
      rsaPadding: 'pss',
    });
    expect(signer.signedBy).toMatchObject({ scheme: 'rsa-pss-sha256' });
    const r = verifyKeyBundleSignature(
      parseBundle(await signer.sign(statement)),
      key.publicKey,
    );
    expect(r.signer.scheme).toBe('rsa-pss-sha256');
  });

  it('signs the same statement deterministically for Ed25519', async () => {
    const key = newKey(tempDir(), 'k', 'ed25519');
    const signer = await createKeySigner({ privateKey: key.keyPath });
    expect(await signer.sign(statement)).toEqual(await signer.sign(statement));
  });

  it('the reference test key signs bundles with its documented hint', async () => {
    const signer = await createKeySigner({
      privateKey: vectorPath('oms-reference/keys/signing-key.pem'),
    });
    expect(signer.signedBy).toMatchObject({
      hint: 'e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e',
      scheme: 'ecdsa-p384-sha384',
    });
  });
});

describe('private key loading', () => {
  function encryptedKey(): { file: string; dir: string } {
    const dir = tempDir();
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const file = join(dir, 'enc.pem');
    writeFileSync(
      file,
      privateKey.export({
        type: 'pkcs8',
        format: 'pem',
        cipher: 'aes-256-cbc',
        passphrase: 'pw',
      }),
    );
    return { file, dir };
  }

  it('an encrypted PKCS#8 key with its password', async () => {
    const { file } = encryptedKey();
    const key = await loadPrivateKey(file, 'pw');
    expect(key.asymmetricKeyType).toBe('ec');
  });

  it('an encrypted SEC1 (traditional) key with its password', async () => {
    const dir = tempDir();
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const file = join(dir, 'sec1.pem');
    writeFileSync(
      file,
      privateKey.export({
        type: 'sec1',
        format: 'pem',
        cipher: 'aes-128-cbc',
        passphrase: 'pw',
      }),
    );
    await expect(loadPrivateKey(file)).rejects.toHaveCode('PASSWORD_REQUIRED');
    expect(
      (await loadPrivateKey(file, Buffer.from('pw'))).asymmetricKeyType,
    ).toBe('ec');
  });

  it('PASSWORD_REQUIRED without a password, naming the file', async () => {
    const { file } = encryptedKey();
    const error = await loadPrivateKey(file).catch((e: unknown) => e);
    expect(error).toHaveCode('PASSWORD_REQUIRED');
    expect((error as Error).message).toContain(file);
    await expect(loadPrivateKey(file, '')).rejects.toHaveCode(
      'PASSWORD_REQUIRED',
    );
  });

  it('KEY_INVALID with a wrong password, naming the file', async () => {
    const { file } = encryptedKey();
    const error = await loadPrivateKey(file, 'wrong').catch((e: unknown) => e);
    expect(error).toHaveCode('KEY_INVALID');
    expect((error as Error).message).toContain(file);
    expect((error as Error).cause).toBeDefined();
  });

  it('KEY_INVALID for garbage, a public key, or an empty file', async () => {
    const dir = tempDir();
    const key = newKey(dir, 'k');
    writeFileSync(join(dir, 'garbage.pem'), 'not a key at all');
    writeFileSync(join(dir, 'empty.pem'), '');
    await expect(loadPrivateKey(join(dir, 'garbage.pem'))).rejects.toHaveCode(
      'KEY_INVALID',
    );
    await expect(loadPrivateKey(join(dir, 'empty.pem'))).rejects.toHaveCode(
      'KEY_INVALID',
    );
    await expect(loadPrivateKey(key.publicKeyPath)).rejects.toHaveCode(
      'KEY_INVALID',
    );
    await expect(loadPrivateKey(key.publicKey)).rejects.toHaveCode(
      'KEY_INVALID',
    );
  });

  it('IO_ERROR for a missing file', async () => {
    await expect(
      loadPrivateKey(join(tempDir(), 'missing.pem')),
    ).rejects.toHaveCode('IO_ERROR');
  });

  it('DER PKCS#8 bytes', async () => {
    const { privateKey } = generateKeyPairSync('ed25519');
    const key = await loadPrivateKey(
      privateKey.export({ type: 'pkcs8', format: 'der' }),
    );
    expect(key.asymmetricKeyType).toBe('ed25519');
  });

  it('UNSUPPORTED_KEY for secp256k1, small RSA keys, X25519 and Ed448', async () => {
    const keys = [
      generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).privateKey,
      generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey,
      generateKeyPairSync('x25519').privateKey,
      generateKeyPairSync('ed448').privateKey,
    ];
    for (const privateKey of keys) {
      await expect(createKeySigner({ privateKey })).rejects.toHaveCode(
        'UNSUPPORTED_KEY',
      );
    }
  });
});

describe('public key loading', () => {
  it('skips the text dump before -----BEGIN in the reference public key', async () => {
    const key = await loadPublicKey(
      vectorPath('oms-reference/keys/signing-key-pub.pem'),
    );
    expect(keyHint(key)).toBe(
      'e8450dec4eb99dae995da9af1bc2cc9f76ed669ee2e744f57abba763df3e3f8e',
    );
  });
  it('KEY_INVALID for garbage, naming the file', async () => {
    const file = join(tempDir(), 'pub.pem');
    writeFileSync(
      file,
      '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n',
    );
    const error = await loadPublicKey(file).catch((e: unknown) => e);
    expect(error).toHaveCode('KEY_INVALID');
    expect((error as Error).message).toContain(file);
  });
});
