// SPDX-License-Identifier: Apache-2.0
// Legacy torch tar: after the storage records of member `storages`,
// torch's legacy_load unpickles one more pickle (`storage_views`), which was
// never scanned; records the walk cannot follow (an unknown storage type,
// whose element size decides where the next pickle starts) now fail closed.
// TorchScript: torch.jit.load finds `code/` and `constants.pkl` through
// miniz without regard to case, so `archive/CODE/` is TorchScript too.
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';
import { tar } from './helpers/ustar.js';
import { buildZip } from './helpers/zip-builder.js';

const p = (s: string): Buffer => Buffer.from(s, 'latin1');
/** BINUNICODE of an ASCII string. */
const u = (s: string): string => {
  const n = Buffer.alloc(4);
  n.writeUInt32LE(s.length);
  return `X${n.toString('latin1')}${s}`;
};
const i64 = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(n));
  return b;
};
const floats = (n: number): Buffer => {
  const b = Buffer.alloc(4 * n);
  for (let i = 0; i < n; i++) b.writeFloatLE(1.5 + i, 4 * i);
  return b;
};

/** One `storages` record: (key, location, type), numel, data. */
const storageRecord = (
  key: string,
  type: string,
  numel: number,
  data: Buffer,
): Buffer =>
  Buffer.concat([
    p(`\x80\x02${u(key)}${u('cpu')}c${type}\n\x87.`),
    i64(numel),
    data,
  ]);

const emptyViews = p('\x80\x02].');
const evilViews = p(`\x80\x02]cos\nsystem\n${u('id')}\x85Ra.`);

/** A legacy tar with one tensor over storage `s1`. */
function legacyTar(storages: Buffer): Buffer {
  const dims = Buffer.concat([
    Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]), // ndim 1, 4 unused bytes
    i64(2), // size
    i64(1), // stride
    i64(0), // storage offset
  ]);
  const tensors = Buffer.concat([
    p('\x80\x02K\x01.'),
    p(`\x80\x02${u('t1')}${u('s1')}ctorch\nFloatTensor\n\x87.`),
    dims,
  ]);
  return tar([
    ['sys_info', p(`\x80\x02}${u('protocol_version')}M\xe9\x03s.`)],
    ['storages', storages],
    ['tensors', tensors],
    ['pickle', p(`\x80\x02}${u('w')}K\x01s.`)],
  ]);
}

const scan = (data: Buffer, name: string) =>
  scanSource(bufferSource(data), name);
const highs = (r: Awaited<ReturnType<typeof scan>>): string[] =>
  r.findings
    .filter((f) => f.severity === 'high' || f.severity === 'critical')
    .map((f) => `${f.ruleId}@${f.member.join('>')}`);

describe('legacy torch tar: the storage_views pickle', () => {
  it('scans the pickle after zero storage records (PoC)', async () => {
    const r = await scan(
      legacyTar(Buffer.concat([p('\x80\x02K\x00.'), evilViews])),
      'legacy_views.pt',
    );
    expect(r.formats).toContain('pytorch-legacy-tar');
    const hit = r.findings.find(
      (f) =>
        f.ruleId === 'PICKLE_DANGEROUS_GLOBAL' &&
        f.evidence?.['global'] === 'os.system',
    );
    expect(hit?.severity).toBe('critical');
    expect(hit?.member).toEqual(['storages']);
  });

  it('steps over records by their element size (torch.cuda.FloatStorage is 4 bytes)', async () => {
    const r = await scan(
      legacyTar(
        Buffer.concat([
          p('\x80\x02K\x02.'),
          storageRecord('s1', 'torch.cuda\nFloatStorage', 3, floats(3)),
          storageRecord('s2', 'torch\nDoubleStorage', 1, i64(7)),
          evilViews,
        ]),
      ),
      'legacy_views.pt',
    );
    const hit = r.findings.find(
      (f) =>
        f.ruleId === 'PICKLE_DANGEROUS_GLOBAL' &&
        f.evidence?.['global'] === 'os.system',
    );
    expect(hit?.severity).toBe('critical');
    expect(hit?.member).toEqual(['storages']);
    expect(r.findings.map((f) => f.ruleId)).not.toContain('SCAN_INCOMPLETE');
  });

  it('a negative record count is no record: the next pickle is the views', async () => {
    const r = await scan(
      legacyTar(Buffer.concat([p('\x80\x02J\xff\xff\xff\xff.'), evilViews])),
      'legacy_views.pt',
    );
    expect(highs(r)).toContain('PICKLE_DANGEROUS_GLOBAL@storages');
  });

  it('an unknown storage type fails closed (its size decides where the next pickle is)', async () => {
    for (const type of [
      'torch\nFunkyStorage',
      'torch.cuda\nFloat8Storage',
      'mypkg\nFloatStorage',
    ]) {
      const r = await scan(
        legacyTar(
          Buffer.concat([
            p('\x80\x02K\x01.'),
            storageRecord('s1', type, 2, floats(2)),
            emptyViews,
          ]),
        ),
        'legacy_unknown.pt',
      );
      const inc = r.findings.find(
        (f) => f.ruleId === 'SCAN_INCOMPLETE' && f.member[0] === 'storages',
      );
      expect(inc?.severity, type).toBe('high');
    }
  });

  it('a record that is not (key, location, type) fails closed', async () => {
    const r = await scan(
      legacyTar(
        Buffer.concat([
          p('\x80\x02K\x01.'),
          p(`\x80\x02${u('s1')}.`),
          evilViews,
        ]),
      ),
      'legacy_bad_record.pt',
    );
    expect(highs(r)).toContain('SCAN_INCOMPLETE@storages');
  });

  it('control: a normal legacy tar has no high finding', async () => {
    const r = await scan(
      legacyTar(
        Buffer.concat([
          p('\x80\x02K\x03.'),
          storageRecord('s1', 'torch\nFloatStorage', 2, floats(2)),
          storageRecord('s2', 'torch.cuda\nHalfStorage', 3, Buffer.alloc(6, 1)),
          storageRecord('s3', 'torch\nLongStorage', 1, i64(5)),
          p(`\x80\x02]${u('v1')}${u('s1')}K\x00K\x01\x87\x85.`),
        ]),
      ),
      'legacy.pt',
    );
    expect(r.formats).toContain('pytorch-legacy-tar');
    expect(highs(r)).toEqual([]);
  });
});

