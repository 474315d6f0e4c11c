// SPDX-License-Identifier: Apache-2.0
// The fuzz targets and the properties they check, written once and bound to a
// build of the library: the jazzer.js entry points (fuzz/entry/*.mjs) bind them
// to packages/core/dist, the regression replay test
// (packages/core/test/scan/fuzz-regressions.test.ts) to the TypeScript sources.
//
// Every target feeds bytes to `scanSource` with the target's scanners consulted
// first (then the rest of the registry, so nested members are scanned too) and,
// where the target names one, to the format's reader directly. Properties:
//   - nothing throws (the options are valid, so even a ModelSealError is a bug);
//   - no scanner fails inside the engine (`SCAN_INTERNAL_ERROR`);
//   - the file settles before the engine's deadline (`maxFileMs` below; a
//     synchronous loop that blocks the deadline is caught by the fuzzer's own
//     per-input timeout);
//   - every finding is well formed: a catalogued rule id, a known severity, a
//     non-empty message, the file's name, a member path of strings, a
//     non-negative integer offset, JSON-serialisable evidence.
// Peak RSS is bounded by the fuzzer (-rss_limit_mb=512), not here.
import { crc32 } from 'node:zlib';

/** File name every fuzzed input is scanned as (no extension: detection is by content). */
export const FUZZ_FILE = 'fuzzed-input';

/** Engine deadline per input; reaching it is reported as a hang. */
export const FILE_DEADLINE_MS = 10_000;

/** Largest member read by the zip reader target. */
const ZIP_MEMBER_BYTES = 1 << 20;

/** Pickle streams, bare or compressed, under any name; not the zip and tar containers. */
const PICKLE_FILES =
  /^(?!.*\.(pt|pth|npz|npy|ckpt|tar|tgz|zip|nemo|skops|7z|keras|h5|yaml)$)/;

/** Files whose name marks a compression wrapper. */
const COMPRESSED_FILES = /\.(gz|z|bz2|xz|lzma|zst|lz4|7z|pth)$/;

const SEVERITIES = new Set(['critical', 'high', 'medium', 'low', 'info']);

/**
 * The targets. `first`: scanner ids consulted before the rest of the registry.
 * `seeds`: fixture folders (relative to the repository root) and a file-name
 * filter. `reader`: a format reader also called directly. `wrap`: how the
 * fuzzer's bytes become a file (structure-aware targets). `maxLen`: libFuzzer's
 * -max_len.
 */
