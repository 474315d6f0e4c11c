// SPDX-License-Identifier: Apache-2.0
// PKCS#11 signing against a real SoftHSM2 token initialised here: keys made
// inside the token, a model signed with each, the key bundle verified with
// the public key read from the token (and written out as PEM), and the
// failures a user meets (wrong PIN, missing module, unknown key) as one-line
// errors.
import { createPublicKey } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signModel, verifyModelSignature } from '../../src/index.js';
import {
  createPkcs11Signer,
  exportPkcs11PublicKey,
  parsePkcs11Uri,
  statementSignerFrom,
} from '../../src/sign/index.js';
import { makeTree, tempDir } from '../helpers/tree.js';
import {
  USER_PIN,
  generateKeyPair,
  initToken,
  softhsm,
  type Token,
} from './pkcs11-token.js';

describe('parsePkcs11Uri (RFC 7512)', () => {
  it('decodes path and query attributes', () => {
    const uri = parsePkcs11Uri(
      'pkcs11:token=my%20token;object=key%2F1;id=%01%ff;type=private?module-path=/usr/lib/x.so&pin-value=12%2634',
    );
    expect(uri).toEqual({
      token: 'my token',
      object: 'key/1',
      id: Buffer.from([1, 255]),
      type: 'private',
      modulePath: '/usr/lib/x.so',
      pinValue: '12&34',
    });
  });
  it.each([
    ['file:/x', /must start with "pkcs11:"/],
    ['pkcs11:token=a;token=b;object=k', /"token" is given twice/],
    ['pkcs11:token=a;colour=red;object=k', /unknown path attribute "colour"/],
    ['pkcs11:token=a', /name the key/],
    ['pkcs11:object=k%zz', /bad percent-encoding/],
    ['pkcs11:object=k?module-name=softhsm2', /module-name is not supported/],
    ['pkcs11:object=k?pin-value=1&pin-source=/p', /pin-value or pin-source/],
  ])('refuses %s', (text, message) => {
    expect(() => parsePkcs11Uri(text)).toThrowError(message);
  });
});

const hsm = softhsm();
if ('skip' in hsm) console.warn(`pkcs11 tests skipped: ${hsm.skip}`);

// CI (.ci/run sets CI) must run them: scripts/setup.sh installs softhsm2 there.
it.runIf('skip' in hsm && (process.env.CI ?? '') !== '')(
  'in CI the SoftHSM2 tests run (setup installs softhsm2)',
  () => {
    expect.fail(
      `PKCS#11 tests cannot run in CI: ${(hsm as { skip: string }).skip}`,
    );
  },
);

