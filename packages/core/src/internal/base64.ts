// SPDX-License-Identifier: Apache-2.0
// Strict base64 decoding for signed bundle fields. Node's decoder skips any
// character it does not know; two decoders of one bundle (ours and
// sigstore-js's) must never disagree about the payload bytes, so only
// canonical text is accepted.

const STANDARD = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE = /^[A-Za-z0-9_-]*={0,2}$/;

const ALPHABET =
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A character's flags in {@link SEXTETS}: the alphabet only `+` and `/` belong to, and the one only `-` and `_` do. */
const STANDARD_ONLY = 0x100;
const URL_ONLY = 0x200;

/**
 * Each byte's 6-bit value, with the alphabet flag of `+ / - _`; -1 for a
 * byte that is no base64 character (`=` included: it is handled apart).
 */
const SEXTETS = (() => {
  const table = new Int16Array(256).fill(-1);
  for (let k = 0; k < ALPHABET.length; k++) table[ALPHABET.charCodeAt(k)] = k;
  table[0x2b] = 62 | STANDARD_ONLY; // +
  table[0x2f] = 63 | STANDARD_ONLY; // /
  table[0x2d] = 62 | URL_ONLY; // -
  table[0x5f] = 63 | URL_ONLY; // _
  return table;
})();

/**
 * Decode standard or URL-safe base64 (padding optional), or return
 * `undefined` when the text is not canonical base64.
 *
 * Canonical is checked without re-encoding (a bundle payload can be tens of
 * megabytes): only the alphabet, `=` only at the end and only as much as the
 * length needs, and the bits the last character carries beyond the data zero.
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  const urlSafe = !STANDARD.test(text);
  if (urlSafe && !URL_SAFE.test(text)) return undefined;
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x3d) end--;
  const padding = text.length - end;
  if (end % 4 === 1) return undefined;
  if (padding > 0 && text.length % 4 !== 0) return undefined;
  if (end % 4 !== 0) {
    // 2 characters carry 1 byte (4 spare bits), 3 carry 2 bytes (2 spare bits).
    const spare = end % 4 === 2 ? 0x0f : 0x03;
    // The regular expressions above let only base64 characters through.
    if ((SEXTETS[text.charCodeAt(end - 1)]! & spare) !== 0) return undefined;
  }
  return Buffer.from(text, urlSafe ? 'base64url' : 'base64');
}

const EQUALS = 0x3d;

/**
 * {@link decodeBase64Strict} over the base64 text as bytes (a bundle's
 * payload, read from the file), decoded in pieces: the same answer, without
 * a string as long as the text. With `inPlace` the bytes are written over
 * the text itself (each piece is read before anything is written past it:
 * the output never catches up with the input) and the result is a view of it.
 */
export function decodeBase64StrictBytes(
  text: Uint8Array,
  inPlace = false,
): Buffer | undefined {
  let end = text.length;
  while (end > 0 && text[end - 1] === EQUALS) end--;
  const size = Math.floor((end * 3) / 4);
  const out = inPlace
    ? Buffer.from(text.buffer, text.byteOffset, size)
    : Buffer.allocUnsafe(size);
  const step = new StrictBase64Decoder().push(text, out, 0, true);
  if (step === undefined) return undefined;
  return step.written === out.length ? out : out.subarray(0, step.written);
}

/** Characters decoded at a time (a multiple of 4). */
const STREAM_PIECE = 64 * 1024;

/**
 * {@link decodeBase64StrictBytes} fed a piece at a time (a bundle's payload
 * read from its file in chunks): the same bytes, or a refusal exactly when
 * that function refuses the whole text. Whole quads are decoded as they
 * come; the caller keeps what is left of each piece (fewer than four
 * characters, or the end that holds `=`) and gives it again with more.
 */
export class StrictBase64Decoder {
  /** {@link STANDARD_ONLY} and {@link URL_ONLY}: the alphabets seen so far (not both). */
  private alphabets = 0;
  private refused = false;
  /** The piece being decoded, and its bytes (plain buffers: see push). */
  private input: Buffer | undefined;
  private output: Buffer | undefined;

