// SPDX-License-Identifier: Apache-2.0
/**
 * Pre-1.6 PyTorch files (threats.md §1.1):
 *
 * - stacked: five pickles back to back (magic number, protocol version,
 *   system info, the object, the storage keys), then raw storage bytes;
 * - tar: members `sys_info`, `pickle`, `storages` and `tensors`, each of which
 *   `torch.load` unpickles when `weights_only=False`.
 *
 * Every pickle is scanned; raw storage bytes are skipped by their declared
 * length, never parsed as pickles.
 */
import type { ByteSource, FormatScanner, ScanContext } from '../types.js';
import { normaliseGlobal } from '../pickle/names.js';
import { detectBinaryPickle, scanPickleSource } from '../pickle/scanner.js';
import { analysePickleSource, type PickleValue } from '../pickle/vm.js';
import { reportIncomplete } from '../incomplete.js';
import { bufferSource } from '../source.js';
import { listTarMembers } from '../archive/tar-scanner.js';
import { checkTorchTensors } from './zip-scanner.js';

/** The magic number `torch.save` writes first in legacy files. */
export const TORCH_LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

/** Detects a legacy stacked file: its first pickle is the magic number. */
export async function detectTorchLegacy(head: Buffer): Promise<boolean> {
  if (!detectBinaryPickle(head)) return false;
  const a = await analysePickleSource(bufferSource(head), {
    streamLimit: 1,
    resync: false,
    limits: { maxOpcodes: 64 },
  });
  const r = a.results[0];
  return r?.k === 'int' && r.v === TORCH_LEGACY_MAGIC;
}

/** Legacy stacked PyTorch files. */
export const TORCH_LEGACY_SCANNER: FormatScanner = {
  id: 'pytorch-legacy',
  detect: (head: Buffer): Promise<boolean> => detectTorchLegacy(head),
  async scan(source: ByteSource, ctx: ScanContext): Promise<void> {
    ctx.recognise('pytorch-legacy');
    ctx.recognise('pickle');
    ctx.report({
      ruleId: 'TORCH_LEGACY_FORMAT',
      severity: 'info',
      message: 'legacy (pre-1.6) PyTorch file: stacked pickles',
    });
    // Five pickles, then raw storages that are not pickles: no resynchronisation.
    const analysis = await scanPickleSource(source, ctx, {
      streamLimit: 5,
      resync: false,
    });
    const keys = analysis.results[4];
    if (analysis.results.length < 5 || keys?.k !== 'list') return;
    // Each storage follows in key order: an int64 element count, then the data.
    // Nothing after the key list is unpickled (threats.md §1.1): the walk only
    // checks storage bounds.
    const elementSizes = new Map<string, number | undefined>();
    for (const { value } of analysis.persistentIds) {
      if (value.id.k !== 'tuple') continue;
      const [, type, key] = value.id.items;
      if (key?.k === 'str') elementSizes.set(key.v, stackedElementSize(type));
    }
    const records = new Map<string, number>();
    let pos = analysis.end;
    const keyList = keys.items.slice(0, 100_000);
    for (let i = 0; i < keyList.length; i++) {
      const k = keyList[i]!;
      if (k.k !== 'str') return;
      const head = await source.read(pos, 8);
      if (head.length < 8) break;
      const numel = head.readBigInt64LE(0);
      const size = elementSizes.has(k.v) ? elementSizes.get(k.v) : 1;
      if (size === undefined) {
        // Unknown element size: the later storages cannot be located, and
        // their bounds are not checked (they are never unpickled).
        reportIncomplete(ctx, {
          limit: 'legacy-storage-type',
          message: `legacy storage data from storage ${k.v} on (unknown storage type)`,
          offset: pos,
          severity: 'medium',
          evidence: { key: k.v },
        });
        for (const rest of keyList.slice(i))
          if (rest.k === 'str' && !records.has(rest.v))
            records.set(rest.v, Number.MAX_SAFE_INTEGER);
        break;
      }
      const bytes = numel * BigInt(size);
      const available = BigInt(source.size - pos - 8);
      if (numel < 0n || bytes > available) {
        ctx.report({
          ruleId: 'TORCH_STORAGE_OOB',
          severity: 'critical',
          message: `legacy storage ${k.v} declares ${bytes} bytes, the file holds ${available}`,
          offset: pos,
          evidence: { key: k.v, numel: numel.toString() },
        });
        return;
      }
      records.set(k.v, Number(bytes));
      pos += 8 + Number(bytes);
    }
    checkTorchTensors(analysis, records, ctx, []);
  },
};

