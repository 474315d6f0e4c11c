// SPDX-License-Identifier: Apache-2.0
// Real files from real projects (test-vectors/real, provenance and licences in
// its README.md) must stay clean (issue 9 item 9): no finding at high or above
// unless the file truly calls something outside the allow list (then exactly
// those callables, and nothing high once a policy allows them), no medium
// finding that the table does not explain, and every file read to its end. The
// table is the required end state; the README lists the same files with where
// each came from.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanFile, scanPaths } from '../../src/scan/engine.js';
import {
  severityAtLeast,
  type FileScanResult,
  type Finding,
} from '../../src/scan/types.js';
import { REPO_ROOT } from '../helpers/vectors.js';

const DIR = join(REPO_ROOT, 'test-vectors', 'real');

interface RealFile {
  /** Path below test-vectors/real. */
  file: string;
  /** What the file is, for failure messages. */
  what: string;
  /** Formats the engine must recognise somewhere in the file (wrappers included). */
  formats?: string[];
  /**
   * Globals the file's pickle really calls that are outside the built-in allow
   * list: each is one high `PICKLE_UNSAFE_CALL` and nothing else is high
   * (documented in the README). Absent for a clean file.
   */
  callsOutsideAllowList?: readonly string[];
  /** Rules the file raises at medium for a real reason (documented in the README). */
  expectedMedium?: readonly string[];
  /** Whether the scan reads the file to its end. Default true. */
  complete?: boolean;
}

/** What pandas 2.2.3's legacy pickle calls to rebuild its objects: pandas internals and pytz. */
const PANDAS_2_2_3_CALLS: readonly string[] = [
  'pandas._libs.arrays.__pyx_unpickle_NDArrayBacked',
  'pandas._libs.internals._unpickle_block',
  'pandas._libs.sparse.BlockIndex',
  'pandas._libs.sparse.IntIndex',
  'pandas._libs.tslibs.nattype.__nat_unpickle',
  'pandas._libs.tslibs.offsets.BusinessDay',
  'pandas._libs.tslibs.offsets.BusinessHour',
  'pandas._libs.tslibs.offsets.CustomBusinessDay',
  'pandas._libs.tslibs.offsets.Day',
  'pandas._libs.tslibs.offsets.Easter',
  'pandas._libs.tslibs.offsets.FY5253',
  'pandas._libs.tslibs.offsets.Hour',
  'pandas._libs.tslibs.offsets.LastWeekOfMonth',
  'pandas._libs.tslibs.offsets.Minute',
  'pandas._libs.tslibs.offsets.MonthBegin',
  'pandas._libs.tslibs.offsets.MonthEnd',
  'pandas._libs.tslibs.offsets.QuarterBegin',
  'pandas._libs.tslibs.offsets.QuarterEnd',
  'pandas._libs.tslibs.offsets.SemiMonthBegin',
  'pandas._libs.tslibs.offsets.SemiMonthEnd',
  'pandas._libs.tslibs.offsets.Week',
  'pandas._libs.tslibs.offsets.WeekOfMonth',
  'pandas._libs.tslibs.offsets.YearBegin',
  'pandas._libs.tslibs.offsets.YearEnd',
  'pandas._libs.tslibs.period.Period',
  'pandas._libs.tslibs.timestamps._unpickle_timestamp',
  'pandas.core.dtypes.dtypes.PeriodDtype',
  'pandas.core.indexes.base._new_Index',
  'pandas.core.indexes.datetimes._new_DatetimeIndex',
  'pandas.core.indexes.interval._new_IntervalIndex',
  'pandas.core.internals.managers.BlockManager',
  'pytz._p',
];

