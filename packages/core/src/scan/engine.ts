// SPDX-License-Identifier: Apache-2.0
/**
 * The scan engine: expands directories, dispatches each file to the first
 * format scanner whose content detection accepts it (never by extension),
 * recurses into nested members with depth and expansion limits, runs files in
 * parallel with bounded concurrency, and records per-file I/O errors instead
 * of throwing.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { modelSealError } from '../errors.js';
import {
  compileScanPolicy,
  type CompiledScanPolicy,
  type ScanPolicy,
} from './policy.js';
import { PICKLE_POLICY_SETTING } from './settings.js';
import { FALLBACK_SCANNERS, SCANNERS } from './registry.js';
import { ruleInfo } from './rules.js';
import {
  INCOMPLETE_RULE_IDS,
  incompleteFinding,
  reportIncomplete,
} from './incomplete.js';
import { openFileSource, sliceOrigin } from './source.js';
import { hdf5AfterUserBlock } from './keras/hdf5-signature.js';
import { numberFieldMayParse } from './archive/tar-number.js';
import { pickleOpcodeName } from './pickle/opcode-names.js';
import { WRAPPER_KINDS } from './compression/kinds.js';
import {
  archiveView,
  findEmbeddedZip,
  type EmbeddedZip,
} from './zip/embedded.js';
import {
  DEFAULT_SCAN_LIMITS,
  SEVERITIES,
  severityAtLeast,
  severityRank,
  type ByteSource,
  type FileScanResult,
  type Finding,
  type FindingInput,
  type FormatScanner,
  type RuleInfo,
  type ScanContext,
  type ScanLimits,
  type Severity,
} from './types.js';

/** Options of {@link scanPaths} and {@link scanFile}. */
export interface ScanOptions {
  /** Directory that file paths in the report are relative to. Default `process.cwd()`. */
  root?: string;
  /** User policy (allow/deny additions, profiles); see `docs/scan-policy.md`. Default: built-in lists. */
  policy?: ScanPolicy;
  /** Parser limits; defaults in {@link DEFAULT_SCAN_LIMITS}. */
  limits?: Partial<ScanLimits>;
  /** Files scanned at the same time. Default 4. */
  concurrency?: number;
  signal?: AbortSignal;
  /** Format scanners to consult. Default {@link SCANNERS} then {@link FALLBACK_SCANNERS}. */
  scanners?: readonly FormatScanner[];
  /** Called after each file. */
  onProgress?: (event: ScanProgressEvent) => void;
}

/** Progress of a scan. */
export interface ScanProgressEvent {
  phase: 'scan';
  path: string;
  filesDone: number;
  filesTotal: number;
}

/** Counts over a whole report. */
export interface ScanSummary {
  /** Files given or found in directories. */
  files: number;
  /** Files that could not be read. */
  errors: number;
  /** Files not analysed to their end (limits, deadlines, unreadable wrappers, I/O errors). */
  incomplete: number;
  findings: number;
  bySeverity: Record<Severity, number>;
  /** Highest severity among the findings; `null` when there are none. */
  highest: Severity | null;
}

/** The result of {@link scanPaths}. */
export interface ScanReport {
  schemaVersion: 1;
  /** Absolute root the file paths are relative to. */
  root: string;
  files: FileScanResult[];
  summary: ScanSummary;
  /** Metadata of every rule that has a finding in the report. */
  rules: RuleInfo[];
}

interface FileState {
  file: string;
  absolutePath: string;
  findings: Finding[];
  formats: string[];
  limits: ScanLimits;
  signal: AbortSignal | undefined;
  settings: Record<string, unknown>;
  expanded: number;
  scanners: readonly FormatScanner[];
  fallback: readonly FormatScanner[];
  /** Set once the file's result is taken: late reports of a timed-out scanner are dropped. */
  closed?: boolean;
  /** Byte ranges of a source that were scanned as nested members (slices of it), by source. */
  nestedRanges: WeakMap<ByteSource, { start: number; end: number }[]>;
}

