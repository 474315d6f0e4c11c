// SPDX-License-Identifier: Apache-2.0
// Red-team review of the scan gate (stop 21). Each test was a bypass, written
// as `it.fails` by the review: bytes a real loader executes while the scan
// reported nothing at high or above. All are mended (PROTO 0/1 headers, the
// text detector's limits, gzip members with a broken trailer, `DATA.PKL`).
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { scanSource } from '../../src/scan/engine.js';
import { bufferSource } from '../../src/scan/source.js';
import type { FileScanResult } from '../../src/scan/types.js';
import { buildZip } from './helpers/zip-builder.js';
import { highs } from './helpers/findings.js';

/** A protocol 0 body that calls `posix.system('id')`. */
const CALL = Buffer.from("cposix\nsystem\n(S'id'\ntR.", 'latin1');

/** `PROTO n` then the body. */
const withProto = (n: number, body: Buffer = CALL): Buffer =>
  Buffer.concat([Buffer.from([0x80, n]), body]);

const scan = (data: Buffer, name: string): Promise<FileScanResult> =>
  scanSource(bufferSource(data), name);

describe('red team (stop 21): PROTO 0 and PROTO 1 headers', () => {
  // Python's Unpickler.load_proto accepts any protocol 0..HIGHEST_PROTOCOL,
  // so `\x80\x01` and `\x80\x00` start a valid pickle. The binary detector
  // wants PROTO 2..5 and the text detector refuses a leading 0x80, so no
  // scanner claims the file: 0 findings, exit 0. pickle.load,
  // numpy.load(allow_pickle=True) (non-npy, non-zip bytes go to pickle.load)
  // and torch.load(weights_only=False) (legacy path: pickle_module.load of
  // the first record) all run os.system.
  it('flags a PROTO 1 pickle that calls os.system', async () => {
    const r = await scan(withProto(1), 'model.pkl');
    expect(highs(r)).not.toEqual([]);
  });

  it('flags a PROTO 0 pickle that calls os.system', async () => {
    const r = await scan(withProto(0), 'model.pkl');
    expect(highs(r)).not.toEqual([]);
  });

  it('flags a PROTO 1 pickle with binary opcodes (BINUNICODE, BINPUT)', async () => {
    const body = Buffer.concat([
      Buffer.from('cos\nsystem\nq\x00(X', 'latin1'),
      Buffer.from([2, 0, 0, 0]),
      Buffer.from('idtR.', 'latin1'),
    ]);
    const r = await scan(withProto(1, body), 'weights.dat');
    expect(highs(r)).not.toEqual([]);
  });

  // joblib.load opens gzip/zlib/bz2/xz/lz4 wrappers and pickle.loads the
  // content: the wrapper is read, the inner PROTO 1 pickle is not claimed.
  it('flags a gzip-wrapped PROTO 1 pickle (joblib.load)', async () => {
    const r = await scan(gzipSync(withProto(1)), 'model.joblib');
    expect(highs(r)).not.toEqual([]);
  });

  // Same root cause inside a generic zip: the member is not claimed.
  it('flags a PROTO 1 pickle member of a plain zip', async () => {
    const zip = buildZip([{ name: 'model.pkl', data: withProto(1) }]);
    const r = await scan(zip, 'bundle.zip');
    expect(highs(r)).not.toEqual([]);
  });

  // Held: inside a PyTorch zip, data.pkl is scanned whatever its header.
  it('flags a PROTO 1 data.pkl inside a PyTorch zip', async () => {
    const zip = buildZip([
      { name: 'archive/data.pkl', data: withProto(1) },
      { name: 'archive/version', data: Buffer.from('3\n') },
    ]);
    const r = await scan(zip, 'model.pt');
    expect(highs(r)).toContain('PICKLE_DANGEROUS_GLOBAL');
  });
});