describe('legacy torch stacked file', () => {
  /** Magic, protocol version, sys_info, the object, the keys, the storages. */
  function stacked(type: string): Buffer {
    const pid = (key: string): string =>
      `(${u('storage')}c${type}\n${u(key)}${u('cuda:0')}K\x04Nt\x51`;
    return Buffer.concat([
      p('\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.'),
      p('\x80\x02M\xe9\x03.'),
      p(`\x80\x02}${u('protocol_version')}M\xe9\x03s.`),
      p(`\x80\x02}(${u('a')}${pid('1')}${u('b')}${pid('2')}u.`),
      p(`\x80\x02](${u('1')}${u('2')}e.`),
      i64(4),
      floats(4),
      i64(4),
      floats(4),
    ]);
  }

  it('control: torch.cuda storages are walked by their element size', async () => {
    const r = await scan(stacked('torch.cuda\nFloatStorage'), 'stacked.pt');
    expect(r.formats).toContain('pytorch-legacy');
    expect(highs(r)).toEqual([]);
  });
});

describe('TorchScript records in any case', () => {
  const code = Buffer.from(
    'class MyModule(Module):\n  def forward(self, x):\n    return x\n',
  );
  const data = p(`\x80\x02}${u('w')}K\x01s.`);

  it('archive/CODE/ and archive/CONSTANTS.PKL make a TorchScript archive (PoC)', async () => {
    const zip = buildZip([
      { name: 'archive/DATA.PKL', data },
      { name: 'archive/CODE/__torch__.py', data: code },
      { name: 'archive/CONSTANTS.PKL', data: p('\x80\x02).') },
      { name: 'archive/version', data: Buffer.from('3\n') },
    ]);
    const r = await scan(zip, 'ts_case.pt');
    expect(r.formats).toContain('torchscript');
    expect(
      r.findings.find((f) => f.ruleId === 'TORCH_TORCHSCRIPT')?.severity,
    ).toBe('high');
  });

  it('an archive whose every torch record is in upper case is recognised', async () => {
    const zip = buildZip([
      { name: 'Archive/Code/__torch__.py', data: code },
      { name: 'Archive/CONSTANTS.PKL', data: p('\x80\x02).') },
      { name: 'Archive/VERSION', data: Buffer.from('3\n') },
    ]);
    const r = await scan(zip, 'ts_upper.pt');
    expect(r.formats).toContain('pytorch-zip');
    expect(highs(r)).toContain('TORCH_TORCHSCRIPT@');
  });

  it('control: a plain checkpoint is not TorchScript', async () => {
    const zip = buildZip([
      { name: 'archive/DATA.PKL', data },
      { name: 'archive/version', data: Buffer.from('3\n') },
    ]);
    const r = await scan(zip, 'plain.pt');
    expect(r.formats).toContain('pytorch-zip');
    expect(r.findings.map((f) => f.ruleId)).not.toContain('TORCH_TORCHSCRIPT');
  });
});
