// SPDX-License-Identifier: Apache-2.0
// Adversarial review of the streamed bundle read (bundle/read.ts,
// readStreamed) and of StrictBase64Decoder: a file of 1 MiB or more read in
// small chunks gives what parseBundle gives for its bytes (or readBundle of
// the bytes, for the size limit), with every read boundary put next to the
// payload's key, colon, quotes and padding, decoys, escaped keys and sizes at
// each threshold; the decoder agrees with decodeBase64StrictBytes for every
// cut of short texts, written in place as readStreamed writes.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BUNDLE_LIMITS,
  parseBundle,
  readBundle,
  readBundleFile,
  readBundlePath,
} from '../../src/bundle/read.js';
import {
  decodeBase64StrictBytes,
  StrictBase64Decoder,
} from '../../src/internal/base64.js';
import {
  bundleOutcome as outcome,
  type BundleOutcome as Outcome,
} from '../helpers/bundle-outcome.js';
import { seeded } from '../helpers/mutation.js';
import { tempDir } from '../helpers/tree.js';

const STREAM_BYTES = 1 << 20;
const LIFT_BYTES = 64 * 1024;

/**
 * Decodes `text` as readStreamed does: in one buffer, the decoded bytes
 * written over the text, the leftover moved after them, cut at `cuts`.
 */
function inPlace(text: Buffer, cuts: number[]): Buffer | undefined {
  const decoder = new StrictBase64Decoder();
  const buffer = Buffer.alloc(text.length + 8, 0x2e);
  let decoded = 0;
  let held = 0;
  let from = 0;
  for (const cut of [...cuts, text.length]) {
    const last = cut === text.length;
    text.copy(buffer, held, from, cut);
    held += cut - from;
    from = cut;
    const step = decoder.push(
      buffer.subarray(decoded, held),
      buffer,
      decoded,
      last,
    );
    if (step === undefined) return undefined;
    const left = held - decoded - step.read;
    buffer.copyWithin(decoded + step.written, decoded + step.read, held);
    decoded += step.written;
    held = decoded + left;
    if (last) expect(left).toBe(0);
  }
  return Buffer.from(buffer.subarray(0, decoded));
}

describe('StrictBase64Decoder against decodeBase64StrictBytes, every cut', () => {
  it('short texts at every one and two cuts, decoded in place', () => {
    const data = randomBytes(12);
    const texts = new Set<string>(['', '=', '==', '===', '====', 'A', 'AB']);
    for (let n = 0; n <= 12; n++) {
      const std = data.subarray(0, n).toString('base64');
      const url = data.subarray(0, n).toString('base64url');
      for (const t of [std, url, std.replace(/=+$/, '')]) {
        texts.add(t);
        texts.add(t + '=');
        texts.add(t + '==');
        texts.add(t + 'A');
        texts.add(t + 'A=');
        texts.add('=' + t);
        // A flaw at each place: padding inside, a mixed alphabet, an escape.
        for (let i = 0; i <= t.length; i++)
          for (const f of ['=', '+', '_', '\\', ' ', 'é'])
            texts.add(t.slice(0, i) + f + t.slice(i));
      }
    }
    // Spare bits set in the last character before the padding.
    texts.add('AB==');
    texts.add('AAB=');
    texts.add('QR==');
    texts.add('QUF=');
    let accepted = 0;
    let checked = 0;
    for (const t of texts) {
      const text = Buffer.from(t, 'latin1');
      const expected = decodeBase64StrictBytes(Buffer.from(text));
      const cutSets: number[][] = [[]];
      for (let a = 0; a <= text.length; a++) {
        cutSets.push([a]);
        for (let b = a; b <= text.length; b += 3) cutSets.push([a, b]);
      }
      for (const cuts of cutSets) {
        const got = inPlace(text, cuts);
        checked++;
        if (expected === undefined)
          expect(got, `${t} ${cuts.join(',')}`).toBeUndefined();
        else expect(got, `${t} ${cuts.join(',')}`).toEqual(expected);
      }
      if (expected !== undefined) accepted++;
    }
    expect(accepted).toBeGreaterThan(40);
    expect(checked).toBeGreaterThan(50_000);
  });

  it('a refusal is final: no later piece is decoded', () => {
    const decoder = new StrictBase64Decoder();
    const out = Buffer.alloc(16);
    expect(decoder.push(Buffer.from('AB=AAAAA'), out, 0, false)).toBe(
      undefined,
    );
    expect(decoder.push(Buffer.from('AAAA'), out, 0, true)).toBe(undefined);
  });
});

const MEDIA = '"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"';
const SIGS =
  '"payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AAAA","keyid":""}]';

