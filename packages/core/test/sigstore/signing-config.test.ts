// SPDX-License-Identifier: Apache-2.0
// SigningConfig (`--signing-config`) and ClientTrustConfig (`--trust-config`):
// service selection, defaults and precedence, and a keyless round trip driven only
// by a trust config that points at the loopback Sigstore.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  resolveSigstoreEndpoints,
  signWithSigstore,
} from '../../src/sign/sigstore.js';
import {
  loadSigningConfig,
  loadTrustConfig,
  selectSigningEndpoints,
} from '../../src/trust/signing-config.js';
import { verifySigstoreBundle } from '../../src/verify/sigstore.js';
import { mintOIDCToken } from '../helpers/sigstore-server.js';

const MEDIA_TYPE = 'application/vnd.dev.sigstore.signingconfig.v0.2+json';
const svc = (
  url: string,
  majorApiVersion: number,
  start: string,
  end?: string,
): Record<string, unknown> => ({
  url,
  majorApiVersion,
  validFor: { start, ...(end === undefined ? {} : { end }) },
  operator: 'test',
});

/** Shaped like the public-good signing config: an expired CA, Rekor v1 and v2, a TSA. */
const PUBLIC_LIKE = {
  mediaType: MEDIA_TYPE,
  caUrls: [
    svc(
      'https://old-ca.example',
      1,
      '2022-01-01T00:00:00Z',
      '2023-01-01T00:00:00Z',
    ),
    svc('https://ca.example', 1, '2023-04-14T21:38:40Z'),
  ],
  oidcUrls: [svc('https://oauth2.example', 1, '2025-04-16T00:00:00Z')],
  rekorTlogUrls: [
    svc('https://log2025-1.example', 2, '2025-09-23T00:00:00Z'),
    svc('https://rekor.example', 1, '2021-01-12T11:53:27Z'),
  ],
  tsaUrls: [
    svc('https://tsa.example/api/v1/timestamp', 1, '2025-07-04T00:00:00Z'),
  ],
  rekorTlogConfig: { selector: 'ANY' },
  tsaConfig: { selector: 'ANY' },
};

describe('selectSigningEndpoints', () => {
  it('picks the CA valid now, prefers Rekor v1 (what the reference writes), and the TSA', () => {
    expect(selectSigningEndpoints(PUBLIC_LIKE)).toEqual({
      fulcioURL: 'https://ca.example',
      rekorURL: 'https://rekor.example',
      rekorMajorApiVersion: 1,
      tsaURL: 'https://tsa.example/api/v1/timestamp',
    });
  });

  it('takes Rekor v2 when it is the only log, which then needs the TSA', () => {
    const onlyV2 = {
      ...PUBLIC_LIKE,
      rekorTlogUrls: [PUBLIC_LIKE.rekorTlogUrls[0]],
    };
    expect(selectSigningEndpoints(onlyV2)).toMatchObject({
      rekorURL: 'https://log2025-1.example',
      rekorMajorApiVersion: 2,
    });
    expect(() =>
      selectSigningEndpoints({ ...onlyV2, tsaUrls: [] }),
    ).toThrowWithCode('INVALID_OPTIONS');
  });

  it('no TSA in the config means no TSA', () => {
    expect(
      selectSigningEndpoints({ ...PUBLIC_LIKE, tsaUrls: [] }).tsaURL,
    ).toBeNull();
  });

  it.each<[string, unknown]>([
    ['not an object', 'config'],
    ['a foreign media type', { ...PUBLIC_LIKE, mediaType: 'application/json' }],
    ['no CA valid now', { ...PUBLIC_LIKE, caUrls: [PUBLIC_LIKE.caUrls[0]] }],
    [
      'a CA of an unsupported API version',
      {
        ...PUBLIC_LIKE,
        caUrls: [svc('https://ca.example', 2, '2023-01-01T00:00:00Z')],
      },
    ],
    ['no Rekor', { ...PUBLIC_LIKE, rekorTlogUrls: [] }],
    [
      'a Rekor not yet valid',
      {
        ...PUBLIC_LIKE,
        rekorTlogUrls: [svc('https://r', 1, '2999-01-01T00:00:00Z')],
      },
    ],
    [
      'selector EXACT',
      { ...PUBLIC_LIKE, rekorTlogConfig: { selector: 'EXACT', count: 2 } },
    ],
  ])('%s is INVALID_OPTIONS', (_, json) => {
    expect(() => selectSigningEndpoints(json)).toThrowWithCode(
      'INVALID_OPTIONS',
    );
  });
});

