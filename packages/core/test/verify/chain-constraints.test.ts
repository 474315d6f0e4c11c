// SPDX-License-Identifier: Apache-2.0
// Constraints of the CA certificates on a path, trust anchors included, where
// OpenSSL refuses: name constraints (enforced, critical or not; the cases
// compared with OpenSSL one by one are in name-constraints.test.ts), the
// anchor's own pathLenConstraint, and an anchor that is no CA.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBundle } from '../../src/bundle/read.js';
import { createCertificateSigner } from '../../src/sign/certificate.js';
import {
  buildCertificatePath,
  type CertificatePath,
} from '../../src/verify/chain.js';
import { verifyCertificateBundleSignature } from '../../src/verify/certificate.js';
import {
  CA_EXTENSIONS,
  createPki,
  issue,
  LEAF_EXTENSIONS,
  type TestCert,
  type TestPki,
} from '../helpers/pki.js';

const x509 = (c: TestCert): X509Certificate =>
  new X509Certificate(readFileSync(c.certPath));

const RELEASE_LEAF: readonly string[] = [
  ...LEAF_EXTENSIONS,
  'subjectAltName=email:release@acme.example',
];
const TEAM_A_LEAF: readonly string[] = [
  ...LEAF_EXTENSIONS,
  'subjectAltName=email:release@team-a.example',
];
/** What a refusal by the permitted subtree email:team-a.example says. */
const OUTSIDE_TEAM_A =
  'email address "release@acme.example" is not in any permitted rfc822Name subtree ("team-a.example")';
/** CA extensions with another basicConstraints line. */
const ca = (basicConstraints: string): string[] => [
  basicConstraints,
  ...CA_EXTENSIONS.slice(1),
];

let pki: TestPki;
beforeAll(() => {
  pki = createPki();
});
afterAll(() => pki.cleanup());

function build(
  leaf: TestCert,
  intermediates: readonly TestCert[],
  anchors: readonly TestCert[],
): CertificatePath {
  return buildCertificatePath(
    x509(leaf),
    intermediates.map(x509),
    anchors.map(x509),
    new Date(),
  );
}

/** The CERTIFICATE_INVALID error `run` throws. */
function refusal(run: () => unknown): Error {
  try {
    run();
  } catch (error) {
    expect(error).toHaveCode('CERTIFICATE_INVALID');
    return error as Error;
  }
  throw new Error('expected CERTIFICATE_INVALID, the path was accepted');
}

describe('controls: ordinary paths still verify', () => {
  it('root → intermediate → leaf', () => {
    const r = build(pki.leaf, [pki.intermediate], [pki.root]);
    expect(r.path.map((c) => c.subject)).toEqual([
      'CN=leaf',
      'CN=intermediate-ca',
      'CN=root-ca',
    ]);
  });

  it('root → leaf', () => {
    const leaf = issue(pki.dir, {
      name: 'direct-leaf',
      issuer: pki.root,
      extensions: RELEASE_LEAF,
    });
    expect(build(leaf, [], [pki.root]).path).toHaveLength(2);
  });

  it('a leaf trusted directly is still accepted, CA or not', () => {
    const self = issue(pki.dir, {
      name: 'self-leaf',
      extensions: LEAF_EXTENSIONS.filter(
        (e) => !e.startsWith('authorityKeyIdentifier'),
      ),
    });
    expect(build(self, [], [self]).path).toHaveLength(1);
  });
});