/** A bundle: `pad` in the material, then the envelope from `envelope` (its payload member given). */
function bundle(payloadMember: string, pad = '', extra = ''): Buffer {
  return Buffer.from(
    `{${MEDIA},"verificationMaterial":{"publicKey":{"hint":"abc"},"x":"${pad}"${extra}},` +
      `"dsseEnvelope":{${payloadMember},${SIGS}}}`,
  );
}

describe('a large bundle file read in small chunks, against its bytes parsed whole', () => {
  const dir = tempDir();
  const file = join(dir, 'model.sig');
  // 1.07 MiB of base64 text with one `=`: the file is read streamed.
  const data = randomBytes(842_000);
  const payload = data.toString('base64');
  expect(payload.endsWith('=') && !payload.endsWith('==')).toBe(true);
  let streamedCount = 0;

  /** The file read in `chunk`-byte reads and its bytes parsed: the same answer. */
  async function agree(
    text: Buffer,
    chunk: number,
    limits = DEFAULT_BUNDLE_LIMITS,
  ): Promise<Outcome> {
    writeFileSync(file, text);
    const read = await outcome(() => readBundlePath(file, limits, chunk));
    const whole = await outcome(() =>
      limits === DEFAULT_BUNDLE_LIMITS
        ? parseBundle(text, file)
        : readBundle(text, { ...limits, name: file }),
    );
    expect(read, `chunk ${chunk}, ${text.length} bytes`).toEqual(whole);
    try {
      if ((await readBundleFile(file, limits.maxBytes, chunk)).rest)
        streamedCount++;
    } catch {
      // The size limit: judged above.
    }
    return read;
  }

  /** `make(pad)` with `pad` chosen so that `target(text)` lies `delta` past a read boundary. */
  function aligned(
    make: (pad: string) => Buffer,
    target: (text: Buffer) => number,
    chunk: number,
    delta: number,
  ): Buffer {
    const at = target(make(''));
    const p = (((delta - at) % chunk) + chunk) % chunk;
    const text = make('y'.repeat(p));
    expect((target(text) - delta) % chunk).toBe(0);
    return text;
  }

  it('every read boundary near the key, colon, quotes and padding', async () => {
    const members = [
      `"payload":"${payload}"`,
      `"payload" \n: \t"${payload}"`,
      `"payload":"${payload.replace(/=$/, '')}"`,
      `"payload":"${payload.slice(0, -2)}=="`,
    ];
    const targets: ((t: Buffer) => number)[] = [
      (t) => t.indexOf('"payload"'),
      (t) => t.indexOf('"', t.indexOf('"payload"') + 9),
      (t) => t.indexOf('"', t.indexOf('"payload"') + 9) + payload.length,
    ];
    let ok = 0;
    for (const [m, member] of members.entries()) {
      for (const target of targets) {
        for (const delta of m < 2 ? [-9, -1, 0, 1, 9] : [-1, 0, 1]) {
          const chunk = 4096 + (delta & 3);
          const text = aligned(
            (pad) => bundle(member, pad),
            target,
            chunk,
            delta,
          );
          if ((await agree(text, chunk)).ok) ok++;
        }
      }
    }
    expect(ok).toBeGreaterThan(30);
    expect(streamedCount).toBeGreaterThan(30);
  });

  it('decoys, escaped keys, a second envelope and escapes in the text', async () => {
    const cases: Buffer[] = [
      // The real key spelled with an escape: no literal key is found.
      bundle(`"p\\u0061yload":"${payload}"`),
      // ...behind a literal decoy that is valid base64, and one that is not.
      bundle(`"p\\u0061yload":"${payload}"`, '', `,"payload":"${payload}"`),
      bundle(`"p\\u0061yload":"${payload}"`, '', ',"payload":"AA\\"B"'),
      // A key that ends in payload after an escaped quote.
      bundle(`"payload":"${payload}"`, '', `,"x\\"payload":"${payload}"`),
      bundle(`"payload":"${payload}"`, 'a\\"payload\\": \\"AAAA'),
      // The key twice in the envelope (JSON.parse keeps the last).
      bundle(`"payload":"${payload}","payload":"AAAA"`),
      bundle(`"payload":"AAAA","payload":"${payload}"`),
      // A decoy in a signature, before the envelope's payload.
      Buffer.from(
        `{${MEDIA},"verificationMaterial":{"publicKey":{"hint":"abc"}},"dsseEnvelope":{"signatures":[{"sig":"AAAA","payload":"${payload}"}],"payloadType":"t","payload":"${payload}"}}`,
      ),
      // Two envelopes.
      Buffer.from(
        `{${MEDIA},"dsseEnvelope":{"payload":"${payload}",${SIGS}},"verificationMaterial":{"publicKey":{"hint":"abc"}},"dsseEnvelope":{"payload":"QUFB",${SIGS}}}`,
      ),
      // Escapes, whitespace and non-ASCII in the text, near each end.
      bundle(`"payload":"${payload.slice(0, 5000)}\\/${payload.slice(5002)}"`),
      bundle(`"payload":"${payload.slice(0, -9)}\\u0041${payload.slice(-8)}"`),
      bundle(`"payload":"${payload.slice(0, -3)}\\"${payload.slice(-2)}"`),
      bundle(
        `"payload":"${payload.slice(0, 70_000)} ${payload.slice(70_001)}"`,
      ),
      bundle(`"payload":"${payload.slice(0, -4)}é${payload.slice(-3)}"`),
      bundle(`"payload":"${payload}\\\\"`),
      // Not a string, then a string later in the file.
      bundle(`"payload":5,"q":"${payload}"`),
      bundle(`"payload":["${payload}"]`),
      // Cut off inside the text, and right after it.
      bundle(`"payload":"${payload}"`).subarray(0, 900_000),
      (() => {
        const t = bundle(`"payload":"${payload}"`);
        return t.subarray(0, t.indexOf(payload) + payload.length + 1);
      })(),
    ];
    const results: boolean[] = [];
    for (const [i, text] of cases.entries())
      results.push((await agree(text, [4093, 1021, 65_536][i % 3]!)).ok);
    expect(results.filter(Boolean).length).toBeGreaterThan(4);
    expect(results.filter((r) => !r).length).toBeGreaterThan(4);
  });

  it('payload text just under and over 64 KiB, in a file over 1 MiB', async () => {
    for (const length of [LIFT_BYTES - 4, LIFT_BYTES, LIFT_BYTES + 4]) {
      const text = data.subarray(0, (length / 4) * 3).toString('base64');
      expect(text.length).toBe(length);
      const member = `"payload":"${text}"`;
      const big = bundle(member, 'y'.repeat(STREAM_BYTES));
      expect((await agree(big, 4093)).ok).toBe(true);
      // The padding after the payload instead.
      const after = bundle(member, '', `,"z":"${'y'.repeat(STREAM_BYTES)}"`);
      expect((await agree(after, 4093)).ok).toBe(true);
    }
  });

  it('files of 1 MiB - 1, 1 MiB and 1 MiB + 1 bytes, and the size limit at the file size', async () => {
    const small = data.subarray(0, 600_000).toString('base64');
    const base = bundle(`"payload":"${small}"`);
    for (const size of [STREAM_BYTES - 1, STREAM_BYTES, STREAM_BYTES + 1]) {
      const text = bundle(
        `"payload":"${small}"`,
        'y'.repeat(size - base.length),
      );
      expect(text.length).toBe(size);
      expect((await agree(text, 4093)).ok).toBe(true);
      for (const maxBytes of [size - 1, size, size + 1]) {
        const limits = { ...DEFAULT_BUNDLE_LIMITS, maxBytes };
        const result = await agree(text, 4093, limits);
        expect(result.ok).toBe(maxBytes >= size);
      }
    }
    // Over the limit by far: refused with the limit's message, not read.
    const text = bundle(`"payload":"${payload}"`);
    const limits = { ...DEFAULT_BUNDLE_LIMITS, maxBytes: STREAM_BYTES };
    expect((await agree(text, 4093, limits)).ok).toBe(false);
  });

  it('an empty file, and a directory', async () => {
    expect((await agree(Buffer.alloc(0), 4093)).ok).toBe(false);
    const folder = join(dir, 'folder.sig');
    mkdirSync(folder);
    await expect(
      readBundlePath(folder, DEFAULT_BUNDLE_LIMITS, 4093),
    ).rejects.toMatchObject({ code: 'IO_ERROR' });
  });

  it('seeded layouts: random whitespace, decoys and chunk sizes', async () => {
    const random = seeded(77);
    const space = (): string =>
      [' ', '\n', '\t', '\r', ''][Math.floor(random() * 5)]!.repeat(
        Math.floor(random() * 3),
      );
    let ok = 0;
    for (let i = 0; i < 8; i++) {
      const member = `"payload"${space()}:${space()}"${payload}"`;
      const decoy =
        random() < 0.5
          ? ''
          : `,"payload"${space()}:${space()}"${'QUFB'.repeat(Math.floor(random() * 20_000))}"`;
      const text = bundle(
        member,
        'y'.repeat(Math.floor(random() * 9000)),
        decoy,
      );
      const chunk = 997 + Math.floor(random() * 5000);
      if ((await agree(text, chunk)).ok) ok++;
    }
    expect(ok).toBe(8);
  });
});
