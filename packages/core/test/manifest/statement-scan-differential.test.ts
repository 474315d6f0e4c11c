// SPDX-License-Identifier: Apache-2.0
// The boundary scans that let large statements and bundles be read piece by
// piece (statement-scan.ts, bundle/read.ts) against whole-document JSON.parse,
// on thousands of seeded mutations: a document JSON.parse refuses is never
// accepted, and one it accepts gives the same result either way.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseBundle } from '../../src/bundle/read.js';
import { decodeStatement } from '../../src/manifest/index.js';
import { mutate, seeded } from '../helpers/mutation.js';

const sha = (text: string): string =>
  createHash('sha256').update(text).digest('hex');

function statement(): Buffer {
  const resources = ['a', 'b/c', 'd e', 'é/f'].map((name) => ({
    name,
    algorithm: 'sha256',
    digest: sha(name),
  }));
  const root = createHash('sha256')
    .update(Buffer.concat(resources.map((r) => Buffer.from(r.digest, 'hex'))))
    .digest('hex');
  return Buffer.from(
    JSON.stringify(
      {
        _type: 'https://in-toto.io/Statement/v1',
        subject: [{ name: 'm', digest: { sha256: root } }],
        predicateType: 'https://model_signing/signature/v1.0',
        predicate: {
          serialization: {
            method: 'files',
            hash_type: 'sha256',
            allow_symlinks: false,
          },
          resources,
        },
      },
      null,
      Number(process.env['INDENT'] ?? 1),
    ),
  );
}

type Outcome = { ok: true; value: unknown } | { ok: false; code: string };

function outcome(run: () => unknown): Outcome {
  try {
    return { ok: true, value: run() };
  } catch (error) {
    return { ok: false, code: (error as { code?: string }).code ?? 'THROW' };
  }
}

describe('statement resource lists, piece by piece vs whole', () => {
  it('4,000 mutations: never accepted when JSON.parse refuses; the same result when it accepts', () => {
    const base = statement();
    const random = seeded(7);
    let valid = 0;
    for (let i = 0; i < 4000; i++) {
      const text = mutate(base, random);
      let whole: unknown;
      try {
        whole = JSON.parse(text.toString('utf8'));
      } catch {
        expect(outcome(() => decodeStatement(text)).ok).toBe(false);
        continue;
      }
      valid++;
      // The same document written canonically: its boundaries are plain.
      const canonical = Buffer.from(JSON.stringify(whole));
      const a = outcome(() => decodeStatement(text).manifest.resources);
      const b = outcome(() => decodeStatement(canonical).manifest.resources);
      expect(a).toEqual(b);
    }
    expect(valid).toBeGreaterThan(100);
  });
});

describe('bundle payloads lifted from the bytes vs the parsed object', () => {
  it('2,000 mutations of a bundle with a large payload agree with parsing the object', () => {
    const payload = Buffer.alloc(80_000, 0x41).toString('base64');
    const base = Buffer.from(
      JSON.stringify({
        mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
        verificationMaterial: { publicKey: { hint: 'abc' } },
        dsseEnvelope: {
          payload,
          payloadType: 'application/vnd.in-toto+json',
          signatures: [{ sig: 'AAAA', keyid: '' }],
        },
      }),
    );
    // Mutations near the structure: the first and last 400 bytes.
    const head = base.subarray(0, 400);
    const tail = base.subarray(base.length - 400);
    const middle = base.subarray(400, base.length - 400);
    const random = seeded(11);
    let valid = 0;
    for (let i = 0; i < 2000; i++) {
      const text =
        random() < 0.5
          ? Buffer.concat([mutate(head, random), middle, tail])
          : Buffer.concat([head, middle, mutate(tail, random)]);
      let json: unknown;
      try {
        json = JSON.parse(text.toString('utf8'));
      } catch {
        expect(outcome(() => parseBundle(text)).ok).toBe(false);
        continue;
      }
      valid++;
      const summary = (b: ReturnType<typeof parseBundle>): unknown => ({
        payload: sha(b.envelope.payload.toString('latin1')),
        type: b.envelope.payloadType,
        kind: b.materialKind,
      });
      const a = outcome(() => summary(parseBundle(text)));
      const b = outcome(() => summary(parseBundle(json)));
      expect(a).toEqual(b);
    }
    expect(valid).toBeGreaterThan(50);
  });
});
