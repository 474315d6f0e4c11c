// SPDX-License-Identifier: Apache-2.0
// The payload's base64 is decoded byte to byte (StrictBase64Decoder), with
// no string made of the text. Held here to the string decoder, which checks
// the text with regular expressions and decodes it with Node's own base64:
// the same bytes, and a refusal exactly where it refuses.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  decodeBase64Strict,
  decodeBase64StrictBytes,
  StrictBase64Decoder,
} from '../../src/internal/base64.js';
import { mutate, seeded } from '../helpers/mutation.js';

const hex = (b: Buffer | undefined): string | undefined => b?.toString('hex');

describe('the byte decoder against the string decoder', () => {
  it('every single byte in every position of a short text', () => {
    let refused = 0;
    for (const base of ['QUJD', 'QUI=', 'QQ==', 'QUJDRA', 'QUJDREU']) {
      for (let at = 0; at < base.length; at++) {
        for (let c = 0; c < 256; c++) {
          const text =
            base.slice(0, at) + String.fromCharCode(c) + base.slice(at + 1);
          const expected = decodeBase64Strict(text);
          expect(
            hex(decodeBase64StrictBytes(Buffer.from(text, 'latin1'))),
          ).toBe(hex(expected));
          if (expected === undefined) refused++;
        }
      }
    }
    // Most bytes are no base64 character; each base64 character is taken
    // somewhere (the spare bits refuse some at the end).
    expect(refused).toBeGreaterThan(5000);
    expect(refused).toBeLessThan(26 * 256);
  });

  it('20,000 random texts, both alphabets, mutated', () => {
    const random = seeded(77);
    const alphabet = [
      ...Buffer.from(
        'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=',
      ),
      0x00,
      0x0a,
      0x20,
      0x22,
      0x5c,
      0x80,
      0xff,
    ];
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const data = randomBytes(Math.floor(random() * 60));
      let text = data.toString(random() < 0.5 ? 'base64' : 'base64url');
      if (random() < 0.3) text = text.replace(/=+$/, '');
      let bytes: Buffer = Buffer.from(text, 'latin1');
      if (random() < 0.5) bytes = mutate(bytes, random, alphabet);
      const expected = decodeBase64Strict(bytes.toString('latin1'));
      expect(hex(decodeBase64StrictBytes(bytes))).toBe(hex(expected));
      if (expected !== undefined) accepted++;
    }
    expect(accepted).toBeGreaterThan(8_000);
    expect(accepted).toBeLessThan(18_000);
  });

  it('a text of 4 MiB and more, decoded in place, in pieces of any length', () => {
    const data = randomBytes(3 * 1024 * 1024 + 2);
    for (const encoding of ['base64', 'base64url'] as const) {
      const text = Buffer.from(data.toString(encoding), 'latin1');
      expect(
        decodeBase64StrictBytes(Buffer.from(text), true)!.equals(data),
      ).toBe(true);
      // Pieces of 1 MiB + 5 characters (not whole quads), into one buffer.
      const decoder = new StrictBase64Decoder();
      const out = Buffer.alloc(data.length);
      let written = 0;
      let held = Buffer.alloc(0);
      for (let i = 0; i < text.length; i += (1 << 20) + 5) {
        const piece = Buffer.concat([
          held,
          text.subarray(i, i + (1 << 20) + 5),
        ]);
        const last = i + (1 << 20) + 5 >= text.length;
        const step = decoder.push(piece, out, written, last)!;
        written += step.written;
        held = piece.subarray(step.read);
      }
      expect(written).toBe(data.length);
      expect(out.equals(data)).toBe(true);
    }
  });

  it('refuses text that decodes to more bytes than the output has room for', () => {
    for (const text of ['QUJD', 'QUJDRA==', 'QUJDREU']) {
      const room = decodeBase64Strict(text)!.length - 1;
      expect(
        new StrictBase64Decoder().push(
          Buffer.from(text),
          Buffer.alloc(room),
          0,
          true,
        ),
      ).toBeUndefined();
      // One byte more, and it fits.
      expect(
        new StrictBase64Decoder().push(
          Buffer.from(text),
          Buffer.alloc(room + 1),
          0,
          true,
        )?.written,
      ).toBe(room + 1);
    }
  });

  it('refuses a text that mixes the two alphabets across pieces', () => {
    const decoder = new StrictBase64Decoder();
    const out = Buffer.alloc(16);
    expect(decoder.push(Buffer.from('ab+/'), out, 0, false)).toEqual({
      read: 4,
      written: 3,
    });
    expect(decoder.push(Buffer.from('ab-_'), out, 3, true)).toBeUndefined();
    expect(decodeBase64Strict('ab+/ab-_')).toBeUndefined();
  });
});
