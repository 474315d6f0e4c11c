// SPDX-License-Identifier: Apache-2.0
// Issue 9, "limits fail open": a pickle VM limit that stops the analysis
// before the payload is a high SCAN_INCOMPLETE naming the limit, and the
// defaults are high enough that the reproductions now reach the
// payload (CPython's unpickler does).
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { analysePickleSource } from '../../src/scan/pickle/vm.js';
import { bufferSource } from '../../src/scan/source.js';
import type { Finding, ScanLimits } from '../../src/scan/types.js';

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');
/** `os.system('id')` called, protocol 0 opcodes (valid inside a protocol 2 stream). */
const PAYLOAD = "cos\nsystem\n(S'id'\ntR.";

async function scan(
  data: Buffer,
  limits: Partial<ScanLimits> = {},
): Promise<Finding[]> {
  const r = await scanSource(bufferSource(data), 'm.pkl', { limits });
  return r.findings;
}

const payloadFound = (fs: Finding[]): boolean =>
  fs.some(
    (f) =>
      f.ruleId === 'PICKLE_DANGEROUS_GLOBAL' &&
      f.severity === 'critical' &&
      f.evidence?.['global'] === 'os.system',
  );

const incomplete = (fs: Finding[]): unknown[] =>
  fs
    .filter((f) => f.ruleId === 'SCAN_INCOMPLETE')
    .map((f) => [f.severity, f.evidence?.['limit'], f.evidence?.['value']]);

describe('pickle limits fail closed', () => {
  it('10,001 NONE before the payload (10 KB): payload found with the default stack limit', async () => {
    const data = latin1(`\x80\x02${'N'.repeat(10_001)}${PAYLOAD}`);
    expect(data.length).toBeLessThan(11_000);
    const fs = await scan(data);
    expect(payloadFound(fs)).toBe(true);
    expect(incomplete(fs)).toEqual([]);
  });

  it('10,001 NONE with maxPickleStack 1,000: high SCAN_INCOMPLETE naming maxPickleStack', async () => {
    const data = latin1(`\x80\x02${'N'.repeat(10_001)}${PAYLOAD}`);
    const fs = await scan(data, { maxPickleStack: 1000 });
    expect(payloadFound(fs)).toBe(false);
    expect(incomplete(fs)).toEqual([['high', 'maxPickleStack', 1000]]);
  });

  it('10,001 MARK before the payload: found by default, high SCAN_INCOMPLETE under a small stack limit', async () => {
    const data = latin1(`\x80\x02${'('.repeat(10_001)}${PAYLOAD}`);
    const fs = await scan(data);
    expect(payloadFound(fs)).toBe(true);
    expect(incomplete(fs)).toEqual([]);
    const small = await scan(data, { maxPickleStack: 5000 });
    expect(incomplete(small)).toEqual([['high', 'maxPickleStack', 5000]]);
  });

  it('more than 1M opcodes before the payload: found by default; past maxPickleOpcodes high SCAN_INCOMPLETE', async () => {
    // NONE POP pairs: 1,000,002 opcodes before the payload, a constant-size stack.
    const data = latin1(`\x80\x02${'N0'.repeat(500_001)}${PAYLOAD}`);
    const fs = await scan(data);
    expect(payloadFound(fs)).toBe(true);
    expect(incomplete(fs)).toEqual([]);
    const capped = await scan(data, { maxPickleOpcodes: 1_000_000 });
    expect(payloadFound(capped)).toBe(false);
    expect(incomplete(capped)).toEqual([
      ['high', 'maxPickleOpcodes', 1_000_000],
    ]);
  });

  it('a memo larger than maxPickleMemo: high SCAN_INCOMPLETE naming maxPickleMemo', async () => {
    const data = Buffer.concat([
      Buffer.from([0x80, 0x04, 0x4e]),
      Buffer.alloc(2000, 0x94), // MEMOIZE
      latin1(PAYLOAD),
    ]);
    expect(payloadFound(await scan(data))).toBe(true);
    const fs = await scan(data, { maxPickleMemo: 1000 });
    expect(incomplete(fs)).toEqual([['high', 'maxPickleMemo', 1000]]);
  });

  it('internal limits name themselves: streams, resync window, text lines', async () => {
    const one = latin1('\x80\x02N.');
    const stacked = Buffer.concat(Array.from({ length: 5 }, () => one));
    const streams = await analysePickleSource(bufferSource(stacked), {
      limits: { maxStreams: 3 },
    });
    expect(
      streams.anomalies.map((a) => [a.ruleId, a.evidence?.['limit']]),
    ).toEqual([['SCAN_INCOMPLETE', 'pickleStreams']]);
    // A caller's own stream count (legacy torch: 5) is not a limit.
    const own = await analysePickleSource(bufferSource(stacked), {
      streamLimit: 3,
    });
    expect(own.anomalies).toEqual([]);

    const junk = Buffer.concat([one, Buffer.alloc(4096, 0x41), one]);
    const narrow = await analysePickleSource(bufferSource(junk), {
      limits: { maxResyncBytes: 1024 },
    });
    expect(
      narrow.anomalies.map((a) => [
        a.ruleId,
        a.severity,
        a.evidence?.['limit'],
      ]),
    ).toEqual([['SCAN_INCOMPLETE', 'high', 'pickleResyncBytes']]);
    // A stream cut inside an operand: the loader stops there, nothing after
    // it can run, so a search cut short is not "incomplete".
    const cutHead = Buffer.from([
      0x80, 0x04, 0x8e, 0x10, 0x27, 0, 0, 0, 0, 0, 0,
    ]);
    const cut = await analysePickleSource(
      bufferSource(Buffer.concat([cutHead, Buffer.alloc(5000)])),
      { limits: { maxResyncBytes: 1024 } },
    );
    expect(cut.anomalies.map((a) => a.ruleId)).toEqual(['PICKLE_TRUNCATED']);
    const wide = await analysePickleSource(bufferSource(junk));
    expect(wide.streams).toBe(2);
    expect(wide.anomalies.map((a) => a.ruleId)).toEqual([
      'PICKLE_TRAILING_DATA',
    ]);

    const line = latin1(`\x80\x02V${'a'.repeat(5000)}\n.`);
    const long = await analysePickleSource(bufferSource(line), {
      limits: { maxLineBytes: 1024 },
    });
    expect(long.anomalies.map((a) => a.evidence?.['limit'])).toEqual([
      'pickleLineBytes',
    ]);
  });

  it('stops at the signal and gives the event loop a turn', async () => {
    // ~4M opcodes in memory: without yielding, no timer could fire.
    const data = latin1(`\x80\x02${'N0'.repeat(2_000_000)}.`);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20);
    const a = await analysePickleSource(bufferSource(data), {
      signal: ac.signal,
    });
    expect(a.aborted).toBe(true);
    expect(a.opcodes).toBeLessThan(4_000_001);
    // The engine's deadline (maxFileMs) stops it the same way.
    const r = await scanSource(bufferSource(data), 'm.pkl', {
      limits: { maxFileMs: 20 },
    });
    expect(incomplete(r.findings)).toEqual([['high', 'maxFileMs', 20]]);
  });
});