const MAX_FINDINGS_PER_FILE = 10_000;
/** Nested member ranges remembered per source (past it, an embedded zip is scanned again rather than missed). */
const MAX_NESTED_RANGES = 100_000;

function makeContext(
  state: FileState,
  member: readonly string[],
  depth: number,
): ScanContext {
  const ctx: ScanContext = {
    file: state.file,
    absolutePath: state.absolutePath,
    member,
    depth,
    limits: state.limits,
    settings: state.settings,
    ...(state.signal !== undefined ? { signal: state.signal } : {}),
    report(f: FindingInput): void {
      if (state.closed === true) return;
      if (state.findings.length >= MAX_FINDINGS_PER_FILE) {
        // Findings past the cap are dropped; a high one among them makes
        // the file count as not fully scanned (reported once), so that a
        // flood of low findings cannot hide it.
        if (
          state.findings.length === MAX_FINDINGS_PER_FILE &&
          severityAtLeast(f.severity, 'high')
        )
          state.findings.push({
            ...incompleteFinding({
              limit: 'maxFindings',
              value: MAX_FINDINGS_PER_FILE,
              message: `more than ${MAX_FINDINGS_PER_FILE} findings, a ${f.severity} ${f.ruleId} among those not kept`,
            }),
            file: state.file,
            member: [],
          });
        return;
      }
      const { member: sub, ...rest } = f;
      state.findings.push({
        ...rest,
        file: state.file,
        member: [...member, ...(sub ?? [])],
      });
    },
    async scanNested(source: ByteSource, memberName: string): Promise<void> {
      const origin = sliceOrigin(source);
      if (origin !== undefined) {
        const ranges = state.nestedRanges.get(origin.parent) ?? [];
        if (ranges.length < MAX_NESTED_RANGES) {
          ranges.push({
            start: origin.offset,
            end: origin.offset + source.size,
          });
          state.nestedRanges.set(origin.parent, ranges);
        }
      }
      if (depth + 1 > state.limits.maxNestingDepth) {
        reportIncomplete(ctx, {
          limit: 'maxNestingDepth',
          value: state.limits.maxNestingDepth,
          message: 'nested deeper than the nesting limit',
          member: [memberName],
        });
        return;
      }
      await dispatch(
        source,
        makeContext(state, [...member, memberName], depth + 1),
        state,
      );
    },
    recognise(format: string): void {
      if (!state.formats.includes(format)) state.formats.push(format);
    },
    reserveExpanded(bytes: number): boolean {
      if (state.expanded + bytes > state.limits.maxExpandedBytes) return false;
      state.expanded += bytes;
      return true;
    },
  };
  return ctx;
}

/** An operating-system I/O error (`EIO`, `ENOENT`, ...): it ends the file's scan as an error. */
function isIoError(e: unknown): e is NodeJS.ErrnoException {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^E[A-Z]+$/.test(code);
}

/** Scanners that read a file as a zip archive (the embedded-archive check is theirs already). */
const ZIP_SCANNER_IDS: ReadonlySet<string> = new Set([
  'pytorch-zip',
  'numpy-npz',
  'skops',
  'keras',
  'zip',
]);

/** Runs one accepted scanner; a scanner bug on hostile input is a finding, not a crash of the whole scan. */
async function runScanner(
  scanner: FormatScanner,
  source: ByteSource,
  ctx: ScanContext,
  state: FileState,
): Promise<void> {
  try {
    await scanner.scan(source, ctx);
  } catch (e) {
    if (isIoError(e)) throw e;
    if (state.signal?.aborted === true) throw e;
    ctx.report({
      ruleId: 'SCAN_INTERNAL_ERROR',
      severity: 'high',
      message: `scanner ${scanner.id} failed; not fully scanned`,
      evidence: {
        scanner: scanner.id,
        error: String((e as Error)?.message ?? e).slice(0, 200),
      },
    });
  }
}

