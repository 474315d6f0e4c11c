// SPDX-License-Identifier: Apache-2.0
// Issue 12 item 3: bounded bundles. A bundle is refused before its parts are
// decoded or verified when it is over a size, token, depth or count limit
// (BUNDLE_LIMIT_EXCEEDED naming the limit), or repeats a timestamp, a log
// entry or a certificate (BUNDLE_MALFORMED with details.duplicate). Real
// bundles, the reference vectors, stay well inside the defaults.
import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bundleLimits,
  DEFAULT_BUNDLE_LIMITS,
  parseBundle,
  readBundle,
} from '../../src/bundle/read.js';
import { verifySigstoreBundle } from '../../src/verify/sigstore.js';
import { verifyModelSignature } from '../../src/verify/verify-model.js';
import { tempDir } from '../helpers/tree.js';
import { vectorPath } from '../helpers/vectors.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const SIGSTORE = 'oms-reference/v1.1.0-sigstore';
const sigstoreBundle = (): Json =>
  JSON.parse(readFileSync(vectorPath(`${SIGSTORE}/model.sig`), 'utf8')) as Json;
const certificateBundle = (): Json =>
  JSON.parse(
    readFileSync(
      vectorPath('oms-reference/v1.1.0-certificate/model.sig'),
      'utf8',
    ),
  ) as Json;

function timestampsOf(b: Json): unknown[] {
  return b.verificationMaterial.timestampVerificationData
    .rfc3161Timestamps as unknown[];
}

function refusal(fn: () => unknown): {
  code: string;
  details: Record<string, unknown>;
  ms: number;
} {
  const t0 = performance.now();
  try {
    fn();
  } catch (error) {
    const e = error as { code: string; details: Record<string, unknown> };
    return { code: e.code, details: e.details, ms: performance.now() - t0 };
  }
  throw new Error('expected a refusal');
}

describe('real bundles are inside the defaults', () => {
  it('the reference sigstore and certificate vectors parse', () => {
    expect(parseBundle(sigstoreBundle()).rfc3161TimestampCount).toBe(1);
    expect(parseBundle(certificateBundle()).certificates.length).toBe(2);
  });

  it('documented defaults', () => {
    expect(DEFAULT_BUNDLE_LIMITS).toEqual({
      maxBytes: 64 * 1024 * 1024,
      maxJsonTokens: 100_000,
      maxJsonDepth: 64,
      maxTimestamps: 16,
      maxTlogEntries: 16,
      maxCertificates: 33,
    });
  });

  it('a limit that is not a positive integer is INVALID_OPTIONS', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => bundleLimits({ maxTimestamps: bad })).toThrowWithCode(
        'INVALID_OPTIONS',
      );
    }
  });
});

describe('timestamps, log entries and certificates', () => {
  it('the timestamp repeated 4,000 times is refused at once (it took 56 s of CPU)', () => {
    const b = sigstoreBundle();
    const ts = timestampsOf(b)[0];
    b.verificationMaterial.timestampVerificationData.rfc3161Timestamps =
      Array.from({ length: 4000 }, () => ts);
    const r = refusal(() => parseBundle(JSON.stringify(b)));
    expect(r).toMatchObject({
      code: 'BUNDLE_LIMIT_EXCEEDED',
      details: { limit: 'maxTimestamps', value: 16 },
    });
    expect(r.ms).toBeLessThan(1000);
  });

  it('the same timestamp twice is malformed (details.duplicate)', () => {
    const b = sigstoreBundle();
    const ts = timestampsOf(b)[0];
    b.verificationMaterial.timestampVerificationData.rfc3161Timestamps = [
      ts,
      ts,
    ];
    expect(refusal(() => parseBundle(b))).toMatchObject({
      code: 'BUNDLE_MALFORMED',
      details: { duplicate: 'rfc3161Timestamps', index: 1, first: 0 },
    });
  });

  it('log entries: too many, or one repeated', () => {
    const b = sigstoreBundle();
    const entry = b.verificationMaterial.tlogEntries[0] as unknown;
    b.verificationMaterial.tlogEntries = Array.from(
      { length: 17 },
      () => entry,
    );
    expect(refusal(() => parseBundle(b))).toMatchObject({
      code: 'BUNDLE_LIMIT_EXCEEDED',
      details: { limit: 'maxTlogEntries' },
    });
    b.verificationMaterial.tlogEntries = [entry, entry];
    expect(refusal(() => parseBundle(b))).toMatchObject({
      code: 'BUNDLE_MALFORMED',
      details: { duplicate: 'tlogEntries' },
    });
  });

  it('certificates: too many, or one repeated', () => {
    const b = certificateBundle();
    const certs = b.verificationMaterial.x509CertificateChain
      .certificates as unknown[];
    b.verificationMaterial.x509CertificateChain.certificates = [
      ...certs,
      certs[1],
    ];
    expect(refusal(() => parseBundle(b))).toMatchObject({
      code: 'BUNDLE_MALFORMED',
      details: { duplicate: 'certificates', index: 2, first: 1 },
    });
    expect(
      refusal(() => parseBundle(b, 'bundle', { maxCertificates: 2 })),
    ).toMatchObject({
      code: 'BUNDLE_LIMIT_EXCEEDED',
      details: { limit: 'maxCertificates', value: 2 },
    });
  });
});