function tarString(b: Buffer): string {
  const nul = b.indexOf(0);
  return (nul < 0 ? b : b.subarray(0, nul)).toString('utf8');
}

const LEGACY_TAR_MEMBERS = new Set([
  'sys_info',
  'pickle',
  'storages',
  'tensors',
]);

/** Detects a legacy torch tar: a ustar header whose first member is one of torch's. */
export function detectTorchLegacyTar(head: Buffer): boolean {
  if (
    head.length < 512 ||
    head.subarray(257, 262).toString('latin1') !== 'ustar'
  )
    return false;
  return LEGACY_TAR_MEMBERS.has(tarString(head.subarray(0, 100)));
}

/** Element sizes of the legacy storage classes torch (and torch.cuda) define. */
const LEGACY_STORAGE_SIZES: ReadonlyMap<string, number> = new Map([
  ['DoubleStorage', 8],
  ['FloatStorage', 4],
  ['HalfStorage', 2],
  ['BFloat16Storage', 2],
  ['LongStorage', 8],
  ['IntStorage', 4],
  ['ShortStorage', 2],
  ['CharStorage', 1],
  ['ByteStorage', 1],
  ['BoolStorage', 1],
  ['ComplexFloatStorage', 8],
  ['ComplexDoubleStorage', 16],
  ['QInt8Storage', 1],
  ['QUInt8Storage', 1],
  ['QInt32Storage', 4],
  ['QUInt4x2Storage', 1],
  ['QUInt2x4Storage', 1],
]);

/** Element sizes of the dtypes a `TypedStorage(dtype=...)` may carry. */
const DTYPE_SIZES: ReadonlyMap<string, number> = new Map([
  ['float64', 8],
  ['double', 8],
  ['float32', 4],
  ['float', 4],
  ['float16', 2],
  ['half', 2],
  ['bfloat16', 2],
  ['int64', 8],
  ['long', 8],
  ['int32', 4],
  ['int', 4],
  ['int16', 2],
  ['short', 2],
  ['int8', 1],
  ['uint8', 1],
  ['uint16', 2],
  ['uint32', 4],
  ['uint64', 8],
  ['bool', 1],
  ['complex32', 4],
  ['chalf', 4],
  ['complex64', 8],
  ['cfloat', 8],
  ['complex128', 16],
  ['cdouble', 16],
  ['qint8', 1],
  ['quint8', 1],
  ['qint32', 4],
  ['quint4x2', 1],
  ['quint2x4', 1],
  ['float8_e4m3fn', 1],
  ['float8_e5m2', 1],
  ['float8_e4m3fnuz', 1],
  ['float8_e5m2fnuz', 1],
]);

const STORAGE_MODULES = new Set(['torch', 'torch.cuda', 'torch.storage']);

function canonicalOf(v: Extract<PickleValue, { k: 'global' }>): {
  module: string;
  name: string;
} {
  const c = normaliseGlobal(v.module, v.name).canonical;
  const dot = c.lastIndexOf('.');
  return { module: c.slice(0, dot), name: c.slice(dot + 1) };
}

/**
 * Element size of a storage type in a legacy `storages` record, as
 * `torch._utils._element_size(storage_type._dtype)` gives it: the legacy
 * storage classes of `torch` and `torch.cuda`, `UntypedStorage` (bytes) and
 * a `TypedStorage` built with a `dtype`. Undefined for anything else: the
 * walk cannot know how many bytes torch reads.
 */
