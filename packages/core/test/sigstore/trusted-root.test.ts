// SPDX-License-Identifier: Apache-2.0
// Trusted roots: the embedded public-good seed, TrustedRoot files, roots built for
// private instances, and that every part of the root is actually enforced.
import { generateKeyPairSync } from 'node:crypto';
import {
  mkdtempSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { signWithSigstore } from '../../src/sign/sigstore.js';
import { buildTrustedRootJSON } from '../../src/trust/build-trusted-root.js';
import {
  embeddedTrustedRoot,
  embeddedTrustedRootJSON,
} from '../../src/trust/embedded-root.js';
import {
  loadTrustedRoot,
  parseTrustedRoot,
} from '../../src/trust/trusted-root-file.js';
import { verifySigstoreBundle } from '../../src/verify/sigstore.js';
import { mintOIDCToken } from '../helpers/sigstore-server.js';
import { vectorPath } from '../helpers/vectors.js';

const REF_POLICY = {
  identity: 'stefanb@us.ibm.com',
  issuer: 'https://sigstore.verify.ibm.com/oauth2',
};
const refBundle = (): unknown =>
  JSON.parse(
    readFileSync(vectorPath('oms-reference/v1.1.0-sigstore/model.sig'), 'utf8'),
  );

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'modelseal-root-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('embedded public-good root', () => {
  it('comes from the @sigstore/tuf seed and lists Rekor, Fulcio, CT logs and the TSA', () => {
    const root = embeddedTrustedRoot();
    expect(root.tlogs.map((t) => t.baseUrl)).toContain(
      'https://rekor.sigstore.dev',
    );
    expect(root.certificateAuthorities.map((c) => c.uri)).toContain(
      'https://fulcio.sigstore.dev',
    );
    expect(root.ctlogs.length).toBeGreaterThan(0);
    expect(root.timestampAuthorities.map((t) => t.uri)).toContain(
      'https://timestamp.sigstore.dev/api/v1/timestamp',
    );
    expect(embeddedTrustedRoot()).toBe(root);
  });

  it('hands out copies of the JSON', () => {
    const a = embeddedTrustedRootJSON();
    a['tlogs'] = [];
    expect(embeddedTrustedRootJSON()['tlogs']).not.toEqual([]);
  });

  it('written to a file, verifies the reference bundle like the default', async () => {
    const path = file(
      'public-good.json',
      JSON.stringify(embeddedTrustedRootJSON()),
    );
    await expect(
      verifySigstoreBundle(refBundle(), REF_POLICY, { trustedRoot: path }),
    ).resolves.toMatchObject({
      identity: REF_POLICY.identity,
    });
  });
});

