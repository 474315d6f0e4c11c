// SPDX-License-Identifier: Apache-2.0
/**
 * The findings model shared by every format scanner. What a scanner observes in
 * an artifact is a {@link Finding} (data), never an exception, however hostile
 * or malformed the file is. Exceptions are reserved for operations (unreadable
 * files, invalid options, internal bugs).
 */

/** Finding severities, most severe first. */
export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';

/** Severities in descending order. */
export const SEVERITIES: readonly Severity[] = Object.freeze([
  'critical',
  'high',
  'medium',
  'low',
  'info',
]);

/** Numeric rank of a severity: critical = 4 … info = 0. */
export function severityRank(severity: Severity): number {
  return 4 - SEVERITIES.indexOf(severity);
}

/** True when `severity` is at least as severe as `threshold`. */
export function severityAtLeast(
  severity: Severity,
  threshold: Severity,
): boolean {
  return severityRank(severity) >= severityRank(threshold);
}

/** One observation about an artifact. */
export interface Finding {
  /** Stable rule id, e.g. `PICKLE_DANGEROUS_GLOBAL` (see `docs/scanner-rules.md`). */
  ruleId: string;
  severity: Severity;
  /** Path of the scanned file, POSIX, relative to the scan root (`.` for a single file argument's own name). */
  file: string;
  /**
   * Path inside containers, outermost first, e.g. `['archive/data.pkl']` or
   * `['model.tar', 'weights/model.pt', 'archive/data.pkl']`. Empty for the file itself.
   */
  member: string[];
  /** Byte offset inside the innermost member (or the file), when known. */
  offset?: number;
  /** One lower-case line, no trailing period. */
  message: string;
  /** Structured context: the resolved global, the opcode, the declared and actual sizes, … */
  evidence?: Record<string, unknown>;
}

/** Metadata of a rule, for documentation and SARIF. */
export interface RuleInfo {
  id: string;
  /** Default severity (a finding may carry another one). */
  severity: Severity;
  /** Short name, e.g. "dangerous global in pickle". */
  title: string;
  /** What it means. */
  description: string;
  /** How to fix or what to do. */
  remediation: string;
}

/**
 * Random-access view of the bytes being scanned: a file on disk (read with
 * positioned reads) or a buffer (a decompressed member). Scanners never read
 * more than they need: tensor data is skipped by length.
 */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** Reads `length` bytes at `offset`; returns fewer only at the end of the source. */
  read(offset: number, length: number): Promise<Buffer>;
  /**
   * Optional: reads up to `target.length` bytes at `offset` into `target` (a
   * buffer the caller reuses); returns how many were read, fewer only at the
   * end of the source.
   */
  readInto?(target: Buffer, offset: number): Promise<number>;
}

/**
 * Limits applied to every parser. A limit that stops the analysis before the
 * end of what a loader would read is a high `SCAN_INCOMPLETE` finding naming
 * the limit (docs/scanner-rules.md, "Limits"); raise it with the option of the
 * same name (`--limit NAME=VALUE` on the CLI).
 */
export interface ScanLimits {
  /** Nesting depth of containers and nested payloads. Default 8. */
  maxNestingDepth: number;
  /** Total bytes a single artifact may expand to when decompressing. Default 4 GiB. */
  maxExpandedBytes: number;
  /** Largest member read into memory for parsing (formats parsed in one piece). Default 256 MiB. */
  maxMemberBytes: number;
  /** Wall-clock time for one top-level file, in milliseconds. Default 120,000. */
  maxFileMs: number;
  /** Pickle opcodes over all streams of one pickle. Default 6,000,000 (keeps the symbolic VM under 512 MiB RSS on hostile input). */
  maxPickleOpcodes: number;
  /** Pickle stack plus marked values. Default 1,000,000. */
  maxPickleStack: number;
  /** Pickle memo entries. Default 2,000,000. */
  maxPickleMemo: number;
  /** Tokens of one JSON document from an artifact (Keras config, SafeTensors header, ...). Default 2,000,000 (about a 200,000-tensor SafeTensors header; parsing a document at the limit stays under 512 MiB). */
  maxJsonTokens: number;
  /** Nesting depth of one JSON document from an artifact. Default 512. */
  maxJsonDepth: number;
  /**
   * Expansion ratio of a compressed stream past 64 MiB decoded above which it
   * is a decompression bomb (decoding stops: high `ARCHIVE_DECOMPRESSION_BOMB`
   * and `SCAN_INCOMPLETE`). Default 100; 0 turns the ratio check off (for a
   * trusted file with very sparse arrays; `maxExpandedBytes` still applies).
   */
  maxCompressionRatio: number;
}

