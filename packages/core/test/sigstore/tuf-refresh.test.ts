// SPDX-License-Identifier: Apache-2.0
// Fresh trust roots: a TUF repository served on loopback (built with
// @tufjs/models, signed with a test key) publishes as `trusted_root.json` the
// root of the loopback Sigstore services. The refresh fetches and caches it;
// a later verification with the mirror gone uses the verified cache; expired
// or tampered metadata is refused with TRUST_ROOT_INVALID and never replaced
// by another root; offline verification makes no request.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { signWithSigstore } from '../../src/sign/sigstore.js';
import { verifySigstoreBundle } from '../../src/verify/sigstore.js';
import { mintOIDCToken } from '../helpers/sigstore-server.js';
import {
  startTufRepository,
  type TufRepository,
} from '../helpers/tuf-repository.js';

const policy = () => ({
  identity: inject('sigstoreIdentity'),
  issuer: inject('sigstoreOIDCIssuer'),
});

let dir: string;
let bundle: unknown;
const served = () => Buffer.from(inject('sigstoreTrustedRoot'));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'modelseal-tuf-refresh-'));
  const url = inject('sigstoreURL');
  bundle = await signWithSigstore(Buffer.from('{}'), {
    identityToken: mintOIDCToken(),
    fulcioURL: url,
    rekorURL: url,
    tsaURL: null,
    rekorEntryType: 'intoto',
    retries: 0,
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A fresh repository and an empty cache directory for one case. */
async function fresh(name: string): Promise<{
  repo: TufRepository;
  options: {
    refreshTrustedRoot: true;
    tufMirrorURL: string;
    tufRootPath: string;
    tufCachePath: string;
    tufTimeoutMs: number;
  };
}> {
  const repoDir = mkdtempSync(join(dir, `${name}-`));
  const repo = await startTufRepository(served(), repoDir);
  return {
    repo,
    options: {
      refreshTrustedRoot: true,
      tufMirrorURL: repo.url,
      tufRootPath: repo.rootPath,
      tufCachePath: join(repoDir, 'cache'),
      tufTimeoutMs: 2000,
    },
  };
}

describe('trusted root refreshed through TUF (loopback repository)', () => {
  it('fetches and caches, then verifies from the verified cache when the mirror is gone', async () => {
    const { repo, options } = await fresh('cache');
    const first = await verifySigstoreBundle(bundle, policy(), options);
    expect(first.trustRoot).toEqual({
      source: 'tuf',
      mirrorURL: repo.url,
      fromCache: false,
      rootVersion: 1,
      targetsVersion: 1,
      expires: '2099-01-01T00:00:00.000Z',
    });
    expect(repo.requests).toEqual([
      '/2.root.json',
      '/timestamp.json',
      '/snapshot.json',
      '/targets.json',
      '/targets/trusted_root.json',
    ]);
    // The verified target is in the cache, byte for byte.
    const cached = join(
      options.tufCachePath,
      encodeURIComponent(new URL(repo.url).host),
      'targets',
      'trusted_root.json',
    );
    expect(readFileSync(cached)).toEqual(served());

    // Second verification: the mirror is gone; the cache answers, the result says so.
    await repo.close();
    const second = await verifySigstoreBundle(bundle, policy(), options);
    expect(second.trustRoot).toMatchObject({
      source: 'tuf',
      mirrorURL: repo.url,
      fromCache: true,
      targetsVersion: 1,
      expires: '2099-01-01T00:00:00.000Z',
    });
    expect(second.trustRoot.fallback).toMatch(
      /cannot reach the tuf repository .*: used the verified cache/,
    );
    expect(second.identity).toBe(inject('sigstoreIdentity'));
  });

  it('a cache whose timestamp has expired is not used when the mirror is gone', async () => {
    const repoDir = mkdtempSync(join(dir, 'stale-'));
    const soon = new Date(Date.now() + 1500).toISOString();
    const repo = await startTufRepository(served(), repoDir, soon);
    const options = {
      tufMirrorURL: repo.url,
      tufRootPath: repo.rootPath,
      tufCachePath: join(repoDir, 'cache'),
    };
    const first = await verifySigstoreBundle(bundle, policy(), options);
    expect(first.trustRoot.expires).toBe(soon);
    await repo.close();
    await new Promise((r) => setTimeout(r, 2000));
    const error: unknown = await verifySigstoreBundle(
      bundle,
      policy(),
      options,
    ).catch((e: unknown) => e);
    expect(error).toHaveCode('TRUST_ROOT_UNAVAILABLE');
  });

  it('a private mirror that cannot be reached and has no cache: TRUST_ROOT_UNAVAILABLE, no embedded fallback', async () => {
    const { repo, options } = await fresh('down');
    await repo.close();
    const error: unknown = await verifySigstoreBundle(
      bundle,
      policy(),
      options,
    ).catch((e: unknown) => e);
    expect(error).toHaveCode('TRUST_ROOT_UNAVAILABLE');
    expect(error).toMatchObject({ details: { reason: 'unreachable' } });
  });

  it('expired timestamp metadata is refused (TRUST_ROOT_INVALID), even with a valid cache', async () => {
    const { repo, options } = await fresh('expired');
    try {
      await verifySigstoreBundle(bundle, policy(), options);
      repo.publishExpiredTimestamp();
      const error: unknown = await verifySigstoreBundle(
        bundle,
        policy(),
        options,
      ).catch((e: unknown) => e);
      expect(error).toHaveCode('TRUST_ROOT_INVALID');
      expect(((error as Error).cause as Error).constructor.name).toBe(
        'ExpiredMetadataError',
      );
    } finally {
      await repo.close();
    }
  });

  it('timestamp metadata changed after signing is refused (TRUST_ROOT_INVALID)', async () => {
    const { repo, options } = await fresh('tampered-meta');
    try {
      repo.publishTamperedTimestamp();
      const error: unknown = await verifySigstoreBundle(
        bundle,
        policy(),
        options,
      ).catch((e: unknown) => e);
      expect(error).toHaveCode('TRUST_ROOT_INVALID');
      expect((error as Error).message).toMatch(/refused/);
      // Nothing past the timestamp was fetched: the chain stopped at the bad signature.
      expect(repo.requests).not.toContain('/targets/trusted_root.json');
    } finally {
      await repo.close();
    }
  });

  it('a target whose bytes differ from what targets metadata lists is refused (TRUST_ROOT_INVALID)', async () => {
    const { repo, options } = await fresh('tampered-target');
    try {
      // Same length, other content: a root an attacker controls would look like this.
      const bytes = served();
      const evil = Buffer.from(bytes);
      evil.writeUInt8(evil.readUInt8(evil.length - 2) ^ 1, evil.length - 2);
      repo.tamperTarget(evil);
      const error: unknown = await verifySigstoreBundle(
        bundle,
        policy(),
        options,
      ).catch((e: unknown) => e);
      expect(error).toHaveCode('TRUST_ROOT_INVALID');
      expect(error).toMatchObject({
        details: { tufCode: 'TUF_DOWNLOAD_TARGET_ERROR' },
      });
      expect(
        existsSync(
          join(
            options.tufCachePath,
            encodeURIComponent(new URL(repo.url).host),
            'targets',
            'trusted_root.json',
          ),
        ),
      ).toBe(false);
    } finally {
      await repo.close();
    }
  });
});

describe('offline verification', () => {
  it('offline uses the embedded root and makes no request; the given root is used as a file', async () => {
    const { repo, options } = await fresh('offline');
    try {
      // The embedded public-good root does not hold the loopback CA: refused, offline.
      const error: unknown = await verifySigstoreBundle(bundle, policy(), {
        offline: true,
        tufCachePath: options.tufCachePath,
      }).catch((e: unknown) => e);
      expect(error).toHaveCode('CERTIFICATE_INVALID');
      const withFile = await verifySigstoreBundle(bundle, policy(), {
        offline: true,
        trustedRoot: inject('sigstoreTrustedRootPath'),
      });
      expect(withFile.trustRoot).toEqual({
        source: 'file',
        path: inject('sigstoreTrustedRootPath'),
      });
      expect(repo.requests).toEqual([]);
      expect(existsSync(options.tufCachePath)).toBe(false);
    } finally {
      await repo.close();
    }
  });

  it('offline together with a TUF mirror, or a root file with a mirror, is INVALID_OPTIONS', async () => {
    await expect(
      verifySigstoreBundle(bundle, policy(), {
        offline: true,
        tufMirrorURL: 'http://127.0.0.1:9',
      }),
    ).rejects.toHaveCode('INVALID_OPTIONS');
    await expect(
      verifySigstoreBundle(bundle, policy(), {
        trustedRoot: inject('sigstoreTrustedRootPath'),
        tufMirrorURL: 'http://127.0.0.1:9',
      }),
    ).rejects.toHaveCode('INVALID_OPTIONS');
  });
});