describe('trusted root files', () => {
  it.each([
    ['not JSON', '{'],
    ['not an object', '[]'],
    [
      'a foreign media type',
      JSON.stringify({ mediaType: 'application/json', tlogs: [] }),
    ],
    [
      'without certificate authorities',
      JSON.stringify({
        ...embeddedTrustedRootJSON(),
        certificateAuthorities: [],
      }),
    ],
    [
      'without transparency logs',
      JSON.stringify({ ...embeddedTrustedRootJSON(), tlogs: [] }),
    ],
    [
      'of the wrong shape',
      JSON.stringify({ ...embeddedTrustedRootJSON(), tlogs: 5 }),
    ],
  ])('a file that is %s is TRUST_ROOT_UNAVAILABLE', async (name, text) => {
    await expect(
      loadTrustedRoot(file(`${name}.json`, text)),
    ).rejects.toHaveCode('TRUST_ROOT_UNAVAILABLE');
  });

  it('a missing file or a directory is TRUST_ROOT_UNAVAILABLE, with the cause kept', async () => {
    const error: unknown = await loadTrustedRoot(
      join(dir, 'absent.json'),
    ).catch((e: unknown) => e);
    expect(error).toHaveCode('TRUST_ROOT_UNAVAILABLE');
    expect((error as Error).cause).toMatchObject({ code: 'ENOENT' });
    await expect(loadTrustedRoot(dir)).rejects.toHaveCode(
      'TRUST_ROOT_UNAVAILABLE',
    );
  });

  it('a file over 16 MiB is TRUST_ROOT_UNAVAILABLE without being read', async () => {
    const path = file('huge.json', '');
    truncateSync(path, 17 * 1024 * 1024);
    await expect(loadTrustedRoot(path)).rejects.toHaveCode(
      'TRUST_ROOT_UNAVAILABLE',
    );
  });

  it('a root with an unloadable log key is TRUST_ROOT_UNAVAILABLE', () => {
    const json = embeddedTrustedRootJSON() as {
      tlogs: { publicKey: { rawBytes: string } }[];
    };
    json.tlogs[0]!.publicKey.rawBytes =
      Buffer.from('garbage').toString('base64');
    expect(() => parseTrustedRoot(json)).toThrowWithCode(
      'TRUST_ROOT_UNAVAILABLE',
    );
  });

  it('verify options: staging needs a root file; two roots at once are rejected', async () => {
    await expect(
      verifySigstoreBundle(refBundle(), REF_POLICY, { staging: true }),
    ).rejects.toHaveCode('TRUST_ROOT_UNAVAILABLE');
    await expect(
      verifySigstoreBundle(refBundle(), REF_POLICY, {
        trustedRoot: inject('sigstoreTrustedRootPath'),
        trustedRootJSON: embeddedTrustedRootJSON(),
      }),
    ).rejects.toHaveCode('INVALID_OPTIONS');
    await expect(
      verifySigstoreBundle(refBundle(), REF_POLICY, {
        trustedRoot: join(dir, 'absent.json'),
      }),
    ).rejects.toHaveCode('TRUST_ROOT_UNAVAILABLE');
  });

  it('the reference bundles do not verify against the loopback root', async () => {
    const rootPath = inject('sigstoreTrustedRootPath');
    // v1.1.0 carries a public-good TSA timestamp, checked first: unknown TSA.
    await expect(
      verifySigstoreBundle(refBundle(), REF_POLICY, { trustedRoot: rootPath }),
    ).rejects.toHaveCode('TLOG_INVALID');
    // v1.0.1 has only the Rekor entry: the Fulcio chain is not trusted.
    const v101: unknown = JSON.parse(
      readFileSync(
        vectorPath('oms-reference/v1.0.1-sigstore/model.sig'),
        'utf8',
      ),
    );
    await expect(
      verifySigstoreBundle(v101, REF_POLICY, { trustedRoot: rootPath }),
    ).rejects.toHaveCode('CERTIFICATE_INVALID');
  });
});

describe('buildTrustedRootJSON', () => {
  it('names the key details of P-256, P-384 and Ed25519 log keys', () => {
    const root = buildTrustedRootJSON({
      certificateAuthorities: [
        { certChain: [Buffer.from(certOfLoopback(), 'base64')] },
      ],
      tlogs: [
        {
          baseURL: 'https://a',
          publicKey: generateKeyPairSync('ec', { namedCurve: 'P-256' })
            .publicKey,
        },
        {
          baseURL: 'https://b',
          publicKey: generateKeyPairSync('ec', { namedCurve: 'P-384' })
            .publicKey,
        },
        {
          baseURL: 'https://c',
          publicKey: generateKeyPairSync('ed25519').publicKey.export({
            type: 'spki',
            format: 'pem',
          }),
        },
      ],
    }) as { tlogs: { publicKey: { keyDetails: string } }[] };
    expect(root.tlogs.map((t) => t.publicKey.keyDetails)).toEqual([
      'PKIX_ECDSA_P256_SHA_256',
      'PKIX_ECDSA_P384_SHA_384',
      'PKIX_ED25519',
    ]);
    expect(() => parseTrustedRoot(root)).not.toThrow();
  });

  it('rejects an RSA log key, a bad certificate and an empty chain', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    const ca = { certChain: [Buffer.from(certOfLoopback(), 'base64')] };
    expect(() =>
      buildTrustedRootJSON({
        certificateAuthorities: [ca],
        tlogs: [{ baseURL: 'x', publicKey: rsa }],
      }),
    ).toThrowWithCode('UNSUPPORTED_KEY');
    expect(() =>
      buildTrustedRootJSON({
        certificateAuthorities: [{ certChain: ['nope'] }],
        tlogs: [],
      }),
    ).toThrowWithCode('INVALID_OPTIONS');
    expect(() =>
      buildTrustedRootJSON({
        certificateAuthorities: [{ certChain: [] }],
        tlogs: [],
      }),
    ).toThrowWithCode('INVALID_OPTIONS');
    expect(() =>
      buildTrustedRootJSON({
        certificateAuthorities: [ca],
        tlogs: [{ baseURL: 'x', publicKey: new Uint8Array([1, 2]) }],
      }),
    ).toThrowWithCode('INVALID_OPTIONS');
  });
});

