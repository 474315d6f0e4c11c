// SPDX-License-Identifier: Apache-2.0
// REDUCE applied to the result of REDUCE, hundreds of thousands deep: the
// callee description once recursed without a bound, so the stack overflowed
// and the scan ended in SCAN_INTERNAL_ERROR, hiding the dangerous global.
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';

const chain = (depth: number): Buffer =>
  Buffer.from(`\x80\x02cbuiltins\ngetattr\n${')R'.repeat(depth)}.`, 'latin1');

describe('pickle deep call chain', () => {
  it('still reports the getattr at the root of a 200,000-deep chain', async () => {
    const r = await scanSource(bufferSource(chain(200_000)), 'm.pkl');
    const ruleIds = new Set(r.findings.map((f) => f.ruleId));
    expect(ruleIds.has('PICKLE_GETATTR_CHAIN')).toBe(true);
    expect(ruleIds.has('SCAN_INTERNAL_ERROR')).toBe(false);
  });

  it('names a short chain in full', async () => {
    const r = await scanSource(bufferSource(chain(3)), 'm.pkl');
    expect(
      r.findings.find((f) => f.ruleId === 'PICKLE_DYNAMIC_CALL')?.evidence,
    ).toMatchObject({ callee: 'builtins.getattr(…)(…)' });
  });
});
