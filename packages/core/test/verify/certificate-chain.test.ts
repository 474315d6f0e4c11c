// SPDX-License-Identifier: Apache-2.0
// Certificate bundles: path building by signature (oms-format §14.2), against
// a PKI made with openssl for each case, and the attacks it must stop.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBundle } from '../../src/bundle/read.js';
import type { ParsedBundle } from '../../src/bundle/types.js';
import { createCertificateSigner } from '../../src/sign/certificate.js';
import { buildCertificatePath } from '../../src/verify/chain.js';
import { verifyCertificateBundleSignature } from '../../src/verify/certificate.js';
import {
  CA_EXTENSIONS,
  createPki,
  issue,
  LEAF_EXTENSIONS,
  type TestCert,
  type TestPki,
} from '../helpers/pki.js';
import { vectorPath } from '../helpers/vectors.js';

const statement = Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}');
const x509 = (c: TestCert | string): X509Certificate =>
  new X509Certificate(readFileSync(typeof c === 'string' ? c : c.certPath));

async function signedBy(
  leaf: TestCert,
  chain: TestCert[],
): Promise<ParsedBundle> {
  const { signer } = await createCertificateSigner({
    privateKey: leaf.keyPath,
    signingCertificate: leaf.certPath,
    certificateChain: chain.map((c) => c.certPath),
  });
  return parseBundle(await signer.sign(statement));
}

let pki: TestPki;
beforeAll(() => {
  pki = createPki({ rootKeyType: 'rsa' });
});
afterAll(() => pki.cleanup());

describe('certificate bundles signed by us', () => {
  it('verify to the root: leaf, intermediate, root', async () => {
    const bundle = await signedBy(pki.leaf, [pki.intermediate]);
    expect(
      bundle.certificates.map((d) => new X509Certificate(d).subject),
    ).toEqual(['CN=leaf', 'CN=intermediate-ca']);
    const r = verifyCertificateBundleSignature(bundle, [x509(pki.root)]);
    expect(r.signer.pathLength).toBe(3);
    expect(r.signer.anchor.subject).toBe('CN=root-ca');
    expect(r.signer.certificate.subject).toBe('CN=leaf');
    expect(r.validityTimeSource).toBe('current-time');
  });

  it('verify with the intermediate as the only anchor', async () => {
    const bundle = await signedBy(pki.leaf, [pki.intermediate]);
    const r = verifyCertificateBundleSignature(bundle, [
      x509(pki.intermediate),
    ]);
    expect(r.signer.pathLength).toBe(2);
  });

  it('wrong CA: another root with the same name fails (CERTIFICATE_INVALID)', async () => {
    const other = createPki();
    try {
      const bundle = await signedBy(pki.leaf, [pki.intermediate]);
      expect(x509(other.root).subject).toBe(x509(pki.root).subject);
      expect(() =>
        verifyCertificateBundleSignature(bundle, [x509(other.root)]),
      ).toThrowWithCode('CERTIFICATE_INVALID');
    } finally {
      other.cleanup();
    }
  });

  it('a missing intermediate fails', async () => {
    const bundle = await signedBy(pki.leaf, []);
    expect(() =>
      verifyCertificateBundleSignature(bundle, [x509(pki.root)]),
    ).toThrowWithCode('CERTIFICATE_INVALID');
  });

  it('expired and not-yet-valid at the verification time fail; the result names the caller time', async () => {
    const bundle = await signedBy(pki.leaf, [pki.intermediate]);
    const later = new Date(Date.now() + 60 * 86_400_000);
    const earlier = new Date(Date.now() - 86_400_000);
    for (const verificationTime of [later, earlier]) {
      expect(() =>
        verifyCertificateBundleSignature(bundle, [x509(pki.root)], {
          verificationTime,
        }),
      ).toThrowWithCode('CERTIFICATE_INVALID');
    }
    const soon = new Date(Date.now() + 86_400_000);
    const r = verifyCertificateBundleSignature(bundle, [x509(pki.root)], {
      verificationTime: soon,
    });
    expect(r.validityTimeSource).toBe('caller');
    expect(r.validityTime).toEqual(soon);
  });

  it('the signature is checked with the leaf key (a swapped signature fails)', async () => {
    const a = await signedBy(pki.leaf, [pki.intermediate]);
    const b = parseBundle(
      await (
        await createCertificateSigner({
          privateKey: pki.leaf.keyPath,
          signingCertificate: pki.leaf.certPath,
        })
      ).signer.sign(Buffer.from('{"other":1}')),
    );
    const swapped: ParsedBundle = {
      ...a,
      envelope: { ...a.envelope, signature: b.envelope.signature },
    };
    expect(() =>
      verifyCertificateBundleSignature(swapped, [x509(pki.root)]),
    ).toThrowWithCode('SIGNATURE_INVALID');
  });

  it('no trust anchors is a usage error', async () => {
    const bundle = await signedBy(pki.leaf, [pki.intermediate]);
    expect(() => verifyCertificateBundleSignature(bundle, [])).toThrowWithCode(
      'INVALID_OPTIONS',
    );
  });

  it('a key bundle is METHOD_MISMATCH', async () => {
    const { createKeySigner } = await import('../../src/sign/key.js');
    const bundle = parseBundle(
      await (
        await createKeySigner({ privateKey: pki.leaf.keyPath })
      ).sign(statement),
    );
    expect(() =>
      verifyCertificateBundleSignature(bundle, [x509(pki.root)]),
    ).toThrowWithCode('METHOD_MISMATCH');
  });
});