/** Default {@link ScanLimits}. */
export const DEFAULT_SCAN_LIMITS: Readonly<ScanLimits> = Object.freeze({
  maxNestingDepth: 8,
  maxExpandedBytes: 4 * 1024 * 1024 * 1024,
  maxMemberBytes: 256 * 1024 * 1024,
  maxFileMs: 120_000,
  maxPickleOpcodes: 6_000_000,
  maxPickleStack: 1_000_000,
  maxPickleMemo: 2_000_000,
  maxJsonTokens: 2_000_000,
  maxJsonDepth: 512,
  maxCompressionRatio: 100,
});

/** The result for one file given to the scanner. */
export interface FileScanResult {
  /** POSIX path relative to the scan root. */
  file: string;
  /** Formats recognised, outermost first (e.g. `['pytorch-zip', 'pickle']`); empty when unknown. */
  formats: string[];
  findings: Finding[];
  /** Set when the file could not be read at all (I/O), with a one-line reason. */
  error?: { code: string; message: string };
  bytes: number;
  /**
   * False when some bytes were not analysed to their end (a limit, a deadline,
   * an unsupported wrapper, a parser failure, an I/O error): a high
   * `SCAN_INCOMPLETE` (or `SCAN_INTERNAL_ERROR`, `COMPRESSION_UNSUPPORTED`)
   * finding says where. Set by the engine.
   */
  complete: boolean;
}

/** A finding as a scanner reports it: file and container path are filled in by the context. */
export type FindingInput = Omit<Finding, 'file' | 'member'> & {
  /** Extra path components below the context's current member (e.g. a zip entry name). */
  member?: string[];
};

/**
 * What a format scanner gets besides the bytes: where it is, how deep, the
 * limits, and the way to report findings and to scan nested members.
 */
export interface ScanContext {
  /** Path of the top-level file, POSIX, relative to the scan root. */
  readonly file: string;
  /** Absolute path of the top-level file on disk (for checks such as ONNX external data). */
  readonly absolutePath: string;
  /** Container path of the bytes being scanned, outermost first. */
  readonly member: readonly string[];
  /** Nesting depth: 0 for the file itself. */
  readonly depth: number;
  readonly limits: Readonly<ScanLimits>;
  readonly signal?: AbortSignal;
  /** Records a finding for the current member (or a sub-member given in `member`). */
  report(finding: FindingInput): void;
  /**
   * Scans bytes found inside the current artifact (a zip entry, a tar member, a
   * decompressed stream) with content detection, as their own artifact. Depth and
   * limits are enforced here: past `maxNestingDepth` a finding is reported instead.
   */
  scanNested(source: ByteSource, memberName: string): Promise<void>;
  /** Records the name of a format recognised for the current member. */
  recognise(format: string): void;
  /**
   * Counts `bytes` produced by decompression against `limits.maxExpandedBytes`
   * for the whole top-level file; returns false (and records nothing) once the
   * budget is spent. Optional: contexts that do not track it accept everything.
   */
  reserveExpanded?(bytes: number): boolean;
  /**
   * Scanner-specific settings carried through nested scans, keyed by scanner
   * family (e.g. `pickle.policy`, a compiled pickle policy). Optional.
   */
  readonly settings?: Readonly<Record<string, unknown>>;
}

/** One format's scanner: content detection plus a bounded parse. */
export interface FormatScanner {
  /** Stable id, e.g. `pickle`, `pytorch-zip`, `onnx`, `safetensors`. */
  readonly id: string;
  /**
   * Decides from content whether this scanner handles the bytes: `head` is the
   * first bytes of the source (up to 4096, fewer if the source is shorter).
   * Must be cheap and never throw.
   */
  detect(head: Buffer, source: ByteSource): boolean | Promise<boolean>;
  /** Parses and reports findings. Must never throw on hostile input: report a finding instead. */
  scan(source: ByteSource, ctx: ScanContext): Promise<void>;
}