async function dispatch(
  source: ByteSource,
  ctx: ScanContext,
  state: FileState,
): Promise<boolean> {
  const head = await source.read(0, Math.min(4096, source.size));
  let claimed: FormatScanner | undefined;
  search: for (const list of [state.scanners, state.fallback]) {
    for (const scanner of list) {
      let accepted: boolean;
      try {
        accepted = await scanner.detect(head, source);
      } catch {
        accepted = false;
      }
      if (!accepted) continue;
      await runScanner(scanner, source, ctx, state);
      claimed = scanner;
      break search;
    }
  }
  let found = claimed !== undefined;
  if (claimed === undefined || !ZIP_SCANNER_IDS.has(claimed.id))
    found = (await scanEmbeddedZip(source, ctx, state)) || found;
  if (
    claimed !== undefined &&
    !TAR_SCANNER_IDS.has(claimed.id) &&
    (await isTarHead(head))
  )
    await scanAlsoAsTar(source, head, ctx, state);
  if (
    claimed !== undefined &&
    !PICKLE_READER_IDS.has(claimed.id) &&
    mayStartPickle(head)
  )
    await scanAlsoAsPickle(source, head, ctx, state);
  // A protobuf model whose first field's tag reads as a two-byte magic (field
  // 16 as `80 01`, a pickle PROTO; field 15 as `78 9c`, a zlib header): a
  // protobuf parser takes fields in any order, so the file is also read as
  // ONNX or SavedModel when it parses as one to its end (stop 29 review).
  if (claimed !== undefined && WEAK_MAGIC_IDS.has(claimed.id)) {
    const model = await firstAccepting(PROTOBUF_MODEL_IDS, head, source, state);
    if (model !== undefined)
      await scanAlso(model, `<read as ${model.id}>`, source, ctx, state);
  }
  // HDF5 behind a user block that another format's bytes fill (a pickle):
  // h5py, so keras.models.load_model, finds it there.
  if (
    claimed !== undefined &&
    !claimed.id.startsWith('keras-h5') &&
    (await hdf5AfterUserBlock(head, source))
  ) {
    const h5 = state.fallback.find((s) => s.id === 'keras-h5-userblock');
    if (h5 !== undefined)
      await scanAlso(h5, '<hdf5 after a user block>', source, ctx, state);
  }
  return found;
}

/** Scans `source` with `scanner` as well, its findings under the member `label`. */
async function scanAlso(
  scanner: FormatScanner,
  label: string,
  source: ByteSource,
  ctx: ScanContext,
  state: FileState,
): Promise<void> {
  const inner = innerContext(ctx, state, label);
  if (inner !== undefined) await runScanner(scanner, source, inner, state);
}

/**
 * The context of a second reading of the current bytes, reported under the
 * member `label`; `undefined`, with the nesting limit reported, when it
 * would nest too deep.
 */
function innerContext(
  ctx: ScanContext,
  state: FileState,
  label: string,
): ScanContext | undefined {
  if (ctx.depth + 1 > state.limits.maxNestingDepth) {
    reportIncomplete(ctx, {
      limit: 'maxNestingDepth',
      value: state.limits.maxNestingDepth,
      message: 'nested deeper than the nesting limit',
      member: [label],
    });
    return undefined;
  }
  return makeContext(state, [...ctx.member, label], ctx.depth + 1);
}

/** The first scanner among `ids` (in `state.scanners`' order, but `except`) that accepts `source`. */
async function firstAccepting(
  ids: ReadonlySet<string>,
  head: Buffer,
  source: ByteSource,
  state: FileState,
  except?: string,
): Promise<FormatScanner | undefined> {
  for (const scanner of state.scanners) {
    if (!ids.has(scanner.id) || scanner.id === except) continue;
    try {
      if (await scanner.detect(head, source)) return scanner;
    } catch {
      // A detector that fails on hostile bytes does not claim them.
    }
  }
  return undefined;
}

