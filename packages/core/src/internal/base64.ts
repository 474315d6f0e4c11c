// SPDX-License-Identifier: Apache-2.0
// Strict base64 decoding for signed bundle fields. Node's decoder skips any
// character it does not know; two decoders of one bundle (ours and
// sigstore-js's) must never disagree about the payload bytes, so only
// canonical text is accepted.

const STANDARD = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE = /^[A-Za-z0-9_-]*={0,2}$/;

const ALPHABET =
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** The 6-bit value of a base64 character (either alphabet). */
function sextet(c: string): number {
  if (c === '+' || c === '-') return 62;
  if (c === '/' || c === '_') return 63;
  return ALPHABET.indexOf(c);
}

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
    if ((sextet(text[end - 1] as string) & spare) !== 0) return undefined;
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

const ANY_ALPHABET = /^[A-Za-z0-9+/_-]*$/;
const STANDARD_ONLY = /[+/]/;
const URL_ONLY = /[-_]/;

const STREAM_PIECE = 64 * 1024;

/**
 * {@link decodeBase64StrictBytes} fed a piece at a time (a bundle's payload
 * read from its file in chunks): the same bytes, or a refusal exactly when
 * that function refuses the whole text. Whole quads are decoded as they
 * come; the caller keeps what is left of each piece (fewer than four
 * characters, or the end that holds `=`) and gives it again with more.
 */
export class StrictBase64Decoder {
  private standard = false;
  private urlSafe = false;
  private refused = false;

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
        if ((sextet(String.fromCharCode(view[end - 1]!)) & spare) !== 0)
          return this.refuse();
      }
    }
    let written = 0;
    // Short pieces: each string dies young (a long one would sit in the
    // large-object space until a full collection). Each piece is checked by
    // a regular expression (native speed), then decoded: Node's decoder
    // reads both alphabets, so which one was used is checked across pieces.
    for (let i = 0; i < end; i += STREAM_PIECE) {
      const piece = view.toString('latin1', i, Math.min(end, i + STREAM_PIECE));
      if (!ANY_ALPHABET.test(piece)) return this.refuse();
      if (!this.standard && STANDARD_ONLY.test(piece)) this.standard = true;
      if (!this.urlSafe && URL_ONLY.test(piece)) this.urlSafe = true;
      if (this.standard && this.urlSafe) return this.refuse();
      written += out.write(piece, at + written, 'base64');
    }
    return { read: last ? view.length : end, written };
  }

  private refuse(): undefined {
    this.refused = true;
    return undefined;
  }
}