describe('red team (stop 21): protocol 0 pickles the text detector gives up on', () => {
  // The text detector runs at most 4096 opcodes over the head and claims the
  // file only if it saw an import or a call by then. Python runs any number
  // of NONE/POP pairs before the GLOBAL and REDUCE: 2100 pairs (4200
  // opcodes, 4 KiB of padding) and the file is unclaimed, 0 findings, exit 0.
  it('flags os.system after 2100 NONE/POP pairs', async () => {
    const data = Buffer.concat([
      Buffer.from('N0'.repeat(2100), 'latin1'),
      CALL,
    ]);
    const r = await scan(data, 'model.pkl');
    expect(highs(r)).not.toEqual([]);
  });

  // A 16 MiB STRING operand first (`S'aaaa…'\n0`, then the call): the
  // detector's run over the source fails on the long operand (the full scan
  // of an 8 MiB one reports SCAN_INCOMPLETE high; at 16 MiB nothing claims
  // the file): 0 findings, exit 0. Python reads any line length.
  it('flags os.system after a 16 MiB STRING operand', async () => {
    const data = Buffer.concat([
      Buffer.from("S'", 'latin1'),
      Buffer.alloc(16 * 1024 * 1024, 0x61),
      Buffer.from("'\n0", 'latin1'),
      CALL,
    ]);
    const r = await scan(data, 'model.pkl');
    expect(highs(r)).not.toEqual([]);
  });
});

describe('red team (stop 21): compression wrappers', () => {
  // A small gzip member followed by 7 bytes of garbage: the decoder fails
  // before it hands out a byte, and the scan says a medium SCAN_INCOMPLETE
  // ("corrupt before its first byte; nothing decodes"), exit 0. Python's
  // gzip.GzipFile (and joblib's gzip reader) returns the first member's
  // bytes before it looks for a next header, so pickle.load runs the call
  // and only then fails on the garbage. Checked with CPython 3.11:
  // `pickle.load(gzip.GzipFile(path))` runs os.system. A 1 MiB payload
  // with the same tail is reported high (the decoder emits bytes first).
  it('flags a gzip pickle with a garbage tail at high', async () => {
    const data = Buffer.concat([
      gzipSync(withProto(2)),
      Buffer.from('garbage', 'latin1'),
    ]);
    const r = await scan(data, 'model.joblib');
    expect(highs(r)).not.toEqual([]);
  });
  // Same verdict (medium, exit 0) for a gzip member whose trailer lies:
  // GzipFile returns the member's bytes first and checks CRC32 and ISIZE on
  // the next read, after pickle.load has run the call (checked with CPython
  // 3.11). And for a valid member followed by a second, broken member.
  it('flags a gzip pickle with a wrong CRC32 at high', async () => {
    const g = gzipSync(withProto(2));
    g.writeUInt8(g.readUInt8(g.length - 8) ^ 0xff, g.length - 8);
    const r = await scan(g, 'model.joblib');
    expect(highs(r)).not.toEqual([]);
  });

  it('flags a gzip pickle with a wrong ISIZE at high', async () => {
    const g = gzipSync(withProto(2));
    g.writeUInt8(g.readUInt8(g.length - 4) ^ 0xff, g.length - 4);
    const r = await scan(g, 'model.joblib');
    expect(highs(r)).not.toEqual([]);
  });

  it('flags a gzip pickle followed by a broken member', async () => {
    const data = Buffer.concat([
      gzipSync(withProto(2)),
      Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xff, 0xff, 0xff]),
    ]);
    const r = await scan(data, 'model.joblib');
    expect(highs(r)).not.toEqual([]);
  });
});

describe('red team (stop 21): PyTorch zip member names', () => {
  // PyTorchStreamReader::getRecordID calls mz_zip_reader_locate_file(...,
  // flags 0): miniz compares names case-insensitively unless
  // MZ_ZIP_FLAG_CASE_SENSITIVE is set, so torch.load unpickles
  // `archive/DATA.PKL` as the data.pkl record. The scanner matches
  // `data.pkl` and `.pkl` case-sensitively: the member goes to content
  // detection, a PROTO 1 body is not claimed, and the verdict is a medium
  // TORCH_NO_DATA_PKL, exit 0. (Not run against torch here: no torch.)
  it('flags a PROTO 1 archive/DATA.PKL', async () => {
    const zip = buildZip([
      { name: 'archive/DATA.PKL', data: withProto(1) },
      { name: 'archive/version', data: Buffer.from('3\n') },
    ]);
    const r = await scan(zip, 'model.pt');
    expect(highs(r)).not.toEqual([]);
    // Read as torch reads it: the data pickle, not a missing one.
    const ids = r.findings.map((f) => f.ruleId);
    expect(ids).not.toContain('TORCH_NO_DATA_PKL');
    expect(ids).toContain('PICKLE_DANGEROUS_GLOBAL');
  });
});