  /**
   * Decodes `text` (base64 characters as bytes) into `out` at `at`: all of
   * it when `last` (the end of the text: padding and the last character's
   * spare bits are checked), else its whole quads up to any `=`. `out` may
   * be the buffer `text` lies in, with `at` no further than `text`: each
   * piece is read before it is written, and the bytes written (three for
   * four characters) never catch up with those still to read.
   *
   * @returns the characters read and the bytes written, or `undefined` once
   *   the text cannot be canonical base64
   */
  push(
    text: Uint8Array,
    out: Buffer,
    at: number,
    last: boolean,
  ): { read: number; written: number } | undefined {
    if (this.refused) return undefined;
    const view = Buffer.from(text.buffer, text.byteOffset, text.byteLength);
    let end = view.length;
    const pad = view.indexOf(EQUALS);
    if (!last) {
      // `=` only ends the text: more than a quad after one cannot be canonical.
      if (pad >= 0 && end - pad > 4) return this.refuse();
      end = ((pad < 0 ? end : pad) >> 2) << 2;
    } else {
      while (end > 0 && view[end - 1] === EQUALS) end--;
      const padding = view.length - end;
      // Whole quads came before: lengths agree with the whole text's modulo 4.
      if (padding > 2 || end % 4 === 1) return this.refuse();
      if (padding > 0 && view.length % 4 !== 0) return this.refuse();
      if (end % 4 !== 0) {
        const spare = end % 4 === 2 ? 0x0f : 0x03;
        if ((SEXTETS[view[end - 1]!]! & spare) !== 0) return this.refuse();
      }
    }
    // Decoded here, byte to byte, with no string made of the text (a
    // statement of 200,000 files is 45 MB of it, read twice: its strings
    // were most of the garbage a large verify left in V8's heap). A piece
    // at a time through two buffers of the decoder's own: the text and the
    // output may lie in a resizable ArrayBuffer (readBundle's), whose
    // element reads and writes V8 does not compile to plain loads and
    // stores (5-8 times slower); copying in and out is native.
    const input = (this.input ??= Buffer.allocUnsafe(STREAM_PIECE));
    const output = (this.output ??= Buffer.allocUnsafe((STREAM_PIECE / 4) * 3));
    let written = 0;
    for (let k = 0; k < end; k += STREAM_PIECE) {
      const n = Math.min(STREAM_PIECE, end - k);
      input.set(view.subarray(k, k + n));
      const made = this.decodePiece(input, n, output);
      if (made < 0) return this.refuse();
      // More bytes than `out` has room for (a file read again that now
      // decodes to more than was verified): refused, not a RangeError.
      if (at + written + made > out.length) return this.refuse();
      out.set(output.subarray(0, made), at + written);
      written += made;
    }
    const flags = this.alphabets;
    if ((flags & STANDARD_ONLY) !== 0 && (flags & URL_ONLY) !== 0)
      return this.refuse();
    return { read: last ? view.length : end, written };
  }

  /**
   * Decodes `text[0, n)` into `out` from 0: whole quads, then 2 or 3
   * characters when `n` ends there (their spare bits already checked).
   * Adds the alphabets seen to {@link alphabets}.
   *
   * @returns the bytes written, or -1 at a byte that is no base64 character
   */
  private decodePiece(text: Buffer, n: number, out: Buffer): number {
    const whole = (n >> 2) << 2;
    let o = 0;
    let flags = 0;
    for (let k = 0; k < whole; k += 4) {
      const a = SEXTETS[text[k]!]!;
      const b = SEXTETS[text[k + 1]!]!;
      const c = SEXTETS[text[k + 2]!]!;
      const d = SEXTETS[text[k + 3]!]!;
      if ((a | b | c | d) < 0) return -1;
      flags |= a | b | c | d;
      const v =
        ((a & 63) << 18) | ((b & 63) << 12) | ((c & 63) << 6) | (d & 63);
      out[o] = v >>> 16;
      out[o + 1] = (v >>> 8) & 0xff;
      out[o + 2] = v & 0xff;
      o += 3;
    }
    if (n > whole) {
      const a = SEXTETS[text[whole]!]!;
      const b = SEXTETS[text[whole + 1]!]!;
      const c = n - whole === 3 ? SEXTETS[text[whole + 2]!]! : 0;
      if ((a | b | c) < 0) return -1;
      flags |= a | b | c;
      const v = ((a & 63) << 18) | ((b & 63) << 12) | ((c & 63) << 6);
      out[o++] = v >>> 16;
      if (n - whole === 3) out[o++] = (v >>> 8) & 0xff;
    }
    this.alphabets |= flags;
    return o;
  }

  private refuse(): undefined {
    this.refused = true;
    return undefined;
  }
}
