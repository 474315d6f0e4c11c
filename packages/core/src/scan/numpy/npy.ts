// SPDX-License-Identifier: Apache-2.0
/**
 * NumPy `.npy` and `.npz` (threats.md §1.6). The header is a Python dict
 * literal, parsed with a strict literal tokenizer (never evaluated). An object
 * dtype (`|O`, or a structured dtype with an `O` field at any depth) means the
 * body is a pickle that `np.load(allow_pickle=True)` unpickles: it is scanned
 * as one. Otherwise `prod(shape) × itemsize` must match the bytes present.
 */
import type { ByteSource, FormatScanner, ScanContext } from '../types.js';
import { boundedProduct } from '../bounded-product.js';
import { scanPickleSource } from '../pickle/scanner.js';
import { bufferSource, sliceSource } from '../source.js';
import { readMemberForScan } from '../zip/read-member-for-scan.js';
import { reportZipAnomalies } from '../zip/report-zip-anomalies.js';
import { zipDirectoryOf } from '../zip/zip-directory-of.js';
import { isZipHead } from '../zip/reader.js';

/** A Python literal as the header tokenizer reads it. */
export type PyLiteral =
  | string
  | bigint
  | boolean
  | null
  | PyLiteral[]
  | { tuple: PyLiteral[] }
  | Map<string, PyLiteral>;

/**
 * Parses a Python literal (dicts with string keys, tuples, lists, strings,
 * integers, `True`, `False`, `None`). Returns `undefined` for anything else.
 */
export function parsePythonLiteral(
  text: string,
  maxDepth = 32,
): PyLiteral | undefined {
  let i = 0;
  const ws = (): void => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const value = (depth: number): PyLiteral | undefined => {
    if (depth > maxDepth) return undefined;
    ws();
    const c = text[i];
    if (c === undefined) return undefined;
    if (c === "'" || c === '"') {
      let j = i + 1;
      let s = '';
      while (j < text.length && text[j] !== c) {
        if (text[j] === '\\') {
          s += text[j + 1] ?? '';
          j += 2;
        } else s += text[j++];
      }
      if (j >= text.length) return undefined;
      i = j + 1;
      return s;
    }
    if (c === '{' || c === '(' || c === '[') {
      const close = c === '{' ? '}' : c === '(' ? ')' : ']';
      i++;
      const items: PyLiteral[] = [];
      const map = new Map<string, PyLiteral>();
      let sawComma = false;
      for (;;) {
        ws();
        if (text[i] === close) {
          i++;
          break;
        }
        if (c === '{') {
          const k = value(depth + 1);
          ws();
          if (typeof k !== 'string' || text[i] !== ':') return undefined;
          i++;
          const v = value(depth + 1);
          if (v === undefined) return undefined;
          map.set(k, v);
        } else {
          const v = value(depth + 1);
          if (v === undefined) return undefined;
          items.push(v);
        }
        ws();
        if (text[i] === ',') {
          sawComma = true;
          i++;
        } else if (text[i] !== close) return undefined;
      }
      if (c === '{') return map;
      if (c === '[') return items;
      // `(x)` without a comma is just x in Python.
      return items.length === 1 && !sawComma ? items[0]! : { tuple: items };
    }
    const m = /^(-?\d+|True|False|None)/.exec(text.slice(i, i + 40));
    if (m === null) return undefined;
    i += m[0].length;
    if (m[0] === 'True') return true;
    if (m[0] === 'False') return false;
    if (m[0] === 'None') return null;
    return BigInt(m[0]);
  };
  const v = value(0);
  ws();
  return i === text.length ? v : undefined;
}

function seq(v: PyLiteral | undefined): PyLiteral[] | undefined {
  if (Array.isArray(v)) return v;
  if (
    typeof v === 'object' &&
    v !== null &&
    !(v instanceof Map) &&
    'tuple' in v
  )
    return v.tuple;
  return undefined;
}

