// SPDX-License-Identifier: Apache-2.0
// Strict base64 without re-encoding (issue 12 item 6: a 40 MB payload is not
// copied three times): the same verdicts as decode-then-re-encode.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeBase64Strict } from '../../src/internal/base64.js';

function reference(text: string): Buffer | undefined {
  const standard = /^[A-Za-z0-9+/]*={0,2}$/.test(text);
  if (!standard && !/^[A-Za-z0-9_-]*={0,2}$/.test(text)) return undefined;
  const unpadded = text.replace(/=+$/, '');
  if (unpadded.length % 4 === 1) return undefined;
  if (text.length !== unpadded.length && text.length % 4 !== 0)
    return undefined;
  const enc = standard ? 'base64' : 'base64url';
  const bytes = Buffer.from(unpadded, enc);
  return bytes.toString(enc).replace(/=+$/, '') === unpadded
    ? bytes
    : undefined;
}

describe('decodeBase64Strict', () => {
  it('agrees with decode-and-re-encode on canonical and tampered text', () => {
    const cases: string[] = [
      '',
      '=',
      '==',
      'QQ',
      'QR',
      'QQ=',
      'QQ==',
      'QUI',
      'QUJ',
      'QUI=',
      'QUJD',
      'QUJD=',
      'Q',
      'Q===',
      'QQ==QQ==',
      '-_8',
      '+/8',
      '+_8',
    ];
    for (let n = 0; n < 40; n++) {
      const b = randomBytes(n);
      const std = b.toString('base64');
      cases.push(std, std.replace(/=+$/, ''), b.toString('base64url'));
      if (std.length > 0) {
        const i = std.replace(/=+$/, '').length - 1;
        for (const c of ['A', 'B', 'Q', 'g', '/', '+'])
          cases.push(std.slice(0, i) + c + std.slice(i + 1));
      }
    }
    for (const text of cases) {
      const a = decodeBase64Strict(text);
      const b = reference(text);
      expect([text, a?.toString('hex')]).toEqual([text, b?.toString('hex')]);
    }
  });
});
