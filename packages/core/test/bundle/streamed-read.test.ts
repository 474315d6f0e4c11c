// SPDX-License-Identifier: Apache-2.0
// A large bundle file has its payload decoded as it is read (bundle/read.ts,
// readStreamed): the same answer as decoding the whole text, for every place
// a read can end, every layout and every non-canonical payload; and the
// streamed path is the one taken for an ordinary large bundle.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BUNDLE_LIMITS,
  parseBundle,
  readBundleFile,
  readBundlePath,
} from '../../src/bundle/read.js';
import {
  decodeBase64StrictBytes,
  StrictBase64Decoder,
} from '../../src/internal/base64.js';
import {
  bundleOutcome as outcome,
  sha,
  type BundleOutcome as Outcome,
} from '../helpers/bundle-outcome.js';
import { mutate, seeded } from '../helpers/mutation.js';
import { tempDir } from '../helpers/tree.js';

/** Decodes `text` the way readStreamed does: pieces cut at `cuts`, leftovers given again. */
function streamed(text: Buffer, cuts: number[]): Buffer | undefined {
  const decoder = new StrictBase64Decoder();
  const out = Buffer.alloc(text.length);
  let written = 0;
  let pending = Buffer.alloc(0);
  let from = 0;
  for (const cut of [...cuts, text.length]) {
    const last = cut === text.length;
    const piece = Buffer.concat([pending, text.subarray(from, cut)]);
    from = cut;
    const step = decoder.push(piece, out, written, last);
    if (step === undefined) return undefined;
    written += step.written;
    pending = piece.subarray(step.read);
    if (last) expect(pending.length).toBe(0);
  }
  return out.subarray(0, written);
}

function cutsOf(length: number, random: () => number): number[] {
  const n = Math.floor(random() * 6);
  const cuts: number[] = [];
  for (let i = 0; i < n; i++) cuts.push(Math.floor(random() * (length + 1)));
  return cuts.sort((a, b) => a - b);
}

describe('StrictBase64Decoder: pieces decode as the whole text does', () => {
  it('5,000 texts, canonical and not, cut anywhere', () => {
    const random = seeded(31);
    const alphabet = Buffer.from(
      'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_= \\"',
    );
    let accepted = 0;
    for (let i = 0; i < 5000; i++) {
      const data = randomBytes(Math.floor(random() * 40));
      let text: Buffer = Buffer.from(
        data.toString(random() < 0.5 ? 'base64' : 'base64url'),
      );
      // Padding dropped or added, a character changed, removed or added.
      if (random() < 0.2)
        text = Buffer.from(text.toString().replace(/=+$/, ''));
      if (random() < 0.6) text = mutate(text, random, [...alphabet]);
      const expected = decodeBase64StrictBytes(Buffer.from(text));
      const got = streamed(text, cutsOf(text.length, random));
      if (expected === undefined) expect(got).toBeUndefined();
      else {
        expect(got).toEqual(expected);
        accepted++;
      }
    }
    expect(accepted).toBeGreaterThan(1500);
    expect(accepted).toBeLessThan(4500);
  });
});

function bundleText(
  payload: string,
  layout: {
    before?: string;
    envelopeFirst?: boolean;
    payloadLast?: boolean;
    space?: string;
  } = {},
): string {
  const s = layout.space ?? '';
  const envelope = layout.payloadLast
    ? `{"payloadType":${s}"application/vnd.in-toto+json",${s}"signatures":${s}[{"sig":${s}"AAAA","keyid":${s}""}],${s}"payload"${s}:${s}"${payload}"}`
    : `{"payload"${s}:${s}"${payload}",${s}"payloadType":${s}"application/vnd.in-toto+json",${s}"signatures":${s}[{"sig":${s}"AAAA","keyid":${s}""}]}`;
  const material = `{"publicKey":${s}{"hint":${s}"abc"}${layout.before ?? ''}}`;
  const media = `"mediaType":${s}"application/vnd.dev.sigstore.bundle.v0.3+json"`;
  return layout.envelopeFirst
    ? `{"dsseEnvelope":${s}${envelope},${s}${media},${s}"verificationMaterial":${s}${material}}`
    : `{${media},${s}"verificationMaterial":${s}${material},${s}"dsseEnvelope":${s}${envelope}}`;
}

/** readBundle of the file in `chunk`-byte reads, and parseBundle of its bytes: the same. */
async function agree(
  file: string,
  text: Buffer,
  chunk: number,
): Promise<Outcome> {
  writeFileSync(file, text);
  const read = await outcome(() =>
    readBundlePath(file, DEFAULT_BUNDLE_LIMITS, chunk),
  );
  const parsed = await outcome(() => parseBundle(text, file));
  expect(read).toEqual(parsed);
  return read;
}