describe('path building by signature, not by name', () => {
  it('the reference PKI: leaf subject = issuer = CN=intermediate-ca is not self-signed', () => {
    const keys = 'oms-reference/keys/';
    const leaf = x509(vectorPath(`${keys}signing-key-cert.pem`));
    expect(leaf.subject).toBe(leaf.issuer);
    const inter = x509(vectorPath(`${keys}int-ca-cert.pem`));
    const root = x509(vectorPath(`${keys}ca-cert.pem`));
    const leafValid = new Date('2030-01-01T00:00:00Z');
    expect(
      buildCertificatePath(leaf, [inter], [root], leafValid).path,
    ).toHaveLength(3);
    // Trusting only the leaf's issuer *name* is not enough: the root alone without the intermediate fails.
    expect(() =>
      buildCertificatePath(leaf, [], [root], leafValid),
    ).toThrowWithCode('CERTIFICATE_INVALID');
  });

  it('name-collision attack: a forged intermediate with the real name does not reach the root', () => {
    const forgedInter = issue(pki.dir, {
      name: 'forged-int',
      subject: '/CN=intermediate-ca',
      days: 30,
    });
    const forgedLeaf = issue(pki.dir, {
      name: 'forged-leaf',
      subject: '/CN=leaf',
      issuer: forgedInter,
      extensions: LEAF_EXTENSIONS,
    });
    expect(() =>
      buildCertificatePath(
        x509(forgedLeaf),
        [x509(forgedInter), x509(pki.intermediate)],
        [x509(pki.root)],
        new Date(),
      ),
    ).toThrowWithCode('CERTIFICATE_INVALID');
  });

  it('a self-signed leaf given as the anchor is accepted directly', () => {
    const self = issue(pki.dir, {
      name: 'self',
      extensions: [
        'keyUsage=critical,digitalSignature',
        'subjectKeyIdentifier=hash',
      ],
    });
    const r = buildCertificatePath(
      x509(self),
      [x509(self)],
      [x509(self)],
      new Date(),
    );
    expect(r.path).toHaveLength(1);
  });

  it('a self-signed leaf that is not an anchor fails', () => {
    const self = issue(pki.dir, {
      name: 'self2',
      extensions: LEAF_EXTENSIONS.slice(0, 3),
    });
    expect(() =>
      buildCertificatePath(x509(self), [], [x509(pki.root)], new Date()),
    ).toThrowWithCode('CERTIFICATE_INVALID');
  });

  it('an intermediate that is not a CA cannot extend the path', () => {
    const notCA = issue(pki.dir, {
      name: 'not-ca',
      issuer: pki.root,
      extensions: [
        'keyUsage=critical,keyCertSign,digitalSignature',
        'subjectKeyIdentifier=hash',
        'authorityKeyIdentifier=keyid',
      ],
    });
    const leaf = issue(pki.dir, {
      name: 'leaf-under-not-ca',
      issuer: notCA,
      extensions: LEAF_EXTENSIONS,
    });
    expect(() =>
      buildCertificatePath(
        x509(leaf),
        [x509(notCA)],
        [x509(pki.root)],
        new Date(),
      ),
    ).toThrowWithCode('CERTIFICATE_INVALID');
  });

  it('pathLenConstraint is enforced on intermediates', () => {
    const int1 = issue(pki.dir, {
      name: 'int1',
      issuer: pki.root,
      extensions: [
        'basicConstraints=critical,CA:TRUE,pathlen:0',
        ...CA_EXTENSIONS.slice(1),
      ],
    });
    const int2 = issue(pki.dir, { name: 'int2', issuer: int1 });
    const leaf = issue(pki.dir, {
      name: 'leaf-deep',
      issuer: int2,
      extensions: LEAF_EXTENSIONS,
    });
    expect(() =>
      buildCertificatePath(
        x509(leaf),
        [x509(int2), x509(int1)],
        [x509(pki.root)],
        new Date(),
      ),
    ).toThrowWithCode('CERTIFICATE_INVALID');
    // Without the constraint the same shape verifies.
    const int1b = issue(pki.dir, { name: 'int1b', issuer: pki.root });
    const int2b = issue(pki.dir, { name: 'int2b', issuer: int1b });
    const leafb = issue(pki.dir, {
      name: 'leaf-deep-b',
      issuer: int2b,
      extensions: LEAF_EXTENSIONS,
    });
    expect(
      buildCertificatePath(
        x509(leafb),
        [x509(int2b), x509(int1b)],
        [x509(pki.root)],
        new Date(),
      ).path,
    ).toHaveLength(4);
  });
});

