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
import {
  TORCH_STORAGE_ELEMENT_SIZES,
  checkTorchTensors,
} from './zip-scanner.js';

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
    const elementSizes = new Map<string, number>();
    for (const { value } of analysis.persistentIds) {
      if (value.id.k !== 'tuple') continue;
      const [, type, key] = value.id.items;
      if (key?.k === 'str') elementSizes.set(key.v, elementSizeOf(type));
    }
    const records = new Map<string, number>();
    let pos = analysis.end;
    for (const k of keys.items.slice(0, 100_000)) {
      if (k.k !== 'str') return;
      const head = await source.read(pos, 8);
      if (head.length < 8) break;
      const numel = head.readBigInt64LE(0);
      const bytes = numel * BigInt(elementSizes.get(k.v) ?? 1);
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

function elementSizeOf(v: PickleValue | undefined): number {
  if (v?.k !== 'global') return 1;
  const m = /^torch\.([A-Za-z0-9_]+)$/.exec(
    normaliseGlobal(v.module, v.name).canonical,
  );
  return (m !== null ? TORCH_STORAGE_ELEMENT_SIZES[m[1]!] : undefined) ?? 1;
}

/** Records of a legacy `storages` or `tensors` member scanned. */
const MAX_LEGACY_RECORDS = 1_000_000;

/**
 * Scans a legacy `storages` or `tensors` member: a count pickle, then per
 * item a pickle followed by raw bytes whose length the loader computes.
 */
async function scanRecords(
  member: ByteSource,
  ctx: ScanContext,
  name: string,
): Promise<void> {
  const first = await scanPickleSource(member, ctx, {
    streamLimit: 1,
    resync: false,
    member: [name],
  });
  let pos = first.end;
  const countV = first.results[0];
  const declared = countV?.k === 'int' && countV.v >= 0n ? countV.v : 0n;
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
    if (a.results.length === 0) return;
    pos = a.end;
    const r = a.results[0]!;
    if (name === 'storages') {
      // (key, location, storage_type), then an int64 numel and the data.
      const numel = await member.read(pos, 8);
      if (numel.length < 8) return;
      const n = numel.readBigInt64LE(0);
      const type = r.k === 'tuple' ? r.items[2] : undefined;
      const bytes = n * BigInt(elementSizeOf(type));
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
