// SPDX-License-Identifier: Apache-2.0
/**
 * An exact, symbolic pickle virtual machine. It executes the opcodes of
 * protocols 0 to 5 on a model of Python's unpickler (stack, metastack of marks,
 * memo, frames) without executing anything: globals become symbolic
 * references, calls become symbolic call values. The result is the list of
 * imports, calls, `BUILD`s, writes into non-container objects, persistent ids
 * and byte constants, plus the anomalies met on the way.
 *
 * Every stacked pickle of a stream is run to the end of the data; junk between
 * streams is skipped by a bounded resynchronisation. Each opcode reads all of
 * its operands before it changes any state, which lets the asynchronous driver
 * ({@link analysePickleSource}) refill its window and retry the opcode, so a
 * pickle followed by gigabytes of raw data is never read whole.
 *
 * See `threats.md` §1.4 and CPython `Lib/pickle.py` (`_Unpickler`), whose
 * behaviour is matched opcode by opcode.
 */
import type { ByteSource, Severity } from '../types.js';
import { PICKLE_OPCODE_NAMES, pickleOpcodeName } from './opcode-names.js';
import { pickleLineInt } from './python-int.js';

export { pickleOpcodeName };

/** A value on the symbolic stack. */
export type PickleValue =
  | { k: 'none' }
  | { k: 'bool'; v: boolean }
  | { k: 'int'; v: bigint }
  | { k: 'float'; v: number }
  | { k: 'str'; v: string; offset: number }
  | {
      k: 'bytes';
      /** The bytes, when kept (see {@link PickleVmLimits.maxKeptOperandBytes}, `maxRetainedBytes`). */
      v: Buffer | undefined;
      length: number;
      /** Offset of the opcode. */
      offset: number;
      /** Offset of the first data byte in the source (the bytes are contiguous there). */
      dataOffset?: number;
    }
  | { k: 'tuple'; items: PickleValue[] }
  | { k: 'list'; items: PickleValue[] }
  | { k: 'dict'; entries: [PickleValue, PickleValue][] }
  | { k: 'set'; items: PickleValue[]; frozen: boolean }
  | {
      k: 'global';
      module: string;
      name: string;
      offset: number;
      opcode: string;
    }
  | {
      k: 'call';
      fn: PickleValue;
      args: PickleValue;
      kwargs?: PickleValue;
      kind: PickleCallKind;
      offset: number;
      /** States applied by `BUILD`, in order. */
      states: PickleValue[];
    }
  | { k: 'pid'; id: PickleValue; offset: number }
  | { k: 'ext'; code: number; offset: number }
  | { k: 'buffer'; offset: number }
  | { k: 'unknown' };

/** The opcode that made a call value. */
export type PickleCallKind = 'REDUCE' | 'INST' | 'OBJ' | 'NEWOBJ' | 'NEWOBJ_EX';

/** An import site (`GLOBAL`, `INST`, `STACK_GLOBAL`). */
export interface PickleImport {
  module: string;
  name: string;
  offset: number;
  opcode: string;
  stream: number;
}

/** A call site. `value` is the call value pushed on the stack. */
export interface PickleCall {
  value: Extract<PickleValue, { k: 'call' }>;
  offset: number;
  stream: number;
}

/** A `BUILD` (state applied to an object). */
export interface PickleBuild {
  target: PickleValue;
  state: PickleValue;
  offset: number;
  stream: number;
}

/** A `SETITEM(S)`, `APPEND(S)`, `ADDITEMS` or `BUILD` on something that is not a plain container. */
export interface PickleMutation {
  opcode: string;
  target: PickleValue;
  offset: number;
  stream: number;
}

/** A structural anomaly of the stream. */
export interface PickleAnomaly {
  ruleId: string;
  severity: Severity;
  message: string;
  offset: number;
  evidence?: Record<string, unknown>;
}

/** A `bytes` or `str` constant that may be a nested payload. */
export interface PickleConstant {
  value: Extract<PickleValue, { k: 'bytes' } | { k: 'str' }>;
  stream: number;
}

/**
 * Limits of one analysis. A limit that stops the analysis before the end of
 * the data is an anomaly with rule `SCAN_INCOMPLETE` (high) whose evidence
 * names it: `maxPickleOpcodes`, `maxPickleStack`, `maxPickleMemo` (the
 * `ScanLimits` options) or `pickleStreams`, `pickleResyncBytes`,
 * `pickleLineBytes`, `pickleWindowRefills` (internal).
 */
export interface PickleVmLimits {
  /** Opcodes over all streams (`maxPickleOpcodes`). Default 6,000,000. */
  maxOpcodes: number;
  /** Stack plus marks (`maxPickleStack`). Default 1,000,000. */
  maxStack: number;
  /** Memo entries (`maxPickleMemo`). Default 2,000,000. */
  maxMemo: number;
  /** Stacked streams. Default 1,000. */
  maxStreams: number;
  /** Junk bytes searched for the next stream after a `STOP` or an error. Default 64 MiB. */
  maxResyncBytes: number;
  /**
   * Bytes of `bytes` constants and of `str` constants over 4 KiB kept (for
   * nested scanning), or looked at and dropped (see
   * {@link PickleAnalysisOptions.keepBytes}). Past it such operands are
   * skipped by length: a `bytes` value without its bytes, a `str` of
   * unknown content. Default 16 MiB.
   */
  maxRetainedBytes: number;
  /**
   * Largest `bytes`/`str` operand read into memory; longer ones are skipped by
   * their length, never materialised (a `bytes` value keeps its offset, a
   * `str` becomes an unknown value). Default 16 MiB.
   */
  maxKeptOperandBytes: number;
  /** Longest protocol 0 text line (`GLOBAL`, `UNICODE`, `STRING`, ...). Default 16 MiB. */
  maxLineBytes: number;
}

/** Default {@link PickleVmLimits}; the first three are `DEFAULT_SCAN_LIMITS`' pickle limits. */
export const DEFAULT_PICKLE_VM_LIMITS: Readonly<PickleVmLimits> = Object.freeze(
  {
    maxOpcodes: 6_000_000,
    maxStack: 1_000_000,
    maxMemo: 2_000_000,
    maxStreams: 1000,
    maxResyncBytes: 64 * 1024 * 1024,
    maxRetainedBytes: 16 * 1024 * 1024,
    maxKeptOperandBytes: 16 * 1024 * 1024,
    maxLineBytes: 16 * 1024 * 1024,
  },
);

/** Rule id of the anomaly for a limit hit (the shared "not fully scanned" rule). */
export const PICKLE_INCOMPLETE_RULE = 'SCAN_INCOMPLETE';

/**
 * Hook called after each `BUILD`: returns a number of raw bytes the loader
 * reads directly from the file at this point (joblib arrays), or `'pickle'`
 * when the loader reads a nested pickle inline, or `undefined`.
 */
export type PickleBuildHook = (
  target: PickleValue,
  state: PickleValue,
) => { skip: number; paddingByte?: boolean } | { pickle: true } | undefined;

/** See {@link PickleAnalysisOptions.listBytes}. */
export type ListBytes = (
  buf: Buffer,
  start: number,
  end: number,
  length: number,
) => boolean;

/** Options of {@link analysePickleSource}. */
export interface PickleAnalysisOptions {
  limits?: Partial<PickleVmLimits>;
  /** Stop after this many stacked streams (legacy torch files: 5). */
  streamLimit?: number;
  /** Do not resynchronise over junk after the last stream (report it only). */
  resync?: boolean;
  /** See {@link PickleBuildHook}. */
  onBuild?: PickleBuildHook;
  /**
   * Whether a later check needs the bytes of a `bytes` operand that the
   * retention budget lets the VM keep (`data`: a view valid only during the
   * call). False drops them: the value is then as one past the budget
   * (length and offsets only, its bytes contiguous in the source at
   * `dataOffset`) and is not listed in `constants`; the budget is charged
   * all the same. Default: every operand the budget allows is kept.
   */
  keepBytes?: (data: Buffer) => boolean;
  /**
   * Whether a `bytes` operand past the retention budget, of `length` bytes
   * whose first `end - start` are `buf[start, end)` (those in the window,
   * valid only during the call), may matter to a later check: false leaves
   * it out of `constants`. Asked only for operands that start in the
   * window. Default: all are listed.
   */
  listBytes?: ListBytes;
  /** Start offset. Default 0. */
  start?: number;
  signal?: AbortSignal;
}

/** Everything the VM saw. */
export interface PickleAnalysis {
  /** Streams that started (including broken ones). */
  streams: number;
  /** Highest `PROTO` seen (0 when none). */
  protocol: number;
  imports: PickleImport[];
  calls: PickleCall[];
  builds: PickleBuild[];
  mutations: PickleMutation[];
  persistentIds: {
    value: Extract<PickleValue, { k: 'pid' }>;
    stream: number;
  }[];
  constants: PickleConstant[];
  anomalies: PickleAnomaly[];
  /** Top-level value of each stream that reached `STOP`. */
  results: PickleValue[];
  /** Offset just after the last byte the VM consumed. */
  end: number;
  /** Opcodes executed. */
  opcodes: number;
  /** True when `options.signal` stopped the analysis before the end. */
  aborted: boolean;
}

/**
 * Thrown inside a step when the window lacks bytes that the source has. Each
 * machine throws its one instance (see {@link PickleMachine.needBytes}): a
 * refill is routine, and capturing a stack trace for each cost 5 % of a scan.
 */
class NeedBytes extends Error {
  /** Offset the window must reach. */
  upTo = 0;
  constructor() {
    super('need bytes');
  }
}

/** Thrown inside a step when the stream is malformed: ends the stream. */
class StreamError extends Error {
  constructor(
    readonly ruleId: string,
    message: string,
    readonly evidence?: Record<string, unknown>,
    readonly severity: Severity = 'medium',
  ) {
    super(message);
  }
}

/** A limit stopped the analysis: high `SCAN_INCOMPLETE` naming it. */
function limitError(
  limit: string,
  value: number,
  message: string,
): StreamError {
  return new StreamError(
    PICKLE_INCOMPLETE_RULE,
    message,
    { limit, value },
    'high',
  );
}

const UTF8_STRICT = new TextDecoder('utf-8', { fatal: true });

/** True when every byte is below 0x80. */
function isAscii(b: Buffer): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]! >= 0x80) return false;
  return true;
}

