// SPDX-License-Identifier: Apache-2.0
/**
 * NumPy `.npy` and `.npz` (threats.md §1.6). The header is a Python dict
 * literal, read as `ast.literal_eval` reads it (never evaluated; see
 * py-literal.ts). An object dtype (`|O`, or a structured dtype with an `O`
 * field at any depth, however spelled) means the body is a pickle that
 * `np.load(allow_pickle=True)` unpickles: it is always scanned as one.
 * Otherwise `prod(shape) × itemsize` must match the bytes present.
 */
import type { ByteSource, FormatScanner, ScanContext } from '../types.js';
import { readRange } from '../archive/byte-source.js';
import { boundedProduct } from '../bounded-product.js';
import { scanPickleSource } from '../pickle/scanner.js';
import { sliceSource } from '../source.js';
import { openMemberForScan } from '../zip/read-member-for-scan.js';
import { reportZipAnomalies } from '../zip/report-zip-anomalies.js';
import { zipDirectoryOf } from '../zip/zip-directory-of.js';
import { isZipHead } from '../zip/reader.js';
import { reportIncomplete } from '../incomplete.js';
import {
  isTuple,
  readPythonLiteral,
  sequenceOf,
  type PyLiteral,
} from './py-literal.js';

export type { PyLiteral } from './py-literal.js';

/**
 * Parses a Python literal the way `ast.literal_eval` reads a `.npy` header.
 * Returns `undefined` for anything else (see {@link readPythonLiteral}).
 */
export function parsePythonLiteral(
  text: string,
  maxDepth = 200,
): PyLiteral | undefined {
  const r = readPythonLiteral(text, { maxDepth });
  return r.ok ? r.value : undefined;
}

/** What a descr says: an object field anywhere, and the item size when known. */
export interface DtypeInfo {
  /**
   * True when an object field is certain, `'unknown'` when numpy may build
   * one from a descr this reader cannot follow exactly (then the body is
   * treated as a pickle).
   */
  hasObject: boolean | 'unknown';
  itemsize?: number;
}

/** A shape given as an int or a tuple of ints: its element count, or undefined. */
function countOf(shape: PyLiteral | undefined): number | undefined {
  const dims =
    typeof shape === 'bigint' ? [shape] : isTuple(shape) ? shape.tuple : [];
  if (typeof shape !== 'bigint' && !isTuple(shape)) return undefined;
  let n = 1;
  for (const d of dims) {
    if (typeof d !== 'bigint' || d < 0n) return undefined;
    n *= Number(d);
  }
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Type codes of plain data (no Python object), as a dtype string's first
 * letter: kinds (`b i u f c m M S a U V`) and the single-character codes
 * of `np.sctypeDict`.
 */
const PLAIN_KINDS: ReadonlySet<string> = new Set(
  '?bBhHiIlLqQpPefdgFDGSaUVmMuc'.split(''),
);

/**
 * Follows `descr` the way numpy's `descr_to_dtype` does: a string is a dtype
 * spec; a tuple is (base, shape); anything else is iterated as fields, each
 * (name, descr) or (name, descr, shape). Returns undefined when numpy refuses
 * it for certain.
 */
export function describeDtype(
  descr: PyLiteral | undefined,
  depth = 0,
): DtypeInfo | undefined {
  if (depth > 32) return { hasObject: 'unknown' };
  if (typeof descr === 'string') {
    // The type code `O` (alone, sized, in a comma list or a subarray) or the
    // name `object` holds Python objects; so does NumPy 2's variable-width
    // string `T` (StringDType: `hasobject` is true, and `np.load` unpickles
    // the body, stop 29 red team).
    if (/O|object|T/.test(descr)) return { hasObject: true };
    const m = /^[|<>=]?([a-zA-Z?])(\d*)(\[[a-zA-Z0-9]+\])?$/.exec(descr);
    // Any other form (a type name, a comma list, a code not listed below)
    // is not followed here: its body is scanned as a pickle (fail closed).
    if (m === null) return { hasObject: 'unknown' };
    const kind = m[1]!;
    if (!PLAIN_KINDS.has(kind)) return { hasObject: 'unknown' };
    const n =
      m[2] === ''
        ? kind === '?' || kind === 'b'
          ? 1
          : undefined
        : Number(m[2]);
    if (n === undefined) return { hasObject: false };
    return { hasObject: false, itemsize: kind === 'U' ? n * 4 : n };
  }
  if (isTuple(descr)) {
    // (base, shape): only the first two items are read.
    if (descr.tuple.length < 2) return undefined;
    const base = describeDtype(descr.tuple[0], depth + 1);
    if (base === undefined) return undefined;
    const n = countOf(descr.tuple[1]);
    return base.itemsize !== undefined && n !== undefined
      ? { hasObject: base.hasObject, itemsize: base.itemsize * n }
      : { hasObject: base.hasObject };
  }
  let fields: PyLiteral[];
  if (Array.isArray(descr)) fields = descr;
  else if (descr instanceof Map) fields = [...descr.keys()];
  else if (typeof descr === 'object' && descr !== null && 'bytes' in descr)
    // Iterating bytes gives ints, which numpy cannot unpack as fields.
    return descr.bytes === '' ? { hasObject: false, itemsize: 0 } : undefined;
  else if (
    typeof descr === 'object' &&
    descr !== null &&
    ('dict' in descr || 'set' in descr)
  )
    // Iterated as fields in an order (sets) or of a kind (non-str keys)
    // not followed here.
    return { hasObject: 'unknown' };
  else return undefined;
  let hasObject: boolean | 'unknown' = false;
  let size: number | undefined = 0;
  for (const f of fields) {
    // A field is unpacked: a str of 2 or 3 characters unpacks too.
    const parts = typeof f === 'string' ? [...f] : (sequenceOf(f) ?? undefined);
    if (parts === undefined) {
      if (typeof f === 'object' && f !== null) return { hasObject: 'unknown' };
      return undefined;
    }
    if (parts.length !== 2 && parts.length !== 3) return undefined;
    const sub = describeDtype(parts[1], depth + 1);
    if (sub === undefined) return undefined;
    if (sub.hasObject === true) hasObject = true;
    else if (sub.hasObject === 'unknown' && hasObject === false)
      hasObject = 'unknown';
    const n = parts.length === 3 ? countOf(parts[2]) : 1;
    size =
      size !== undefined && sub.itemsize !== undefined && n !== undefined
        ? size + sub.itemsize * n
        : undefined;
  }
  return size === undefined ? { hasObject } : { hasObject, itemsize: size };
}

/** Declared array sizes above this are not computed: no file holds such an array. */
const MAX_DATA_BYTES = 2n ** 128n;

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);

