// SPDX-License-Identifier: Apache-2.0
// What a new user's walkthrough of the packed packages found in the signing
// path: DER private keys in the encodings openssl writes (SEC1, PKCS#1,
// encrypted PKCS#8), errors that name the key file, `rsaPadding: 'pss'` with a
// key that is not RSA, mistakes in the signer's certificate material as
// KEY_INVALID (a usage error, not a verdict), and messages that name the
// library's options (`details.option`) for the CLI to name its flags.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isModelSealError } from '../../src/errors.js';
import { loadPrivateKey, loadPublicKey } from '../../src/internal/keys.js';
import { createCertificateSigner } from '../../src/sign/certificate.js';
import { resolveIdentityProvider } from '../../src/sign/identity.js';
import { createKeySigner } from '../../src/sign/key.js';
import { signModel } from '../../src/sign/sign-model.js';
import { createPki } from '../helpers/pki.js';
import { makeTree, tempDir } from '../helpers/tree.js';

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** The error a promise rejects with (the test fails when it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof Error)) throw new Error('expected a rejection');
  return error;
}

describe('DER private keys as openssl writes them', () => {
  const dir = tempDir();
  const ecPem = join(dir, 'ec.pem');
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', ecPem);
  const rsaPem = join(dir, 'rsa.pem');
  openssl('genrsa', '-out', rsaPem, '2048');

  it('SEC1 DER of an EC key (openssl ec -outform DER) loads and signs', async () => {
    const der = join(dir, 'ec.der');
    openssl('ec', '-in', ecPem, '-outform', 'DER', '-out', der);
    const key = await loadPrivateKey(der);
    expect(key.asymmetricKeyType).toBe('ec');
    const signer = await createKeySigner({ privateKey: der });
    expect(signer.signedBy).toMatchObject({ keyType: 'ecdsa-p256' });
  });

  it('PKCS#1 DER of an RSA key (openssl rsa -traditional -outform DER) loads', async () => {
    const der = join(dir, 'rsa1.der');
    openssl(
      'rsa',
      '-in',
      rsaPem,
      '-traditional',
      '-outform',
      'DER',
      '-out',
      der,
    );
    const key = await loadPrivateKey(der);
    expect(key.asymmetricKeyDetails?.modulusLength).toBe(2048);
  });

  it('encrypted PKCS#8 DER: PASSWORD_REQUIRED without the password, KEY_INVALID "cannot decrypt" with a wrong one', async () => {
    const der = join(dir, 'enc.der');
    openssl(
      'pkcs8',
      '-topk8',
      '-in',
      ecPem,
      '-outform',
      'DER',
      '-out',
      der,
      '-passout',
      'pass:secret',
    );
    expect((await loadPrivateKey(der, 'secret')).asymmetricKeyType).toBe('ec');
    const missing = await rejection(loadPrivateKey(der));
    expect(missing).toHaveCode('PASSWORD_REQUIRED');
    const wrong = await rejection(loadPrivateKey(der, 'wrong'));
    expect(wrong).toHaveCode('KEY_INVALID');
    expect(wrong.message).toBe(
      `cannot decrypt private key ${der}: wrong password or damaged key`,
    );
  });

  it('a DER file that is no key is still KEY_INVALID naming the file', async () => {
    const der = join(dir, 'junk.der');
    writeFileSync(der, Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00]));
    const error = await rejection(loadPrivateKey(der));
    expect(error).toHaveCode('KEY_INVALID');
    expect(error.message).toContain(der);
  });

  it('PKCS#1 DER public key (openssl rsa -RSAPublicKey_out -outform DER) loads', async () => {
    const der = join(dir, 'rsapub1.der');
    openssl(
      'rsa',
      '-in',
      rsaPem,
      '-RSAPublicKey_out',
      '-outform',
      'DER',
      '-out',
      der,
    );
    const key = await loadPublicKey(der);
    expect(key.asymmetricKeyType).toBe('rsa');
  });
});

describe('UNSUPPORTED_KEY names the key file', () => {
  it('an RSA key of 1024 bits: the path in the message and details.path', async () => {
    const dir = tempDir();
    const file = join(dir, 'rsa1024.pem');
    openssl('genrsa', '-out', file, '1024');
    const error = await rejection(createKeySigner({ privateKey: file }));
    expect(error).toHaveCode('UNSUPPORTED_KEY');
    expect(error.message).toBe(
      `unsupported private key ${file}: RSA keys need at least 2048 bits, this one has 1024`,
    );
    expect(isModelSealError(error) && error.details).toEqual({ path: file });
  });

  it('a curve we do not sign with, given as a file to the certificate signer', async () => {
    const dir = tempDir();
    const file = join(dir, 'k1.pem');
    openssl('ecparam', '-name', 'secp256k1', '-genkey', '-noout', '-out', file);
    const error = await rejection(
      createCertificateSigner({ privateKey: file, signingCertificate: file }),
    );
    expect(error).toHaveCode('UNSUPPORTED_KEY');
    expect(error.message).toMatch(
      new RegExp(`^unsupported private key ${file}: elliptic curve secp256k1`),
    );
  });
});