export function legacyStorageElementSize(
  v: PickleValue | undefined,
): number | undefined {
  if (v?.k === 'global') {
    const { module, name } = canonicalOf(v);
    if (!STORAGE_MODULES.has(module)) return undefined;
    if (name === 'UntypedStorage') return 1;
    return module === 'torch.storage'
      ? undefined
      : LEGACY_STORAGE_SIZES.get(name);
  }
  if (v?.k === 'call' && v.fn.k === 'global') {
    const { module, name } = canonicalOf(v.fn);
    if (
      name !== 'TypedStorage' ||
      (module !== 'torch' && module !== 'torch.storage')
    )
      return undefined;
    const dtype =
      v.kwargs?.k === 'dict'
        ? v.kwargs.entries.find(([k]) => k.k === 'str' && k.v === 'dtype')?.[1]
        : undefined;
    if (dtype?.k !== 'global') return undefined;
    const d = canonicalOf(dtype);
    return d.module === 'torch' ? DTYPE_SIZES.get(d.name) : undefined;
  }
  return undefined;
}

/**
 * Element size of a storage type in a stacked file's persistent id: torch's
 * unpickler maps any global whose name holds `Storage` to its storage type by
 * the name alone (`torch.cuda.FloatStorage` is a `FloatStorage`).
 */
function stackedElementSize(v: PickleValue | undefined): number | undefined {
  if (v?.k !== 'global') return undefined;
  const { name } = canonicalOf(v);
  return LEGACY_STORAGE_SIZES.get(name) ?? legacyStorageElementSize(v);
}

/** Values that are never an integer to `range()`. */
const NOT_INTEGERS: ReadonlySet<PickleValue['k']> = new Set([
  'none',
  'float',
  'str',
  'bytes',
  'tuple',
  'list',
  'dict',
  'set',
]);

/** Records of a legacy `storages` or `tensors` member scanned. */
const MAX_LEGACY_RECORDS = 1_000_000;

/**
 * Scans a legacy `storages` or `tensors` member as `legacy_load` reads it: a
 * count pickle, then per item a pickle followed by raw bytes whose length the
 * loader computes; in `storages`, one more pickle after the last record (the
 * storage views). Where the records cannot be followed exactly to that
 * pickle, the member is reported not fully scanned (high).
 */
