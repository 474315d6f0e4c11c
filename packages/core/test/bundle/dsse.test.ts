// SPDX-License-Identifier: Apache-2.0
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compatPae, pae, pythonBytesRepr } from '../../src/bundle/dsse.js';
import { IN_TOTO_PAYLOAD_TYPE } from '../../src/constants.js';
import { vectorPath } from '../helpers/vectors.js';

function payloadOf(bundle: string): Buffer {
  const json = JSON.parse(readFileSync(vectorPath(bundle), 'utf8')) as {
    dsseEnvelope: { payload: string };
  };
  return Buffer.from(json.dsseEnvelope.payload, 'base64');
}

describe('pae (DSSE v1)', () => {
  it('matches the worked example of v1.1.0-elliptic-key (oms-format §3)', () => {
    const payload = payloadOf('oms-reference/v1.1.0-elliptic-key/model.sig');
    expect(payload.length).toBe(926);
    const encoded = pae(IN_TOTO_PAYLOAD_TYPE, payload);
    const prefix = 'DSSEv1 28 application/vnd.in-toto+json 926 ';
    expect(prefix.length).toBe(43);
    expect(encoded.subarray(0, 43).toString('latin1')).toBe(prefix);
    expect(encoded.subarray(43).equals(payload)).toBe(true);
  });

  it('counts bytes, not characters', () => {
    const payload = Buffer.from('é😀', 'utf8');
    expect(pae('t/ü', payload).toString('utf8')).toBe('DSSEv1 4 t/ü 6 é😀');
  });

  it('encodes an empty payload', () => {
    expect(pae('x', Buffer.alloc(0)).toString()).toBe('DSSEv1 1 x 0 ');
  });
});

describe('compatPae (model_signing v0.2)', () => {
  it('matches the v0.2.0-certificate prefix (oms-format §15)', () => {
    const payload = payloadOf('oms-reference/v0.2.0-certificate/model.sig');
    expect(payload.length).toBe(664);
    const text = compatPae(IN_TOTO_PAYLOAD_TYPE, payload).toString('utf8');
    expect(
      text.startsWith(
        'DSSEV1 28 application/vnd.in-toto+json 664 b\'{\\n  "_type": ',
      ),
    ).toBe(true);
    expect(text.endsWith("'")).toBe(true);
  });
});

describe('pythonBytesRepr', () => {
  const cases: [number[] | string, string][] = [
    ['', "b''"],
    ['abc', "b'abc'"],
    ["it's", 'b"it\'s"'],
    ['say "hi"', `b'say "hi"'`],
    [`both ' and "`, `b'both \\' and "'`],
    ['back\\slash', "b'back\\\\slash'"],
    ['\t\n\r', "b'\\t\\n\\r'"],
    [[0x00, 0x1f, 0x7f, 0x80, 0xff], "b'\\x00\\x1f\\x7f\\x80\\xff'"],
    [[0x20, 0x7e], "b' ~'"],
  ];
  for (const [input, expected] of cases) {
    it(`repr(${JSON.stringify(input)}) = ${expected}`, () => {
      const bytes =
        typeof input === 'string'
          ? Buffer.from(input, 'latin1')
          : Buffer.from(input);
      expect(pythonBytesRepr(bytes)).toBe(expected);
    });
  }
});