/** Scanners that claim a file by two bytes or so, which a protobuf tag can be. */
const WEAK_MAGIC_IDS: ReadonlySet<string> = new Set([
  'pickle',
  ...WRAPPER_KINDS,
  'compression-unsupported',
]);

/** Protobuf model formats, detected from a parse of the whole file's fields. */
const PROTOBUF_MODEL_IDS: ReadonlySet<string> = new Set([
  'onnx',
  'tf-savedmodel',
  'keras-metadata',
]);

/** Scanners that read the whole file as a pickle stream (stacked pickles included). */
const PICKLE_READER_IDS: ReadonlySet<string> = new Set([
  'pickle',
  'pickle-text',
  'pytorch-legacy',
  'nemo-config',
]);

/**
 * Whether a pickle a loader runs could begin at byte 0, without loading the
 * pickle VM: an opcode, and after `PROTO` a protocol a loader accepts and an
 * opcode. Not `PERSID`/`BINPERSID`: `pickle.load`, `numpy.load`, `joblib.load`
 * and `torch.load`'s first (magic number) load have no `persistent_load` and
 * stop there, and every zip begins with one (`PK`).
 */
function mayStartPickle(head: Buffer): boolean {
  const first = head[0];
  if (
    head.length < 2 ||
    first === undefined ||
    first === 0x50 ||
    first === 0x51 ||
    pickleOpcodeName(first) === undefined
  )
    return false;
  if (first !== 0x80) return true;
  return (
    head[1]! <= 5 && head.length > 2 && pickleOpcodeName(head[2]!) !== undefined
  );
}

/**
 * A file another scanner claimed whose bytes also read as a pickle
 * (`detectPickleReading`): a SafeTensors file whose header length begins
 * with `V`, whose UNICODE line swallows the header, or a tar whose first
 * header sits inside such a line. `pickle.load`, `torch.load`'s legacy path
 * (weights_only off), `numpy.load` and `joblib.load` run them as a pickle,
 * so they are scanned as one too (stop 29 red team), under the member
 * `<read as a pickle>`, with a medium PICKLE_POLYGLOT.
 */
async function scanAlsoAsPickle(
  source: ByteSource,
  head: Buffer,
  ctx: ScanContext,
  state: FileState,
): Promise<void> {
  const pickle = state.fallback.find((s) => s.id === 'pickle-text');
  if (pickle === undefined) return;
  const { detectPickleReading } = await import('./pickle/detect.js');
  let reads: boolean;
  try {
    reads = await detectPickleReading(head, source);
  } catch {
    // In doubt, read them as one: the scan reports what it cannot read.
    reads = true;
  }
  if (!reads) return;
  ctx.report({
    ruleId: 'PICKLE_POLYGLOT',
    severity: 'medium',
    message:
      'the file reads as another format and also as a pickle (pickle.load, numpy.load, joblib.load, torch.load with weights_only off): it was scanned as both',
  });
  await scanAlso(pickle, '<read as a pickle>', source, ctx, state);
}

/** Scanners that read a file as a tar archive. */
const TAR_SCANNER_IDS: ReadonlySet<string> = new Set([
  'tar',
  'pytorch-legacy-tar',
]);

/**
 * Whether the first block is a header tarfile reads (its checksum), checked
 * cheaply first: most formats hold something else at bytes 148–155.
 */
async function isTarHead(head: Buffer): Promise<boolean> {
  if (head.length < 512 || !numberFieldMayParse(head, 148, 156)) return false;
  const { isTarHeader } = await import('./archive/tar-header.js');
  return isTarHeader(head.subarray(0, 512));
}

/**
 * A file another scanner claimed whose first block is also a tar header
 * (a tar whose first member's name is a pickle): `tarfile`, and torch's
 * legacy loader, read it as the archive, so it is scanned as one too.
 */