describe('a large bundle file read in chunks, against its bytes parsed whole', () => {
  const dir = tempDir();
  const file = join(dir, 'model.sig');
  // 1.2 MiB of payload text: the file is read streamed (1 MiB or more).
  const payload = randomBytes(900_000).toString('base64');

  it('takes the streamed path for an ordinary bundle, and leaves a payload that can shrink', async () => {
    writeFileSync(file, bundleText(payload));
    const read = await readBundleFile(file, DEFAULT_BUNDLE_LIMITS.maxBytes);
    expect(read.rest?.toString()).toContain('"payload":""');
    expect(sha(read.payload!)).toBe(sha(Buffer.from(payload, 'base64')));
    const buffer = read.payload!.buffer as ArrayBuffer & {
      resizable?: boolean;
    };
    expect(buffer.resizable).toBe(true);
    expect(buffer.byteLength).toBe(read.payload!.byteLength);
    expect(read.payload!.byteOffset).toBe(0);
  });

  it('agrees on every layout, with the payload key across every read boundary', async () => {
    const random = seeded(5);
    const layouts = [
      {},
      { envelopeFirst: true },
      { payloadLast: true },
      { space: ' \n\t' },
      // A decoy: a "payload" key before the envelope's, in the material.
      { before: ',"payload": "AAAA"' },
      { before: ',"payload": "' + 'A'.repeat(70_000) + '"' },
      { before: ',"payload": 5' },
    ];
    for (const layout of layouts) {
      for (let k = 0; k < 4; k++) {
        // Padding of random length moves every boundary of the payload.
        const pad = '"x":"' + 'y'.repeat(Math.floor(random() * 5000)) + '",';
        const text = Buffer.from(
          bundleText(payload, layout).replace('{"hint"', `{${pad}"hint"`),
        );
        const chunk = [4093, 65_537, 1 << 20][k % 3]!;
        expect((await agree(file, text, chunk)).ok).toBe(true);
      }
    }
  });

  it('agrees on payloads that are not canonical base64, wherever the flaw is', async () => {
    const random = seeded(9);
    const flaws = ['=', '-', '_', '\\/', ' ', '\\u0041', '@', '=='];
    let refused = 0;
    for (let i = 0; i < 40; i++) {
      const at = Math.floor(random() * payload.length);
      const flaw = flaws[i % flaws.length]!;
      const bad = payload.slice(0, at) + flaw + payload.slice(at + 1);
      const result = await agree(file, Buffer.from(bundleText(bad)), 4093);
      if (!result.ok) refused++;
    }
    // The ends: padding, length, the last character's spare bits.
    const data = randomBytes(900_001).toString('base64');
    for (const end of [
      data,
      data.replace(/=+$/, ''),
      data.replace(/=+$/, '') + '===',
      data.slice(0, -3) + 'B==',
      payload + 'A',
      payload + 'AB',
      payload.replace(/\+/g, '-'),
    ]) {
      const result = await agree(file, Buffer.from(bundleText(end)), 65_537);
      if (!result.ok) refused++;
    }
    expect(refused).toBeGreaterThan(30);
  });

  it('agrees on 120 mutations of the structure around the payload', async () => {
    const base = Buffer.from(bundleText(payload, { space: ' ' }));
    const at = base.indexOf('"payload"');
    const head = base.subarray(0, at + 14);
    const middle = base.subarray(at + 14, base.length - 120);
    const tail = base.subarray(base.length - 120);
    const random = seeded(13);
    let valid = 0;
    for (let i = 0; i < 120; i++) {
      const text =
        random() < 0.5
          ? Buffer.concat([mutate(head, random), middle, tail])
          : Buffer.concat([head, middle, mutate(tail, random)]);
      if ((await agree(file, text, 65_537)).ok) valid++;
    }
    expect(valid).toBeGreaterThan(8);
  });

  it('a long gap after the payload key is not scanned again with each read: the file is parsed whole', async () => {
    // Review finding: 32 MiB of whitespace after the key took 13-200 s.
    const text = Buffer.from(
      bundleText(payload).replace(
        '"payload":',
        `"payload"${' '.repeat(8192)}:`,
      ),
    );
    expect((await agree(file, text, 4093)).ok).toBe(true);
    const read = await readBundleFile(
      file,
      DEFAULT_BUNDLE_LIMITS.maxBytes,
      4093,
    );
    expect(read.bytes?.length).toBe(text.length);
    // A short gap is still read streamed.
    const short = Buffer.from(
      bundleText(payload).replace(
        '"payload":',
        `"payload"${' '.repeat(3000)}:`,
      ),
    );
    writeFileSync(file, short);
    const streamedRead = await readBundleFile(
      file,
      DEFAULT_BUNDLE_LIMITS.maxBytes,
      4093,
    );
    expect(streamedRead.payload?.length).toBe(900_000);
  });

  it('cut off, or over the size limit, as a whole read says', async () => {
    const text = Buffer.from(bundleText(payload));
    for (const end of [text.length - 1, text.indexOf(payload) + 500_000]) {
      expect((await agree(file, text.subarray(0, end), 65_537)).ok).toBe(false);
    }
    writeFileSync(file, text);
    const limits = { ...DEFAULT_BUNDLE_LIMITS, maxBytes: text.length - 1 };
    await expect(readBundlePath(file, limits, 65_537)).rejects.toMatchObject({
      code: 'BUNDLE_LIMIT_EXCEEDED',
    });
  });
});