/** Whether a descr has an object field, and its item size when computable. */
export function describeDtype(
  descr: PyLiteral | undefined,
  depth = 0,
): { hasObject: boolean; itemsize?: number } | undefined {
  if (depth > 16) return undefined;
  if (typeof descr === 'string') {
    const m = /^[|<>=]?([a-zA-Z?])(\d*)(\[[a-zA-Z0-9]+\])?$/.exec(descr);
    if (m === null) return undefined;
    const kind = m[1]!;
    if (kind === 'O') return { hasObject: true };
    const n =
      m[2] === ''
        ? kind === '?' || kind === 'b'
          ? 1
          : undefined
        : Number(m[2]);
    if (n === undefined) return { hasObject: false };
    return { hasObject: false, itemsize: kind === 'U' ? n * 4 : n };
  }
  const fields = seq(descr);
  if (fields === undefined) return undefined;
  let hasObject = false;
  let size: number | undefined = 0;
  for (const f of fields) {
    const parts = seq(f);
    if (parts === undefined || parts.length < 2) return undefined;
    const sub = describeDtype(parts[1], depth + 1);
    if (sub === undefined) return undefined;
    hasObject ||= sub.hasObject;
    let count = 1;
    const shape =
      seq(parts[2]) ?? (typeof parts[2] === 'bigint' ? [parts[2]] : []);
    for (const d of shape) count *= typeof d === 'bigint' ? Number(d) : NaN;
    size =
      size !== undefined && sub.itemsize !== undefined && Number.isFinite(count)
        ? size + sub.itemsize * count
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
    const pre = await source.read(0, 12);
    const major = pre[6]!;
    const lenBytes = major === 1 ? 2 : 4;
    const headerStart = 8 + lenBytes;
    const bad = (
      message: string,
      evidence: Record<string, unknown> = {},
    ): void =>
      ctx.report({
        ruleId: 'NUMPY_HEADER_MALFORMED',
        severity: 'medium',
        message,
        offset: 0,
        evidence,
      });
    if (major < 1 || major > 3 || pre.length < headerStart)
      return bad(`unsupported npy version ${major}`, { major });
    const hlen = lenBytes === 2 ? pre.readUInt16LE(8) : pre.readUInt32LE(8);
    if (hlen > 1024 * 1024 || headerStart + hlen > source.size)
      return bad('npy header length runs past the file', {
        headerLength: hlen,
      });
    const text = (await source.read(headerStart, hlen)).toString(
      major === 3 ? 'utf8' : 'latin1',
    );
    const header = parsePythonLiteral(text);
    if (
      !(header instanceof Map) ||
      !header.has('descr') ||
      !header.has('shape') ||
      !header.has('fortran_order')
    ) {
      return bad(
        'npy header is not a dict with descr, fortran_order and shape',
      );
    }
    const dtype = describeDtype(header.get('descr'));
    const shape = seq(header.get('shape'));
    if (
      dtype === undefined ||
      shape === undefined ||
      shape.some((d) => typeof d !== 'bigint' || d < 0n)
    ) {
      return bad('npy header has an invalid descr or shape');
    }
    const body = headerStart + hlen;
    if (dtype.hasObject) {
      ctx.report({
        ruleId: 'NUMPY_OBJECT_ARRAY',
        severity: 'info',
        message:
          'object array: the body is a pickle (np.load with allow_pickle=True)',
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
        severity: 'medium',
        message: `header declares ${declared} data bytes, file holds ${actual}`,
        offset: body,
        evidence: {
          declared: expected === undefined ? `>${MAX_DATA_BYTES}` : declared,
          actual: actual.toString(),
        },
      });
    }
  },
};

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
      // Not stored in place, so inflated (or unreadable: reported).
      const data = await readMemberForScan(source, e, ctx);
      if (data === 'skip') continue;
      if (data === 'stop') return;
      await ctx.scanNested(bufferSource(data), e.name);
    }
  },
};
