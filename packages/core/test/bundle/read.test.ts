// SPDX-License-Identifier: Apache-2.0
// Tolerant reading of bundles (oms-format §2): what we accept, and hostile or
// broken files that must fail with BUNDLE_MALFORMED, never a foreign error.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBundle, readBundle } from '../../src/bundle/read.js';
import { isModelSealError } from '../../src/errors.js';
import { releaseBuffer, shrinkableBuffer } from '../../src/internal/release.js';
import { tempDir } from '../helpers/tree.js';
import { vectorPath } from '../helpers/vectors.js';

const PAYLOAD = Buffer.from('{"a":1}').toString('base64');
const SIG = Buffer.from('sig').toString('base64');

function keyBundle(
  overrides: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: { publicKey: { hint: 'ab' }, tlogEntries: [] },
    dsseEnvelope: {
      payload: PAYLOAD,
      payloadType: 'application/vnd.in-toto+json',
      signatures: [{ sig: SIG, keyid: '' }],
    },
    ...overrides,
  };
}

function envelopeWith(
  changes: Record<string, unknown>,
): Record<string, unknown> {
  const b = keyBundle();
  return { ...b, dsseEnvelope: { ...(b.dsseEnvelope as object), ...changes } };
}

describe('readBundle accepts', () => {
  for (const mediaType of [
    'application/vnd.dev.sigstore.bundle.v0.1+json',
    'application/vnd.dev.sigstore.bundle.v0.2+json',
    'application/vnd.dev.sigstore.bundle.v0.3+json',
    'application/vnd.dev.sigstore.bundle+json;version=0.1',
    'application/vnd.dev.sigstore.bundle+json;version=0.2',
    'application/vnd.dev.sigstore.bundle+json;version=0.3',
  ]) {
    it(`media type ${mediaType}`, () => {
      expect(parseBundle(keyBundle({ mediaType })).mediaType).toBe(mediaType);
    });
  }

  for (const keyid of ['', null, undefined, 'something']) {
    it(`keyid ${JSON.stringify(keyid)}`, () => {
      const sig: Record<string, unknown> = { sig: SIG };
      if (keyid !== undefined) sig['keyid'] = keyid;
      const parsed = parseBundle(envelopeWith({ signatures: [sig] }));
      expect(parsed.envelope.signature.keyid).toBe(keyid);
      expect(parsed.envelope.signature.sig.toString()).toBe('sig');
    });
  }

  it('absent tlogEntries and unknown keys anywhere', () => {
    const b = keyBundle({
      verificationMaterial: {
        publicKey: { hint: 'ab', extra: 1 },
        unknown: true,
      },
      somethingNew: { x: 1 },
    });
    const parsed = parseBundle(b);
    expect(parsed.tlogEntries).toBeUndefined();
    expect(parsed.method).toBe('key');
  });

  it('keeps publicKey.rawBytes and keyDetails that generic parsers drop', async () => {
    const parsed = await readBundle(
      vectorPath('oms-reference/v1.0.1-elliptic-key/model.sig'),
    );
    expect(parsed.publicKey?.hint).toBeUndefined();
    expect(parsed.publicKey?.rawBytes?.toString('utf8')).toContain(
      '-----BEGIN PUBLIC KEY-----',
    );
    expect(parsed.publicKey?.keyDetails).toBe('PKIX_ECDSA_P384_SHA_384');
    expect(parsed.envelope.signature.keyid).toBeNull();
  });

  it('reads every method of the reference vectors', async () => {
    expect(
      (
        await readBundle(
          vectorPath('oms-reference/v1.1.0-elliptic-key/model.sig'),
        )
      ).method,
    ).toBe('key');
    const cert = await readBundle(
      vectorPath('oms-reference/v1.1.0-certificate/model.sig'),
    );
    expect(cert.method).toBe('certificate');
    expect(cert.certificates).toHaveLength(2);
    const sig = await readBundle(
      vectorPath('oms-reference/v1.1.0-sigstore/model.sig'),
    );
    expect(sig.method).toBe('sigstore');
    expect(sig.tlogEntries).toHaveLength(1);
    expect(sig.rfc3161TimestampCount).toBe(1);
    expect(sig.typed.content?.$case).toBe('dsseEnvelope');
  });

  it('bytes as well as files', async () => {
    const parsed = await readBundle(Buffer.from(JSON.stringify(keyBundle())));
    expect(parsed.envelope.payload.toString()).toBe('{"a":1}');
  });

  it('a large payload read from a file is the only thing left in its buffer', async () => {
    // 300 KB of payload (past the 64 KiB of base64 where it is lifted out of
    // the JSON): the file's buffer shrinks to the decoded payload, which
    // reads back as the bytes that were encoded, and the rest of the
    // bundle is parsed as usual.
    const payload = Buffer.alloc(300_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7919) % 251;
    const file = join(tempDir(), 'large.sig');
    writeFileSync(
      file,
      JSON.stringify(envelopeWith({ payload: payload.toString('base64') })),
    );
    const parsed = await readBundle(file);
    const read = parsed.envelope.payload;
    expect(Buffer.compare(read, payload)).toBe(0);
    expect(read.byteOffset).toBe(0);
    expect(read.buffer.byteLength).toBe(payload.length);
    expect(parsed.envelope.signature.sig.toString()).toBe('sig');
    // Ours, and resizable: what lets verify free it before the hashing,
    // though under 1 MiB (releaseBuffer leaves plain small buffers alone).
    expect(shrinkableBuffer(read)).toBeDefined();
    releaseBuffer(read);
    expect(read.byteLength).toBe(0);
    // From bytes the caller holds, the caller's buffer is left alone.
    const bytes = Buffer.from(
      JSON.stringify(envelopeWith({ payload: payload.toString('base64') })),
    );
    const copy = Buffer.from(bytes);
    const fromBytes = await readBundle(bytes);
    expect(Buffer.compare(fromBytes.envelope.payload, payload)).toBe(0);
    expect(Buffer.compare(bytes, copy)).toBe(0);
  });

  it('URL-safe base64 without padding', () => {
    const payload = Buffer.from([0xfb, 0xff, 0xfe]);
    const parsed = parseBundle(
      envelopeWith({ payload: payload.toString('base64url') }),
    );
    expect(parsed.envelope.payload.equals(payload)).toBe(true);
  });
});