async function scanRecords(
  member: ByteSource,
  ctx: ScanContext,
  name: string,
): Promise<void> {
  const storages = name === 'storages';
  const cannotFollow = (
    offset: number,
    why: string,
    evidence: Record<string, unknown> = {},
  ): void => {
    // Only `storages` has a pickle after its records.
    if (!storages) return;
    reportIncomplete(ctx, {
      limit: 'legacy-records',
      message: `storage views pickle after the storage records (${why})`,
      member: [name],
      offset,
      evidence,
    });
  };
  const first = await scanPickleSource(member, ctx, {
    streamLimit: 1,
    resync: false,
    member: [name],
  });
  let pos = first.end;
  const countV = first.results[0];
  // range(n): a negative count is no record; a bool counts as 0 or 1.
  let declared: bigint;
  if (countV?.k === 'int') declared = countV.v < 0n ? 0n : countV.v;
  else if (countV?.k === 'bool') declared = countV.v ? 1n : 0n;
  else {
    // A value range() refuses: torch stops here. Anything the scanner does
    // not evaluate (a call, a global, a pickle it could not parse) may be an
    // int to torch.
    if (
      (countV !== undefined && NOT_INTEGERS.has(countV.k)) ||
      (countV === undefined && member.size === 0)
    )
      return;
    cannotFollow(first.end, 'the record count is not a literal integer');
    return;
  }
  const count = Number(
    declared < BigInt(MAX_LEGACY_RECORDS) ? declared : MAX_LEGACY_RECORDS,
  );
  let i = 0;
  for (; i < count && pos < member.size; i++) {
    if (ctx.signal?.aborted === true) return;
    const a = await scanPickleSource(member, ctx, {
      streamLimit: 1,
      resync: false,
      member: [name],
      start: pos,
    });
    // An aborted scan is reported by the engine; a record that does not parse
    // is one the walk cannot step over.
    if (a.aborted) return;
    if (a.results.length === 0) {
      cannotFollow(pos, `record ${i} does not parse`, { record: i });
      return;
    }
    const recordAt = pos;
    pos = a.end;
    const r = a.results[0]!;
    if (storages) {
      // (key, location, storage_type), then an int64 numel and the data.
      const items = r.k === 'tuple' || r.k === 'list' ? r.items : undefined;
      if (items?.length !== 3) {
        cannotFollow(recordAt, `record ${i} is not (key, location, type)`, {
          record: i,
        });
        return;
      }
      const size = legacyStorageElementSize(items[2]);
      if (size === undefined) {
        const t = items[2];
        cannotFollow(recordAt, `record ${i} has an unknown storage type`, {
          record: i,
          storageType:
            t?.k === 'global'
              ? normaliseGlobal(t.module, t.name).canonical
              : t?.k,
        });
        return;
      }
      const numel = await member.read(pos, 8);
      if (numel.length < 8) return;
      const n = numel.readBigInt64LE(0);
      const bytes = n * BigInt(size);
      if (n < 0n || BigInt(pos + 8) + bytes > BigInt(member.size)) {
        ctx.report({
          ruleId: 'TORCH_STORAGE_OOB',
          severity: 'critical',
          message: `legacy storage declares ${bytes} bytes beyond the member`,
          member: [name],
          offset: pos,
          evidence: { numel: n.toString() },
        });
        return;
      }
      pos += 8 + Number(bytes);
    } else {
      // (key, storage_id, tensor_type), then ndim, 4 bytes, sizes, strides, storage offset.
      const hdr = await member.read(pos, 8);
      if (hdr.length < 8) return;
      const ndim = hdr.readInt32LE(0);
      // torch reads any ndim; struct.unpack fails (and torch stops) when the bytes run out.
      if (ndim < 0 || pos + 16 + 16 * ndim > member.size) return;
      pos += 8 + 16 * ndim + 8;
    }
  }
  if (i === MAX_LEGACY_RECORDS && declared > BigInt(i) && pos < member.size) {
    // torch unpickles one record per declared item: the rest were not scanned.
    reportIncomplete(ctx, {
      limit: 'legacyRecords',
      value: MAX_LEGACY_RECORDS,
      message: `${name} records after the first ${MAX_LEGACY_RECORDS}`,
      member: [name],
      offset: pos,
      evidence: { declared: declared.toString() },
    });
    return;
  }
  // Fewer records than declared: torch fails on the missing one and reads no
  // further. Otherwise `storage_views = pickle_module.load(f)` comes next.
  if (storages && i === count && pos < member.size) {
    await scanPickleSource(member, ctx, { member: [name], start: pos });
  }
}

/** Legacy PyTorch tar files. */
export const TORCH_LEGACY_TAR_SCANNER: FormatScanner = {
  id: 'pytorch-legacy-tar',
  detect: (head: Buffer): boolean => detectTorchLegacyTar(head),
  async scan(source: ByteSource, ctx: ScanContext): Promise<void> {
    // The shared tar reader reads members as tarfile (torch.load) does.
    const members = await listTarMembers(source, ctx);
    ctx.recognise('pytorch-legacy-tar');
    ctx.recognise('pickle');
    ctx.report({
      ruleId: 'TORCH_LEGACY_FORMAT',
      severity: 'info',
      message:
        'legacy PyTorch tar file: all members are unpickled by torch.load',
    });
    for (const m of members) {
      const src = m.source;
      if (m.name === 'storages' || m.name === 'tensors')
        await scanRecords(src, ctx, m.name);
      else if (m.name === 'pickle' || m.name === 'sys_info')
        await scanPickleSource(src, ctx, { member: [m.name] });
      else await ctx.scanNested(src, m.name);
    }
  },
};