describe.skipIf('skip' in hsm)('PKCS#11 signing with SoftHSM2', () => {
  let token: Token;
  const keys = [
    ['P-256', 'ec-p256', 'ecdsa-p256-sha256'],
    ['P-384', 'ec-p384', 'ecdsa-p384-sha384'],
    ['RSA-2048', 'rsa-2048', 'rsa-pkcs1v15-sha256'],
  ] as const;
  beforeAll(() => {
    token = initToken((hsm as { module: string }).module);
    keys.forEach(([kind, label], i) =>
      generateKeyPair(token, kind, label, Buffer.from([0x10 + i])),
    );
  });
  afterAll(() => token?.cleanup());

  const model = makeTree({
    'config.json': '{"a":1}',
    'weights.bin': 'w'.repeat(4096),
  });

  it.each(keys)(
    '%s: signs a model; the bundle verifies with the exported public key',
    async (_kind, label, scheme) => {
      const uri = token.uri(label, `pin-value=${USER_PIN}`);
      const signer = await createPkcs11Signer({ uri });
      expect(signer.tokenLabel).toBe(token.label);
      expect(signer.description).toBe(
        `pkcs11:token=${token.label};object=${label}`,
      );
      const signaturePath = join(tempDir(), 'model.sig');
      const result = await signModel({
        method: 'signer',
        signer: statementSignerFrom(signer),
        modelPath: model,
        signaturePath,
      });
      expect(result.method).toBe('key');
      expect(result.signedBy).toMatchObject({ method: 'key', scheme });
      const pem = await exportPkcs11PublicKey({ uri });
      const pubFile = join(tempDir(), 'pub.pem');
      writeFileSync(pubFile, pem);
      const verified = await verifyModelSignature({
        method: 'key',
        modelPath: model,
        bundlePath: signaturePath,
        publicKey: pubFile,
      });
      expect(verified.manifest.rootDigest).toBe(result.manifest.rootDigest);
      // The key hint in the bundle is the hash of that same PEM.
      const bundle = JSON.parse(readFileSync(signaturePath, 'utf8')) as {
        verificationMaterial: { publicKey: { hint: string } };
      };
      expect(bundle.verificationMaterial.publicKey.hint).toBe(
        result.signedBy.method === 'key' ? result.signedBy.hint : '',
      );
      // Another key of the same token does not verify it.
      const otherLabel = keys.find((k) => k[1] !== label)![1];
      const otherPem = join(tempDir(), 'other.pem');
      writeFileSync(
        otherPem,
        await exportPkcs11PublicKey({
          uri: token.uri(otherLabel),
          pin: USER_PIN,
        }),
      );
      await expect(
        verifyModelSignature({
          method: 'key',
          modelPath: model,
          bundlePath: signaturePath,
          publicKey: otherPem,
        }),
      ).rejects.toMatchObject({ code: 'KEY_MISMATCH' });
    },
  );

  it('RSA with PSS padding (CKM_SHA256_RSA_PKCS_PSS)', async () => {
    const signer = await createPkcs11Signer({
      uri: token.uri('rsa-2048'),
      pin: USER_PIN,
      rsaPadding: 'pss',
    });
    const signaturePath = join(tempDir(), 'model.sig');
    const result = await signModel({
      method: 'signer',
      signer: statementSignerFrom(signer),
      modelPath: model,
      signaturePath,
    });
    expect(result.signedBy).toMatchObject({ scheme: 'rsa-pss-sha256' });
    await verifyModelSignature({
      method: 'key',
      modelPath: model,
      bundlePath: signaturePath,
      publicKey: signer.publicKey,
    });
  });

  it('selects the key by id and reads the PIN from pin-source', async () => {
    const pinFile = join(tempDir(), 'pin');
    writeFileSync(pinFile, `${USER_PIN}\n`);
    const signer = await createPkcs11Signer({
      uri: `pkcs11:token=${token.label};id=%11?module-path=${token.module}&pin-source=file://${pinFile}`,
    });
    const expected = createPublicKey(
      await exportPkcs11PublicKey({ uri: token.uri('ec-p384'), pin: USER_PIN }),
    );
    expect(signer.publicKey.equals(expected)).toBe(true);
  });

  const oneLine = (error: unknown): string => {
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    return message;
  };

  it('a wrong PIN is a one-line KEY_INVALID error', async () => {
    const error = await createPkcs11Signer({
      uri: token.uri('ec-p256', 'pin-value=000000'),
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'KEY_INVALID' });
    expect(oneLine(error)).toBe(
      `login to the PKCS#11 token "${token.label}" failed: wrong PIN (CKR_PIN_INCORRECT)`,
    );
  });

  it('no PIN is PASSWORD_REQUIRED', async () => {
    await expect(
      createPkcs11Signer({ uri: token.uri('ec-p256') }),
    ).rejects.toMatchObject({ code: 'PASSWORD_REQUIRED' });
  });

  it('a missing module is a one-line IO_ERROR naming it', async () => {
    const missing = join(tempDir(), 'no-such-module.so');
    const error = await createPkcs11Signer({
      uri: token.uri('ec-p256', `pin-value=${USER_PIN}`),
      modulePath: missing,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'IO_ERROR' });
    expect(oneLine(error)).toMatch(
      new RegExp(`^cannot load the PKCS#11 module ${missing}: `),
    );
  });

  it('an unknown token or key is KEY_INVALID', async () => {
    await expect(
      createPkcs11Signer({
        uri: `pkcs11:token=nope;object=ec-p256?module-path=${token.module}`,
        pin: USER_PIN,
      }),
    ).rejects.toThrowError(
      /no PKCS#11 token matches pkcs11:token=nope;object=ec-p256/,
    );
    await expect(
      createPkcs11Signer({ uri: token.uri('nope'), pin: USER_PIN }),
    ).rejects.toThrowError(
      /no private key pkcs11:token=modelseal-test;object=nope on token "modelseal-test"/,
    );
  });

  it('a signer whose signatures do not match its public key is refused before writing', async () => {
    const p256 = await createPkcs11Signer({
      uri: token.uri('ec-p256'),
      pin: USER_PIN,
    });
    const p384 = await createPkcs11Signer({
      uri: token.uri('ec-p384'),
      pin: USER_PIN,
    });
    const signaturePath = join(tempDir(), 'model.sig');
    await expect(
      signModel({
        method: 'signer',
        signer: statementSignerFrom({
          publicKey: p256.publicKey,
          description: 'mixed-up adapter',
          sign: (data) => p384.sign(data),
        }),
        modelPath: model,
        signaturePath,
      }),
    ).rejects.toThrowError(
      /mixed-up adapter produced a signature that does not verify/,
    );
  });
});