export const TARGETS = Object.freeze({
  pickle: {
    first: ['pickle', 'pickle-text'],
    reader: 'pickle',
    seeds: [
      { dir: 'test-vectors/pickle/benign', match: PICKLE_FILES },
      { dir: 'test-vectors/pickle/malicious', match: PICKLE_FILES },
    ],
    maxLen: 16_384,
  },
  zip: {
    first: ['pytorch-zip', 'numpy-npz', 'keras', 'zip'],
    reader: 'zip',
    seeds: [
      { dir: 'test-vectors/formats/archive', match: /\.zip$/ },
      { dir: 'test-vectors/pickle/benign', match: /\.(pt|npz|ckpt)$/ },
      { dir: 'test-vectors/pickle/malicious', match: /\.(pt|pth|zip|npz)$/ },
    ],
    maxLen: 16_384,
  },
  tar: {
    first: ['tar', 'pytorch-legacy-tar'],
    seeds: [
      { dir: 'test-vectors/formats/archive', match: /\.(tar|gz)$/ },
      { dir: 'test-vectors/pickle/benign', match: /\.tar$/ },
      { dir: 'test-vectors/pickle/malicious', match: /\.(tar|tgz)$/ },
    ],
    maxLen: 16_384,
  },
  onnx: {
    first: ['onnx'],
    seeds: [{ dir: 'test-vectors/formats/onnx', match: /\.onnx$/ }],
    maxLen: 140_000,
  },
  safetensors: {
    first: ['safetensors'],
    seeds: [
      { dir: 'test-vectors/formats/safetensors', match: /./ },
      { dir: 'test-vectors/sample-model', match: /\.safetensors$/ },
    ],
    maxLen: 16_384,
  },
  gguf: {
    first: ['gguf'],
    seeds: [{ dir: 'test-vectors/formats/gguf', match: /\.gguf$/ }],
    maxLen: 16_384,
  },
  keras: {
    first: ['keras', 'keras-h5', 'keras-metadata'],
    seeds: [{ dir: 'test-vectors/formats/keras', match: /./ }],
    maxLen: 16_384,
  },
  // Compression wrappers (gzip, zlib, bzip2, xz, lzma, zstd, lz4, joblib ZF,
  // 7z): the registry's own order, seeded with every compressed fixture.
  wrappers: {
    first: [],
    seeds: [
      { dir: 'test-vectors/pickle/benign', match: COMPRESSED_FILES },
      { dir: 'test-vectors/pickle/malicious', match: COMPRESSED_FILES },
      { dir: 'test-vectors/formats/archive', match: /\.gz$/ },
    ],
    maxLen: 16_384,
  },
  // The fuzzer's bytes are config.json of a stored (uncompressed) .keras zip
  // with valid CRCs, so mutations reach the config walk instead of the zip
  // layer. Seeds: the config.json of every committed .keras fixture.
  // Not scanners: the readers of signed material, fed before any signature
  // is checked (bundle) or from a payload (statement). Properties: only
  // their documented error codes, and the piecewise readers agree with a
  // whole-document JSON.parse (statement-scan.ts, the lifted bundle payload).
  statement: {
    decode: 'statement',
    first: [],
    seeds: [
      { dir: 'test-vectors/oms-own/bundles', match: /\.sig$/, payload: true },
    ],
    maxLen: 16_384,
  },
  bundle: {
    decode: 'bundle',
    first: [],
    seeds: [{ dir: 'test-vectors/oms-own/bundles', match: /\.sig$/ }],
    maxLen: 65_536,
  },
  'keras-config': {
    first: ['keras'],
    wrap: 'keras-config',
    seeds: [
      {
        dir: 'test-vectors/formats/keras',
        match: /\.keras$/,
        member: 'config.json',
      },
    ],
    maxLen: 16_384,
  },
});

