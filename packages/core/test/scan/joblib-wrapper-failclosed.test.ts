// SPDX-License-Identifier: Apache-2.0
// joblib reads a NumpyArrayWrapper's inline array bytes after the BUILD of any
// wrapper instance (isinstance), whatever the shape of its state or the way it
// was made. The scanner skips exactly those bytes, or fails closed (high) when
// it cannot know how many there are: a payload placed past the array region,
// which a BINBYTES in the region would hide from a desynchronised scanner, is
// found.
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { INCOMPLETE_RULE_IDS } from '../../src/scan/incomplete.js';
import { bufferSource } from '../../src/scan/source.js';

const N = 64; // inline array bytes (dtype u1)

/** SHORT_BINUNICODE. */
const u = (s: string): Buffer => {
  const b = Buffer.from(s, 'utf8');
  return Buffer.concat([Buffer.from([0x8c, b.length]), b]);
};
const raw = (s: string): Buffer => Buffer.from(s, 'latin1');

/** numpy.dtype('u1', False, True) with its BUILD state, as NumPy pickles it. */
const dtypeU1 = (): Buffer =>
  Buffer.concat([
    raw('cnumpy\ndtype\n'),
    u('u1'),
    raw('\x89\x88\x87R(K\x03'),
    u('|'),
    raw('NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb'),
  ]);

/** numpy.dtypes.UInt8DType(): a dtype the scanner does not read. */
const dtypeClass = (): Buffer => raw('cnumpy.dtypes\nUInt8DType\n)R');

const tupleShape = (): Buffer => raw(`K${String.fromCharCode(N)}\x85`);
const listShape = (): Buffer => raw(`]K${String.fromCharCode(N)}a`);

/** The wrapper's attributes as a dict (MARK ... SETITEMS). */
const stateDict = (shape: Buffer, dtype: Buffer = dtypeU1()): Buffer =>
  Buffer.concat([
    raw('}('),
    u('subclass'),
    raw('cnumpy\nndarray\n'),
    u('shape'),
    shape,
    u('order'),
    u('C'),
    u('dtype'),
    dtype,
    u('allow_mmap'),
    raw('\x89u'),
  ]);

const NEWOBJ_WRAPPER = raw(
  '\x80\x02cjoblib.numpy_pickle\nNumpyArrayWrapper\n)\x81',
);
const RECONSTRUCTED_WRAPPER = raw(
  '\x80\x02ccopyreg\n_reconstructor\ncjoblib.numpy_pickle\nNumpyArrayWrapper\ncbuiltins\nobject\nN\x87R',
);
const PAYLOAD = raw('cos\nsystem\n(Vecho PWNED\ntR');

/**
 * `head` (a wrapper on the stack), `state`, BUILD, then N inline bytes that
 * read as a BINBYTES swallowing the payload, then the payload joblib runs.
 */
function joblibFile(head: Buffer, state: Buffer, region?: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(N - 5 + PAYLOAD.length);
  const desync = Buffer.concat([raw('B'), len, Buffer.alloc(N - 5)]);
  return Buffer.concat([
    head,
    state,
    raw('b'),
    region ?? desync,
    ...(region === undefined ? [PAYLOAD] : []),
    raw('0.'),
  ]);
}

async function scan(buf: Buffer) {
  return scanSource(bufferSource(buf), 'm.joblib');
}

const osSystemCritical = (
  findings: {
    ruleId: string;
    severity: string;
    message: string;
    evidence?: unknown;
  }[],
): boolean =>
  findings.some(
    (f) =>
      f.severity === 'critical' &&
      JSON.stringify([f.message, f.evidence]).includes('os.system'),
  );

describe('joblib NumpyArrayWrapper: inline array skipped or fail closed', () => {
  it('control: the tuple shape the scanner always read', async () => {
    const r = await scan(joblibFile(NEWOBJ_WRAPPER, stateDict(tupleShape())));
    expect(osSystemCritical(r.findings)).toBe(true);
  });

  it('finds the payload after an array whose shape is a list', async () => {
    const r = await scan(joblibFile(NEWOBJ_WRAPPER, stateDict(listShape())));
    expect(osSystemCritical(r.findings)).toBe(true);
  });

  it('finds the payload after an array whose state is (None, {...})', async () => {
    const st = Buffer.concat([raw('N'), stateDict(tupleShape()), raw('\x86')]);
    const r = await scan(joblibFile(NEWOBJ_WRAPPER, st));
    expect(osSystemCritical(r.findings)).toBe(true);
  });

  it('finds the payload after a wrapper made by copyreg._reconstructor', async () => {
    const r = await scan(
      joblibFile(RECONSTRUCTED_WRAPPER, stateDict(tupleShape())),
    );
    expect(osSystemCritical(r.findings)).toBe(true);
  });

  it('fails closed (high, not fully scanned) on a wrapper state it cannot measure', async () => {
    const r = await scan(
      joblibFile(NEWOBJ_WRAPPER, stateDict(tupleShape(), dtypeClass())),
    );
    expect(
      r.findings.some(
        (f) =>
          (f.severity === 'high' || f.severity === 'critical') &&
          INCOMPLETE_RULE_IDS.has(f.ruleId),
      ),
    ).toBe(true);
  });

  it('fails closed on a wrapper made in an unmodelled way', async () => {
    const head = raw(
      '\x80\x02ccopyreg\n_reconstructor\ncjoblib.numpy_pickle\nNumpyArrayWrapper\ncbuiltins\ndict\nN\x87R',
    );
    const r = await scan(joblibFile(head, stateDict(tupleShape())));
    expect(
      r.findings.some(
        (f) => f.severity === 'high' && INCOMPLETE_RULE_IDS.has(f.ruleId),
      ),
    ).toBe(true);
  });

  it('a normal wrapper with a clean inline array has no high or critical finding', async () => {
    // Array bytes that would read as an os.system call if not skipped.
    const clean = Buffer.concat([
      PAYLOAD,
      Buffer.alloc(N - PAYLOAD.length, 0x4e),
    ]);
    const r = await scan(
      joblibFile(NEWOBJ_WRAPPER, stateDict(tupleShape()), clean),
    );
    expect(r.formats).toContain('joblib');
    expect(
      r.findings.filter(
        (f) => f.severity === 'high' || f.severity === 'critical',
      ),
    ).toEqual([]);
  });
});
