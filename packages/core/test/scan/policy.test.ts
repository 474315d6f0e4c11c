// SPDX-License-Identifier: Apache-2.0
// Policy files: format, validation, and their effect on a scan.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';
import {
  compileScanPolicy,
  loadScanPolicy,
  parseScanPolicy,
} from '../../src/scan/policy.js';

const dir = mkdtempSync(join(tmpdir(), 'modelseal-policy-'));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
// PROTO 2, GLOBAL mypkg.models Net, EMPTY_TUPLE, REDUCE, STOP
const callNet = Buffer.from('\x80\x02cmypkg.models\nNet\n)R.', 'latin1');
const callSystem = Buffer.from('\x80\x02cposix\nsystem\n)R.', 'latin1');

describe('scan policy', () => {
  it('loads a valid policy file', async () => {
    const p = file(
      'ok.json',
      JSON.stringify({
        version: 1,
        allow: ['mypkg.models.*'],
        deny: ['evil'],
        profiles: ['weights'],
      }),
    );
    await expect(loadScanPolicy(p)).resolves.toEqual({
      allow: ['mypkg.models.*'],
      deny: ['evil'],
      profiles: ['weights'],
    });
  });

  it('rejects unreadable, non-JSON and malformed files with stable codes', async () => {
    await expect(loadScanPolicy(join(dir, 'missing.json'))).rejects.toHaveCode(
      'IO_ERROR',
    );
    await expect(loadScanPolicy(file('bad.json', '{nope'))).rejects.toHaveCode(
      'INVALID_OPTIONS',
    );
    await expect(loadScanPolicy(file('arr.json', '[]'))).rejects.toHaveCode(
      'INVALID_OPTIONS',
    );
    await expect(
      loadScanPolicy(file('key.json', '{"alow": []}')),
    ).rejects.toHaveCode('INVALID_OPTIONS');
    await expect(
      loadScanPolicy(file('ver.json', '{"version": 2}')),
    ).rejects.toHaveCode('INVALID_OPTIONS');
    await expect(
      loadScanPolicy(file('type.json', '{"allow": "x"}')),
    ).rejects.toHaveCode('INVALID_OPTIONS');
    await expect(
      loadScanPolicy(file('pat.json', '{"allow": ["os system"]}')),
    ).rejects.toHaveCode('INVALID_OPTIONS');
    await expect(
      loadScanPolicy(file('prof.json', '{"profiles": ["nope"]}')),
    ).rejects.toHaveCode('INVALID_OPTIONS');
    expect(() => parseScanPolicy(null)).toThrowWithCode('INVALID_OPTIONS');
    expect(() => compileScanPolicy({ deny: ['bad pattern'] })).toThrowWithCode(
      'INVALID_OPTIONS',
    );
  });

  it('a user allow entry silences a call of an unknown global', async () => {
    const before = await scanSource(bufferSource(callNet), 'm.pkl');
    expect(before.findings.map((f) => f.ruleId)).toEqual([
      'PICKLE_UNSAFE_CALL',
    ]);
    const after = await scanSource(bufferSource(callNet), 'm.pkl', {
      policy: { allow: ['mypkg.models.Net'] },
    });
    expect(after.findings).toEqual([]);
    const prefix = await scanSource(bufferSource(callNet), 'm.pkl', {
      policy: { allow: ['mypkg.*'] },
    });
    expect(prefix.findings).toEqual([]);
  });

  it('a user deny entry makes a global critical, even one a profile allows', async () => {
    const r = await scanSource(bufferSource(callNet), 'm.pkl', {
      policy: { deny: ['mypkg'] },
    });
    expect(r.findings.map((f) => [f.ruleId, f.severity])).toEqual([
      ['PICKLE_DANGEROUS_GLOBAL', 'critical'],
    ]);
    const od = Buffer.from('\x80\x02ccollections\nOrderedDict\n)R.', 'latin1');
    const r2 = await scanSource(bufferSource(od), 'm.pkl', {
      policy: { deny: ['collections.OrderedDict'] },
    });
    expect(r2.findings[0]?.severity).toBe('critical');
  });

  it('user allow entries override the built-in deny list (the user takes responsibility)', async () => {
    const r = await scanSource(bufferSource(callSystem), 'm.pkl', {
      policy: { allow: ['os.system'] },
    });
    expect(r.findings).toEqual([]);
  });

  it('restricting profiles makes previously allowed globals findings', async () => {
    const lin = Buffer.from(
      '\x80\x02ctorch.nn.modules.linear\nLinear\n)\x81}b.',
      'latin1',
    );
    expect((await scanSource(bufferSource(lin), 'm.pkl')).findings).toEqual([]);
    const r = await scanSource(bufferSource(lin), 'm.pkl', {
      policy: { profiles: ['weights'] },
    });
    expect(r.findings.map((f) => [f.ruleId, f.severity])).toEqual([
      ['PICKLE_UNKNOWN_CLASS', 'medium'],
    ]);
  });
});