describe('name constraints are enforced, critical or not', () => {
  const ncInter = (name: string, critical: boolean): TestCert =>
    issue(pki.dir, {
      name,
      issuer: pki.root,
      extensions: [
        ...CA_EXTENSIONS,
        `nameConstraints=${critical ? 'critical,' : ''}permitted;email:team-a.example`,
      ],
    });

  it('a non-critical nameConstraints intermediate (permitted email:team-a.example) does not certify release@acme.example', async () => {
    const inter = ncInter('nc-inter', false);
    const leaf = issue(pki.dir, {
      name: 'nc-leaf',
      issuer: inter,
      extensions: RELEASE_LEAF,
    });
    const error = refusal(() => build(leaf, [inter], [pki.root]));
    expect(error.message).toContain(
      'the name constraints of certificate CN=nc-inter',
    );
    expect(error.message).toContain(OUTSIDE_TEAM_A);

    // The red-team case end to end: a signed bundle with an identity policy.
    const { signer } = await createCertificateSigner({
      privateKey: leaf.keyPath,
      signingCertificate: leaf.certPath,
      certificateChain: [inter.certPath],
    });
    const bundle = parseBundle(await signer.sign(Buffer.from('{}')));
    const e2e = refusal(() =>
      verifyCertificateBundleSignature(bundle, [x509(pki.root)], {
        identityPolicy: [{ field: 'email', value: 'release@acme.example' }],
      }),
    );
    expect(e2e.message).toContain(OUTSIDE_TEAM_A);

    // A leaf inside the subtree verifies, with the identity policy.
    const inside = issue(pki.dir, {
      name: 'nc-leaf-inside',
      issuer: inter,
      extensions: TEAM_A_LEAF,
    });
    const { signer: insideSigner } = await createCertificateSigner({
      privateKey: inside.keyPath,
      signingCertificate: inside.certPath,
      certificateChain: [inter.certPath],
    });
    const ok = verifyCertificateBundleSignature(
      parseBundle(await insideSigner.sign(Buffer.from('{}'))),
      [x509(pki.root)],
      {
        identityPolicy: [{ field: 'email', value: 'release@team-a.example' }],
      },
    );
    expect(ok.signer.pathLength).toBe(3);
  });

  it('the same intermediate given as the trust anchor constrains as well', () => {
    const inter = ncInter('nc-inter-anchor', false);
    const leaf = issue(pki.dir, {
      name: 'nc-leaf-anchor',
      issuer: inter,
      extensions: RELEASE_LEAF,
    });
    const error = refusal(() => build(leaf, [], [inter]));
    expect(error.message).toContain(
      'the name constraints of certificate CN=nc-inter-anchor',
    );
    expect(error.message).toContain(OUTSIDE_TEAM_A);
    const inside = issue(pki.dir, {
      name: 'nc-leaf-anchor-inside',
      issuer: inter,
      extensions: TEAM_A_LEAF,
    });
    expect(build(inside, [], [inter]).path).toHaveLength(2);
  });

  it('a root carrying name constraints constrains the certificates under it', () => {
    const root = issue(pki.dir, {
      name: 'nc-root',
      days: 3650,
      extensions: [
        ...CA_EXTENSIONS.filter((e) => !e.startsWith('authorityKeyIdentifier')),
        'nameConstraints=permitted;email:team-a.example',
      ],
    });
    const leaf = issue(pki.dir, {
      name: 'nc-root-leaf',
      issuer: root,
      extensions: RELEASE_LEAF,
    });
    const error = refusal(() => build(leaf, [], [root]));
    expect(error.message).toContain(
      'the name constraints of certificate CN=nc-root',
    );
    expect(error.message).toContain(OUTSIDE_TEAM_A);
    const inside = issue(pki.dir, {
      name: 'nc-root-leaf-inside',
      issuer: root,
      extensions: TEAM_A_LEAF,
    });
    expect(build(inside, [], [root]).path).toHaveLength(2);
  });

  it('a critical nameConstraints intermediate is enforced the same way', () => {
    const inter = ncInter('nc-inter-critical', true);
    const leaf = issue(pki.dir, {
      name: 'nc-leaf-critical',
      issuer: inter,
      extensions: RELEASE_LEAF,
    });
    const error = refusal(() => build(leaf, [inter], [pki.root]));
    expect(error.message).toContain(
      'the name constraints of certificate CN=nc-inter-critical',
    );
    expect(error.message).toContain(OUTSIDE_TEAM_A);
    const inside = issue(pki.dir, {
      name: 'nc-leaf-critical-inside',
      issuer: inter,
      extensions: TEAM_A_LEAF,
    });
    expect(build(inside, [inter], [pki.root]).path).toHaveLength(3);
  });

  it('a constraint modelseal cannot check refuses the CA (registeredID)', () => {
    const inter = issue(pki.dir, {
      name: 'nc-inter-rid',
      issuer: pki.root,
      extensions: [
        ...CA_EXTENSIONS,
        'nameConstraints=critical,permitted;RID:1.2.3.4',
      ],
    });
    const leaf = issue(pki.dir, {
      name: 'nc-leaf-rid',
      issuer: inter,
      extensions: TEAM_A_LEAF,
    });
    const error = refusal(() => build(leaf, [inter], [pki.root]));
    expect(error.message).toContain('certificate CN=nc-inter-rid (serial');
    expect(error.message).toContain(
      'has name constraints that modelseal cannot check: a permitted registeredID constraint',
    );
  });
});