/** Operands up to this length are always read (names, keys, small constants). */
const SHORT_OPERAND = 4096;

const NONE: PickleValue = { k: 'none' };
/** Shared by every call not built yet (most): one array less per call. */
const NO_STATES: PickleValue[] = Object.freeze([]) as unknown as PickleValue[];
/** Tuples are never mutated: one shared empty tuple. */
const EMPTY_TUPLE: PickleValue = Object.freeze({
  k: 'tuple',
  items: Object.freeze([]) as unknown as PickleValue[],
});
const TRUE: PickleValue = Object.freeze({ k: 'bool', v: true });
const FALSE: PickleValue = Object.freeze({ k: 'bool', v: false });

/** Shared values of small ints (values are never mutated): far less memory for shapes, offsets, keys. */
const SMALL_INTS: PickleValue[] = [];
const SMALL_INT_MIN = -256;
const SMALL_INT_MAX = 65_535;

function intValue(n: number | bigint): PickleValue {
  const small =
    typeof n === 'number'
      ? n
      : n >= BigInt(SMALL_INT_MIN) && n <= BigInt(SMALL_INT_MAX)
        ? Number(n)
        : undefined;
  if (small === undefined || small < SMALL_INT_MIN || small > SMALL_INT_MAX)
    return { k: 'int', v: BigInt(n) };
  const i = small - SMALL_INT_MIN;
  return (SMALL_INTS[i] ??= Object.freeze({ k: 'int', v: BigInt(small) }));
}
const UNKNOWN: PickleValue = { k: 'unknown' };

function decodePythonStringLiteral(raw: Buffer): string | undefined {
  // Protocol 0 STRING: a repr() literal in single or double quotes.
  if (raw.length < 2) return undefined;
  const q = raw[0];
  if ((q !== 0x27 && q !== 0x22) || raw[raw.length - 1] !== q) return undefined;
  const body = raw.subarray(1, raw.length - 1);
  const out: number[] = [];
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== 0x5c) {
      out.push(c);
      continue;
    }
    const n = body[++i];
    if (n === undefined) return undefined;
    const simple: Record<number, number> = {
      0x6e: 10,
      0x74: 9,
      0x72: 13,
      0x5c: 0x5c,
      0x27: 0x27,
      0x22: 0x22,
      0x61: 7,
      0x62: 8,
      0x66: 12,
      0x76: 11,
      0x0a: -1,
    };
    const s = simple[n];
    if (s !== undefined) {
      if (s >= 0) out.push(s);
      continue;
    }
    if (n === 0x78) {
      const hex = body.subarray(i + 1, i + 3).toString('latin1');
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) return undefined;
      out.push(parseInt(hex, 16));
      i += 2;
      continue;
    }
    if (n >= 0x30 && n <= 0x37) {
      let oct = String.fromCharCode(n);
      while (
        oct.length < 3 &&
        body[i + 1] !== undefined &&
        body[i + 1]! >= 0x30 &&
        body[i + 1]! <= 0x37
      ) {
        oct += String.fromCharCode(body[++i]!);
      }
      out.push(parseInt(oct, 8) & 0xff);
      continue;
    }
    out.push(0x5c, n);
  }
  return Buffer.from(out).toString('latin1');
}

function decodeRawUnicodeEscape(raw: Buffer): string {
  const s = raw.toString('latin1');
  return s.replace(
    /\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g,
    (_m, a?: string, b?: string) => {
      const cp = parseInt((a ?? b)!, 16);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : '\ufffd';
    },
  );
}

function bigintFromLE(bytes: Buffer): bigint {
  if (bytes.length === 0) return 0n;
  let hex = '';
  for (let i = bytes.length - 1; i >= 0; i--)
    hex += bytes[i]!.toString(16).padStart(2, '0');
  let v = BigInt('0x' + hex);
  if ((bytes[bytes.length - 1]! & 0x80) !== 0)
    v -= 1n << BigInt(bytes.length * 8);
  return v;
}

/**
 * Puts the kind tag `k` on a class's prototype: one shared, enumerable
 * property instead of one per value (a big pickle holds millions).
 */
function kindOn(cls: { prototype: object }, k: PickleValue['k']): void {
  Object.defineProperty(cls.prototype, 'k', { value: k, enumerable: true });
}

/**
 * A `str` value: its text and offset, `k` shared on the prototype. `r` is
 * its record in the {@link Arena} once the memo or a container packed it
 * (-1 before, -2 when it is too long to pack), so that packing it again
 * (`BINPUT` then `SETITEMS`) writes nothing more.
 */
class StrValue {
  declare readonly k: 'str';
  r = -1;
  constructor(
    readonly v: string,
    readonly offset: number,
  ) {}
}
kindOn(StrValue, 'str');

/**
 * A `bytes` value whose bytes were not kept: three numbers of its own, `k`
 * and `v` shared on the prototype; `r` as in {@link StrValue}.
 */
class UnkeptBytes {
  declare readonly k: 'bytes';
  declare readonly v: undefined;
  r = -1;
  constructor(
    readonly length: number,
    readonly offset: number,
    readonly dataOffset: number,
  ) {}
}
Object.defineProperties(UnkeptBytes.prototype, {
  k: { value: 'bytes', enumerable: true },
  v: { value: undefined, enumerable: true },
});

// ---- compact storage: the memo and large containers hold most values of a
// big pickle (a dict of a million str -> int is three million objects, about
// 230 bytes an entry). They keep them exactly, packed into bytes: strings and
// unkept bytes as records of an arena, ints, floats, bools and None inline,
// anything else as a reference to the value itself. Reading gives back equal
// values; every value with an identity (globals, calls, persistent ids,
// containers, kept bytes) is the same object.

/** Bytes of an arena chunk; a record never spans two. */
const ARENA_CHUNK = 1024 * 1024;
/**
 * Longest text packed (bytes). Each memo `GET` and each read of a container
 * decodes a record again: cheap for keys and names, while a longer string
 * stays one value that a pickle may `GET` millions of times for nothing.
 */
const MAX_RECORD_TEXT = 256;
const REC_LATIN1 = 0;
const REC_UTF16 = 1;
const REC_BYTES = 2;

/** Where {@link readVarint} stopped. */
let varintEnd = 0;