describe('resolveSigstoreEndpoints', () => {
  it('defaults to public-good with its TSA and Rekor v1', () => {
    expect(resolveSigstoreEndpoints({})).toEqual({
      fulcioURL: 'https://fulcio.sigstore.dev',
      rekorURL: 'https://rekor.sigstore.dev',
      rekorMajorApiVersion: 1,
      tsaURL: 'https://timestamp.sigstore.dev/api/v1/timestamp',
    });
  });

  it('staging uses the sigstage.dev hosts', () => {
    expect(resolveSigstoreEndpoints({ staging: true })).toEqual({
      fulcioURL: 'https://fulcio.sigstage.dev',
      rekorURL: 'https://rekor.sigstage.dev',
      rekorMajorApiVersion: 1,
      tsaURL: 'https://timestamp.sigstage.dev/api/v1/timestamp',
    });
  });

  it('a private instance gets no public TSA unless it asks for one', () => {
    expect(
      resolveSigstoreEndpoints({
        fulcioURL: 'https://f.example',
        rekorURL: 'https://r.example/',
      }),
    ).toEqual({
      fulcioURL: 'https://f.example',
      rekorURL: 'https://r.example',
      rekorMajorApiVersion: 1,
      tsaURL: null,
    });
    expect(
      resolveSigstoreEndpoints({
        rekorURL: 'https://r.example',
        tsaURL: 'https://t.example',
      }).tsaURL,
    ).toBe('https://t.example');
  });

  it('explicit URLs win over the signing config', () => {
    expect(
      resolveSigstoreEndpoints({
        signingConfig: PUBLIC_LIKE,
        fulcioURL: 'https://mine.example',
        tsaURL: null,
      }),
    ).toEqual({
      fulcioURL: 'https://mine.example',
      rekorURL: 'https://rekor.example',
      rekorMajorApiVersion: 1,
      tsaURL: null,
    });
  });

  it('rejects staging with a signing config, and Rekor v2 without a TSA', () => {
    expect(() =>
      resolveSigstoreEndpoints({ staging: true, signingConfig: PUBLIC_LIKE }),
    ).toThrowWithCode('INVALID_OPTIONS');
    expect(() =>
      resolveSigstoreEndpoints({ rekorMajorApiVersion: 2, tsaURL: null }),
    ).toThrowWithCode('INVALID_OPTIONS');
  });
});

describe('config files against the loopback Sigstore', () => {
  const url = inject('sigstoreURL');
  const policy = {
    identity: inject('sigstoreIdentity'),
    issuer: inject('sigstoreOIDCIssuer'),
  };
  const loopbackConfig = {
    mediaType: MEDIA_TYPE,
    caUrls: [svc(url, 1, '2020-01-01T00:00:00Z')],
    oidcUrls: [],
    rekorTlogUrls: [svc(url, 1, '2020-01-01T00:00:00Z')],
    tsaUrls: [],
    rekorTlogConfig: { selector: 'ANY' },
    tsaConfig: { selector: 'ANY' },
  };
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'modelseal-config-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('a trust config alone is enough to sign and verify', async () => {
    const path = join(dir, 'trust-config.json');
    writeFileSync(
      path,
      JSON.stringify({
        mediaType: 'application/vnd.dev.sigstore.clienttrustconfig.v0.1+json',
        trustedRoot: JSON.parse(inject('sigstoreTrustedRoot')) as unknown,
        signingConfig: loopbackConfig,
      }),
    );
    const config = await loadTrustConfig(path);
    const bundle = await signWithSigstore(
      Buffer.from('{"_type":"https://in-toto.io/Statement/v1"}'),
      {
        identityToken: mintOIDCToken(),
        signingConfig: config.signingConfigJSON,
        rekorEntryType: 'intoto',
        retries: 0,
      },
    );
    await expect(
      verifySigstoreBundle(bundle, policy, {
        trustedRootJSON: config.trustedRootJSON,
      }),
    ).resolves.toMatchObject(policy);
  });

  it('a signing config file is read and checked', async () => {
    const good = join(dir, 'signing-config.json');
    writeFileSync(good, JSON.stringify(loopbackConfig));
    await expect(loadSigningConfig(good)).resolves.toEqual(loopbackConfig);
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{');
    await expect(loadSigningConfig(bad)).rejects.toHaveCode('INVALID_OPTIONS');
    await expect(
      loadSigningConfig(join(dir, 'absent.json')),
    ).rejects.toHaveCode('IO_ERROR');
  });

  it('a trust config with a bad half is rejected', async () => {
    const write = (name: string, json: unknown): string => {
      const p = join(dir, name);
      writeFileSync(p, JSON.stringify(json));
      return p;
    };
    const mediaType =
      'application/vnd.dev.sigstore.clienttrustconfig.v0.1+json';
    const root = JSON.parse(inject('sigstoreTrustedRoot')) as Record<
      string,
      unknown
    >;
    await expect(
      loadTrustConfig(
        write('a.json', {
          mediaType: 'x',
          trustedRoot: root,
          signingConfig: loopbackConfig,
        }),
      ),
    ).rejects.toHaveCode('INVALID_OPTIONS');
    await expect(
      loadTrustConfig(
        write('b.json', { mediaType, signingConfig: loopbackConfig }),
      ),
    ).rejects.toHaveCode('INVALID_OPTIONS');
    await expect(
      loadTrustConfig(
        write('c.json', {
          mediaType,
          trustedRoot: { ...root, tlogs: [] },
          signingConfig: loopbackConfig,
        }),
      ),
    ).rejects.toHaveCode('TRUST_ROOT_UNAVAILABLE');
    await expect(
      loadTrustConfig(
        write('d.json', {
          mediaType,
          trustedRoot: root,
          signingConfig: { ...loopbackConfig, caUrls: [] },
        }),
      ),
    ).rejects.toHaveCode('INVALID_OPTIONS');
  });
});