async function scanAlsoAsTar(
  source: ByteSource,
  head: Buffer,
  ctx: ScanContext,
  state: FileState,
): Promise<void> {
  const label = '<tar archive>';
  ctx.report({
    ruleId: 'ARCHIVE_TAR_POLYGLOT',
    severity: 'medium',
    message:
      "the file reads as another format and also as a tar archive (Python's tarfile, torch's legacy loader): it was scanned as both",
  });
  const inner = innerContext(ctx, state, label);
  if (inner === undefined) return;
  const scanner =
    (await firstAccepting(TAR_SCANNER_IDS, head, source, state)) ??
    (await import('./archive/tar-scanner.js')).TarArchiveScanner;
  await runScanner(scanner, source, inner, state);
}

/**
 * A zip archive that Python's `zipfile` finds by its end record in a file
 * that did not read as a zip at byte 0 (a prefixed `.keras`, a pickle or a
 * SafeTensors file with an archive after it): reported, then scanned as the
 * zip it is, with the zip formats' own detection (Keras, NumPy, PyTorch)
 * and the generic zip scanner when none of them takes it.
 */
async function scanEmbeddedZip(
  source: ByteSource,
  ctx: ScanContext,
  state: FileState,
): Promise<boolean> {
  const found = await findEmbeddedZip(source);
  if (found === undefined) return false;
  // zipfile adds the shift to every offset: the archive as it reads it.
  const archive = archiveView(source, found.shift);
  // An archive that lies within a member already scanned (a tar's last
  // member is a zip, a pickle's bytes constant is one) was scanned there,
  // with its own embedded-archive check: all of it, directory, local
  // headers and data, or it is scanned again here.
  const ranges = state.nestedRanges.get(source) ?? [];
  const around = ranges.filter(
    (r) => r.start <= found.directory && found.endRecord + 22 <= r.end,
  );
  if (around.length > 0) {
    const extent = await archiveExtent(archive, found);
    if (
      extent !== undefined &&
      around.some((r) => r.start <= extent.start && extent.end <= r.end)
    )
      return false;
  }
  const start =
    found.shift > 0 ? found.shift : Math.max(0, found.firstLocalHeader);
  const label = `<zip archive at byte ${start}>`;
  ctx.report({
    ruleId: 'ZIP_EMBEDDED',
    severity: 'medium',
    message: `a zip archive starts at byte ${start} of a file that does not read as a zip at byte 0; Python's zipfile (keras.saving.load_model) opens it, so it was scanned as one too`,
    offset: start,
    evidence: { shift: found.shift, endRecord: found.endRecord },
  });
  const inner = innerContext(ctx, state, label);
  if (inner === undefined) return true;
  const headAt = Math.min(found.firstLocalHeader - found.shift, archive.size);
  const head = await archive.read(
    headAt,
    Math.min(4096, archive.size - headAt),
  );
  const scanner =
    (await firstAccepting(ZIP_SCANNER_IDS, head, archive, state, 'zip')) ??
    (await import('./archive/zip-scanner.js')).ZipArchiveScanner;
  await runScanner(scanner, archive, inner, state);
  return true;
}

/**
 * The bytes of `source` an embedded archive spans as zipfile reads it
 * (`archive` is {@link archiveView}'s): its directory and end record, and
 * every member's local header and data; `undefined` when that is not known
 * (a member with no readable local header or data, more entries than the
 * reader lists, or records another reader reads otherwise).
 */
async function archiveExtent(
  archive: ByteSource,
  found: EmbeddedZip,
): Promise<{ start: number; end: number } | undefined> {
  // The same listing the zip scanners' detection takes when the archive is
  // scanned next (one parse of its directory).
  const { zipDirectoryOf } = await import('./zip/zip-directory-of.js');
  const listed = await zipDirectoryOf(archive);
  // Not listed whole, or read otherwise by another reader: not known.
  if (
    listed === undefined ||
    listed.anomalies.some(
      (a) => a.ruleId === 'ZIP_AMBIGUOUS' || a.ruleId === 'SCAN_LIMIT_EXCEEDED',
    )
  )
    return undefined;
  let start = found.directory;
  let end = found.endRecord + 22;
  for (const e of listed.entries) {
    if (e.dataOffset === undefined) return undefined;
    start = Math.min(start, e.localHeaderOffset + found.shift);
    end = Math.max(end, e.dataOffset + e.compressedSize + found.shift);
  }
  return { start, end };
}

