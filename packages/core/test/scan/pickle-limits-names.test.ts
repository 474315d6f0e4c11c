// SPDX-License-Identifier: Apache-2.0
// Issue 9, "dotted pickle global names cost quadratic CPU (641 KB file,
// 60 s)": name normalisation is linear, and a dotted path past the cap
// (1,024 characters or 64 components) is not normalised but denied, because a
// cyclic attribute path (`os.path.os.path….system`) still resolves in Python.
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import {
  MAX_GLOBAL_CHARS,
  MAX_GLOBAL_PARTS,
  normaliseGlobal,
} from '../../src/scan/pickle/names.js';
import { bufferSource } from '../../src/scan/source.js';
import { defaultScanPolicy, judgeGlobal } from '../../src/scan/policy.js';

describe('dotted global names', () => {
  it('a 641 KB pickle of long dotted names scans in well under 5 s', async () => {
    // 1,000 distinct names of 326 components (~650 characters), GLOBAL then POP.
    const ops: string[] = ['\x80\x02'];
    for (let i = 0; i < 1000; i++)
      ops.push(`cm${i}\n${'a.'.repeat(325)}b${i}\n0`);
    ops.push('N.');
    const data = Buffer.from(ops.join(''), 'latin1');
    expect(data.length).toBeGreaterThan(640 * 1024);
    const t = performance.now();
    const r = await scanSource(bufferSource(data), 'names.pkl');
    const ms = performance.now() - t;
    // Each name is too long to normalise: denied (a reference, so critical).
    const denied = r.findings.filter(
      (f) => f.ruleId === 'PICKLE_DANGEROUS_GLOBAL',
    );
    expect(denied).toHaveLength(1000);
    expect(denied[0]?.evidence?.['denied']).toBe('overlong dotted path');
    expect(ms).toBeLessThan(5000);
  });

  it('one 641 KB cyclic path to os.system is denied without being walked', () => {
    const name = `${'path.os.'.repeat(80_000)}system`;
    const n = normaliseGlobal('os', name);
    expect(n.overlong).toBe(name.length + 3);
    expect(n.spellings).toHaveLength(1);
    expect(n.raw.length).toBe(MAX_GLOBAL_CHARS + 1);
    expect(judgeGlobal(defaultScanPolicy(), n)).toMatchObject({
      kind: 'denied',
      pattern: 'overlong dotted path',
    });
    // A dunder anywhere in it is still named.
    expect(normaliseGlobal('os', `${name}.__globals__`).dunder).toBe(
      '__globals__',
    );
  });

  it('paths within the cap are normalised as before, however their prefixes look', () => {
    expect(normaliseGlobal('argparse', '_os.system').canonical).toBe(
      'os.system',
    );
    const within = normaliseGlobal('os', `${'path.os.'.repeat(7)}system`);
    expect(within.overlong).toBeUndefined();
    expect(judgeGlobal(defaultScanPolicy(), within).kind).toBe('denied');
    // `posixpath` plus 63 components: 64 in all, the most normalised.
    const parts = Array.from({ length: MAX_GLOBAL_PARTS - 1 }, () => 'x');
    const justUnder = normaliseGlobal('posixpath', `${parts.join('.')}`);
    expect(justUnder.overlong).toBeUndefined();
    expect(justUnder.canonical.startsWith('os.path.x.x')).toBe(true);
    const justOver = normaliseGlobal('posixpath', `${parts.join('.')}.x`);
    expect(justOver.overlong).toBeDefined();
  });
});
