// SPDX-License-Identifier: Apache-2.0
// picklescan#14, modelscan#85: memo entries come from the real stack top,
// not from the previous opcode's argument; a missing key is a finding.
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';

const scan = (s: string): Promise<string[]> =>
  scanSource(bufferSource(Buffer.from(s, 'latin1')), 'm.pkl').then((r) =>
    r.findings.map(
      (f) =>
        `${f.ruleId}:${typeof f.evidence?.['global'] === 'string' ? f.evidence['global'] : ''}`,
    ),
  );

describe('pickle memo desync', () => {
  it('MEMOIZE after POP stores the real top (os), not the decoy string', async () => {
    expect(
      await scan(
        '\x80\x04\x8c\x02os\x8c\x05decoy0\x94\x8c\x06system\x94h\x00h\x01\x93X\x02\x00\x00\x00id\x85R.',
      ),
    ).toEqual(['PICKLE_DANGEROUS_GLOBAL:os.system']);
  });

  it('BINPUT stores a tuple built after the last string, not the string', async () => {
    // memo[1] = 'subprocess'; memo[2] = ('safe', 'Popen') (the top), not 'Popen'.
    expect(
      await scan(
        '\x80\x02X\x0a\x00\x00\x00subprocessq\x01X\x04\x00\x00\x00safeX\x05\x00\x00\x00Popen\x86q\x020h\x01X\x05\x00\x00\x00Popen\x93.',
      ),
    ).toEqual(['PICKLE_DANGEROUS_GLOBAL:subprocess.Popen']);
    expect(
      await scan(
        '\x80\x02X\x0a\x00\x00\x00subprocessq\x01X\x04\x00\x00\x00safeX\x05\x00\x00\x00Popen\x86q\x020h\x01h\x02\x93.',
      ),
    ).toEqual(['PICKLE_MALFORMED:']);
  });

  it('protocol 0 PUT/GET carry the global through the memo', async () => {
    expect(await scan("cos\nsystem\np0\n0g0\n(S'id'\ntR.")).toEqual([
      'PICKLE_DANGEROUS_GLOBAL:os.system',
    ]);
  });

  it('a GET of a key never written is a finding, and earlier imports are still reported', async () => {
    expect(await scan('\x80\x02cposix\nsystem\nh\x09\x85R.')).toEqual([
      'PICKLE_MEMO_MISSING:',
      'PICKLE_DANGEROUS_GLOBAL:os.system',
    ]);
  });
});