function resolveLimits(limits: Partial<ScanLimits> | undefined): ScanLimits {
  const l: ScanLimits = { ...DEFAULT_SCAN_LIMITS, ...limits };
  for (const [k, v] of Object.entries(l)) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw modelSealError(
        'INVALID_OPTIONS',
        `scan limit ${k} must be a non-negative number`,
        { details: { limit: k, value: v } },
      );
    }
  }
  return l;
}

interface Prepared {
  limits: ScanLimits;
  policy: CompiledScanPolicy;
  root: string;
  scanners: readonly FormatScanner[];
  fallback: readonly FormatScanner[];
}

function prepare(options: ScanOptions): Prepared {
  return {
    limits: resolveLimits(options.limits),
    policy: compileScanPolicy(options.policy),
    root: resolve(options.root ?? process.cwd()),
    scanners: options.scanners ?? SCANNERS,
    fallback: options.scanners !== undefined ? [] : FALLBACK_SCANNERS,
  };
}

function displayPath(root: string, absolute: string): string {
  const rel = relative(root, absolute);
  if (rel === '') return basename(absolute);
  if (rel.startsWith('..') || isAbsolute(rel))
    return absolute.split(sep).join('/');
  return rel.split(sep).join('/');
}

/** The result of a file whose scan an I/O error ended (or prevented). */
function ioErrorResult(
  file: string,
  bytes: number,
  e: unknown,
  formats: string[] = [],
  findings: Finding[] = [],
): FileScanResult {
  return {
    file,
    formats,
    findings,
    bytes,
    complete: false,
    error: {
      code: 'IO_ERROR',
      message: `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
    },
  };
}

/** The result of a directory entry that is reported but never opened. */
function skippedResult(
  file: string,
  ruleId: string,
  severity: Severity,
  message: string,
): FileScanResult {
  return {
    file,
    formats: [],
    bytes: 0,
    complete: true,
    findings: [{ ruleId, severity, file, member: [], message }],
  };
}

/** True when the findings say that some bytes were not analysed to their end. */
export function findingsComplete(findings: readonly Finding[]): boolean {
  return !findings.some((f) => INCOMPLETE_RULE_IDS.has(f.ruleId));
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function abortedError(): Error {
  return modelSealError('ABORTED', 'scan aborted');
}

async function scanSourceWith(
  source: ByteSource,
  file: string,
  absolutePath: string,
  p: Prepared,
  signal: AbortSignal | undefined,
): Promise<FileScanResult> {
  if (isAborted(signal)) throw abortedError();
  // The file's own deadline, joined with the caller's signal: scanners that
  // honour `ctx.signal` stop early, and the race below settles the file even
  // when one does not (a parser stuck on hostile input).
  const deadline = new AbortController();
  const fileSignal =
    signal !== undefined
      ? AbortSignal.any([signal, deadline.signal])
      : deadline.signal;
  const state: FileState = {
    file,
    absolutePath,
    findings: [],
    formats: [],
    limits: p.limits,
    signal: fileSignal,
    settings: { [PICKLE_POLICY_SETTING]: p.policy },
    expanded: 0,
    scanners: p.scanners,
    fallback: p.fallback,
    nestedRanges: new WeakMap(),
  };
  const ctx = makeContext(state, [], 0);
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const stopped = new Promise<'stopped'>((res) => {
    onAbort = (): void => res('stopped');
    fileSignal.addEventListener('abort', onAbort, { once: true });
    if (Number.isFinite(p.limits.maxFileMs)) {
      timer = setTimeout(() => deadline.abort(), p.limits.maxFileMs);
      timer.unref?.();
    }
  });
  let ioError: unknown;
  try {
    const outcome = await Promise.race([
      dispatch(source, ctx, state).then(() => 'done' as const),
      stopped,
    ]);
    if (outcome === 'stopped' && !isAborted(signal)) {
      // Deadline: whatever the scanner still reports is dropped.
      reportIncomplete(ctx, {
        limit: 'maxFileMs',
        value: p.limits.maxFileMs,
        message: `scan of the file took longer than ${p.limits.maxFileMs} ms`,
      });
      state.closed = true;
    }
  } catch (e) {
    if (isIoError(e)) ioError = e;
    else if (!isAborted(signal)) {
      if (deadline.signal.aborted) {
        reportIncomplete(ctx, {
          limit: 'maxFileMs',
          value: p.limits.maxFileMs,
          message: `scan of the file took longer than ${p.limits.maxFileMs} ms`,
        });
      } else {
        ctx.report({
          ruleId: 'SCAN_INTERNAL_ERROR',
          severity: 'high',
          message: 'scan failed; not fully scanned',
          evidence: {
            error: String((e as Error)?.message ?? e).slice(0, 200),
          },
        });
      }
      state.closed = true;
    }
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (onAbort !== undefined) fileSignal.removeEventListener('abort', onAbort);
  }
  if (isAborted(signal)) throw abortedError();
  state.closed = true;
  if (ioError !== undefined)
    return ioErrorResult(file, source.size, ioError, state.formats, [
      ...state.findings,
    ]);
  const findings = [...state.findings];
  return {
    file,
    formats: [...state.formats],
    findings,
    bytes: source.size,
    complete: findingsComplete(findings),
  };
}

async function scanOne(
  absolutePath: string,
  p: Prepared,
  signal: AbortSignal | undefined,
): Promise<FileScanResult> {
  const file = displayPath(p.root, absolutePath);
  let source;
  try {
    source = await openFileSource(absolutePath);
  } catch (e) {
    return ioErrorResult(file, 0, e);
  }
  try {
    return await scanSourceWith(source, file, absolutePath, p, signal);
  } catch (e) {
    if (isAborted(signal)) throw abortedError();
    return ioErrorResult(file, source.size, e);
  } finally {
    await source.close().catch(() => undefined);
  }
}

/**
 * Scans the bytes of one in-memory or custom source as the file `name`.
 * Useful for tests, fuzzing and callers that already hold the bytes.
 * @throws ModelSealError `INVALID_OPTIONS` for invalid limits or policy.
 */
export async function scanSource(
  source: ByteSource,
  name: string,
  options: ScanOptions = {},
): Promise<FileScanResult> {
  const p = prepare(options);
  return scanSourceWith(source, name, resolve(p.root, name), p, options.signal);
}

/**
 * Scans one file (never reads tensor data it does not need).
 * I/O failures are recorded in the result's `error`, not thrown.
 * @throws ModelSealError `INVALID_OPTIONS` for invalid limits or policy.
 */
export async function scanFile(
  path: string,
  options: ScanOptions = {},
): Promise<FileScanResult> {
  const p = prepare(options);
  return scanOne(resolve(path), p, options.signal);
}

async function expand(
  path: string,
  out: { files: string[]; skipped: FileScanResult[] },
  root: string,
): Promise<void> {
  const abs = resolve(path);
  let st;
  try {
    st = await stat(abs);
  } catch {
    out.files.push(abs); // reported as an I/O error by the scan
    return;
  }
  if (!st.isDirectory()) {
    out.files.push(abs);
    return;
  }
  const walk = async (dir: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      out.skipped.push({
        file: displayPath(root, dir),
        formats: [],
        findings: [],
        bytes: 0,
        complete: false,
        error: {
          code: 'IO_ERROR',
          message: `cannot read directory ${displayPath(root, dir)}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
        },
      });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const full = join(dir, e.name);
      if (e.isSymbolicLink()) {
        out.skipped.push(
          skippedResult(
            displayPath(root, full),
            'SCAN_SYMLINK_SKIPPED',
            'info',
            'symbolic link not followed',
          ),
        );
      } else if (e.isDirectory()) await walk(full);
      else if (e.isFile()) out.files.push(full);
      else {
        // A FIFO, socket or device file: never opened (a FIFO would block), always reported.
        out.skipped.push(
          skippedResult(
            displayPath(root, full),
            'SCAN_SPECIAL_FILE_SKIPPED',
            'low',
            'not a regular file (FIFO, socket or device): not scanned',
          ),
        );
      }
    }
  };
  await walk(abs);
}