describe('leaf usage', () => {
  const cases: [string, string[], boolean][] = [
    [
      'keyUsage digitalSignature only',
      ['keyUsage=critical,digitalSignature'],
      true,
    ],
    ['extKeyUsage codeSigning only', ['extendedKeyUsage=codeSigning'], true],
    [
      'keyEncipherment + serverAuth',
      ['keyUsage=critical,keyEncipherment', 'extendedKeyUsage=serverAuth'],
      false,
    ],
    ['no usage extensions at all', ['basicConstraints=CA:FALSE'], false],
  ];
  for (const [what, extensions, ok] of cases) {
    it(`${what}: ${ok ? 'may' : 'may not'} sign`, () => {
      const leaf = issue(pki.dir, {
        name: `usage-${what.replace(/\W+/g, '-')}`,
        issuer: pki.intermediate,
        extensions: [...extensions, 'authorityKeyIdentifier=keyid'],
      });
      const run = (): unknown =>
        buildCertificatePath(
          x509(leaf),
          [x509(pki.intermediate)],
          [x509(pki.root)],
          new Date(),
        );
      if (ok) expect(run()).toBeDefined();
      else expect(run).toThrowWithCode('CERTIFICATE_INVALID');
    });
  }

  it('an unknown critical extension is rejected', () => {
    const leaf = issue(pki.dir, {
      name: 'critical-unknown',
      issuer: pki.intermediate,
      extensions: [
        ...LEAF_EXTENSIONS,
        '1.2.3.4=critical,ASN1:UTF8String:hello',
      ],
    });
    expect(() =>
      buildCertificatePath(
        x509(leaf),
        [x509(pki.intermediate)],
        [x509(pki.root)],
        new Date(),
      ),
    ).toThrowWithCode('CERTIFICATE_INVALID');
  });
});

describe('createCertificateSigner', () => {
  it('KEY_INVALID (bad input at sign time) when the certificate does not certify the private key', async () => {
    await expect(
      createCertificateSigner({
        privateKey: pki.intermediate.keyPath,
        signingCertificate: pki.leaf.certPath,
      }),
    ).rejects.toHaveCode('KEY_INVALID');
  });

  it('warns when the leaf is not valid now or may not sign (verification would fail)', async () => {
    const serverLeaf = issue(pki.dir, {
      name: 'server-leaf',
      issuer: pki.intermediate,
      extensions: [
        'keyUsage=critical,keyEncipherment',
        'authorityKeyIdentifier=keyid',
      ],
    });
    const { warnings } = await createCertificateSigner({
      privateKey: serverLeaf.keyPath,
      signingCertificate: serverLeaf.certPath,
    });
    expect(warnings.map((w) => w.code)).toEqual(['CERTIFICATE_CANNOT_SIGN']);
    const ok = await createCertificateSigner({
      privateKey: pki.leaf.keyPath,
      signingCertificate: pki.leaf.certPath,
    });
    expect(ok.warnings).toEqual([]);
  });

  it('KEY_INVALID (bad input at sign time) for a file without certificates', async () => {
    await expect(
      createCertificateSigner({
        privateKey: pki.leaf.keyPath,
        signingCertificate: pki.leaf.keyPath,
      }),
    ).rejects.toHaveCode('KEY_INVALID');
  });

  it('certificates following the leaf in its PEM file join the chain', async () => {
    const pem = Buffer.from(pki.leaf.certPem + pki.intermediate.certPem);
    const { signer } = await createCertificateSigner({
      privateKey: pki.leaf.keyPath,
      signingCertificate: pem,
    });
    const bundle = parseBundle(await signer.sign(statement));
    expect(bundle.certificates).toHaveLength(2);
    expect(
      verifyCertificateBundleSignature(bundle, [x509(pki.root)]).signer
        .pathLength,
    ).toBe(3);
  });
});