describe("the trust anchor's own basicConstraints", () => {
  it("root (pathlen:0) → intermediate → leaf exceeds the anchor's path length", () => {
    const root0 = issue(pki.dir, {
      name: 'root0',
      days: 3650,
      extensions: ca('basicConstraints=critical,CA:TRUE,pathlen:0').filter(
        (e) => !e.startsWith('authorityKeyIdentifier'),
      ),
    });
    const inter = issue(pki.dir, { name: 'root0-inter', issuer: root0 });
    const leaf = issue(pki.dir, {
      name: 'root0-leaf',
      issuer: inter,
      extensions: RELEASE_LEAF,
    });
    const error = refusal(() => build(leaf, [inter], [root0]));
    expect(error.message).toContain('CN=root0');
    expect(error.message).toContain('pathLenConstraint exceeded');
    // pathlen:0 still lets the anchor issue the leaf itself.
    const direct = issue(pki.dir, {
      name: 'root0-direct',
      issuer: root0,
      extensions: RELEASE_LEAF,
    });
    expect(build(direct, [], [root0]).path).toHaveLength(2);
    // pathlen:1 allows the intermediate.
    const root1 = issue(pki.dir, {
      name: 'root1',
      days: 3650,
      extensions: ca('basicConstraints=critical,CA:TRUE,pathlen:1').filter(
        (e) => !e.startsWith('authorityKeyIdentifier'),
      ),
    });
    const inter1 = issue(pki.dir, { name: 'root1-inter', issuer: root1 });
    const leaf1 = issue(pki.dir, {
      name: 'root1-leaf',
      issuer: inter1,
      extensions: RELEASE_LEAF,
    });
    expect(build(leaf1, [inter1], [root1]).path).toHaveLength(3);
  });

  it('an intermediate with pathlen:0 given as the anchor may not issue another CA', () => {
    const inter0 = issue(pki.dir, {
      name: 'inter0',
      issuer: pki.root,
      extensions: ca('basicConstraints=critical,CA:TRUE,pathlen:0'),
    });
    const sub = issue(pki.dir, { name: 'inter0-sub', issuer: inter0 });
    const leaf = issue(pki.dir, {
      name: 'inter0-leaf',
      issuer: sub,
      extensions: RELEASE_LEAF,
    });
    expect(refusal(() => build(leaf, [sub], [inter0])).message).toContain(
      'CN=inter0',
    );
  });

  it('a CA:FALSE certificate given as the anchor does not certify a leaf it signed', () => {
    const notCA = issue(pki.dir, {
      name: 'anchor-not-ca',
      issuer: pki.root,
      extensions: [
        'basicConstraints=critical,CA:FALSE',
        'subjectKeyIdentifier=hash',
        'authorityKeyIdentifier=keyid',
      ],
    });
    const leaf = issue(pki.dir, {
      name: 'anchor-not-ca-leaf',
      issuer: notCA,
      extensions: RELEASE_LEAF,
    });
    const error = refusal(() => build(leaf, [], [notCA]));
    expect(error.message).toContain('CN=anchor-not-ca');
    expect(error.message).toContain('is not a CA');
    // Nor does trusting the root as well let it through as an intermediate.
    refusal(() => build(leaf, [notCA], [notCA, pki.root]));
  });

  it('an anchor without basicConstraints does not certify a leaf it signed', () => {
    const bare = issue(pki.dir, {
      name: 'anchor-bare',
      days: 3650,
      extensions: ['subjectKeyIdentifier=hash'],
    });
    const leaf = issue(pki.dir, {
      name: 'anchor-bare-leaf',
      issuer: bare,
      extensions: RELEASE_LEAF,
    });
    const error = refusal(() => build(leaf, [], [bare]));
    expect(error.message).toContain('CN=anchor-bare');
    expect(error.message).toContain('is not a CA');
  });

  it('an anchor whose key usage lacks keyCertSign does not certify a leaf', () => {
    const noCertSign = issue(pki.dir, {
      name: 'anchor-no-certsign',
      days: 3650,
      extensions: [
        'basicConstraints=critical,CA:TRUE',
        'keyUsage=critical,digitalSignature,cRLSign',
        'subjectKeyIdentifier=hash',
      ],
    });
    const leaf = issue(pki.dir, {
      name: 'anchor-no-certsign-leaf',
      issuer: noCertSign,
      extensions: RELEASE_LEAF,
    });
    refusal(() => build(leaf, [], [noCertSign]));
  });
});
