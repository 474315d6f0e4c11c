// SPDX-License-Identifier: Apache-2.0
/* eslint-disable @typescript-eslint/no-explicit-any -- tests edit arbitrary bundle JSON */
// Threats against the bundle itself: edited payloads, swapped signatures,
// forged statements signed by a trusted key (to reach the checks after the
// signature), a compatibility-PAE downgrade, wrong keys and CAs, and bundles
// of another method.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compatPae } from '../../src/bundle/dsse.js';
import { IN_TOTO_PAYLOAD_TYPE } from '../../src/constants.js';
import { signWith } from '../../src/internal/keys.js';
import {
  computeRootDigest,
  encodeStatement,
} from '../../src/manifest/index.js';
import { signingScheme } from '../../src/sign/key.js';
import { signModel } from '../../src/sign/sign-model.js';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import type { VerifyModelSignatureOptions } from '../../src/verify/types.js';
import { resignStatement, signPayload } from '../helpers/forge.js';
import {
  createPki,
  newKey,
  type TestKey,
  type TestPki,
} from '../helpers/pki.js';
import { makeTree, tempDir } from '../helpers/tree.js';
import { vectorPath } from '../helpers/vectors.js';

let key: TestKey;
let other: TestKey;
let pki: TestPki;
beforeAll(() => {
  const dir = tempDir();
  key = newKey(dir, 'signer', 'P-384');
  other = newKey(dir, 'other', 'P-384');
  pki = createPki();
});
afterAll(() => pki.cleanup());

async function keySigned(): Promise<{ model: string; sig: string }> {
  const model = makeTree({ 'a.bin': 'aaaa', 'b.bin': 'bbbb' });
  const sig = join(tempDir(), 'model.sig');
  await signModel({
    method: 'key',
    modelPath: model,
    signaturePath: sig,
    privateKey: key.keyPath,
    concurrency: 0,
  });
  return { model, sig };
}

function byKey(
  model: string,
  sig: string,
  publicKey: string = key.publicKeyPath,
): Promise<unknown> {
  return verifyModelSignature({
    method: 'key',
    modelPath: model,
    bundlePath: sig,
    publicKey,
    concurrency: 0,
  });
}

function editBundle(sig: string, edit: (b: Record<string, any>) => void): void {
  const bundle = JSON.parse(readFileSync(sig, 'utf8')) as Record<string, any>;
  edit(bundle);
  writeFileSync(sig, JSON.stringify(bundle));
}

