// SPDX-License-Identifier: Apache-2.0
// joblib writes raw array bytes inside the pickle stream: the scanner skips
// them exactly as joblib's unpickler reads them, so array bytes that look like
// opcodes neither hide a payload nor raise false alarms.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';
import { REPO_ROOT } from '../helpers/vectors.js';

const vec = (p: string): Buffer =>
  readFileSync(join(REPO_ROOT, 'test-vectors', 'pickle', p));

describe('joblib inline arrays', () => {
  it('skips padding and array bytes (which contain pickle-looking bytes)', async () => {
    const r = await scanSource(
      bufferSource(vec('benign/sklearn-logreg.joblib')),
      'm.joblib',
    );
    expect(r.formats).toEqual(['pickle', 'joblib']);
    expect(r.findings).toEqual([]);
  });

  it('finds a payload placed after the arrays, in plain and zlib form', async () => {
    for (const f of [
      'malicious/joblib-payload-after-array.joblib',
      'malicious/joblib-zlib-payload.joblib',
    ]) {
      const r = await scanSource(bufferSource(vec(f)), 'm.joblib');
      expect(
        r.findings.map((x) => x.ruleId),
        f,
      ).toEqual(['PICKLE_DANGEROUS_GLOBAL']);
    }
  });

  it('reads object arrays as nested inline pickles', async () => {
    const r = await scanSource(
      bufferSource(vec('benign/joblib-object-array.joblib')),
      'm.joblib',
    );
    expect(r.findings).toEqual([]);
  });

  it('reports an array that runs past the end of the file', async () => {
    const full = vec('benign/sklearn-logreg-p2.joblib');
    const cut = full.subarray(0, full.indexOf(Buffer.from('intercept_')));
    const r = await scanSource(bufferSource(cut), 'm.joblib');
    expect(r.findings.map((x) => x.ruleId)).toEqual(
      expect.arrayContaining(['PICKLE_TRUNCATED']),
    );
  });
});