function certOfLoopback(): string {
  const root = JSON.parse(inject('sigstoreTrustedRoot')) as {
    certificateAuthorities: {
      certChain: { certificates: { rawBytes: string }[] };
    }[];
  };
  return root.certificateAuthorities[0]!.certChain.certificates[0]!.rawBytes;
}

describe('every part of the loopback root is enforced', () => {
  const url = inject('sigstoreURL');
  const IDENTITY = {
    identity: inject('sigstoreIdentity'),
    issuer: inject('sigstoreOIDCIssuer'),
  };
  let bundle: Record<string, unknown>;
  const root = (): Record<string, unknown> =>
    JSON.parse(inject('sigstoreTrustedRoot')) as Record<string, unknown>;
  const otherKey = (): string =>
    generateKeyPairSync('ec', { namedCurve: 'P-256' })
      .publicKey.export({ type: 'spki', format: 'der' })
      .toString('base64');

  beforeAll(async () => {
    bundle = await signWithSigstore(
      Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}'),
      {
        identityToken: mintOIDCToken(),
        fulcioURL: url,
        rekorURL: url,
        tsaURL: null,
        rekorEntryType: 'intoto',
        retries: 0,
      },
    );
  });

  it('control: the unmodified root verifies', async () => {
    await expect(
      verifySigstoreBundle(bundle, IDENTITY, { trustedRootJSON: root() }),
    ).resolves.toMatchObject({
      identity: IDENTITY.identity,
    });
  });

  it('another Rekor key is TLOG_INVALID', async () => {
    const json = root() as { tlogs: { publicKey: { rawBytes: string } }[] };
    json.tlogs[0]!.publicKey.rawBytes = otherKey();
    await expect(
      verifySigstoreBundle(bundle, IDENTITY, { trustedRootJSON: json }),
    ).rejects.toHaveCode('TLOG_INVALID');
  });

  it('no CT log is CERTIFICATE_INVALID (the SCT cannot be checked)', async () => {
    const json = root();
    json['ctlogs'] = [];
    await expect(
      verifySigstoreBundle(bundle, IDENTITY, { trustedRootJSON: json }),
    ).rejects.toHaveCode('CERTIFICATE_INVALID');
  });

  it('a CA valid only before the signing is CERTIFICATE_INVALID', async () => {
    const json = root() as {
      certificateAuthorities: { validFor: Record<string, string> }[];
    };
    json.certificateAuthorities[0]!.validFor = {
      start: '2000-01-01T00:00:00Z',
      end: '2001-01-01T00:00:00Z',
    };
    await expect(
      verifySigstoreBundle(bundle, IDENTITY, { trustedRootJSON: json }),
    ).rejects.toHaveCode('CERTIFICATE_INVALID');
  });
});