/** True when the report has a finding at or above `severity` (the CLI's `--fail-on`). */
export function reportReaches(report: ScanReport, severity: Severity): boolean {
  return (
    report.summary.highest !== null &&
    severityAtLeast(report.summary.highest, severity)
  );
}

/** Summary counts over file results. */
export function summariseResults(
  files: readonly FileScanResult[],
): ScanSummary {
  const bySeverity = Object.fromEntries(
    SEVERITIES.map((s) => [s, 0]),
  ) as Record<Severity, number>;
  let findings = 0;
  let errors = 0;
  let incomplete = 0;
  let highest: Severity | null = null;
  for (const f of files) {
    if (f.error !== undefined) errors++;
    if (!f.complete) incomplete++;
    for (const x of f.findings) {
      findings++;
      bySeverity[x.severity]++;
      if (highest === null || severityRank(x.severity) > severityRank(highest))
        highest = x.severity;
    }
  }
  return {
    files: files.length,
    errors,
    incomplete,
    findings,
    bySeverity,
    highest,
  };
}

/**
 * Scans files and directories (recursively, symbolic links inside directories
 * not followed), in parallel with bounded concurrency. Per-file I/O failures
 * are recorded in the results, never thrown.
 * @throws ModelSealError `INVALID_OPTIONS` for an empty path list, invalid limits, concurrency or policy.
 */
