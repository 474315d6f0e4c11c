// SPDX-License-Identifier: Apache-2.0
// RFC 3161 timestamps on key and certificate bundles (--tsa-url), against the
// Sigstore project's mock TSA on loopback: verifiers that trust the TSA learn
// the signing time from it; a tampered timestamp fails.
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signModel, verifyModelSignature } from '../../src/index.js';
import {
  startSigstoreServer,
  type LoopbackSigstore,
} from '../helpers/sigstore-server.js';
import { createPki } from '../helpers/pki.js';
import { makeTree, tempDir } from '../helpers/tree.js';

let tsa: LoopbackSigstore;
let tsaCertificates: Buffer[];
// The certificate test's PKI is made before the mock TSA starts: the TSA
// stamps a fixed clock (its start + 5 s), and a leaf made later on a loaded
// machine would not yet be valid at that time.
let pki: ReturnType<typeof createPki>;
beforeAll(async () => {
  pki = createPki();
  tsa = await startSigstoreServer({ tsa: true });
  const authorities = (
    tsa.trustedRootJSON as {
      timestampAuthorities: {
        certChain: { certificates: { rawBytes: string }[] };
      }[];
    }
  ).timestampAuthorities;
  tsaCertificates = authorities[0]!.certChain.certificates.map((c) =>
    Buffer.from(c.rawBytes, 'base64'),
  );
});
afterAll(async () => {
  await tsa.close();
  pki.cleanup();
});

const { privateKey, publicKey } = generateKeyPairSync('ec', {
  namedCurve: 'P-256',
});

describe('key bundles with an RFC 3161 timestamp', () => {
  it('carries the timestamp; a verifier trusting the TSA gets the signing time from it', async () => {
    const root = makeTree({ w: 'weights' });
    const sig = join(tempDir(), 'model.sig');
    await signModel({
      method: 'key',
      modelPath: root,
      signaturePath: sig,
      privateKey,
      tsaURL: tsa.url,
    });
    const bundle = JSON.parse(readFileSync(sig, 'utf8'));
    expect(Object.keys(bundle.verificationMaterial)).toEqual([
      'publicKey',
      'tlogEntries',
      'timestampVerificationData',
    ]);
    expect(
      bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps,
    ).toHaveLength(1);

    const trusted = await verifyModelSignature({
      method: 'key',
      modelPath: root,
      bundlePath: sig,
      publicKey,
      timestampAuthorities: tsaCertificates,
    });
    expect(trusted.signingTimeSource).toBe('timestamp');
    expect(
      Math.abs(trusted.signingTime!.getTime() - tsa.clock.getTime()),
    ).toBeLessThan(60_000);

    const untrusted = await verifyModelSignature({
      method: 'key',
      modelPath: root,
      bundlePath: sig,
      publicKey,
    });
    expect(untrusted.signingTimeSource).toBe('none');
    expect(untrusted.warnings.map((w) => w.code)).toContain(
      'TIMESTAMP_NOT_CHECKED',
    );
  });

  it('a tampered timestamp fails when the TSA is trusted', async () => {
    const root = makeTree({ w: 'weights' });
    const sig = join(tempDir(), 'model.sig');
    await signModel({
      method: 'key',
      modelPath: root,
      signaturePath: sig,
      privateKey,
      tsaURL: tsa.url,
    });
    const bundle = JSON.parse(readFileSync(sig, 'utf8'));
    const ts = Buffer.from(
      bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0]
        .signedTimestamp,
      'base64',
    );
    ts.writeUInt8(ts.readUInt8(ts.length - 10) ^ 0xff, ts.length - 10);
    bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps[0].signedTimestamp =
      ts.toString('base64');
    writeFileSync(sig, JSON.stringify(bundle));
    await expect(
      verifyModelSignature({
        method: 'key',
        modelPath: root,
        bundlePath: sig,
        publicKey,
        timestampAuthorities: tsaCertificates,
      }),
    ).rejects.toHaveCode('TLOG_INVALID');
  });

  it('an unreachable TSA fails signing with SIGSTORE_SERVICE_ERROR and writes nothing', async () => {
    const root = makeTree({ w: 'weights' });
    const sig = join(tempDir(), 'model.sig');
    await expect(
      signModel({
        method: 'key',
        modelPath: root,
        signaturePath: sig,
        privateKey,
        tsaURL: `${tsa.url}/status/503/api/v1/timestamp`,
      }),
    ).rejects.toHaveCode('SIGSTORE_SERVICE_ERROR');
    expect(() => readFileSync(sig)).toThrow();
  });
});

describe('certificate bundles with an RFC 3161 timestamp', () => {
  it('certificates are checked at the timestamp time, and the result says so', async () => {
    {
      const root = makeTree({ w: 'weights' });
      const sig = join(tempDir(), 'model.sig');
      await signModel({
        method: 'certificate',
        modelPath: root,
        signaturePath: sig,
        privateKey: pki.leaf.keyPath,
        signingCertificate: pki.leaf.certPath,
        certificateChain: [pki.intermediate.certPath],
        tsaURL: tsa.url,
      });
      const result = await verifyModelSignature({
        method: 'certificate',
        modelPath: root,
        bundlePath: sig,
        trustAnchors: [pki.root.certPath],
        timestampAuthorities: tsaCertificates,
      });
      expect(result.signingTimeSource).toBe('timestamp');
      expect(result.validityTime?.getTime()).toBe(
        result.signingTime?.getTime(),
      );
      const now = await verifyModelSignature({
        method: 'certificate',
        modelPath: root,
        bundlePath: sig,
        trustAnchors: [pki.root.certPath],
      });
      expect(now.signingTimeSource).toBe('current-time');
    }
  });
});