/** A stored zip holding `members` (name -> bytes), with correct CRCs and sizes. */
export function storedZip(members) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const [name, data] of members) {
    const n = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(n.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(n.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, n, data);
    centrals.push(central, n);
    offset += local.length + n.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(members.length, 8);
  end.writeUInt16LE(members.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

const KERAS_METADATA = Buffer.from(
  '{"keras_version": "3.10.0", "date_saved": "2026-01-01@00:00:00"}',
);

/** The file a target scans for the fuzzer's `data`. */
export function fileFor(targetName, data) {
  const target = TARGETS[targetName];
  if (target?.wrap === 'keras-config')
    return storedZip([
      ['metadata.json', KERAS_METADATA],
      ['config.json', data],
      ['model.weights.h5', Buffer.alloc(0)],
    ]);
  return data;
}

/** Thrown when a property fails: the fuzzer saves the input. */
export class FuzzFailure extends Error {
  constructor(message, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'FuzzFailure';
  }
}

function checkFinding(lib, f) {
  const bad = (why) =>
    new FuzzFailure(`malformed finding (${why}): ${safeJson(f).slice(0, 500)}`);
  if (typeof f.ruleId !== 'string' || lib.ruleInfo(f.ruleId) === undefined)
    throw bad('rule id not in the catalogue');
  if (!SEVERITIES.has(f.severity)) throw bad('severity');
  // Messages may quote names from the artifact verbatim (control characters
  // included): escaping is the output layer's job (docs/scanner-rules.md).
  if (typeof f.message !== 'string' || f.message.length === 0)
    throw bad('message');
  if (f.file !== FUZZ_FILE) throw bad('file');
  if (!Array.isArray(f.member) || !f.member.every((m) => typeof m === 'string'))
    throw bad('member');
  if (
    f.offset !== undefined &&
    !(Number.isSafeInteger(f.offset) && f.offset >= 0)
  )
    throw bad('offset');
  if (f.evidence !== undefined) {
    if (
      typeof f.evidence !== 'object' ||
      f.evidence === null ||
      Array.isArray(f.evidence)
    )
      throw bad('evidence');
    try {
      JSON.stringify(f.evidence);
    } catch {
      throw bad('evidence not serialisable');
    }
  }
}

function safeJson(v) {
  try {
    return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? `${x}n` : x));
  } catch {
    return String(v);
  }
}

/** Checks a scan result against the properties above; throws {@link FuzzFailure}. */
export function checkResult(lib, result) {
  if (
    result === null ||
    typeof result !== 'object' ||
    !Array.isArray(result.findings)
  )
    throw new FuzzFailure('scanSource returned no result');
  if (typeof result.complete !== 'boolean')
    throw new FuzzFailure('result.complete missing');
  if (result.error !== undefined)
    throw new FuzzFailure(
      `I/O error from an in-memory source: ${safeJson(result.error)}`,
    );
  for (const f of result.findings) checkFinding(lib, f);
  const internal = result.findings.find(
    (f) => f.ruleId === 'SCAN_INTERNAL_ERROR',
  );
  if (internal !== undefined)
    throw new FuzzFailure(
      `scanner failed inside the engine: ${safeJson(internal.evidence)}`,
    );
  const deadline = result.findings.find(
    (f) => f.ruleId === 'SCAN_INCOMPLETE' && f.evidence?.limit === 'maxFileMs',
  );
  if (deadline !== undefined)
    throw new FuzzFailure(
      `hang: the scan reached the ${FILE_DEADLINE_MS} ms deadline`,
    );
}

/** The scanner list for a target: its own scanners first, then the registry, then the fallbacks. */
export function scannersFor(lib, targetName) {
  const target = TARGETS[targetName];
  if (target === undefined)
    throw new Error(`unknown fuzz target ${targetName}`);
  if (target.decode !== undefined) return [];
  const all = [...lib.SCANNERS, ...lib.FALLBACK_SCANNERS];
  const first = target.first.map((id) => {
    const s = all.find((x) => x.id === id);
    if (s === undefined) throw new Error(`no scanner ${id} in the registry`);
    return s;
  });
  return [...first, ...all.filter((s) => !first.includes(s))];
}

async function runReader(lib, reader, bytes) {
  const source = lib.bufferSource(bytes);
  if (reader === 'pickle') {
    const analysis = await lib.analysePickleSource(source);
    if (analysis === null || typeof analysis !== 'object')
      throw new FuzzFailure('analysePickleSource returned no analysis');
  } else if (reader === 'zip') {
    const dir = await lib.readZipDirectory(source);
    if (dir === undefined) return;
    for (const entry of dir.entries.slice(0, 64)) {
      const got = await lib.readZipEntry(source, entry, ZIP_MEMBER_BYTES);
      if (got.ok && got.data.length > ZIP_MEMBER_BYTES)
        throw new FuzzFailure(
          `readZipEntry returned ${got.data.length} bytes, over its bound`,
        );
    }
  }
}

/**
 * Runs one input through a target; resolves when every property holds and
 * throws {@link FuzzFailure} otherwise.
 * @param lib the library: scanSource, bufferSource, SCANNERS, FALLBACK_SCANNERS,
 *   ruleInfo, analysePickleSource, readZipDirectory, readZipEntry
 */
export async function runTarget(
  lib,
  targetName,
  data,
  scanners = scannersFor(lib, targetName),
) {
  const target = TARGETS[targetName];
  const bytes = fileFor(targetName, Buffer.from(data));
  if (target.decode !== undefined) return runDecode(lib, target.decode, bytes);
  if (target.reader !== undefined) {
    try {
      await runReader(lib, target.reader, bytes);
    } catch (e) {
      if (e instanceof FuzzFailure) throw e;
      throw new FuzzFailure(
        `${target.reader} reader threw: ${e?.stack ?? e}`,
        e,
      );
    }
  }
  let result;
  try {
    result = await lib.scanSource(lib.bufferSource(bytes), FUZZ_FILE, {
      scanners,
      limits: { maxFileMs: FILE_DEADLINE_MS },
    });
  } catch (e) {
    throw new FuzzFailure(`scanSource threw: ${e?.stack ?? e}`, e);
  }
  checkResult(lib, result);
  return result;
}

const DECODE_CODES = {
  statement: new Set([
    'STATEMENT_INVALID',
    'MANIFEST_INCONSISTENT',
    'UNSUPPORTED_ALGORITHM',
  ]),
  bundle: new Set(['BUNDLE_MALFORMED', 'BUNDLE_LIMIT_EXCEEDED']),
};

function decodeOutcome(run) {
  try {
    return { ok: true, value: run() };
  } catch (e) {
    return { ok: false, error: e };
  }
}

/**
 * The reading verify does of a large payload from its bundle file again, a
 * window at a time (here windows of 256 B and more, pulled a few bytes at a
 * time, sizes the input picks; read twice when the list comes before the
 * serialization): it never throws, and a statement it gives is the one
 * decodeStatement gives, manifest whole.
 */
function checkWindowed(lib, bytes) {
  if (lib.decodeStatementWindows === undefined) return;
  const step = 1 + (bytes.length % 97);
  // A reading of the bytes from their start, `step` bytes a pull.
  const pull = () => {
    let at = 0;
    return (out, offset) => {
      const n = Math.min(out.length - offset, bytes.length - at, step);
      bytes.copy(out, offset, at, at + n);
      at += n;
      return n;
    };
  };
  const manifest = (decoded) => {
    const m = decoded.manifest;
    return JSON.stringify([
      m.modelName,
      m.serialization,
      m.rootDigest,
      m.resources,
    ]);
  };
  let windowed;
  try {
    windowed = lib.decodeStatementWindows(pull(), bytes.length, {
      window: 256 + (bytes.length % 4096),
      // A second reading (a list before the serialization).
      again: pull,
    });
  } catch (e) {
    throw new FuzzFailure(
      `statement: the windowed reading threw: ${e?.stack ?? e}`,
      e,
    );
  }
  if (windowed === undefined) return;
  let whole;
  try {
    whole = manifest(lib.decodeStatement(bytes));
  } catch (e) {
    throw new FuzzFailure(
      `statement: the windowed reading accepted what decodeStatement refuses (${e?.code})`,
    );
  }
  if (manifest(windowed) !== whole)
    throw new FuzzFailure(
      `statement: the windowed reading differs: ${manifest(windowed).slice(0, 200)} vs ${whole.slice(0, 200)}`,
    );
}

/** A decode target: documented codes only, and agreement with a whole parse. */
function runDecode(lib, kind, bytes) {
  const decode =
    kind === 'statement'
      ? (input) => lib.decodeStatement(input).manifest.resources
      : (input) => {
          const b = lib.parseBundle(input);
          return {
            payload: Buffer.from(b.envelope.payload).toString('base64'),
            type: b.envelope.payloadType,
            kind: b.materialKind,
          };
        };
  const got = decodeOutcome(() => decode(bytes));
  if (!got.ok && !DECODE_CODES[kind].has(got.error?.code))
    throw new FuzzFailure(
      `${kind} reader threw ${got.error?.code ?? ''}: ${got.error?.stack ?? got.error}`,
      got.error,
    );
  let whole;
  try {
    whole = JSON.parse(bytes.toString('utf8'));
  } catch {
    if (got.ok)
      throw new FuzzFailure(
        `${kind}: accepted a document that JSON.parse refuses`,
      );
    return got;
  }
  // The same document as a parsed value (bundle) or written canonically
  // (statement): the piecewise reader must give the same answer.
  const other = decodeOutcome(() =>
    decode(kind === 'bundle' ? whole : Buffer.from(JSON.stringify(whole))),
  );
  const summary = (o) =>
    o.ok ? JSON.stringify(o.value) : `error ${o.error?.code}`;
  if (summary(got) !== summary(other))
    throw new FuzzFailure(
      `${kind}: piecewise and whole readings differ: ${summary(got).slice(0, 200)} vs ${summary(other).slice(0, 200)}`,
    );
  if (kind === 'statement') {
    // The reading verify does of a bundle file's payload: given back as it
    // is read, here every few bytes (a length the input picks).
    const buffer = new ArrayBuffer(bytes.length, {
      maxByteLength: bytes.length,
    });
    const payload = Buffer.from(buffer, 0, bytes.length);
    payload.set(bytes);
    const owned = decodeOutcome(
      () =>
        lib.decodeOwnedStatement(payload, {
          compactEvery: bytes.length % 257,
        }).manifest.resources,
    );
    if (summary(owned) !== summary(got))
      throw new FuzzFailure(
        `statement: the owned reading differs: ${summary(owned).slice(0, 200)} vs ${summary(got).slice(0, 200)}`,
      );
    checkWindowed(lib, bytes);
  }
  return got;
}