/** True when the head starts with the `.npy` magic. */
export function isNpyHead(head: Buffer): boolean {
  return head.length >= 10 && head.subarray(0, 6).equals(MAGIC);
}

/** `.npy` files. */
export const NPY_SCANNER: FormatScanner = {
  id: 'numpy-npy',
  detect: (head: Buffer): boolean => isNpyHead(head),
  async scan(source: ByteSource, ctx: ScanContext): Promise<void> {
    ctx.recognise('numpy-npy');
    await scanNpy(source, ctx);
  },
};

/** The header keys numpy requires, exactly. */
const EXPECTED_KEYS = ['descr', 'fortran_order', 'shape'];
/** Values in one header before it is not read (real headers hold a handful). */
const MAX_HEADER_VALUES = 1_000_000;

/**
 * Reads a `.npy` the way `numpy.lib.format.read_array` does: versions 1.0,
 * 2.0 and 3.0 (a 2- or 4-byte header length; latin-1, or UTF-8 for 3.0), a
 * Python literal dict with exactly `descr`, `fortran_order` (a bool) and
 * `shape` (a tuple of ints), Python 2 `L` suffixes dropped for 1.0 and 2.0.
 * What numpy refuses is a high NUMPY_HEADER_MALFORMED; an object dtype (or
 * one this reader cannot follow) has its body scanned as a pickle.
 */