describe('readBundle rejects with BUNDLE_MALFORMED', () => {
  const cases: [string, unknown][] = [
    ['an empty file', ''],
    ['whitespace only', '  \n'],
    ['invalid JSON', '{"mediaType": '],
    ['a truncated bundle', JSON.stringify(keyBundle()).slice(0, 200)],
    ['a JSON array', '[]'],
    ['JSON null', 'null'],
    ['no mediaType', keyBundle({ mediaType: undefined })],
    [
      'media type application/json',
      keyBundle({ mediaType: 'application/json' }),
    ],
    [
      'media type v0.4',
      keyBundle({ mediaType: 'application/vnd.dev.sigstore.bundle.v0.4+json' }),
    ],
    [
      'media type with a suffix',
      keyBundle({
        mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json;x',
      }),
    ],
    ['a missing dsseEnvelope', keyBundle({ dsseEnvelope: undefined })],
    [
      'a messageSignature bundle',
      keyBundle({ dsseEnvelope: undefined, messageSignature: {} }),
    ],
    [
      'a missing verificationMaterial',
      keyBundle({ verificationMaterial: undefined }),
    ],
    ['empty verificationMaterial', keyBundle({ verificationMaterial: {} })],
    [
      'two kinds of material',
      keyBundle({
        verificationMaterial: { publicKey: {}, certificate: { rawBytes: SIG } },
      }),
    ],
    ['an empty signatures array', envelopeWith({ signatures: [] })],
    ['no signatures', envelopeWith({ signatures: undefined })],
    ['a signature that is not an object', envelopeWith({ signatures: ['x'] })],
    ['an empty sig', envelopeWith({ signatures: [{ sig: '' }] })],
    ['a numeric keyid', envelopeWith({ signatures: [{ sig: SIG, keyid: 3 }] })],
    ['no payloadType', envelopeWith({ payloadType: undefined })],
    ['a payload that is not base64', envelopeWith({ payload: 'not base64!' })],
    [
      'a payload with non-canonical base64 bits',
      envelopeWith({ payload: 'YR==' }),
    ],
    [
      'a payload with data after padding',
      envelopeWith({ payload: 'YQ==YQ==' }),
    ],
    ['a non-string payload', envelopeWith({ payload: 5 })],
    [
      'tlogEntries that is not an array',
      keyBundle({ verificationMaterial: { publicKey: {}, tlogEntries: {} } }),
    ],
    [
      'an empty certificate chain',
      keyBundle({
        verificationMaterial: { x509CertificateChain: { certificates: [] } },
      }),
    ],
    [
      'a chain entry without rawBytes',
      keyBundle({
        verificationMaterial: { x509CertificateChain: { certificates: [{}] } },
      }),
    ],
    [
      'a certificate that is not base64',
      keyBundle({ verificationMaterial: { certificate: { rawBytes: '%%' } } }),
    ],
  ];
  for (const [what, value] of cases) {
    it(what, async () => {
      const bytes = Buffer.from(
        typeof value === 'string' ? value : JSON.stringify(value),
      );
      await expect(readBundle(bytes)).rejects.toHaveCode('BUNDLE_MALFORMED');
    });
  }

  it('the spec vectors empty / missing-envelope / missing-verification-material', async () => {
    for (const name of [
      'empty',
      'missing-envelope',
      'missing-verification-material',
    ]) {
      await expect(
        readBundle(
          vectorPath(`oms-spec/test-vectors/v1.0/invalid/${name}.bundle.json`),
        ),
      ).rejects.toHaveCode('BUNDLE_MALFORMED');
    }
  });

  it('a bundle over the size cap (bytes and file): BUNDLE_LIMIT_EXCEEDED naming maxBytes', async () => {
    const text = JSON.stringify(keyBundle());
    await expect(
      readBundle(Buffer.from(text), { maxBytes: 10 }),
    ).rejects.toHaveCode('BUNDLE_LIMIT_EXCEEDED');
    const file = join(tempDir(), 'big.sig');
    writeFileSync(file, text);
    await expect(readBundle(file, { maxBytes: 10 })).rejects.toMatchObject({
      code: 'BUNDLE_LIMIT_EXCEEDED',
      details: { limit: 'maxBytes', value: 10 },
    });
    await expect(
      readBundle(file, { maxBytes: text.length }),
    ).resolves.toBeDefined();
  });

  it('never lets a foreign error escape on random bytes', async () => {
    for (let i = 0; i < 200; i++) {
      const junk = Buffer.from(
        Array.from({ length: 1 + (i % 50) }, (_, j) => (i * 31 + j * 7) % 256),
      );
      try {
        await readBundle(junk);
      } catch (error) {
        expect(isModelSealError(error)).toBe(true);
      }
    }
  });
});

describe('readBundle I/O', () => {
  it('a missing file is IO_ERROR', async () => {
    await expect(readBundle(join(tempDir(), 'nope.sig'))).rejects.toHaveCode(
      'IO_ERROR',
    );
  });
  it('a directory is IO_ERROR', async () => {
    await expect(readBundle(tempDir())).rejects.toHaveCode('IO_ERROR');
  });
});

describe('hostile JSON', () => {
  it('deeply nested JSON (parser stack exhaustion) fails closed', async () => {
    const deep = `{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json","x":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    try {
      await readBundle(Buffer.from(deep));
      expect.unreachable('a bundle without material must not parse');
    } catch (error) {
      // Refused by the depth budget before JSON.parse recurses.
      expect(error).toHaveCode('BUNDLE_LIMIT_EXCEEDED');
    }
  });

  it('__proto__ keys do not pollute anything', async () => {
    const text = JSON.stringify(keyBundle()).replace(
      '{"mediaType"',
      '{"__proto__":{"polluted":1},"mediaType"',
    );
    const parsed = await readBundle(Buffer.from(text));
    expect(parsed.method).toBe('key');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });
});
