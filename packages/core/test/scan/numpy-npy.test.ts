// SPDX-License-Identifier: Apache-2.0
// .npy headers parsed as literals (never evaluated); object dtypes scanned as
// pickles (CVE-2019-6446); declared sizes checked against the bytes present.
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { describeDtype, parsePythonLiteral } from '../../src/scan/numpy/npy.js';
import { bufferSource } from '../../src/scan/source.js';

function npy(header: string, body: Buffer, version = 1): Buffer {
  const pre = version === 1 ? 10 : 12;
  const padded =
    header.padEnd(
      Math.ceil((pre + header.length + 1) / 64) * 64 - pre - 1,
      ' ',
    ) + '\n';
  const len = Buffer.alloc(version === 1 ? 2 : 4);
  if (version === 1) len.writeUInt16LE(padded.length);
  else len.writeUInt32LE(padded.length);
  return Buffer.concat([
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]),
    len,
    Buffer.from(padded, 'latin1'),
    body,
  ]);
}
const rules = async (b: Buffer): Promise<string[]> =>
  (await scanSource(bufferSource(b), 'a.npy')).findings.map((f) => f.ruleId);

describe('npy', () => {
  it('parses header literals strictly', () => {
    const h = parsePythonLiteral(
      "{'descr': [('a', '<f4'), ('b', '|O', (2,))], 'fortran_order': False, 'shape': (3,), }",
    );
    expect(h instanceof Map && describeDtype(h.get('descr'))).toEqual({
      hasObject: true,
    });
    expect(describeDtype('<f8')).toEqual({ hasObject: false, itemsize: 8 });
    expect(describeDtype('<U3')).toEqual({ hasObject: false, itemsize: 12 });
    expect(
      describeDtype([
        ['x', '<i2', { tuple: [2n] }],
        ['y', '|u1'],
      ]),
    ).toEqual({ hasObject: false, itemsize: 5 });
    expect(parsePythonLiteral("__import__('os')")).toBeUndefined();
    expect(parsePythonLiteral("{'a': 1} + 1")).toBeUndefined();
    expect(
      parsePythonLiteral('('.repeat(100) + ')'.repeat(100)),
    ).toBeUndefined();
  });

  it('accepts consistent sizes, v2 headers and flags lies', async () => {
    expect(
      await rules(
        npy(
          "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), }",
          Buffer.alloc(16),
        ),
      ),
    ).toEqual([]);
    expect(
      await rules(
        npy(
          "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
          Buffer.alloc(8),
          2,
        ),
      ),
    ).toEqual([]);
    expect(
      await rules(
        npy(
          "{'descr': '<f4', 'fortran_order': False, 'shape': (100000000, 100000000), }",
          Buffer.alloc(16),
        ),
      ),
    ).toEqual(['NUMPY_SIZE_MISMATCH']);
    expect(
      await rules(
        npy(
          "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
          Buffer.alloc(8 + 40),
        ),
      ),
    ).toEqual(['NUMPY_SIZE_MISMATCH']);
  });

  it('reports malformed headers', async () => {
    expect(
      await rules(
        npy(
          "{'descr': eval('1'), 'fortran_order': False, 'shape': (2,), }",
          Buffer.alloc(8),
        ),
      ),
    ).toEqual(['NUMPY_HEADER_MALFORMED']);
    expect(
      await rules(npy("{'descr': '<f4', 'shape': (2,), }", Buffer.alloc(8))),
    ).toEqual(['NUMPY_HEADER_MALFORMED']);
    expect(
      await rules(
        npy(
          "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }",
          Buffer.alloc(8),
        ),
      ),
    ).toEqual(['NUMPY_HEADER_MALFORMED']);
    const cut = npy(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
      Buffer.alloc(8),
    ).subarray(0, 30);
    expect(await rules(cut)).toEqual(['NUMPY_HEADER_MALFORMED']);
    const v9 = npy(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
      Buffer.alloc(8),
    );
    v9[6] = 9;
    expect(await rules(v9)).toEqual(['NUMPY_HEADER_MALFORMED']);
  });

  it('scans an object body as a pickle', async () => {
    const body = Buffer.from(
      '\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R.',
      'latin1',
    );
    expect(
      await rules(
        npy("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", body),
      ),
    ).toEqual(['NUMPY_OBJECT_ARRAY', 'PICKLE_DANGEROUS_GLOBAL']);
    expect(
      await rules(
        npy(
          "{'descr': [('a', '<i4'), ('o', '|O')], 'fortran_order': False, 'shape': (1,), }",
          body,
        ),
      ),
    ).toEqual(['NUMPY_OBJECT_ARRAY', 'PICKLE_DANGEROUS_GLOBAL']);
  });
});