/** Writes `n` (0 to 2^53) as a LEB128 varint at `o`; returns the end. */
function writeVarint(b: Buffer, o: number, n: number): number {
  while (n > 0x7fff_ffff) {
    b[o++] = (n % 0x80) | 0x80;
    n = Math.floor(n / 0x80);
  }
  // 31 bits and less (nearly all): integer operations.
  while (n >= 0x80) {
    b[o++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  b[o++] = n;
  return o;
}

/** Reads a varint at `o`; the end is left in {@link varintEnd}. */
function readVarint(b: Buffer, o: number): number {
  let n = 0;
  let scale = 1;
  for (;;) {
    const c = b[o++]!;
    n += (c & 0x7f) * scale;
    if (c < 0x80) break;
    scale *= 0x80;
  }
  varintEnd = o;
  return n;
}

/** True when every UTF-16 unit of `s` is below 256 (one latin1 byte each). */
function isLatin1(s: string): boolean {
  if (Buffer.byteLength(s, 'utf8') === s.length) return true;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return false;
  return true;
}

/**
 * Records of the strings and unkept bytes packed by the memo and the
 * containers of one analysis: `[length and kind][offset][data offset or
 * text]` (varints, then the text as latin1 or UTF-16),
 * in chunks that are never copied.
 */
class Arena {
  private readonly chunks: Buffer[] = [];
  private used = ARENA_CHUNK;

  /** Space for `n` bytes; returns the position of the record. */
  private reserve(n: number): number {
    if (this.used + n > ARENA_CHUNK) {
      this.chunks.push(Buffer.allocUnsafeSlow(ARENA_CHUNK));
      this.used = 0;
    }
    return (this.chunks.length - 1) * ARENA_CHUNK + this.used;
  }

  /** The record of `v`, written on first use; -1 for a value that is not packed. */
  recordOf(v: PickleValue): number {
    if (v instanceof StrValue) {
      if (v.r !== -1) return v.r;
      const s = v.v;
      if (s.length > MAX_RECORD_TEXT) return (v.r = -2);
      const latin1 = isLatin1(s);
      const size = latin1 ? s.length : 2 * s.length;
      if (size > MAX_RECORD_TEXT) return (v.r = -2);
      const at = this.reserve(16 + size);
      const b = this.chunks[this.chunks.length - 1]!;
      let o = writeVarint(
        b,
        this.used,
        s.length * 4 + (latin1 ? REC_LATIN1 : REC_UTF16),
      );
      o = writeVarint(b, o, v.offset);
      o += b.write(s, o, latin1 ? 'latin1' : 'utf16le');
      this.used = o;
      return (v.r = at);
    }
    if (v instanceof UnkeptBytes) {
      if (v.r >= 0) return v.r;
      const at = this.reserve(24);
      const b = this.chunks[this.chunks.length - 1]!;
      let o = writeVarint(b, this.used, v.length * 4 + REC_BYTES);
      o = writeVarint(b, o, v.offset);
      o = writeVarint(b, o, v.dataOffset - v.offset);
      this.used = o;
      return (v.r = at);
    }
    return -1;
  }

  /** The value of the record at `at` (a new object equal to the one packed). */
  value(at: number): PickleValue {
    const b = this.chunks[Math.floor(at / ARENA_CHUNK)]!;
    const head = readVarint(b, at % ARENA_CHUNK);
    const kind = head % 4;
    const length = Math.floor(head / 4);
    const offset = readVarint(b, varintEnd);
    if (kind === REC_BYTES) {
      const v = new UnkeptBytes(
        length,
        offset,
        offset + readVarint(b, varintEnd),
      );
      v.r = at;
      return v;
    }
    const from = varintEnd;
    const v = new StrValue(
      kind === REC_LATIN1
        ? b.toString('latin1', from, from + length)
        : b.toString('utf16le', from, from + 2 * length),
      offset,
    );
    v.r = at;
    return v;
  }
}

const T_NONE = 0;
const T_TRUE = 1;
const T_FALSE = 2;
const T_INT = 3;
const T_FLOAT = 4;
const T_RECORD = 5;
const T_VALUE = 6;
const T_UNKNOWN = 7;
/** Tags of an int or a record whose zigzag difference is below {@link T_SHORT_MAX}: one byte. */
const T_SHORT_INT = 0x40;
const T_SHORT_RECORD = 0x80;
const T_SHORT_MAX = 0x40;
/** Ints packed inline (their differences stay below 2^52). */
const PACKED_INT_MAX = 2n ** 50n;
/** First and largest chunk of a packed sequence. */
const PACKED_FIRST_CHUNK = 256;
const PACKED_MAX_CHUNK = 64 * 1024;
/** Largest packed element: a tag and a varint or a double. */
const PACKED_ELEMENT = 16;

/** `n` (a safe integer of at most 52 bits) as a non-negative number: 0, -1, 1, -2... -> 0, 1, 2, 3... */
function zigzag(n: number): number {
  return n >= 0 ? 2 * n : -2 * n - 1;
}

function unzigzag(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

/**
 * The elements of a large container, packed (see {@link Arena}): a tag byte
 * each, then the difference from the previous int (int) or record (str,
 * unkept bytes) as a zigzag varint, a double (float) or an index into
 * `values` (anything else). A small difference is in the tag byte: keys
 * and counters that follow each other cost a byte each.
 */
class Packed {
  private readonly chunks: Buffer[] = [];
  /** Bytes used in each chunk. */
  private readonly ends: number[] = [];
  private values: PickleValue[] | undefined;
  /** The last int and the last record pushed (the differences' origins). */
  private lastInt = 0;
  private lastRecord = 0;
  length = 0;

  constructor(private readonly arena: Arena) {}

  push(v: PickleValue): void {
    let i = this.chunks.length - 1;
    let b = this.chunks[i];
    let o = this.ends[i] ?? 0;
    if (b === undefined || o + PACKED_ELEMENT > b.length) {
      const size =
        b === undefined
          ? PACKED_FIRST_CHUNK
          : Math.min(PACKED_MAX_CHUNK, 2 * b.length);
      b = Buffer.allocUnsafeSlow(size);
      this.chunks.push(b);
      this.ends.push(0);
      i++;
      o = 0;
    }
    this.length++;
    switch (v.k) {
      case 'none':
        b[o++] = T_NONE;
        break;
      case 'bool':
        b[o++] = v.v ? T_TRUE : T_FALSE;
        break;
      case 'unknown':
        b[o++] = T_UNKNOWN;
        break;
      case 'float':
        b[o++] = T_FLOAT;
        o = b.writeDoubleLE(v.v, o);
        break;
      case 'int':
        if (v.v < PACKED_INT_MAX && v.v > -PACKED_INT_MAX) {
          const n = Number(v.v);
          const d = zigzag(n - this.lastInt);
          if (d < T_SHORT_MAX) b[o++] = T_SHORT_INT | d;
          else {
            b[o++] = T_INT;
            o = writeVarint(b, o, d);
          }
          this.lastInt = n;
          break;
        }
        o = this.pushValue(b, o, v);
        break;
      default: {
        const r = this.arena.recordOf(v);
        if (r >= 0) {
          const d = zigzag(r - this.lastRecord);
          if (d < T_SHORT_MAX) b[o++] = T_SHORT_RECORD | d;
          else {
            b[o++] = T_RECORD;
            o = writeVarint(b, o, d);
          }
          this.lastRecord = r;
        } else o = this.pushValue(b, o, v);
      }
    }
    this.ends[i] = o;
  }

  private pushValue(b: Buffer, o: number, v: PickleValue): number {
    const values = (this.values ??= []);
    b[o++] = T_VALUE;
    values.push(v);
    return writeVarint(b, o, values.length - 1);
  }

  /**
   * The last array read, while the garbage collector leaves it (at least to
   * the end of the current turn): a consumer that reads the elements several
   * times in a row (a call's arguments) decodes them once.
   */
  private last: WeakRef<PickleValue[]> | undefined;

  /** The elements, in order (new objects for packed scalars, then the same array while it lives). */
  toArray(): PickleValue[] {
    const last = this.last?.deref();
    if (last?.length === this.length) return last;
    const out = this.decode();
    this.last = new WeakRef(out);
    return out;
  }

  private decode(): PickleValue[] {
    const out: PickleValue[] = [];
    let int = 0;
    let record = 0;
    for (let i = 0; i < this.chunks.length; i++) {
      const b = this.chunks[i]!;
      const end = this.ends[i]!;
      let o = 0;
      while (o < end) {
        const t = b[o++]!;
        if (t >= T_SHORT_INT) {
          // A difference below T_SHORT_MAX, in the tag byte.
          if (t >= T_SHORT_RECORD) {
            record += unzigzag(t - T_SHORT_RECORD);
            out.push(this.arena.value(record));
          } else {
            int += unzigzag(t - T_SHORT_INT);
            out.push(intValue(int));
          }
          continue;
        }
        switch (t) {
          case T_NONE:
            out.push(NONE);
            break;
          case T_TRUE:
            out.push(TRUE);
            break;
          case T_FALSE:
            out.push(FALSE);
            break;
          case T_UNKNOWN:
            out.push(UNKNOWN);
            break;
          case T_FLOAT:
            out.push({ k: 'float', v: b.readDoubleLE(o) });
            o += 8;
            break;
          case T_INT:
            int += unzigzag(readVarint(b, o));
            o = varintEnd;
            out.push(intValue(int));
            break;
          case T_RECORD:
            record += unzigzag(readVarint(b, o));
            o = varintEnd;
            out.push(this.arena.value(record));
            break;
          default:
            out.push(this.values![readVarint(b, o)]!);
            o = varintEnd;
        }
      }
    }
    return out;
  }
}

/** Containers pack their elements past this many. */
const PACK_AFTER = 32;

/** Elements of a container: a plain array while small, then {@link Packed}. */
type Elements = PickleValue[] | Packed;

function elementsOf(items: PickleValue[], arena: Arena): Elements {
  if (items.length <= PACK_AFTER) return items;
  const p = new Packed(arena);
  for (const x of items) p.push(x);
  return p;
}

function appendElements(
  to: Elements,
  more: PickleValue[],
  arena: Arena,
): Elements {
  if (Array.isArray(to)) {
    if (to.length + more.length <= PACK_AFTER) {
      for (const x of more) to.push(x);
      return to;
    }
    const p = new Packed(arena);
    for (const x of to) p.push(x);
    to = p;
  }
  for (const x of more) to.push(x);
  return to;
}

function arrayOf(e: Elements): PickleValue[] {
  return Array.isArray(e) ? e : e.toArray();
}

/**
 * The elements of a list or a set: `items` reads them (a new array when they
 * are packed); APPEND(S) and ADDITEMS add to them.
 */
abstract class ElementsValue {
  constructor(private e: Elements) {}
  get items(): PickleValue[] {
    return arrayOf(this.e);
  }
  append(more: PickleValue[], arena: Arena): void {
    this.e = appendElements(this.e, more, arena);
  }
}

/** A list. */
class ListValue extends ElementsValue {
  declare readonly k: 'list';
}
kindOn(ListValue, 'list');

/** A set or frozenset. */
class SetValue extends ElementsValue {
  declare readonly k: 'set';
  constructor(
    e: Elements,
    readonly frozen: boolean,
  ) {
    super(e);
  }
}
kindOn(SetValue, 'set');

/** A dict: keys and values alternate in its elements; `entries` pairs them. */
class DictValue {
  declare readonly k: 'dict';
  /** The last pairs read of packed elements (see {@link Packed.toArray}). */
  private last: WeakRef<[PickleValue, PickleValue][]> | undefined;
  constructor(private e: Elements) {}
  get entries(): [PickleValue, PickleValue][] {
    const e = this.e;
    const last = this.last?.deref();
    if (!Array.isArray(e) && last?.length === e.length / 2) return last;
    const flat = arrayOf(e);
    const out: [PickleValue, PickleValue][] = [];
    for (let i = 0; i + 1 < flat.length; i += 2)
      out.push([flat[i]!, flat[i + 1]!]);
    if (!Array.isArray(e)) this.last = new WeakRef(out);
    return out;
  }
  /** Adds `flat` (key, value, key, value...). */
  set(flat: PickleValue[], arena: Arena): void {
    this.e = appendElements(this.e, flat, arena);
  }
}
kindOn(DictValue, 'dict');

/** A tuple of more than {@link PACK_AFTER} elements, packed (small ones are literals). */
class PackedTuple {
  declare readonly k: 'tuple';
  constructor(private readonly e: Packed) {}
  get items(): PickleValue[] {
    return this.e.toArray();
  }
}
kindOn(PackedTuple, 'tuple');

function tupleOf(items: PickleValue[], arena: Arena): PickleValue {
  const e = elementsOf(items, arena);
  return Array.isArray(e) ? { k: 'tuple', items: e } : new PackedTuple(e);
}

/** Memo keys per chunk of the dense part. */
const MEMO_CHUNK = 65_536;
/** Entries of the memo's cache of value objects (a power of two). */
const MEMO_CACHE = 4096;
/** Largest record position a memo slot holds (2^31 - 1); past it the value is kept as it is. */
const MEMO_RECORD_MAX = 0x7fff_ffff;

/**
 * The memo: dense while keys come in order (`MEMOIZE`, and what Python's
 * pickler writes with `BINPUT`), a map for the others. A dense slot is 32
 * bits: odd, a record of the {@link Arena} (strings, unkept bytes), even, an
 * index into `values` (the rest). A pickle of a million objects memoises a
 * million values.
 */
class Memo {
  private readonly chunks: Uint32Array[] = [];
  private dense = 0;
  private readonly values: PickleValue[] = [];
  /** Indexes of `values` let go by a slot that now holds a record. */
  private readonly free: number[] = [];
  private sparse: Map<number, PickleValue> | undefined;
  /**
   * The value object of recently read record slots and written strings,
   * by key modulo {@link MEMO_CACHE}: a key `GET` again and again (Python's
   * pickler writes a `BINGET` for each repeated dict key or class name)
   * gives the same object each time, not a copy per `GET`. Unkept bytes
   * are not cached when written: data memoised by the million is seldom
   * read back, and holding the last 4,096 kept them alive long enough to
   * grow V8's young generation (medium case: about 7 MiB of RSS).
   */
  private cacheKeys: Int32Array | undefined;
  private readonly cacheValues: PickleValue[] = [];

  constructor(private readonly arena: Arena) {}

  get size(): number {
    return this.dense + (this.sparse?.size ?? 0);
  }

  get(idx: number): PickleValue | undefined {
    if (idx >= 0 && idx < this.dense) {
      const s = this.chunks[Math.floor(idx / MEMO_CHUNK)]![idx % MEMO_CHUNK]!;
      if (s % 2 === 0) return this.values[s / 2 - 1];
      const h = idx % MEMO_CACHE;
      if (this.cacheKeys?.[h] === idx) return this.cacheValues[h];
      const v = this.arena.value((s - 1) / 2);
      this.cache(idx, v);
      return v;
    }
    return this.sparse?.get(idx);
  }

  private cache(idx: number, v: PickleValue): void {
    const h = idx % MEMO_CACHE;
    (this.cacheKeys ??= new Int32Array(MEMO_CACHE).fill(-1))[h] = idx;
    this.cacheValues[h] = v;
  }

  has(idx: number): boolean {
    return (idx >= 0 && idx < this.dense) || this.sparse?.has(idx) === true;
  }

  set(idx: number, v: PickleValue): void {
    if (idx >= 0 && idx < this.dense) this.setSlot(idx, v);
    else if (idx === this.dense && this.sparse?.has(idx) !== true) {
      if (idx % MEMO_CHUNK === 0) this.chunks.push(new Uint32Array(MEMO_CHUNK));
      this.dense++;
      this.setSlot(idx, v);
    } else (this.sparse ??= new Map()).set(idx, v);
  }

  private setSlot(idx: number, v: PickleValue): void {
    const chunk = this.chunks[Math.floor(idx / MEMO_CHUNK)]!;
    const i = idx % MEMO_CHUNK;
    const old = chunk[i]!;
    /** The index of `values` the slot holds (-1: none, a record or a new slot). */
    const held = old !== 0 && old % 2 === 0 ? old / 2 - 1 : -1;
    const r = this.arena.recordOf(v);
    if (r >= 0 && r <= MEMO_RECORD_MAX) {
      if (held >= 0) {
        this.values[held] = NONE;
        this.free.push(held);
      }
      chunk[i] = 2 * r + 1;
      if (v instanceof StrValue) this.cache(idx, v);
      return;
    }
    if (this.cacheKeys?.[idx % MEMO_CACHE] === idx)
      this.cacheKeys[idx % MEMO_CACHE] = -1;
    if (held >= 0) {
      this.values[held] = v;
      return;
    }
    const at = this.free.pop();
    if (at !== undefined) this.values[at] = v;
    chunk[i] = 2 * (at ?? this.values.push(v) - 1) + 2;
  }
}

/** The decoded operands of one opcode. */
interface Operand {
  n: number;
  f: number;
  b: Buffer | undefined;
  s: string;
  s2: string;
  /** Set when a length-prefixed operand was skipped, not read. */
  skip: boolean;
  /** Offset and length of a length-prefixed operand's data. */
  at: number;
  len: number;
}

const MAX_SAFE_BIGINT = BigInt(Number.MAX_SAFE_INTEGER);

/** Window over the source: `buf` holds bytes `[base, base + buf.length)`. */
interface Window {
  buf: Buffer;
  base: number;
  /** Total bytes available in the source. */
  total: number;
  /** The buffer is overwritten by later refills (never keep a view of it). */
  reused?: boolean;
}

/** The symbolic machine. One instance analyses one byte source. */
class PickleMachine {
  readonly out: PickleAnalysis = {
    streams: 0,
    protocol: 0,
    imports: [],
    calls: [],
    builds: [],
    mutations: [],
    persistentIds: [],
    constants: [],
    anomalies: [],
    results: [],
    end: 0,
    opcodes: 0,
    aborted: false,
  };
  private stack: PickleValue[] = [];
  private marks: number[] = [];
  /** Records of the strings and unkept bytes packed by the memo and containers. */
  private readonly arena = new Arena();
  private memo = new Memo(this.arena);
  private frameEnd: number | undefined;
  private opsInStream = 0;
  private inStream = false;
  private retained = 0;
  pos: number;
  /** Start of the opcode being executed (resynchronisation restarts after it). */
  opStart = 0;
  private anomalyKeys = new Set<string>();
  /** Nested inline pickles (joblib object arrays): saved machine states. */
  private saved: {
    stack: PickleValue[];
    marks: number[];
    memo: Memo;
  }[] = [];

  constructor(
    private w: Window,
    readonly limits: PickleVmLimits,
    private readonly onBuild: PickleBuildHook | undefined,
    start: number,
    private readonly keepBytes?: (data: Buffer) => boolean,
    private readonly listBytes?: ListBytes,
  ) {
    this.pos = start;
  }

  setWindow(w: Window): void {
    this.w = w;
  }

  anomaly(a: PickleAnomaly, dedupeKey?: string): void {
    if (dedupeKey !== undefined) {
      if (this.anomalyKeys.has(dedupeKey)) return;
      this.anomalyKeys.add(dedupeKey);
    }
    if (this.out.anomalies.length < 1000) this.out.anomalies.push(a);
  }

  // ---- byte access (all throw NeedBytes or StreamError, never mutate state)

  private readonly need = new NeedBytes();

  /** The machine's {@link NeedBytes}, asking for bytes up to `upTo`. */
  private needBytes(upTo: number): NeedBytes {
    this.need.upTo = upTo;
    return this.need;
  }

  private ensure(from: number, n: number): void {
    const { buf, base, total } = this.w;
    if (from + n > total) {
      throw new StreamError(
        'PICKLE_TRUNCATED',
        'pickle stream ends inside an opcode',
        { needed: from + n - total },
      );
    }
    if (from < base || from + n > base + buf.length)
      throw this.needBytes(from + n);
  }

  private bytesAt(from: number, n: number): Buffer {
    this.ensure(from, n);
    const o = from - this.w.base;
    return this.w.buf.subarray(o, o + n);
  }

  private lineAt(from: number): Buffer {
    const { buf, base, total } = this.w;
    const o = from - base;
    if (o < 0) throw this.needBytes(from + 1);
    const max = this.limits.maxLineBytes;
    const tooLong = (): StreamError =>
      limitError(
        'pickleLineBytes',
        max,
        `pickle text line longer than ${max} bytes`,
      );
    const nl = buf.indexOf(0x0a, o);
    if (nl >= 0) {
      if (nl - o > max) throw tooLong();
      return buf.subarray(o, nl);
    }
    const windowEnd = base + buf.length;
    if (windowEnd >= total)
      throw new StreamError(
        'PICKLE_TRUNCATED',
        'pickle stream ends inside a text line',
      );
    if (windowEnd - from > max) throw tooLong();
    throw this.needBytes(
      Math.min(total, windowEnd + Math.max(65536, windowEnd - from)),
    );
  }

  // ---- stack helpers

  private push(v: PickleValue): void {
    if (this.stack.length + this.marks.length >= this.limits.maxStack)
      throw this.stackLimit();
    this.stack.push(v);
  }

  private stackLimit(): StreamError {
    return limitError(
      'maxPickleStack',
      this.limits.maxStack,
      `pickle stack and marks deeper than ${this.limits.maxStack}`,
    );
  }

  /** Records a limit that stops the analysis (high `SCAN_INCOMPLETE`). */
  incomplete(
    limit: string,
    value: number,
    message: string,
    offset: number,
  ): void {
    this.anomaly(
      {
        ruleId: PICKLE_INCOMPLETE_RULE,
        severity: 'high',
        message,
        offset,
        evidence: { limit, value },
      },
      `limit:${limit}`,
    );
  }

  /** Stack length at the innermost mark: Python's unpickler cannot reach below it. */
  private floor(): number {
    return this.marks[this.marks.length - 1] ?? 0;
  }

  private pop(op: string): PickleValue {
    if (this.stack.length <= this.floor()) {
      throw new StreamError('PICKLE_MALFORMED', `stack underflow at ${op}`, {
        opcode: op,
      });
    }
    return this.stack.pop()!;
  }

  private top(op: string): PickleValue {
    if (this.stack.length <= this.floor()) {
      throw new StreamError('PICKLE_MALFORMED', `empty stack at ${op}`, {
        opcode: op,
      });
    }
    return this.stack[this.stack.length - 1]!;
  }

  private popMark(op: string): PickleValue[] {
    const m = this.marks.pop();
    if (m === undefined)
      throw new StreamError(
        'PICKLE_MALFORMED',
        `no mark on the stack at ${op}`,
        { opcode: op },
      );
    return this.stack.splice(m);
  }

  /** Pops a key and its value (SETITEM). */
  private popPair(op: string): PickleValue[] {
    const value = this.pop(op);
    return [this.pop(op), value];
  }

  /** Pops to the mark: dict keys and values, alternating (DICT, SETITEMS). */
  private popMarkFlat(op: string): PickleValue[] {
    const items = this.popMark(op);
    if (items.length % 2 !== 0)
      throw new StreamError(
        'PICKLE_MALFORMED',
        `odd number of items at ${op}`,
        { opcode: op },
      );
    return items;
  }

  private checkMark(op: string): void {
    if (this.marks.length === 0)
      throw new StreamError(
        'PICKLE_MALFORMED',
        `no mark on the stack at ${op}`,
        { opcode: op },
      );
  }

  private constant(
    v: Extract<PickleValue, { k: 'bytes' } | { k: 'str' }>,
  ): PickleValue {
    const len = v.k === 'str' ? v.v.length : v.length;
    if (len >= 8 && this.out.constants.length < 10_000) {
      this.out.constants.push({ value: v, stream: this.out.streams - 1 });
    }
    return v;
  }

  /**
   * A `str` value. Strings longer than {@link SHORT_OPERAND} bytes are
   * charged to the retention budget; past it they are values of unknown
   * content (names and keys are short; a long string is data).
   */
  private strValue(v: string, rawLength: number, offset: number): PickleValue {
    if (rawLength > SHORT_OPERAND) {
      if (this.retained + rawLength > this.limits.maxRetainedBytes)
        return UNKNOWN;
      this.retained += rawLength;
    }
    return this.constant(new StrValue(v, offset));
  }

  private bytesValue(
    data: Buffer | undefined,
    length: number,
    offset: number,
    dataOffset: number,
  ): PickleValue {
    const keep =
      data !== undefined &&
      this.retained + length <= this.limits.maxRetainedBytes;
    if (!keep) {
      const v = new UnkeptBytes(length, offset, dataOffset);
      // Past the budget: the bytes may be in the window all the same (read
      // with the opcodes around them), and then looked at there.
      const { buf, base } = this.w;
      const o = dataOffset - base;
      if (
        length >= 8 &&
        o >= 0 &&
        o < buf.length &&
        this.listBytes?.(buf, o, Math.min(buf.length, o + length), length) ===
          false
      )
        return v;
      return this.constant(v);
    }
    this.retained += length;
    // Bytes no later check needs (data, mostly): neither copied nor listed.
    if (this.keepBytes?.(data) === false)
      return new UnkeptBytes(length, offset, dataOffset);
    return this.constant({
      k: 'bytes',
      // A copy, unless the operand fills at least half of a window that is
      // not reused (one read for it): a view of a small part would keep the
      // whole window alive, a view of a reused one would be overwritten.
      v:
        this.w.reused !== true && length * 2 >= this.w.buf.length
          ? data
          : Buffer.from(data),
      length,
      offset,
      dataOffset,
    });
  }

  private memoGet(idx: number, op: string): PickleValue {
    const v = this.memo.get(idx);
    if (v === undefined) {
      throw new StreamError(
        'PICKLE_MEMO_MISSING',
        `memo key ${idx} read before it was written`,
        { opcode: op, key: idx },
        'high',
      );
    }
    return v;
  }

  private memoPut(idx: number, op: string): void {
    if (idx < 0)
      throw new StreamError('PICKLE_MALFORMED', 'negative memo key', {
        opcode: op,
      });
    const v = this.top(op);
    if (!this.memo.has(idx) && this.memo.size >= this.limits.maxMemo) {
      throw limitError(
        'maxPickleMemo',
        this.limits.maxMemo,
        `pickle memo larger than ${this.limits.maxMemo} entries`,
      );
    }
    this.memo.set(idx, v);
  }

  private call(
    fn: PickleValue,
    args: PickleValue,
    kind: PickleCallKind,
    offset: number,
    kwargs?: PickleValue,
  ): void {
    const value: Extract<PickleValue, { k: 'call' }> = {
      k: 'call',
      fn,
      args,
      kind,
      offset,
      states: NO_STATES,
    };
    if (kwargs !== undefined) value.kwargs = kwargs;
    this.out.calls.push({ value, offset, stream: this.out.streams - 1 });
    this.push(value);
  }

  /** One copy of each module and global name (a pickle repeats them at every site). */
  private readonly names = new Map<string, string>();

  private intern(s: string): string {
    const known = this.names.get(s);
    if (known !== undefined) return known;
    if (this.names.size < 65_536 && s.length <= 256) this.names.set(s, s);
    return s;
  }

  private global(
    moduleName: string,
    globalName: string,
    offset: number,
    opcode: string,
  ): PickleValue {
    const module = this.intern(moduleName);
    const name = this.intern(globalName);
    const g: PickleValue = { k: 'global', module, name, offset, opcode };
    this.out.imports.push({
      module,
      name,
      offset,
      opcode,
      stream: this.out.streams - 1,
    });
    return g;
  }

  private mutate(opcode: string, target: PickleValue, offset: number): void {
    this.out.mutations.push({
      opcode,
      target,
      offset,
      stream: this.out.streams - 1,
    });
  }

  private decodeUtf8(b: Buffer, op: string): string {
    try {
      // ASCII, the usual case, needs no validation.
      return isAscii(b) ? b.toString('latin1') : UTF8_STRICT.decode(b);
    } catch {
      throw new StreamError('PICKLE_MALFORMED', `invalid utf-8 in ${op}`, {
        opcode: op,
      });
    }
  }

  /** A protocol 0 integer line as CPython reads it for `op` ({@link pickleLineInt}). */
  private lineInt(line: Buffer, op: string): bigint {
    const value = pickleLineInt(line.toString('latin1'), op);
    if (value === undefined)
      throw new StreamError(
        'PICKLE_MALFORMED',
        `invalid integer literal at ${op}`,
        { opcode: op },
      );
    return value;
  }

  /** Starts a stream at `pos`. */
  beginStream(): void {
    this.out.streams++;
    this.stack = [];
    this.marks = [];
    this.memo = new Memo(this.arena);
    this.frameEnd = undefined;
    this.opsInStream = 0;
    this.inStream = true;
  }

  get streamOpen(): boolean {
    return this.inStream;
  }

  /** Ends the current stream after an error. */
  abortStream(e: StreamError, offset: number): void {
    if (
      this.opsInStream <= 1 &&
      this.out.streams > 1 &&
      e.ruleId !== PICKLE_INCOMPLETE_RULE
    ) {
      // Junk after a finished stream (a failed first opcode), not a broken pickle.
      this.anomaly({
        ruleId: 'PICKLE_TRAILING_DATA',
        severity: 'low',
        message: 'bytes after a pickle stream are not a pickle',
        offset,
      });
      this.inStream = false;
      return;
    }
    this.anomaly({
      ruleId: e.ruleId,
      severity: e.severity,
      message: e.message,
      offset,
      evidence: { ...e.evidence, stream: this.out.streams - 1 },
    });
    this.inStream = false;
    this.saved = [];
  }

  // ---- operand decoding: `cur` is the decoder's cursor inside the opcode
  // being decoded; these throw NeedBytes or StreamError and change nothing else.

  private cur = 0;
  /** The operands of the opcode being decoded (reset by each step). */
  private readonly a: Operand = {
    n: 0,
    f: 0,
    b: undefined,
    s: '',
    s2: '',
    skip: false,
    at: 0,
    len: 0,
  };

  /** Consumes `width` bytes at the cursor; returns their index in the window. */
  private fixed(width: number): number {
    const p = this.cur;
    this.ensure(p, width);
    this.cur = p + width;
    return p - this.w.base;
  }

  private u64(op: string): number {
    const v = this.w.buf.readBigUInt64LE(this.fixed(8));
    if (v > MAX_SAFE_BIGINT)
      throw new StreamError(
        'PICKLE_MALFORMED',
        `${op} length beyond any file`,
        { opcode: op },
      );
    return Number(v);
  }

  private line(): Buffer {
    const b = this.lineAt(this.cur);
    this.cur += b.length + 1;
    return b;
  }

  /**
   * A length-prefixed operand: read when it is at most `keep` bytes, else
   * skipped by its length (the window never holds it). Sets `a.b` or `a.skip`;
   * with `view` false, a read operand is only checked to be in the window
   * (decoded from there by {@link text}, no view made).
   */
  private takeOrSkip(
    a: Operand,
    n: number,
    keep: number,
    op: string,
    view = true,
  ): void {
    if (n < 0)
      throw new StreamError('PICKLE_MALFORMED', `negative length at ${op}`, {
        opcode: op,
      });
    const p = this.cur;
    a.at = p;
    a.len = n;
    if (n <= keep) {
      if (view) a.b = this.bytesAt(p, n);
      else this.ensure(p, n);
      this.cur = p + n;
      return;
    }
    if (p + n > this.w.total) {
      throw new StreamError(
        'PICKLE_TRUNCATED',
        'pickle stream ends inside an opcode',
        { needed: p + n - this.w.total },
      );
    }
    a.skip = true;
    this.cur = p + n;
  }

  /** A read operand decoded as text straight from the window (`takeOrSkip` without a view). */
  private text(a: Operand, encoding: 'latin1' | 'utf8'): string {
    const o = a.at - this.w.base;
    return this.w.buf.toString(encoding, o, o + a.len);
  }

  private resetOperand(): Operand {
    const a = this.a;
    a.n = 0;
    a.f = 0;
    a.b = undefined;
    a.s = '';
    a.s2 = '';
    a.skip = false;
    a.at = 0;
    a.len = 0;
    return a;
  }

  /**
   * Runs one opcode at `pos`. Returns 'stop' after `STOP` (stream finished),
   * 'ok' otherwise. Throws NeedBytes (retry after refill) or StreamError.
   */
  step(): 'ok' | 'stop' {
    const start = this.pos;
    this.opStart = start;
    this.ensure(start, 1);
    const code = this.w.buf[start - this.w.base]!;
    const op = PICKLE_OPCODE_NAMES[code];
    this.cur = start + 1;
    if (op === undefined) {
      throw new StreamError(
        'PICKLE_MALFORMED',
        `invalid opcode 0x${code.toString(16).padStart(2, '0')}`,
        { byte: code },
      );
    }

    // Decode operands first (no state change before this point). One operand
    // record for every opcode: nothing is allocated per opcode here.
    const a = this.resetOperand();
    const keep = this.limits.maxKeptOperandBytes;
    const budget = this.limits.maxRetainedBytes - this.retained;
    // Past the retention budget only short operands are read at all.
    const keepAny = Math.min(keep, Math.max(SHORT_OPERAND, budget));
    switch (code) {
      case 0x49: // INT
      case 0x4c: // LONG
      case 0x46: // FLOAT
      case 0x53: // STRING
      case 0x56: // UNICODE
      case 0x50: // PERSID
      case 0x67: // GET
      case 0x70: // PUT
        a.b = this.line();
        break;
      case 0x4b: // BININT1
      case 0x68: // BINGET
      case 0x71: // BINPUT
      case 0x80: // PROTO
      case 0x82: // EXT1
        a.n = this.w.buf[this.fixed(1)]!;
        break;
      case 0x4d: // BININT2
      case 0x83: // EXT2
        a.n = this.w.buf.readUInt16LE(this.fixed(2));
        break;
      case 0x4a: // BININT
        a.n = this.w.buf.readInt32LE(this.fixed(4));
        break;
      case 0x6a: // LONG_BINGET
      case 0x72: // LONG_BINPUT
      case 0x84: // EXT4
        a.n = this.w.buf.readUInt32LE(this.fixed(4));
        break;
      case 0x95: // FRAME
        a.n = this.u64(op);
        break;
      case 0x47: // BINFLOAT
        a.f = this.w.buf.readDoubleBE(this.fixed(8));
        break;
      case 0x8a: // LONG1
        this.takeOrSkip(a, this.w.buf[this.fixed(1)]!, 255, op);
        break;
      // Strings are decoded from the window in the second half of the step.
      case 0x55: // SHORT_BINSTRING
      case 0x8c: // SHORT_BINUNICODE
        this.takeOrSkip(a, this.w.buf[this.fixed(1)]!, 255, op, false);
        break;
      // Bytes are read only when they will be kept (bytesValue): past the
      // retention budget they are skipped by length, never sliced or copied.
      case 0x43: // SHORT_BINBYTES
        this.takeOrSkip(a, this.w.buf[this.fixed(1)]!, budget, op);
        break;
      case 0x8b: // LONG4
        // Python builds the int; its value never matters past 4096 bytes.
        this.takeOrSkip(
          a,
          this.w.buf.readInt32LE(this.fixed(4)),
          Math.min(keep, 4096),
          op,
        );
        break;
      case 0x54: // BINSTRING
        this.takeOrSkip(
          a,
          this.w.buf.readInt32LE(this.fixed(4)),
          keepAny,
          op,
          false,
        );
        break;
      case 0x58: // BINUNICODE
        this.takeOrSkip(
          a,
          this.w.buf.readUInt32LE(this.fixed(4)),
          keepAny,
          op,
          false,
        );
        break;
      case 0x42: // BINBYTES
        this.takeOrSkip(
          a,
          this.w.buf.readUInt32LE(this.fixed(4)),
          Math.min(keepAny, budget),
          op,
        );
        break;
      case 0x8d: // BINUNICODE8
        this.takeOrSkip(a, this.u64(op), keepAny, op, false);
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        this.takeOrSkip(a, this.u64(op), Math.min(keepAny, budget), op);
        break;
      case 0x63: // GLOBAL
      case 0x69: // INST
        a.s = this.decodeUtf8(this.line(), op);
        a.s2 = this.decodeUtf8(this.line(), op);
        break;
      default:
        break;
    }
    const end = this.cur;

    // Frame accounting: an opcode that straddles the end of a frame is read
    // differently by the C and Python unpicklers (threats.md §8).
    if (this.frameEnd !== undefined) {
      if (start >= this.frameEnd) this.frameEnd = undefined;
      else if (end > this.frameEnd) {
        this.anomaly({
          ruleId: 'PICKLE_FRAME_VIOLATION',
          severity: 'high',
          message: `opcode ${op} straddles the end of a frame`,
          offset: start,
          evidence: { opcode: op, frameEnd: this.frameEnd },
        });
        this.frameEnd = undefined;
      }
    }
    if (this.out.opcodes >= this.limits.maxOpcodes) {
      throw limitError(
        'maxPickleOpcodes',
        this.limits.maxOpcodes,
        `pickle data after ${this.limits.maxOpcodes} opcodes`,
      );
    }
    this.out.opcodes++;
    this.opsInStream++;
    this.pos = end;

    switch (code) {
      case 0x80: {
        // PROTO
        const proto = a.n;
        if (proto > 5)
          throw new StreamError(
            'PICKLE_MALFORMED',
            `unsupported pickle protocol ${proto}`,
            { protocol: proto },
          );
        if (this.opsInStream !== 1) {
          this.anomaly({
            ruleId: 'PICKLE_PROTO_MISPLACED',
            severity: 'medium',
            message: 'PROTO opcode after the start of the stream',
            offset: start,
            evidence: { protocol: proto },
          });
        }
        this.out.protocol = Math.max(this.out.protocol, proto);
        break;
      }
      case 0x95: {
        // FRAME
        const len = a.n;
        if (this.frameEnd !== undefined && start < this.frameEnd) {
          this.anomaly({
            ruleId: 'PICKLE_FRAME_VIOLATION',
            severity: 'high',
            message: 'new frame before the end of the current frame',
            offset: start,
          });
        }
        if (end + len > this.w.total) {
          this.anomaly({
            ruleId: 'PICKLE_FRAME_VIOLATION',
            severity: 'medium',
            message: 'frame length runs past the end of the data',
            offset: start,
            evidence: { length: len, available: this.w.total - end },
          });
        }
        this.frameEnd = end + len;
        break;
      }
      case 0x2e: {
        // STOP
        // A stream that stops before the end of its frame: pickle's own
        // writer never makes one. The next load from the same file starts
        // at the byte after STOP for the C unpickler on a buffered file,
        // and at the end of the frame for the Python unpickler and for the
        // C one on an in-memory file (torch.load(io.BytesIO(...)) of a
        // legacy file): two readings of what follows (stop 30).
        if (this.frameEnd !== undefined && end < this.frameEnd)
          this.anomaly({
            ruleId: 'PICKLE_FRAME_VIOLATION',
            severity: 'high',
            message: `the stream stops ${this.frameEnd - end} bytes before the end of its frame: loaders disagree on where the next pickle in the file starts`,
            offset: start,
            evidence: { frameEnd: this.frameEnd },
          });
        const v = this.pop(op);
        if (this.out.results.length < 1000) this.out.results.push(v);
        this.inStream = false;
        return 'stop';
      }
      case 0x28: // MARK
        if (this.stack.length + this.marks.length >= this.limits.maxStack)
          throw this.stackLimit();
        this.marks.push(this.stack.length);
        break;
      case 0x30: // POP
        if (
          this.stack.length > 0 &&
          (this.marks.length === 0 ||
            this.marks[this.marks.length - 1]! < this.stack.length)
        )
          this.stack.pop();
        else this.popMark(op);
        break;
      case 0x31: // POP_MARK
        this.popMark(op);
        break;
      case 0x32: // DUP
        this.push(this.top(op));
        break;
      case 0x4e: // NONE
        this.push(NONE);
        break;
      case 0x88: // NEWTRUE
        this.push(TRUE);
        break;
      case 0x89: // NEWFALSE
        this.push(FALSE);
        break;
      case 0x49: {
        // INT
        const s = a.b!.toString('latin1');
        if (s === '01') this.push(TRUE);
        else if (s === '00') this.push(FALSE);
        else this.push(intValue(this.lineInt(a.b!, op)));
        break;
      }
      case 0x4c: // LONG
        this.push(intValue(this.lineInt(a.b!, op)));
        break;
      case 0x4a: // BININT
      case 0x4b: // BININT1
      case 0x4d: // BININT2
        this.push(intValue(a.n));
        break;
      case 0x8a: // LONG1
      case 0x8b: // LONG4
        this.push(
          intValue(
            a.b === undefined || a.b.length > 4096 ? 0n : bigintFromLE(a.b),
          ),
        );
        break;
      case 0x46: {
        // FLOAT
        const f = Number(a.b!.toString('latin1').trim());
        this.push({ k: 'float', v: f });
        break;
      }
      case 0x47: // BINFLOAT
        this.push({ k: 'float', v: a.f });
        break;
      case 0x53: {
        // STRING
        const s = decodePythonStringLiteral(a.b!);
        if (s === undefined)
          throw new StreamError(
            'PICKLE_MALFORMED',
            'invalid string literal at STRING',
            { opcode: op },
          );
        this.push(this.strValue(s, a.b!.length, start));
        break;
      }
      case 0x54: // BINSTRING
      case 0x55: // SHORT_BINSTRING
        // Python 3 decodes these as str (encoding 'ASCII' by default, 'latin1' for numpy files).
        // A skipped (huge) string is a str of unknown content.
        this.push(
          a.skip === true
            ? UNKNOWN
            : this.strValue(this.text(a, 'latin1'), a.len, start),
        );
        break;
      case 0x56: // UNICODE
        this.push(
          this.strValue(decodeRawUnicodeEscape(a.b!), a.b!.length, start),
        );
        break;
      case 0x58: // BINUNICODE
      case 0x8c: // SHORT_BINUNICODE
      case 0x8d: // BINUNICODE8
        this.push(
          a.skip === true
            ? UNKNOWN
            : this.strValue(this.text(a, 'utf8'), a.len, start),
        );
        break;
      case 0x42: // BINBYTES
      case 0x43: // SHORT_BINBYTES
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        this.push(this.bytesValue(a.b, a.len, start, a.at));
        break;
      case 0x97: // NEXT_BUFFER
        this.anomaly(
          {
            ruleId: 'PICKLE_OUT_OF_BAND_BUFFER',
            severity: 'low',
            message: 'pickle refers to out-of-band buffers',
            offset: start,
          },
          'oob',
        );
        this.push({ k: 'buffer', offset: start });
        break;
      case 0x98: // READONLY_BUFFER
        this.top(op);
        break;
      case 0x29: // EMPTY_TUPLE
        this.push(EMPTY_TUPLE);
        break;
      case 0x74: // TUPLE
        this.push(tupleOf(this.popMark(op), this.arena));
        break;
      case 0x85: // TUPLE1
      case 0x86: // TUPLE2
      case 0x87: {
        // TUPLE3
        const items: PickleValue[] = [];
        for (let i = code - 0x84; i > 0; i--) items.unshift(this.pop(op));
        this.push({ k: 'tuple', items });
        break;
      }
      case 0x5d: // EMPTY_LIST
        this.push(new ListValue([]));
        break;
      case 0x6c: // LIST
        this.push(new ListValue(elementsOf(this.popMark(op), this.arena)));
        break;
      case 0x7d: // EMPTY_DICT
        this.push(new DictValue([]));
        break;
      case 0x64: // DICT
        this.push(new DictValue(elementsOf(this.popMarkFlat(op), this.arena)));
        break;
      case 0x8f: // EMPTY_SET
        this.push(new SetValue([], false));
        break;
      case 0x91: // FROZENSET
        this.push(new SetValue(elementsOf(this.popMark(op), this.arena), true));
        break;
      case 0x61: // APPEND
      case 0x65: {
        // APPENDS
        const items = op === 'APPEND' ? [this.pop(op)] : this.popMark(op);
        const t = this.top(op);
        if (t instanceof ListValue) t.append(items, this.arena);
        else if (t.k !== 'list') this.mutate(op, t, start);
        break;
      }
      case 0x73: // SETITEM
      case 0x75: {
        // SETITEMS
        const flat = op === 'SETITEM' ? this.popPair(op) : this.popMarkFlat(op);
        const t = this.top(op);
        if (t instanceof DictValue) t.set(flat, this.arena);
        else if (t.k !== 'dict') this.mutate(op, t, start);
        break;
      }
      case 0x90: {
        // ADDITEMS
        const items = this.popMark(op);
        const t = this.top(op);
        if (t instanceof SetValue && !t.frozen) t.append(items, this.arena);
        else if (t.k !== 'set' || t.frozen) this.mutate(op, t, start);
        break;
      }
      case 0x67: {
        // GET
        const idx = Number(this.lineInt(a.b!, op));
        this.push(this.memoGet(idx, op));
        break;
      }
      case 0x68: // BINGET
      case 0x6a: // LONG_BINGET
        this.push(this.memoGet(a.n, op));
        break;
      case 0x70: // PUT
        this.memoPut(Number(this.lineInt(a.b!, op)), op);
        break;
      case 0x71: // BINPUT
      case 0x72: // LONG_BINPUT
        this.memoPut(a.n, op);
        break;
      case 0x94: // MEMOIZE
        this.memoPut(this.memo.size, op);
        break;
      case 0x63: // GLOBAL
        this.push(this.global(a.s, a.s2, start, op));
        break;
      case 0x93: {
        // STACK_GLOBAL
        const name = this.pop(op);
        const module = this.pop(op);
        if (name.k !== 'str' || module.k !== 'str') {
          throw new StreamError(
            'PICKLE_MALFORMED',
            'STACK_GLOBAL operands are not strings',
            { opcode: op, module: module.k, name: name.k },
            'high',
          );
        }
        this.push(this.global(module.v, name.v, start, op));
        break;
      }
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: {
        // EXT4
        this.anomaly({
          ruleId: 'PICKLE_EXTENSION_CODE',
          severity: 'high',
          message: `copyreg extension code ${a.n} imports a global the scanner cannot see`,
          offset: start,
          evidence: { opcode: op, code: a.n },
        });
        this.push({ k: 'ext', code: a.n, offset: start });
        break;
      }
      case 0x50: // PERSID
      case 0x51: {
        // BINPERSID
        const id =
          op === 'PERSID'
            ? this.strValue(a.b!.toString('latin1'), a.b!.length, start)
            : this.pop(op);
        const v: Extract<PickleValue, { k: 'pid' }> = {
          k: 'pid',
          id,
          offset: start,
        };
        this.out.persistentIds.push({ value: v, stream: this.out.streams - 1 });
        this.push(v);
        break;
      }
      case 0x52: // REDUCE
      case 0x81: {
        // NEWOBJ
        const args = this.pop(op);
        const fn = this.pop(op);
        this.call(fn, args, code === 0x52 ? 'REDUCE' : 'NEWOBJ', start);
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        const kwargs = this.pop(op);
        const args = this.pop(op);
        const cls = this.pop(op);
        this.call(cls, args, 'NEWOBJ_EX', start, kwargs);
        break;
      }
      case 0x69: {
        // INST
        const items = this.popMark(op);
        const g = this.global(a.s, a.s2, start, op);
        this.call(g, tupleOf(items, this.arena), 'INST', start);
        break;
      }
      case 0x6f: {
        // OBJ
        this.checkMark(op);
        const items = this.popMark(op);
        const cls = items.shift();
        if (cls === undefined)
          throw new StreamError('PICKLE_MALFORMED', 'OBJ without a class', {
            opcode: op,
          });
        this.call(cls, tupleOf(items, this.arena), 'OBJ', start);
        break;
      }
      case 0x62: {
        // BUILD
        const reachable = this.stack.length - this.floor() >= 2;
        const peekState = reachable
          ? this.stack[this.stack.length - 1]
          : undefined;
        const peekTarget = reachable
          ? this.stack[this.stack.length - 2]
          : undefined;
        // Not inside a nested inline pickle: joblib reads that one with a
        // plain `pickle.load`, which reads no inline array after a BUILD
        // (stop 29 review); the hook would skip bytes the loader runs.
        const hook =
          peekState !== undefined &&
          peekTarget !== undefined &&
          this.saved.length === 0
            ? this.onBuild?.(peekTarget, peekState)
            : undefined;
        let padding = 0;
        if (
          hook !== undefined &&
          'skip' in hook &&
          hook.paddingByte === true &&
          end < this.w.total
        ) {
          // joblib writes one byte holding the alignment padding length; read it
          // before any state changes so that a window refill can retry the opcode.
          if (end >= this.w.base + this.w.buf.length) {
            this.pos = start;
            this.out.opcodes--;
            this.opsInStream--;
            throw this.needBytes(end + 1);
          }
          padding = 1 + this.w.buf[end - this.w.base]!;
        }
        const state = this.pop(op);
        const target = this.top(op);
        this.out.builds.push({
          target,
          state,
          offset: start,
          stream: this.out.streams - 1,
        });
        if (target.k === 'call') {
          if (target.states === NO_STATES) target.states = [state];
          else target.states.push(state);
        } else if (target.k !== 'dict' && target.k !== 'list')
          this.mutate(op, target, start);
        if (hook !== undefined) {
          if ('skip' in hook) {
            // The loader reads raw array bytes from the file right here (joblib).
            const skip = hook.skip + padding;
            if (this.pos + skip > this.w.total) {
              this.anomaly({
                ruleId: 'PICKLE_TRUNCATED',
                severity: 'medium',
                message: 'inline array data runs past the end of the file',
                offset: this.pos,
                evidence: {
                  declared: skip,
                  available: this.w.total - this.pos,
                },
              });
              this.pos = this.w.total;
            } else this.pos += skip;
            this.frameEnd = undefined;
          } else {
            // The loader reads a whole nested pickle inline (joblib object arrays).
            this.saved.push({
              stack: this.stack,
              marks: this.marks,
              memo: this.memo,
            });
            this.stack = [];
            this.marks = [];
            this.memo = new Memo(this.arena);
            this.frameEnd = undefined;
            this.opsInStream = 0;
          }
        }
        break;
      }
      default:
        throw new StreamError('PICKLE_MALFORMED', `unhandled opcode ${op}`);
    }
    return 'ok';
  }

  /** After an inline nested pickle reached STOP: restores the outer state. Returns true when it did. */
  resumeOuter(): boolean {
    const s = this.saved.pop();
    if (s === undefined) return false;
    const inner = this.out.results.pop() ?? UNKNOWN;
    this.stack = s.stack;
    this.marks = s.marks;
    this.memo = s.memo;
    this.inStream = true;
    this.opsInStream = 2;
    void inner;
    return true;
  }
}

/**
 * True when `b0 b1` is a `PROTO` opcode a loader accepts: Python's
 * `load_proto` takes any protocol from 0 to 5, though only protocols 2 and
 * up write one (a hand-made `PROTO 1` pickle loads all the same).
 */
export function protoHeader(
  b0: number | undefined,
  b1: number | undefined,
): boolean {
  return b0 === 0x80 && b1 !== undefined && b1 <= 5;
}

/**
 * True when `b0 b1` starts a pickle as `pickle.dumps` writes one
 * (`PROTO 2..5`): the marker searched for in junk between streams, where
 * `0x80 0x00` and `0x80 0x01` are common bytes of anything.
 */
function protoMarker(b0: number | undefined, b1: number | undefined): boolean {
  return protoHeader(b0, b1) && b1! >= 2;
}

/**
 * Most bytes read per window refill ({@link ReadSizer}), into two reused
 * buffers when the source can read into a buffer (a file: {@link WindowReader});
 * an operand kept whole that needs more is read into a buffer of its own. A
 * refill happens only when the next opcode runs past the window: operands
 * skipped by length are never read.
 */
const WINDOW = 1024 * 1024;

/**
 * Sizes window reads: {@link MIN_READ} after a jump, four times more for each
 * window read in order, up to {@link WINDOW}.
 */
class ReadSizer {
  /** The last window: `[start, end)`. */
  private start = 0;
  private end = 0;
  private size = MIN_READ;

  /**
   * Bytes to read for a window at `from`. In order: the next opcode starts
   * inside the last window or just past it (a short operand skipped by
   * length). Else the VM skipped a long operand: what follows may be skipped
   * as well (an array of large operands), so little is read.
   */
  next(from: number): number {
    const inOrder = from >= this.start && from < this.end + MIN_READ;
    this.size = inOrder ? Math.min(WINDOW, this.size * 4) : MIN_READ;
    return this.size;
  }

  /** Records the window read. */
  done(start: number, end: number): void {
    this.start = start;
    this.end = end;
  }
}

/**
 * Window buffers of finished analyses, reused by the next ones (a scan runs
 * the VM once per pickle: every member, nested payload and detection).
 */
const FREE_BLOCKS: Buffer[] = [];
const MAX_FREE_BLOCKS = 4;

/** First read after a jump (64 KiB); reads grow fourfold per window read in order, to {@link WINDOW}. */
const MIN_READ = 64 * 1024;

/** Bytes at the end of a window that the read-ahead reads again (an opcode straddling the end). */
const READ_AHEAD_OVERLAP = 16 * 1024;

/**
 * Window refills from a source that reads into buffers (a file): two
 * page-aligned buffers, the VM's window in one while the next window is read
 * ahead into the other. Nothing keeps a view of a window past the step that
 * reads it (kept operands are copied, strings decoded), so a buffer is
 * overwritten once the VM has moved to the other.
 */
class WindowReader {
  /** Both buffers: one page-aligned block, from {@link FREE_BLOCKS} when one is there. */
  private readonly block: Buffer;
  private readonly bufs: [Buffer, Buffer];
  /** The buffer holding the VM's window. */
  private cur = 0;
  /** Read in flight into the other buffer, at `base`. */
  private ahead: { base: number; n: Promise<number> } | undefined;
  private readonly sizer = new ReadSizer();

  constructor(
    private readonly readInto: (t: Buffer, o: number) => Promise<number>,
    private readonly total: number,
  ) {
    this.block = FREE_BLOCKS.pop() ?? alignedBuffer(2 * WINDOW);
    this.bufs = [this.block.subarray(0, WINDOW), this.block.subarray(WINDOW)];
  }

  /** A window starting at `from` that holds `[from, upTo)` (`upTo - from` at most {@link WINDOW}). */
  async load(from: number, upTo: number): Promise<Window> {
    const spare = this.bufs[1 - this.cur]!;
    const total = this.total;
    const size = this.sizer.next(from);
    // Out of order (after a long skipped operand), nothing is read ahead.
    const inOrder = size > MIN_READ;
    let window: Window | undefined;
    const ahead = this.ahead;
    this.ahead = undefined;
    if (ahead !== undefined) {
      const n = await ahead.n;
      const end = ahead.base + n;
      if (from >= ahead.base && Math.max(upTo, from + 1) <= end)
        window = {
          buf: spare.subarray(from - ahead.base, n),
          base: from,
          total,
          reused: true,
        };
    }
    if (window === undefined) {
      const len = Math.min(total - from, Math.max(size, upTo - from));
      const n =
        len <= 0 ? 0 : await this.readInto(spare.subarray(0, len), from);
      window = { buf: spare.subarray(0, n), base: from, total, reused: true };
    }
    this.cur = 1 - this.cur;
    const end = window.base + window.buf.length;
    this.sizer.done(window.base, end);
    if (inOrder && end < total && window.buf.length > READ_AHEAD_OVERLAP) {
      const base = end - READ_AHEAD_OVERLAP;
      const into = this.bufs[1 - this.cur]!;
      const n = this.readInto(
        into.subarray(0, Math.min(size, total - base)),
        base,
      );
      // Awaited by the next load or by release(); a failure surfaces there.
      n.catch(() => undefined);
      this.ahead = { base, n };
    }
    return window;
  }

  /**
   * Ends the reader: waits for a read still in flight (the source may be
   * closed after the analysis), then gives the buffers to the next analysis.
   */
  async release(): Promise<void> {
    const ahead = this.ahead;
    this.ahead = undefined;
    await ahead?.n.catch(() => undefined);
    if (FREE_BLOCKS.length < MAX_FREE_BLOCKS) FREE_BLOCKS.push(this.block);
  }
}

/**
 * A buffer of `bytes` starting on a page boundary (a WebAssembly memory):
 * the kernel copies file data into it several times faster than into the
 * malloc'd memory of `Buffer.allocUnsafe`, 16 bytes past one (performance.md).
 */
function alignedBuffer(bytes: number): Buffer {
  try {
    const pages = Math.ceil(bytes / 65536);
    const { WebAssembly: wasm } = globalThis as unknown as {
      WebAssembly: {
        Memory: new (d: { initial: number; maximum: number }) => {
          buffer: ArrayBuffer;
        };
      };
    };
    const mem = new wasm.Memory({ initial: pages, maximum: pages });
    return Buffer.from(mem.buffer, 0, bytes);
  } catch {
    return Buffer.allocUnsafeSlow(bytes);
  }
}
/** Chunk of junk searched at a time for the next stream. */
const RESYNC_CHUNK = 1024 * 1024;
/** Steps between two looks at the clock and the signal. */
const CHECK_EVERY = 0x3fff;
/** Longest run without giving the event loop a turn, in ms (timers, the engine's deadline). */
const YIELD_MS = 20;
/** Window refills of one analysis (each moves at least a window or an operand forward). */
const MAX_REFILLS = 1_000_000;

/**
 * Runs the VM over every stacked pickle of `source` from `options.start` to
 * the end (or `options.streamLimit` streams). Never throws on hostile data:
 * problems are anomalies of the returned analysis; a limit that stops the
 * analysis is a high `SCAN_INCOMPLETE` anomaly naming it. Reads through a
 * moving window of bounded size: operands longer than `maxKeptOperandBytes`,
 * raw data skipped by a hook and data after the last stream are not read.
 * Gives the event loop a turn every few milliseconds and stops when
 * `options.signal` is aborted (`aborted` is then set).
 */
export async function analysePickleSource(
  source: ByteSource,
  options: PickleAnalysisOptions = {},
): Promise<PickleAnalysis> {
  const limits: PickleVmLimits = {
    ...DEFAULT_PICKLE_VM_LIMITS,
    ...options.limits,
  };
  const total = source.size;
  const readInto = source.readInto?.bind(source);
  const reader =
    readInto === undefined ? undefined : new WindowReader(readInto, total);
  const sizer = new ReadSizer();
  const load = async (from: number, upTo: number): Promise<Window> => {
    if (reader !== undefined && upTo - from <= WINDOW)
      return reader.load(from, upTo);
    const len = Math.min(total - from, Math.max(sizer.next(from), upTo - from));
    const buf = await source.read(from, len);
    sizer.done(from, from + buf.length);
    return { buf, base: from, total };
  };
  try {
    return await runMachine(source, options, limits, load);
  } finally {
    await reader?.release();
  }
}

/** The driver of {@link analysePickleSource}, reading windows with `load`. */
async function runMachine(
  source: ByteSource,
  options: PickleAnalysisOptions,
  limits: PickleVmLimits,
  load: (from: number, upTo: number) => Promise<Window>,
): Promise<PickleAnalysis> {
  const start = options.start ?? 0;
  const total = source.size;
  const vm = new PickleMachine(
    await load(start, start),
    limits,
    options.onBuild,
    start,
    options.keepBytes,
    options.listBytes,
  );
  const callerStreams = options.streamLimit ?? Infinity;
  const streamLimit = Math.min(callerStreams, limits.maxStreams);
  const resync = options.resync ?? true;
  const signal = options.signal;
  let refills = 0;
  let steps = 0;
  let lastYield = Date.now();
  /** True when the analysis must stop now (signal); yields to the event loop first when due. */
  const stopRequested = async (): Promise<boolean> => {
    if (Date.now() - lastYield >= YIELD_MS) {
      await new Promise<void>((r) => setImmediate(r));
      lastYield = Date.now();
    }
    return signal?.aborted === true;
  };

  const peek = (at: number, n: number): Promise<Buffer> => source.read(at, n);

  outer: while (vm.pos < total) {
    if (signal?.aborted === true) {
      vm.out.aborted = true;
      break;
    }
    if (vm.out.streams >= streamLimit) {
      // The caller's own stream count is a format rule, not a limit.
      if (streamLimit < callerStreams)
        vm.incomplete(
          'pickleStreams',
          limits.maxStreams,
          `pickle data after ${limits.maxStreams} streams`,
          vm.pos,
        );
      break;
    }
    // Starting a stream: binary pickles open with PROTO; protocol 0/1 start with any opcode.
    vm.beginStream();
    const streamStart = vm.pos;
    let ok = true;
    /** The stream ran past the end of the data: a loader stops there. */
    let truncated = false;
    while (vm.streamOpen) {
      if ((++steps & CHECK_EVERY) === 0 && (await stopRequested())) {
        vm.out.aborted = true;
        vm.out.end = vm.pos;
        break outer;
      }
      try {
        const r = vm.step();
        if (r === 'stop' && vm.resumeOuter()) continue;
      } catch (e) {
        if (e instanceof NeedBytes) {
          if (++refills > MAX_REFILLS) {
            vm.abortStream(
              limitError(
                'pickleWindowRefills',
                MAX_REFILLS,
                `pickle data after ${MAX_REFILLS} window refills`,
              ),
              vm.pos,
            );
            vm.out.end = vm.pos;
            break outer;
          }
          vm.setWindow(await load(vm.pos, e.upTo));
          continue;
        }
        if (e instanceof StreamError) {
          // A stream that fails on its very first opcode is junk, not a pickle.
          vm.abortStream(e, vm.pos);
          if (e.ruleId === PICKLE_INCOMPLETE_RULE) {
            // A limit: nothing after this point was analysed.
            vm.out.end = vm.pos;
            break outer;
          }
          ok = false;
          truncated = e.ruleId === 'PICKLE_TRUNCATED';
          break;
        }
        throw e;
      }
    }
    vm.out.end = vm.pos;
    if (vm.pos >= total) break;
    if (vm.out.streams >= streamLimit) continue;
    // A caller that counts the streams (legacy torch files: five) has a
    // loader that calls pickle.load that many times: the next one starts
    // here whatever its first byte (CPython needs no PROTO), so it is read
    // here. A protocol 0 main pickle after the system info passed unscanned
    // (stop 30).
    if (ok && !resync && callerStreams !== Infinity) continue;
    // Find the next stream: immediately following, or after bounded junk.
    const next = await peek(vm.pos, 2);
    if (
      ok &&
      (protoHeader(next[0], next[1]) ||
        (pickleOpcodeName(next[0] ?? 0x100) !== undefined && next[0] !== 0x2e))
    ) {
      if (protoHeader(next[0], next[1])) continue;
      // A protocol 0/1 opcode byte: accept only when resync is on (junk otherwise).
      if (!resync) break;
      continue;
    }
    if (!resync) break;
    const from = ok ? vm.pos : Math.max(vm.opStart + 1, streamStart + 1);
    // Search the junk window by chunks (bounded memory) for the next `PROTO 2..5`.
    const searchEnd = Math.min(total, from + limits.maxResyncBytes);
    let found = -1;
    for (let at = from; found < 0 && at + 1 < searchEnd; at += RESYNC_CHUNK) {
      const chunk = await source.read(
        at,
        Math.min(RESYNC_CHUNK + 1, searchEnd - at),
      );
      for (
        let i = chunk.indexOf(0x80);
        i >= 0 && i + 1 < chunk.length;
        i = chunk.indexOf(0x80, i + 1)
      ) {
        if (protoMarker(chunk[i], chunk[i + 1])) {
          found = at + i;
          break;
        }
      }
      if (await stopRequested()) {
        vm.out.aborted = true;
        break outer;
      }
    }
    if (found >= 0) {
      if (found > vm.pos) {
        vm.anomaly(
          {
            ruleId: 'PICKLE_TRAILING_DATA',
            severity: 'low',
            message: 'bytes between pickle streams skipped',
            offset: Math.min(vm.pos, from),
            evidence: { length: found - vm.pos },
          },
          `junk@${vm.pos}`,
        );
      }
      vm.pos = found;
      vm.setWindow(await load(vm.pos, vm.pos));
      continue outer;
    }
    // After a truncated stream the rest is inside its last operand: no loader
    // executes it, so a search that stops early leaves nothing executable.
    if (searchEnd < total && !truncated) {
      vm.incomplete(
        'pickleResyncBytes',
        limits.maxResyncBytes,
        `${total - searchEnd} bytes after ${limits.maxResyncBytes} bytes of non-pickle data not searched for pickle streams`,
        searchEnd,
      );
    } else if (ok) {
      vm.anomaly({
        ruleId: 'PICKLE_TRAILING_DATA',
        severity: 'low',
        message: 'bytes after the last pickle stream',
        offset: vm.pos,
        evidence: { length: total - vm.pos },
      });
    }
    break;
  }
  return vm.out;
}