export async function scanPaths(
  paths: readonly string[],
  options: ScanOptions = {},
): Promise<ScanReport> {
  if (paths.length === 0)
    throw modelSealError('INVALID_OPTIONS', 'no path to scan');
  const concurrency = options.concurrency ?? 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw modelSealError(
      'INVALID_OPTIONS',
      'concurrency must be a positive integer',
      { details: { concurrency } },
    );
  }
  const p = prepare(options);
  const found = { files: [] as string[], skipped: [] as FileScanResult[] };
  for (const path of paths) await expand(path, found, p.root);
  const unique = [...new Set(found.files)];
  const results: FileScanResult[] = new Array<FileScanResult>(unique.length);
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < unique.length) {
      if (options.signal?.aborted)
        throw modelSealError('ABORTED', 'scan aborted');
      const i = next++;
      results[i] = await scanOne(unique[i]!, p, options.signal);
      done++;
      options.onProgress?.({
        phase: 'scan',
        path: results[i].file,
        filesDone: done,
        filesTotal: unique.length,
      });
    }
  };
  await Promise.all(
    Array.from(
      { length: Math.min(concurrency, Math.max(1, unique.length)) },
      worker,
    ),
  );
  const files = [...results, ...found.skipped];
  const ruleIds = new Set<string>();
  for (const f of files) for (const x of f.findings) ruleIds.add(x.ruleId);
  const rules: RuleInfo[] = [...ruleIds].sort().map(
    (id) =>
      ruleInfo(id) ?? {
        id,
        severity: 'medium',
        title: id.toLowerCase().replace(/_/g, ' '),
        description: '',
        remediation: '',
      },
  );
  return {
    schemaVersion: 1,
    root: p.root,
    files,
    summary: summariseResults(files),
    rules,
  };
}