async function scanNpy(source: ByteSource, ctx: ScanContext): Promise<void> {
  const bad = (message: string, evidence: Record<string, unknown> = {}): void =>
    ctx.report({
      ruleId: 'NUMPY_HEADER_MALFORMED',
      severity: 'high',
      message,
      offset: 0,
      evidence,
    });
  const pre = await source.read(0, 12);
  const major = pre[6]!;
  const minor = pre[7];
  if (major < 1 || major > 3 || minor !== 0)
    return bad(`unsupported npy version ${major}.${minor ?? '?'}`, {
      major,
      minor,
    });
  const lenBytes = major === 1 ? 2 : 4;
  const headerStart = 8 + lenBytes;
  if (pre.length < headerStart)
    return bad('npy file ends inside its header length');
  const hlen = lenBytes === 2 ? pre.readUInt16LE(8) : pre.readUInt32LE(8);
  if (headerStart + hlen > source.size)
    return bad('npy header length runs past the file', { headerLength: hlen });
  if (hlen > ctx.limits.maxMemberBytes) {
    // numpy reads any header length when allow_pickle is set.
    reportIncomplete(ctx, {
      limit: 'maxMemberBytes',
      value: ctx.limits.maxMemberBytes,
      message: `npy header of ${hlen} bytes not read`,
    });
    return;
  }
  const raw = await readRange(source, headerStart, hlen);
  let text: string;
  try {
    text =
      major === 3
        ? new TextDecoder('utf-8', { fatal: true }).decode(raw)
        : raw.toString('latin1');
  } catch {
    return bad('npy 3.0 header is not valid utf-8');
  }
  let parsed = readPythonLiteral(text, { maxValues: MAX_HEADER_VALUES });
  // numpy retries versions 1.0 and 2.0 without Python 2 `L` suffixes.
  if (!parsed.ok && !parsed.tooBig && major <= 2)
    parsed = readPythonLiteral(text, {
      maxValues: MAX_HEADER_VALUES,
      python2Longs: true,
    });
  if (!parsed.ok) {
    if (parsed.tooBig) {
      reportIncomplete(ctx, {
        limit: 'npy-header-values',
        value: MAX_HEADER_VALUES,
        message: `npy header with more than ${MAX_HEADER_VALUES} values not read`,
      });
      return;
    }
    return bad('npy header is not a python literal', {
      reason: parsed.reason,
    });
  }
  const header = parsed.value;
  if (
    !(header instanceof Map) ||
    header.size !== EXPECTED_KEYS.length ||
    !EXPECTED_KEYS.every((k) => header.has(k))
  ) {
    return bad(
      'npy header is not a dict with exactly descr, fortran_order and shape',
    );
  }
  const shapeValue = header.get('shape');
  // bool is an int in Python: (True, 3) is a valid shape.
  const shape = isTuple(shapeValue)
    ? shapeValue.tuple.map((d) => (typeof d === 'boolean' ? (d ? 1n : 0n) : d))
    : undefined;
  if (shape === undefined || shape.some((d) => typeof d !== 'bigint' || d < 0n))
    return bad('npy shape is not a tuple of non-negative ints');
  if (typeof header.get('fortran_order') !== 'boolean')
    return bad('npy fortran_order is not a bool');
  const dtype = describeDtype(header.get('descr'));
  if (dtype === undefined) return bad('npy descr is not a dtype numpy reads');
  const body = headerStart + hlen;
  if (dtype.hasObject !== false || parsed.uncertain) {
    ctx.report({
      ruleId: 'NUMPY_OBJECT_ARRAY',
      severity: 'info',
      message:
        dtype.hasObject === true
          ? 'object array: the body is a pickle (np.load with allow_pickle=True)'
          : 'dtype not followed exactly: the body is scanned as a pickle',
      offset: body,
    });
    ctx.recognise('pickle');
    await scanPickleSource(source, ctx, { start: body });
    return;
  }
  if (dtype.itemsize === undefined) return;
  const expected = boundedProduct(
    [dtype.itemsize, ...(shape as bigint[])],
    MAX_DATA_BYTES,
  );
  const actual = BigInt(source.size - body);
  if (expected !== actual) {
    const declared =
      expected === undefined
        ? `more than ${MAX_DATA_BYTES}`
        : expected.toString();
    ctx.report({
      ruleId: 'NUMPY_SIZE_MISMATCH',
      severity: 'high',
      message: `header declares ${declared} data bytes, file holds ${actual}`,
      offset: body,
      evidence: {
        declared: expected === undefined ? `>${MAX_DATA_BYTES}` : declared,
        actual: actual.toString(),
      },
    });
  }
}

/** `.npz` archives: zips whose every member is a `.npy`; each member is scanned as one. */
export const NPZ_SCANNER: FormatScanner = {
  id: 'numpy-npz',
  async detect(head: Buffer, source: ByteSource): Promise<boolean> {
    if (!isZipHead(head)) return false;
    const dir = await zipDirectoryOf(source);
    return (
      dir !== undefined &&
      dir.entries.length > 0 &&
      dir.entries.every((e) => e.name.endsWith('.npy'))
    );
  },
  async scan(source: ByteSource, ctx: ScanContext): Promise<void> {
    const dir = await zipDirectoryOf(source);
    if (dir === undefined) return;
    ctx.recognise('numpy-npz');
    reportZipAnomalies(ctx, dir.anomalies);
    for (const e of dir.entries) {
      if (ctx.signal?.aborted) return;
      if (e.method === 0 && e.dataOffset !== undefined) {
        // Stored members are scanned in place: large arrays are never read.
        await ctx.scanNested(
          sliceSource(source, e.dataOffset, e.compressedSize),
          e.name,
        );
        continue;
      }
      // Not stored in place, so inflated, past maxMemberBytes as a bounded stream (or unreadable: reported).
      const member = await openMemberForScan(source, e, ctx);
      if (member === 'skip') continue;
      if (member === 'stop') return;
      try {
        await ctx.scanNested(member.source, e.name);
      } finally {
        await member.close();
      }
    }
  },
};