describe("rsaPadding: 'pss' with a key that is not RSA", () => {
  it.each([
    ['ed25519', ['genpkey', '-algorithm', 'ed25519'], 'ed25519'],
    [
      'P-256',
      ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
      'ecdsa-p256',
    ],
  ])('%s: INVALID_OPTIONS naming the key type', async (_, args, keyType) => {
    const file = join(tempDir(), 'k.pem');
    openssl(...args, '-out', file);
    const error = await rejection(
      createKeySigner({ privateKey: file, rsaPadding: 'pss' }),
    );
    expect(error).toHaveCode('INVALID_OPTIONS');
    expect(error.message).toBe(
      `rsaPadding pss applies to RSA keys only: private key ${file} is ${keyType}`,
    );
    expect(isModelSealError(error) && error.details).toMatchObject({
      option: 'rsaPadding',
      keyType,
      path: file,
    });
    // pkcs1v15 (the default) stays accepted for any key.
    const signer = await createKeySigner({
      privateKey: file,
      rsaPadding: 'pkcs1v15',
    });
    expect(signer.signedBy).toMatchObject({ keyType });
  });
});

describe('the signer’s certificate material: KEY_INVALID when signing', () => {
  it('a signing certificate for another key', async () => {
    const pki = createPki();
    try {
      const error = await rejection(
        createCertificateSigner({
          privateKey: pki.intermediate.keyPath,
          signingCertificate: pki.leaf.certPath,
        }),
      );
      expect(error).toHaveCode('KEY_INVALID');
      expect(error.message).toMatch(
        /does not certify the private key: it certifies the key sha256:[0-9a-f]{64}, the private key is sha256:[0-9a-f]{64}$/,
      );
      expect(isModelSealError(error) && error.details).toMatchObject({
        path: pki.leaf.certPath,
      });
    } finally {
      pki.cleanup();
    }
  });

  it('a public key given as the signing certificate or in the chain', async () => {
    const pki = createPki();
    try {
      for (const options of [
        { signingCertificate: pki.leaf.publicKeyPath },
        {
          signingCertificate: pki.leaf.certPath,
          certificateChain: [pki.leaf.publicKeyPath],
        },
      ]) {
        const error = await rejection(
          createCertificateSigner({ privateKey: pki.leaf.keyPath, ...options }),
        );
        expect(error).toHaveCode('KEY_INVALID');
        expect(error.message).toBe(
          `no certificate found in ${pki.leaf.publicKeyPath}`,
        );
        expect(isModelSealError(error) && error.details).toEqual({
          path: pki.leaf.publicKeyPath,
        });
      }
    } finally {
      pki.cleanup();
    }
  });
});

describe('signModel messages', () => {
  const dir = tempDir();
  const key = join(dir, 'key.pem');
  openssl('genpkey', '-algorithm', 'ed25519', '-out', key);

  it('a missing model path: the path and the reason, once', async () => {
    const model = join(dir, 'nomodel');
    const error = await rejection(
      signModel({
        method: 'key',
        modelPath: model,
        signaturePath: join(dir, 'a.sig'),
        privateKey: key,
      }),
    );
    expect(error).toHaveCode('IO_ERROR');
    expect(error.message).toBe(`${model}: no such file or directory`);
  });

  it('FILE_EXISTS names the option force: true and sets details.option', async () => {
    const sig = join(dir, 'exists.sig');
    writeFileSync(sig, 'keep');
    const error = await rejection(
      signModel({
        method: 'key',
        modelPath: makeTree({ 'w.bin': 'w' }),
        signaturePath: sig,
        privateKey: key,
      }),
    );
    expect(error).toHaveCode('FILE_EXISTS');
    expect(error.message).toBe(
      `${sig} already exists: set force: true to overwrite it`,
    );
    expect(isModelSealError(error) && error.details).toEqual({
      path: sig,
      option: 'force',
    });
  });

  it('an empty folder with the scan gate: "no file to sign", not "to scan"', async () => {
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const error = await rejection(
      signModel({
        method: 'key',
        modelPath: empty,
        signaturePath: join(dir, 'empty.sig'),
        privateKey: key,
        scan: {},
      }),
    );
    expect(error).toHaveCode('EMPTY_MODEL');
    expect(error.message).toBe(`${empty}: no file to sign after ignores`);
  });
});

describe('OIDC: no token source names the options', () => {
  it('details.option identityToken; the message names the library options', () => {
    let error: unknown;
    try {
      resolveIdentityProvider({ useAmbientCredentials: false });
    } catch (e) {
      error = e;
    }
    expect(error).toHaveCode('OIDC_TOKEN_UNAVAILABLE');
    expect((error as Error).message).toMatch(/identityToken/);
    expect(isModelSealError(error) && error.details).toEqual({
      option: 'identityToken',
      source: 'none',
    });
  });
});
