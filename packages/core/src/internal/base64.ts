// SPDX-License-Identifier: Apache-2.0
// Strict base64 decoding for signed bundle fields. Node's decoder skips any
// character it does not know; two decoders of one bundle (ours and
// sigstore-js's) must never disagree about the payload bytes, so only
// canonical text is accepted.

const STANDARD = /^[A-Za-z0-9+/]*={0,2}$/;
const URL_SAFE = /^[A-Za-z0-9_-]*={0,2}$/;

/**
 * Decode standard or URL-safe base64 (padding optional), or return
 * `undefined` when the text is not canonical base64.
 */
export function decodeBase64Strict(text: string): Buffer | undefined {
  const urlSafe = !STANDARD.test(text);
  if (urlSafe && !URL_SAFE.test(text)) return undefined;
  const unpadded = text.replace(/=+$/, '');
  if (unpadded.length % 4 === 1) return undefined;
  if (text.length !== unpadded.length && text.length % 4 !== 0)
    return undefined;
  const bytes = Buffer.from(unpadded, urlSafe ? 'base64url' : 'base64');
  const again = bytes
    .toString(urlSafe ? 'base64url' : 'base64')
    .replace(/=+$/, '');
  return again === unpadded ? bytes : undefined;
}
