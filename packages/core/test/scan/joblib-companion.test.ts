// SPDX-License-Identifier: Apache-2.0
// joblib 0.9's NDArrayWrapper: a BUILT instance makes joblib.load (1.6 here,
// the current version) call numpy.load(os.path.join(folder, filename),
// allow_pickle=True), which unpickles a file that is neither .npy nor .npz.
// Through the allow-listed name joblib.numpy_pickle.NDArrayWrapper, a pickle
// that scanned clean ran /tmp/x/evil.dat (absolute) and ../elsewhere/evil.dat
// (checked with joblib 1.6.0 and numpy 2.4.6: the marker file was written;
// stop 30).
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanFile } from '../../src/scan/engine.js';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';
import { tempDir } from '../helpers/tree.js';
import { highs, ruleIds } from './helpers/findings.js';

const p = (s: string): Buffer => Buffer.from(s, 'latin1');

/** BINUNICODE of `s`. */
function str(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(4);
  len.writeUInt32LE(b.length);
  return Buffer.concat([p('X'), len, b]);
}

const WRAPPER = p('cjoblib.numpy_pickle\nNDArrayWrapper\n');

/** `NDArrayWrapper.__new__` then BUILD with `{'filename': name, ...}`, as joblib 0.9 pickled it. */
function byState(name: Buffer): Buffer {
  return Buffer.concat([
    p('\x80\x02'),
    WRAPPER,
    p(')\x81}('),
    str('filename'),
    name,
    str('subclass'),
    p('cnumpy\nndarray\n'),
    str('allow_mmap'),
    p('\x89ub.'),
  ]);
}

/** `NDArrayWrapper(name, ndarray)` then BUILD with an empty dict. */
function byCall(name: string): Buffer {
  return Buffer.concat([
    p('\x80\x02'),
    WRAPPER,
    p('('),
    str(name),
    p('cnumpy\nndarray\ntR}b.'),
  ]);
}

const EVIL = p("\x80\x02cposix\nsystem\n(S'id'\ntR.");

describe('joblib companion files (NDArrayWrapper)', () => {
  it('flags a companion outside the folder: .. and an absolute path', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'rel.pkl'), byState(str('../elsewhere/evil.dat')));
    writeFileSync(join(dir, 'abs.pkl'), byCall('/tmp/x/evil.dat'));
    writeFileSync(join(dir, 'win.pkl'), byCall('C:\\x\\evil.dat'));
    for (const f of ['rel.pkl', 'abs.pkl', 'win.pkl']) {
      const r = await scanFile(join(dir, f));
      expect(highs(r), f).toContain('JOBLIB_COMPANION_FILE');
    }
  });

  it('scans a companion in the same folder with the pickle that names it', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'model.pkl'), byState(str('arr_01.npy')));
    writeFileSync(join(dir, 'arr_01.npy'), EVIL); // numpy.load unpickles it
    const r = await scanFile(join(dir, 'model.pkl'));
    const hit = r.findings.find((f) => f.ruleId === 'PICKLE_DANGEROUS_GLOBAL');
    expect(hit?.severity).toBe('critical');
    expect(hit?.member).toEqual(['<companion arr_01.npy>']);
  });

  it('flags a companion reached through a link out of the folder', async () => {
    const base = tempDir();
    mkdirSync(join(base, 'model'));
    mkdirSync(join(base, 'elsewhere'));
    writeFileSync(join(base, 'elsewhere', 'evil.dat'), EVIL);
    symlinkSync('../elsewhere/evil.dat', join(base, 'model', 'arr_01.npy'));
    writeFileSync(join(base, 'model', 'model.pkl'), byCall('arr_01.npy'));
    const r = await scanFile(join(base, 'model', 'model.pkl'));
    expect(highs(r)).toContain('JOBLIB_COMPANION_FILE');
  });

  it('is low for a missing companion (joblib fails before it unpickles)', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'model.pkl'), byCall('gone.npy'));
    const r = await scanFile(join(dir, 'model.pkl'));
    expect(highs(r)).toEqual([]);
    expect(ruleIds(r, 'low')).toContain('JOBLIB_COMPANION_FILE');
  });

  it('fails closed on a name it cannot read, and beside a pickle not on disk', async () => {
    // The file name is the result of a call: not a literal.
    const computed = byState(p('cbuiltins\nstr\n(K\x01tR'));
    const r1 = await scanSource(bufferSource(computed), 'model.pkl');
    expect(highs(r1)).toContain('SCAN_INCOMPLETE');
    const r2 = await scanSource(bufferSource(byCall('arr.npy')), 'model.pkl');
    expect(highs(r2)).toContain('SCAN_INCOMPLETE');
  });
});