const FILES: readonly RealFile[] = [
  // numpy v2.5.2, numpy/lib/tests/data
  {
    file: 'numpy/win64python2.npy',
    what: "v1 header written by Python 2 on Windows ('shape': (2L,))",
    formats: ['numpy-npy'],
  },
  {
    file: 'numpy/python3.npy',
    what: 'v1 header by Python 3',
    formats: ['numpy-npy'],
  },
  {
    file: 'numpy/py2-objarr.npy',
    what: 'object array pickled by Python 2 (xrange, unicode, str)',
    formats: ['numpy-npy'],
  },
  {
    file: 'numpy/py2-np0-objarr.npy',
    what: "object array pickled by Python 2 naming NumPy's pre-1.0 reconstructor (numpy.core._internal._reconstruct)",
    formats: ['numpy-npy'],
  },
  {
    file: 'numpy/py2-objarr.npz',
    what: 'npz holding the Python 2 object array',
    formats: ['numpy-npz'],
  },
  {
    file: 'numpy/py3-objarr.npy',
    what: 'object array pickled by Python 3',
    formats: ['numpy-npy'],
  },
  {
    file: 'numpy/py3-objarr.npz',
    what: 'npz holding the Python 3 object array',
    formats: ['numpy-npz'],
  },
  // PyWavelets v1.9.0, pywt/data
  {
    file: 'pywavelets/sst_nino3.npz',
    what: 'NINO3 sea-surface temperature, a float64 npz',
    formats: ['numpy-npz'],
  },
  // CPython v3.13.0, Lib/test/archivetestdata
  {
    file: 'cpython/testtar.tar',
    what: "tarfile's test archive: ustar/gnu/pax members, sparse members, a directory entry with a size",
    formats: ['tar'],
    // block device, character device and fifo entries (never extracted as files)
    expectedMedium: ['ARCHIVE_SPECIAL_FILE'],
  },
  {
    file: 'cpython/testtar.tar.xz',
    what: "tarfile's xz-compressed test archive",
    formats: ['tar'],
  },
  // joblib 1.5.3, joblib/test/data: one file per compressor and pickle flavour
  {
    file: 'joblib/joblib_0.10.0_pickle_py27_np17.pkl',
    what: 'joblib 0.10 pickle, Python 2, arrays inline after the pickle',
    formats: ['pickle'],
  },
  {
    file: 'joblib/joblib_0.10.0_pickle_py27_np17.pkl.gzip',
    what: 'joblib 0.10 gzip, Python 2',
    formats: ['pickle'],
  },
  {
    file: 'joblib/joblib_0.10.0_pickle_py27_np17.pkl.bz2',
    what: 'joblib 0.10 bzip2, Python 2',
    formats: ['pickle'],
  },
  {
    file: 'joblib/joblib_0.10.0_pickle_py27_np17.pkl.xz',
    what: 'joblib 0.10 xz, Python 2',
    formats: ['pickle'],
  },
  {
    file: 'joblib/joblib_0.10.0_pickle_py27_np17.pkl.lzma',
    what: 'joblib 0.10 lzma-alone (size in header), Python 2',
    formats: ['pickle'],
  },
  {
    file: 'joblib/joblib_0.10.0_compressed_pickle_py27_np17.gz',
    what: 'joblib 0.10 zlib stream, Python 2',
    formats: ['pickle'],
  },
  {
    file: 'joblib/joblib_0.10.0_compressed_pickle_py35_np19.gz',
    what: 'joblib 0.10 zlib stream, Python 3',
    formats: ['pickle'],
  },
  {
    file: 'joblib/joblib_0.11.0_pickle_py36_np111.pkl',
    what: 'joblib 0.11 pickle, Python 3',
    formats: ['pickle'],
  },
  {
    file: 'joblib/joblib_0.11.0_pickle_py36_np111.pkl.gzip',
    what: 'joblib 0.11 gzip, Python 3',
    formats: ['pickle'],
  },
  {
    file: 'joblib/joblib_0.11.0_pickle_py36_np111.pkl.bz2',
    what: 'joblib 0.11 bzip2, Python 3',
    formats: ['pickle'],
  },
  {
    file: 'joblib/joblib_0.11.0_pickle_py36_np111.pkl.xz',
    what: 'joblib 0.11 xz, Python 3',
    formats: ['pickle'],
  },
  {
    file: 'joblib/joblib_0.11.0_pickle_py36_np111.pkl.lzma',
    what: 'joblib 0.11 lzma-alone (size unknown, end marker), Python 3',
    formats: ['pickle'],
  },
  {
    file: 'joblib/joblib_0.12.2_pickle_py36_np114.pkl.lz4',
    what: 'joblib 0.12 lz4 frame, Python 3',
    formats: ['pickle'],
  },
  {
    file: 'joblib/joblib_0.8.4_compressed_pickle_py27_np17.gz',
    what: "joblib 0.8 legacy 'ZF' zlib file, Python 2",
  },
  {
    file: 'joblib/joblib_0.9.2_compressed_pickle_py35_np19.gz',
    what: "joblib 0.9 legacy 'ZF' zlib file, Python 3",
  },
  {
    file: 'joblib/joblib_0.9.2_pickle_py27_np17.pkl',
    what: 'joblib 0.9 pickle with NDArrayWrapper naming side .npy files, Python 2',
    formats: ['pickle'],
  },
  {
    file: 'joblib/joblib_0.9.2_pickle_py27_np17.pkl_01.npy',
    what: 'its first side array (int64)',
    formats: ['numpy-npy'],
  },
  {
    file: 'joblib/joblib_0.9.2_pickle_py27_np17.pkl_02.npy',
    what: 'its second side array (float64)',
    formats: ['numpy-npy'],
  },
  {
    file: 'joblib/joblib_0.9.2_pickle_py27_np17.pkl_03.npy',
    what: 'its third side array (object, a pickle after the header)',
    formats: ['numpy-npy'],
  },
  {
    file: 'joblib/joblib_0.9.2_pickle_py27_np17.pkl_04.npy',
    what: 'its fourth side array (matrix data)',
    formats: ['numpy-npy'],
  },
  {
    file: 'joblib/joblib_0.9.4.dev0_compressed_cache_size_pickle_py35_np19.gz',
    what: "joblib 0.9.4 'ZF' pickle naming side .npy.z files, Python 3",
  },
  {
    file: 'joblib/joblib_0.9.4.dev0_compressed_cache_size_pickle_py35_np19.gz_01.npy.z',
    what: "its first side array: raw array bytes in a 'ZF' file",
  },
  {
    file: 'joblib/joblib_0.9.4.dev0_compressed_cache_size_pickle_py35_np19.gz_02.npy.z',
    what: "its second side array: raw array bytes in a 'ZF' file",
  },
  {
    file: 'joblib/joblib_0.9.4.dev0_compressed_cache_size_pickle_py35_np19.gz_03.npy.z',
    what: "its third side array: raw array bytes in a 'ZF' file",
  },
  // pandas (main at 9ff14a3), pandas/tests/...
  {
    file: 'pandas/categorical.0.25.0.pickle',
    what: 'Categorical pickled by pandas 0.25',
    formats: ['pickle'],
    callsOutsideAllowList: ['pandas.core.indexes.base._new_Index'],
    expectedMedium: ['PICKLE_UNKNOWN_CLASS'],
  },
  {
    file: 'pandas/empty_frame_v1_2_4-GH42345.pkl',
    what: 'empty DataFrame pickled by pandas 1.2.4',
    formats: ['pickle'],
    callsOutsideAllowList: ['pandas.core.indexes.base._new_Index'],
    expectedMedium: ['PICKLE_UNKNOWN_CLASS'],
  },
  {
    file: 'pandas/cday-0.14.1.pickle',
    what: 'CustomBusinessDay pickled by pandas 0.14.1 on Python 2',
    formats: ['pickle'],
    expectedMedium: ['PICKLE_UNKNOWN_CLASS'],
  },
  {
    file: 'pandas/2.2.3_AMD64_windows_3.11.12.pickle',
    what: "pandas 2.2.3's legacy-pickle fixture: every index, array and offset type",
    formats: ['pickle'],
    callsOutsideAllowList: PANDAS_2_2_3_CALLS,
    expectedMedium: ['PICKLE_UNKNOWN_CLASS'],
  },
  // ONNX v1.22.0, onnx/backend/test/data/node/<test>/model.onnx
  ...[
    ['test_if', 'If with two subgraphs'],
    ['test_if_seq', 'If whose branches return sequences'],
    ['test_if_opt', 'If whose branches return optionals'],
    ['test_loop11', 'Loop (opset 11) with a body graph'],
    ['test_loop13_seq', 'Loop over a sequence (opset 13)'],
    ['test_loop16_seq_none', 'Loop with an optional sequence (opset 16)'],
    ['test_scan_sum', 'Scan (opset 8) with a body graph'],
    ['test_scan9_sum', 'Scan (opset 9) with a body graph'],
    ['test_adagrad', 'Adagrad, domain ai.onnx.preview.training'],
    ['test_momentum', 'Momentum, domain ai.onnx.preview.training'],
    ['test_nesterov_momentum', 'Nesterov momentum, ai.onnx.preview.training'],
    ['test_adam', 'Adam, domain ai.onnx.preview.training'],
  ].map(([name, what]): RealFile => ({
    file: `onnx/${name}.onnx`,
    what: what!,
    formats: ['onnx'],
  })),
  // MediaPipe
  {
    file: 'mediapipe/face_detection_full_range_sparse.tflite',
    what: 'sparse face detector from @mediapipe/face_detection 0.4.1657300184',
    formats: ['tflite'],
  },
  {
    file: 'mediapipe/test_two_signature_keys_model.tflite',
    what: 'MediaPipe test model with two signature keys',
    formats: ['tflite'],
  },
];