describe('edited bundles (no trusted key involved)', () => {
  it('an edited payload (a digest replaced) fails the signature', async () => {
    const { model, sig } = await keySigned();
    editBundle(sig, (b) => {
      const text = Buffer.from(b.dsseEnvelope.payload, 'base64')
        .toString()
        .replace(/"digest": "[0-9a-f]/, '"digest": "0');
      b.dsseEnvelope.payload = Buffer.from(text).toString('base64');
    });
    await expect(byKey(model, sig)).rejects.toHaveCode('SIGNATURE_INVALID');
  });

  it('a swapped signature from another bundle of the same key fails', async () => {
    const a = await keySigned();
    const b = makeTree({ 'z.bin': 'zz' });
    const bsig = join(tempDir(), 'b.sig');
    await signModel({
      method: 'key',
      modelPath: b,
      signaturePath: bsig,
      privateKey: key.keyPath,
      concurrency: 0,
    });
    const otherSig: string = JSON.parse(readFileSync(bsig, 'utf8')).dsseEnvelope
      .signatures[0].sig;
    editBundle(a.sig, (x) => {
      x.dsseEnvelope.signatures[0].sig = otherSig;
    });
    await expect(byKey(a.model, a.sig)).rejects.toHaveCode('SIGNATURE_INVALID');
  });

  it('only signatures[0] counts: a bad first signature before a good one fails', async () => {
    const { model, sig } = await keySigned();
    editBundle(sig, (b) => {
      const good = b.dsseEnvelope.signatures[0];
      b.dsseEnvelope.signatures = [
        { sig: Buffer.from('bad').toString('base64'), keyid: '' },
        good,
      ];
    });
    await expect(byKey(model, sig)).rejects.toHaveCode('SIGNATURE_INVALID');
  });

  it('extra signatures after a good one are ignored with a warning', async () => {
    const { model, sig } = await keySigned();
    editBundle(sig, (b) => {
      b.dsseEnvelope.signatures.push({
        sig: Buffer.from('junk').toString('base64'),
      });
    });
    const r = (await byKey(model, sig)) as { warnings: { code: string }[] };
    expect(r.warnings.map((w) => w.code)).toContain('EXTRA_SIGNATURES');
  });

  it('a truncated bundle is BUNDLE_MALFORMED', async () => {
    const { model, sig } = await keySigned();
    writeFileSync(sig, readFileSync(sig).subarray(0, 100));
    await expect(byKey(model, sig)).rejects.toHaveCode('BUNDLE_MALFORMED');
  });

  it('a missing bundle file is IO_ERROR', async () => {
    const model = makeTree({ 'a.bin': 'a' });
    await expect(byKey(model, join(tempDir(), 'none.sig'))).rejects.toHaveCode(
      'IO_ERROR',
    );
  });
});

describe('wrong signer', () => {
  it('wrong key: KEY_MISMATCH by the recorded hint', async () => {
    const { model, sig } = await keySigned();
    await expect(byKey(model, sig, other.publicKeyPath)).rejects.toHaveCode(
      'KEY_MISMATCH',
    );
  });

  it('wrong key with the hint removed: SIGNATURE_INVALID', async () => {
    const { model, sig } = await keySigned();
    editBundle(sig, (b) => {
      delete b.verificationMaterial.publicKey.hint;
    });
    await expect(byKey(model, sig, other.publicKeyPath)).rejects.toHaveCode(
      'SIGNATURE_INVALID',
    );
    const r = (await byKey(model, sig)) as { warnings: { code: string }[] };
    expect(r.warnings.map((w) => w.code)).toContain('NO_KEY_HINT');
  });

  it('wrong key against an old rawBytes bundle (v1.0.1): KEY_MISMATCH', async () => {
    const v = 'oms-reference/v1.0.1-elliptic-key';
    await expect(
      verifyModelSignature({
        method: 'key',
        modelPath: vectorPath(v),
        bundlePath: vectorPath(`${v}/model.sig`),
        ignorePaths: ['ignore-me'],
        publicKey: other.publicKeyPath,
      }),
    ).rejects.toHaveCode('KEY_MISMATCH');
  });

  it('wrong CA: CERTIFICATE_INVALID', async () => {
    const v = 'oms-reference/v1.1.0-certificate';
    await expect(
      verifyModelSignature({
        method: 'certificate',
        modelPath: vectorPath(v),
        bundlePath: vectorPath(`${v}/model.sig`),
        trustAnchors: [pki.root.certPath],
      }),
    ).rejects.toHaveCode('CERTIFICATE_INVALID');
  });

  it('an expired certificate (checked at the verification time, not notBefore): CERTIFICATE_INVALID', async () => {
    const v = 'oms-reference/v1.1.0-certificate';
    const options: VerifyModelSignatureOptions = {
      method: 'certificate',
      modelPath: vectorPath(v),
      bundlePath: vectorPath(`${v}/model.sig`),
      trustAnchors: [vectorPath('oms-reference/keys/ca-cert.pem')],
      verificationTime: new Date('2036-01-01T00:00:00Z'),
    };
    await expect(verifyModelSignature(options)).rejects.toHaveCode(
      'CERTIFICATE_INVALID',
    );
    const r = await verifyModelSignature({
      ...options,
      verificationTime: new Date('2030-01-01T00:00:00Z'),
    });
    expect(r.signingTimeSource).toBe('caller');
  });

  it('certificate verification without anchors is INVALID_OPTIONS', async () => {
    const v = 'oms-reference/v1.1.0-certificate';
    await expect(
      verifyModelSignature({
        method: 'certificate',
        modelPath: vectorPath(v),
        bundlePath: vectorPath(`${v}/model.sig`),
        trustAnchors: [],
      }),
    ).rejects.toHaveCode('INVALID_OPTIONS');
  });
});

describe('method confusion (METHOD_MISMATCH)', () => {
  const cases: [string, VerifyModelSignatureOptions['method'], string][] = [
    [
      'a key bundle verified as certificate',
      'certificate',
      'oms-reference/v1.1.0-elliptic-key',
    ],
    [
      'a key bundle verified as sigstore',
      'sigstore',
      'oms-reference/v1.1.0-elliptic-key',
    ],
    [
      'a certificate bundle verified as key',
      'key',
      'oms-reference/v1.1.0-certificate',
    ],
    [
      'a certificate bundle verified as sigstore',
      'sigstore',
      'oms-reference/v1.1.0-certificate',
    ],
    [
      'a sigstore bundle verified as key',
      'key',
      'oms-reference/v1.1.0-sigstore',
    ],
    [
      'a sigstore bundle verified as certificate',
      'certificate',
      'oms-reference/v1.1.0-sigstore',
    ],
  ];
  for (const [what, method, v] of cases) {
    it(what, async () => {
      const common = {
        modelPath: vectorPath(v),
        bundlePath: vectorPath(`${v}/model.sig`),
      };
      const options: VerifyModelSignatureOptions =
        method === 'key'
          ? {
              ...common,
              method,
              publicKey: vectorPath('oms-reference/keys/signing-key-pub.pem'),
            }
          : method === 'certificate'
            ? {
                ...common,
                method,
                trustAnchors: [vectorPath('oms-reference/keys/ca-cert.pem')],
              }
            : {
                ...common,
                method,
                identity: 'stefanb@us.ibm.com',
                issuer: 'https://sigstore.verify.ibm.com/oauth2',
              };
      await expect(verifyModelSignature(options)).rejects.toHaveCode(
        'METHOD_MISMATCH',
      );
    });
  }
});

describe('forged statements signed by the trusted key', () => {
  it('wrong payload type: STATEMENT_INVALID', async () => {
    const { model, sig } = await keySigned();
    const statement = Buffer.from(
      JSON.parse(readFileSync(sig, 'utf8')).dsseEnvelope.payload,
      'base64',
    );
    writeFileSync(
      sig,
      JSON.stringify(
        signPayload(key.privateKey, statement, 'application/json'),
      ),
    );
    await expect(byKey(model, sig)).rejects.toHaveCode('STATEMENT_INVALID');
  });

  const statementCases: [string, (s: Record<string, any>) => void, string][] = [
    [
      'wrong predicate type',
      (s) =>
        void (s.predicateType = 'https://example.com/wrong-predicate/v1.0'),
      'STATEMENT_INVALID',
    ],
    [
      'wrong statement type',
      (s) => void (s._type = 'https://in-toto.io/Statement/v0.1'),
      'STATEMENT_INVALID',
    ],
    ['no subject', (s) => void (s.subject = []), 'STATEMENT_INVALID'],
    [
      'two subjects',
      (s) => void s.subject.push(s.subject[0]),
      'STATEMENT_INVALID',
    ],
    ['no predicate', (s) => void delete s.predicate, 'STATEMENT_INVALID'],
    [
      'unknown hash algorithm',
      (s) => void (s.predicate.serialization.hash_type = 'md5'),
      'UNSUPPORTED_ALGORITHM',
    ],
    [
      'unknown serialization method',
      (s) => void (s.predicate.serialization.method = 'tar'),
      'UNSUPPORTED_ALGORITHM',
    ],
    [
      'resources edited without updating the root digest',
      (s) => void (s.predicate.resources[0].digest = 'f'.repeat(64)),
      'MANIFEST_INCONSISTENT',
    ],
    [
      'a resource removed without updating the root digest',
      (s) => void s.predicate.resources.pop(),
      'MANIFEST_INCONSISTENT',
    ],
  ];
  for (const [what, edit, code] of statementCases) {
    it(`${what}: ${code}`, async () => {
      const { model, sig } = await keySigned();
      resignStatement(sig, key.privateKey, edit);
      await expect(byKey(model, sig)).rejects.toHaveCode(code);
    });
  }

  /** Edit the resources and recompute the root, so only the resource checks can catch it. */
  function withResources(
    edit: (
      resources: { name: string; algorithm: string; digest: string }[],
    ) => void,
  ) {
    return (s: Record<string, any>): void => {
      edit(s.predicate.resources);
      s.subject[0].digest.sha256 = computeRootDigest(s.predicate.resources);
    };
  }

  const resourceCases: [
    string,
    (r: { name: string; algorithm: string; digest: string }[]) => void,
  ][] = [
    ['duplicate resource names', (r) => void r.push({ ...r[0]! })],
    [
      'a ../ name (path traversal)',
      (r) => void (r[0]!.name = '../../etc/passwd'),
    ],
    ['an absolute name', (r) => void (r[0]!.name = '/etc/passwd')],
    [
      'a name with an inner .. component',
      (r) => void (r[0]!.name = 'a/../../b'),
    ],
    ['an empty resource list', (r) => void r.splice(0)],
    ['a digest of the wrong length', (r) => void (r[0]!.digest = 'ab')],
    [
      'an algorithm that disagrees with the serialization',
      (r) => void (r[0]!.algorithm = 'blake2b'),
    ],
  ];
  for (const [what, edit] of resourceCases) {
    it(`${what}: MANIFEST_INCONSISTENT`, async () => {
      const { model, sig } = await keySigned();
      resignStatement(sig, key.privateKey, withResources(edit));
      await expect(byKey(model, sig)).rejects.toHaveCode(
        'MANIFEST_INCONSISTENT',
      );
    });
  }

  it('a reordered resource list with a recomputed root still verifies (reference semantics)', async () => {
    const { model, sig } = await keySigned();
    resignStatement(
      sig,
      key.privateKey,
      withResources((r) => void r.reverse()),
    );
    await expect(byKey(model, sig)).resolves.toMatchObject({ ok: true });
  });

  it('compat-PAE downgrade: a v1.0 statement signed over the v0.2 encoding is rejected', async () => {
    const { model, sig } = await keySigned();
    const payload = Buffer.from(
      JSON.parse(readFileSync(sig, 'utf8')).dsseEnvelope.payload,
      'base64',
    );
    const legacySig = signWith(
      key.privateKey,
      signingScheme(key.privateKey),
      compatPae(IN_TOTO_PAYLOAD_TYPE, payload),
    );
    editBundle(sig, (b) => {
      b.dsseEnvelope.signatures[0].sig = legacySig.toString('base64');
    });
    await expect(byKey(model, sig)).rejects.toHaveCode('SIGNATURE_INVALID');
  });

  it('a legacy v0.1 statement over the compatibility encoding is accepted (key bundles, curve hash)', async () => {
    const model = makeTree({ 'signme-1': 'one', 'signme-2': 'two' });
    const { createHash } = await import('node:crypto');
    const sha = (s: string): string =>
      createHash('sha256').update(s).digest('hex');
    const statement = Buffer.from(
      JSON.stringify(
        {
          _type: 'https://in-toto.io/Statement/v1',
          subject: [
            {
              name: 'signme-1',
              digest: { sha256: sha('one') },
              annotations: { actual_hash_algorithm: 'file-sha256' },
            },
            {
              name: 'signme-2',
              digest: { sha256: sha('two') },
              annotations: { actual_hash_algorithm: 'file-sha256' },
            },
          ],
          predicateType: 'https://model_signing/Digests/v0.1',
          predicate: { unused: 'Unused, just passed due to API requirements' },
        },
        null,
        2,
      ),
    );
    const bundle = signPayload(key.privateKey, statement);
    const legacySig = signWith(
      key.privateKey,
      signingScheme(key.privateKey),
      compatPae(IN_TOTO_PAYLOAD_TYPE, statement),
    );
    (bundle as any).dsseEnvelope.signatures[0].sig =
      legacySig.toString('base64');
    const sig = join(tempDir(), 'legacy.sig');
    writeFileSync(sig, JSON.stringify(bundle));
    const r = (await byKey(model, sig)) as {
      warnings: { code: string }[];
      predicateType: string;
    };
    expect(r.predicateType).toBe('https://model_signing/Digests/v0.1');
    expect(r.warnings.map((w) => w.code)).toEqual(
      expect.arrayContaining(['LEGACY_PAE', 'LEGACY_PREDICATE']),
    );
  });

  it('a statement we encode ourselves but sign with another payload type is rejected', async () => {
    const model = makeTree({ 'a.bin': 'a' });
    const { hashModel } = await import('../../src/manifest/index.js');
    const { manifest } = await hashModel(model, { concurrency: 0 });
    const sig = join(tempDir(), 'm.sig');
    writeFileSync(
      sig,
      JSON.stringify(
        signPayload(key.privateKey, encodeStatement(manifest), 'text/plain'),
      ),
    );
    await expect(byKey(model, sig)).rejects.toHaveCode('STATEMENT_INVALID');
  });
});
