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
  const padding = text.length - end;
  if (padding > 2) return undefined;
  if (end % 4 === 1) return undefined;
  if (padding > 0 && text.length % 4 !== 0) return undefined;
  if (end % 4 !== 0) {
    const spare = end % 4 === 2 ? 0x0f : 0x03;
    if ((sextet(String.fromCharCode(text[end - 1]!)) & spare) !== 0)
      return undefined;
  }
  const view = Buffer.from(text.buffer, text.byteOffset, end);
  const size = Math.floor((end * 3) / 4);
  const out = inPlace ? view.subarray(0, size) : Buffer.allocUnsafe(size);
  // Short pieces: each string dies young (a long one would sit in the
  // large-object space until a full collection). Each piece is checked by a
  // regular expression (native speed), then decoded: Node's decoder reads
  // both alphabets, so which one was used is checked across pieces.
  const PIECE = 64 * 1024; // a multiple of 4 characters
  let standard = false;
  let urlSafe = false;
  let written = 0;
  for (let i = 0; i < end; i += PIECE) {
    const piece = view.toString('latin1', i, Math.min(end, i + PIECE));
    if (!ANY_ALPHABET.test(piece)) return undefined;
    if (!standard && STANDARD_ONLY.test(piece)) standard = true;
    if (!urlSafe && URL_ONLY.test(piece)) urlSafe = true;
    written += out.write(piece, written, 'base64');
  }
  if (standard && urlSafe) return undefined;
  return written === out.length ? out : out.subarray(0, written);
}

const ANY_ALPHABET = /^[A-Za-z0-9+/_-]*$/;
const STANDARD_ONLY = /[+/]/;
const URL_ONLY = /[-_]/;
