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