describe('JSON budget', () => {
  it('dense JSON in an ignored field is refused by the token count before parsing', async () => {
    // 8 MiB of `[],` (the case is 63 MiB; the benchmark runs that one).
    const text = JSON.stringify(sigstoreBundle());
    const dense = `{"x":[${'[],'.repeat((8 << 20) / 3)}[]],${text.slice(1)}`;
    const file = join(tempDir(), 'dense.sig');
    writeFileSync(file, dense);
    const t0 = performance.now();
    await expect(readBundle(file)).rejects.toMatchObject({
      code: 'BUNDLE_LIMIT_EXCEEDED',
      details: { limit: 'maxJsonTokens', value: 100_000 },
    });
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('a caller can tighten the budget', () => {
    const text = JSON.stringify(sigstoreBundle());
    expect(
      refusal(() => parseBundle(text, 'b', { maxJsonTokens: 10 })),
    ).toMatchObject({ details: { limit: 'maxJsonTokens', value: 10 } });
    expect(
      refusal(() => parseBundle(text, 'b', { maxJsonDepth: 2 })),
    ).toMatchObject({ details: { limit: 'maxJsonDepth', value: 2 } });
  });
});

describe('verify stops at the bundle', () => {
  it('a timestamp flood fails verify with BUNDLE_LIMIT_EXCEEDED before any signature check', async () => {
    const model = join(tempDir(), 'model');
    cpSync(vectorPath(SIGSTORE), model, { recursive: true });
    rmSync(join(model, 'model.sig'));
    const b = sigstoreBundle();
    const ts = timestampsOf(b)[0];
    b.verificationMaterial.timestampVerificationData.rfc3161Timestamps =
      Array.from({ length: 4000 }, () => ts);
    const sig = join(tempDir(), 'flood.sig');
    writeFileSync(sig, JSON.stringify(b));
    const options = {
      method: 'sigstore',
      modelPath: model,
      bundlePath: sig,
      identity: 'stefanb@us.ibm.com',
      issuer: 'https://sigstore.verify.ibm.com/oauth2',
      concurrency: 0,
    } as const;
    await expect(verifyModelSignature(options)).rejects.toHaveCode(
      'BUNDLE_LIMIT_EXCEEDED',
    );
    // JSON handed to the keyless verifier directly gets the same list limits.
    await expect(
      verifySigstoreBundle(b, {
        identity: 'stefanb@us.ibm.com',
        issuer: 'https://sigstore.verify.ibm.com/oauth2',
      }),
    ).rejects.toMatchObject({
      code: 'BUNDLE_LIMIT_EXCEEDED',
      details: { limit: 'maxTimestamps' },
    });
    // The size cap, through the verify option.
    await expect(
      verifyModelSignature({ ...options, bundleLimits: { maxBytes: 1024 } }),
    ).rejects.toMatchObject({
      code: 'BUNDLE_LIMIT_EXCEEDED',
      details: { limit: 'maxBytes' },
    });
  });
});