function describeFindings(findings: readonly Finding[]): string {
  return findings
    .map(
      (f) => `${f.severity} ${f.ruleId} [${f.member.join(' > ')}] ${f.message}`,
    )
    .join('\n');
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name !== 'README.md')
    .map((e) => relative(DIR, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
}

/** The README's table rows: file -> sha256. */
function readmeDigests(): Map<string, string> {
  const text = readFileSync(join(DIR, 'README.md'), 'utf8');
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^\| `([^`]+)` \|.*\| `([0-9a-f]{64})` \|/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

describe('real files (test-vectors/real)', () => {
  it('the table, the README and the folder list the same files, with matching digests', () => {
    const inTable = FILES.map((f) => f.file).sort();
    expect(listFiles(DIR)).toEqual(inTable);
    const digests = readmeDigests();
    expect([...digests.keys()].sort()).toEqual(inTable);
    for (const f of inTable)
      expect(sha256(join(DIR, f)), `sha256 of ${f}`).toBe(digests.get(f));
  });

  it.each(FILES.map((f) => [f.file, f] as const))(
    '%s stays clean',
    async (_name, f) => {
      const r: FileScanResult = await scanFile(join(DIR, f.file), {
        root: DIR,
      });
      const all = describeFindings(r.findings);
      expect(r.error, `${f.what}\n${all}`).toBeUndefined();
      for (const format of f.formats ?? [])
        expect(r.formats, `${f.what}: formats`).toContain(format);
      const high = r.findings.filter((x) =>
        severityAtLeast(x.severity, 'high'),
      );
      const calls = f.callsOutsideAllowList ?? [];
      expect(
        [...new Set(high.map((x) => x.ruleId))],
        `${f.what}: findings at high or above\n${all}`,
      ).toEqual(calls.length > 0 ? ['PICKLE_UNSAFE_CALL'] : []);
      expect(
        [...new Set(high.map((x) => String(x.evidence?.global)))].sort(),
        `${f.what}: callables outside the allow list\n${all}`,
      ).toEqual([...calls].sort());
      const medium = r.findings.filter((x) => x.severity === 'medium');
      expect(
        [...new Set(medium.map((x) => x.ruleId))].sort(),
        `${f.what}: findings at medium\n${all}`,
      ).toEqual([...(f.expectedMedium ?? [])].sort());
      expect(r.complete, `${f.what}: not read to its end\n${all}`).toBe(
        f.complete ?? true,
      );
    },
  );

  it.each(
    FILES.filter((f) => (f.callsOutsideAllowList ?? []).length > 0).map(
      (f) => [f.file, f] as const,
    ),
  )(
    '%s has nothing high once a policy allows exactly what it calls',
    async (_name, f) => {
      const r = await scanFile(join(DIR, f.file), {
        root: DIR,
        policy: { allow: [...f.callsOutsideAllowList!] },
      });
      const high = r.findings.filter((x) =>
        severityAtLeast(x.severity, 'high'),
      );
      expect(high, describeFindings(r.findings)).toEqual([]);
      expect(r.complete).toBe(true);
    },
  );

  it('a scan of the whole folder settles with a full report', async () => {
    const report = await scanPaths([DIR], { root: DIR });
    expect(report.files.map((r) => r.file).sort()).toEqual(
      listFiles(DIR).concat('README.md').sort(),
    );
    expect(report.summary.errors).toBe(0);
    expect(report.summary.incomplete).toBe(0);
    const withHigh = report.files.filter((r) =>
      r.findings.some((x) => severityAtLeast(x.severity, 'high')),
    );
    const allowed = new Set(
      FILES.filter((f) => (f.callsOutsideAllowList ?? []).length > 0).map(
        (f) => f.file,
      ),
    );
    expect(
      withHigh.map((r) => r.file).filter((f) => !allowed.has(f)),
      withHigh
        .map((r) => `${r.file}\n${describeFindings(r.findings)}`)
        .join('\n'),
    ).toEqual([]);
  });
});
