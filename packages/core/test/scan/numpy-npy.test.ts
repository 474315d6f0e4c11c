// SPDX-License-Identifier: Apache-2.0
// .npy headers parsed as literals (never evaluated); object dtypes scanned as
// pickles (CVE-2019-6446); declared sizes checked against the bytes present.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { describeDtype, parsePythonLiteral } from '../../src/scan/numpy/npy.js';
import { bufferSource } from '../../src/scan/source.js';
import { REPO_ROOT } from '../helpers/vectors.js';

function npy(header: string, body: Buffer, version = 1): Buffer {
  const pre = version === 1 ? 10 : 12;
  const encoding = version === 3 ? 'utf8' : 'latin1';
  const size = Buffer.byteLength(header, encoding);
  const padded = Buffer.from(
    header +
      ' '.repeat(Math.ceil((pre + size + 1) / 64) * 64 - pre - 1 - size) +
      '\n',
    encoding,
  );
  const len = Buffer.alloc(version === 1 ? 2 : 4);
  if (version === 1) len.writeUInt16LE(padded.length);
  else len.writeUInt32LE(padded.length);
  return Buffer.concat([
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, version, 0]),
    len,
    padded,
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
    // CPython's parser refuses more than 200 nested brackets; 100 is a tuple.
    expect(parsePythonLiteral('('.repeat(100) + ')'.repeat(100))).toEqual({
      tuple: [],
    });
    expect(
      parsePythonLiteral('('.repeat(201) + ')'.repeat(201)),
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

describe('npy headers as numpy.lib.format reads them', () => {
  const payload = Buffer.from(
    '\x80\x02cposix\nsystem\nX\x02\x00\x00\x00id\x85R.',
    'latin1',
  );
  const scan = async (b: Buffer): Promise<[string, string][]> =>
    (await scanSource(bufferSource(b), 'a.npy')).findings.map((f) => [
      f.ruleId,
      f.severity,
    ]);
  const real = (name: string): Buffer =>
    readFileSync(join(REPO_ROOT, 'test-vectors/real/numpy', name));

  it("reads numpy's own Python 2 header (win64python2.npy: 'shape': (2L,)) clean", async () => {
    const bytes = real('win64python2.npy');
    expect(bytes.toString('latin1', 10, 80)).toContain('(2L,)');
    expect(await scan(bytes)).toEqual([]);
  });

  it('scans the pickle of an object array behind a Python 2 header', async () => {
    const findings = await scan(
      npy(
        "{u'descr': u'|O', u'fortran_order': False, u'shape': (1L,), }",
        payload,
      ),
    );
    expect(findings).toContainEqual(['PICKLE_DANGEROUS_GLOBAL', 'critical']);
    expect(findings[0]).toEqual(['NUMPY_OBJECT_ARRAY', 'info']);
  });

  it('scans the pickle of the Python 2 object arrays numpy ships', async () => {
    for (const name of ['py2-objarr.npy', 'py2-np0-objarr.npy']) {
      const r = await scanSource(bufferSource(real(name)), name);
      expect(r.formats, name).toContain('pickle');
      expect(r.findings.map((f) => f.ruleId)).toContain('NUMPY_OBJECT_ARRAY');
    }
  });

  it('refuses the L suffix in a version 3.0 header, as numpy does', async () => {
    expect(
      await scan(
        npy(
          "{'descr': '<f8', 'fortran_order': False, 'shape': (2L,), }",
          Buffer.alloc(16),
          3,
        ),
      ),
    ).toEqual([['NUMPY_HEADER_MALFORMED', 'high']]);
  });

  it.each([
    ['a hex escape', "'\\x7cO'"],
    ['an octal escape', "'|\\117'"],
    ['adjacent literals', "'|' 'O'"],
    ['a comma list', "'i4,O'"],
    ['a subarray tuple', "('|O', (2,))"],
    ['a two-character field string', "['aO']"],
    ['the type name', "'object'"],
  ])('finds an object dtype spelled with %s', async (_what, descr) => {
    const findings = await scan(
      npy(
        `{'descr': ${descr}, 'fortran_order': False, 'shape': (1,), }`,
        payload,
      ),
    );
    expect(findings).toContainEqual(['PICKLE_DANGEROUS_GLOBAL', 'critical']);
  });

  it('reads comments, continuations, underscores and a utf-8 3.0 header', async () => {
    expect(
      await scan(
        npy(
          "{'descr': [('\u00e9t\u00e9', '<f4')], # note\n 'fortran_order': True, 'shape': (1_0,\\\n), }",
          Buffer.alloc(40),
          3,
        ),
      ),
    ).toEqual([]);
  });

  it.each([
    [
      'an extra key',
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}",
    ],
    [
      'a list shape',
      "{'descr': '<f4', 'fortran_order': False, 'shape': [2], }",
    ],
    [
      'an int fortran_order',
      "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }",
    ],
    [
      'a float dim',
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,), }",
    ],
    [
      'a leading-zero int',
      "{'descr': '<f4', 'fortran_order': False, 'shape': (02,), }",
    ],
    [
      'a bytes descr',
      "{'descr': b'<f4', 'fortran_order': False, 'shape': (2,), }",
    ],
  ])('refuses %s as high NUMPY_HEADER_MALFORMED', async (_what, header) => {
    expect(await scan(npy(header, Buffer.alloc(8)))).toEqual([
      ['NUMPY_HEADER_MALFORMED', 'high'],
    ]);
  });

  it('refuses a minor version other than 0', async () => {
    const b = npy(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
      Buffer.alloc(8),
    );
    b[7] = 1;
    expect(await scan(b)).toEqual([['NUMPY_HEADER_MALFORMED', 'high']]);
  });

  it('reports a size mismatch as high', async () => {
    expect(
      await scan(
        npy(
          "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
          Buffer.alloc(8),
        ),
      ),
    ).toEqual([['NUMPY_SIZE_MISMATCH', 'high']]);
  });
});
