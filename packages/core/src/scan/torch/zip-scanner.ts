// SPDX-License-Identifier: Apache-2.0
/**
 * PyTorch zip checkpoints (`torch.save` since 1.6) and TorchScript archives,
 * read the way `torch.load` reads them: central directory only, the archive
 * prefix taken from the first entry, `<prefix>/data.pkl` unpickled with
 * storages resolved from `<prefix>/data/<key>` records. Storage records are
 * never read: their sizes come from the central directory, so a multi-GiB
 * checkpoint costs a few small reads (threats.md §1.1 and §1.5).
 */
import type { ByteSource, FormatScanner, ScanContext } from '../types.js';
import { normaliseGlobal } from '../pickle/names.js';
import { scanPickleSource } from '../pickle/scanner.js';
import type { PickleAnalysis, PickleValue } from '../pickle/vm.js';
import { isZipHead, type ZipDirectory } from '../zip/reader.js';
import { openMemberForScan } from '../zip/read-member-for-scan.js';
import { zipDirectoryOf } from '../zip/zip-directory-of.js';
import { reportZipAnomalies } from '../zip/report-zip-anomalies.js';

/** Element sizes of the storage types torch defines. */
export const TORCH_STORAGE_ELEMENT_SIZES: Readonly<Record<string, number>> = {
  DoubleStorage: 8,
  FloatStorage: 4,
  HalfStorage: 2,
  BFloat16Storage: 2,
  LongStorage: 8,
  IntStorage: 4,
  ShortStorage: 2,
  CharStorage: 1,
  ByteStorage: 1,
  BoolStorage: 1,
  ComplexFloatStorage: 8,
  ComplexDoubleStorage: 16,
  QInt8Storage: 1,
  QUInt8Storage: 1,
  QInt32Storage: 4,
  QUInt4x2Storage: 1,
  QUInt2x4Storage: 1,
  UntypedStorage: 1,
  Float8_e4m3fnStorage: 1,
  Float8_e5m2Storage: 1,
};

/** The archive prefix as torch derives it: the first entry's first path component. */
export function torchArchivePrefix(dir: ZipDirectory): string {
  const first = dir.entries[0]?.name ?? '';
  const slash = first.indexOf('/');
  return slash < 0 ? '' : first.slice(0, slash);
}

// torch finds its records through miniz's mz_zip_reader_locate_file with
// flags 0, which compares names without regard to case: the layout is
// recognised the same way.
function isTorchLayout(dir: ZipDirectory): boolean {
  return dir.entries.some(
    (e) =>
      /^([^/]+\/)?(data|constants)\.pkl$/i.test(e.name) ||
      /^[^/]+\/(\.data\/)?version$/i.test(e.name) ||
      /^[^/]+\/byteorder$/i.test(e.name),
  );
}

function int(v: PickleValue | undefined): bigint | undefined {
  return v?.k === 'int' ? v.v : undefined;
}

function ints(v: PickleValue | undefined, depth = 0): bigint[] | undefined {
  if (v?.k !== 'tuple' && v?.k !== 'list') {
    // torch.Size(...) as a REDUCE of torch.Size with a tuple argument; bounded,
    // because a hostile pickle can nest calls deeper than the stack.
    if (v?.k === 'call' && v.args.k === 'tuple' && depth < 4)
      return ints(v.args.items[0], depth + 1);
    return undefined;
  }
  const out: bigint[] = [];
  for (const x of v.items) {
    const n = int(x);
    if (n === undefined) return undefined;
    out.push(n);
  }
  return out;
}

/**
 * Checks persistent ids and tensor views of a `data.pkl` analysis against the
 * storage records present (CVE-2026-24747).
 */
export function checkTorchTensors(
  analysis: PickleAnalysis,
  records: ReadonlyMap<string, number>,
  ctx: ScanContext,
  member: string[],
): void {
  const numelOf = new Map<PickleValue, bigint>();
  let reported = 0;
  const report = (
    ruleId: string,
    severity: 'critical' | 'high' | 'medium',
    message: string,
    offset: number,
    evidence: Record<string, unknown>,
  ): void => {
    if (reported++ < 100)
      ctx.report({ ruleId, severity, message, offset, evidence, member });
  };
  for (const { value: pid } of analysis.persistentIds) {
    if (pid.id.k !== 'tuple') continue;
    const [tag, type, key, , numelV] = pid.id.items;
    if (tag?.k !== 'str' || tag.v !== 'storage') continue;
    const keyStr =
      key?.k === 'str' ? key.v : key?.k === 'int' ? String(key.v) : undefined;
    const numel = int(numelV);
    let elementSize: number | undefined;
    if (type?.k === 'global') {
      const c = normaliseGlobal(type.module, type.name).canonical;
      const m = /^torch\.([A-Za-z0-9_]+)$/.exec(c);
      elementSize = m !== null ? TORCH_STORAGE_ELEMENT_SIZES[m[1]!] : undefined;
      if (elementSize === undefined) {
        report(
          'TORCH_UNKNOWN_STORAGE_TYPE',
          'medium',
          `storage type ${c} is not a torch storage`,
          pid.offset,
          { storageType: c },
        );
      }
    }
    if (numel !== undefined) numelOf.set(pid, numel);
    if (keyStr === undefined) continue;
    const size = records.get(keyStr);
    if (size === undefined) {
      report(
        'TORCH_MISSING_STORAGE',
        'high',
        `storage ${keyStr} has no data record`,
        pid.offset,
        { key: keyStr },
      );
      continue;
    }
    if (numel !== undefined && elementSize !== undefined) {
      const needed = numel * BigInt(elementSize);
      if (numel < 0n || needed > BigInt(size)) {
        report(
          'TORCH_STORAGE_OOB',
          'critical',
          `storage ${keyStr} declares ${needed} bytes, its record holds ${size}`,
          pid.offset,
          {
            key: keyStr,
            numel: numel.toString(),
            elementSize,
            recordBytes: size,
          },
        );
      }
    }
  }
  for (const { value: call, offset } of analysis.calls) {
    if (call.fn.k !== 'global') continue;
    const c = normaliseGlobal(call.fn.module, call.fn.name).canonical;
    if (
      c !== 'torch._utils._rebuild_tensor_v2' &&
      c !== 'torch._utils._rebuild_tensor' &&
      c !== 'torch._utils._rebuild_tensor_v3'
    )
      continue;
    const args = call.args.k === 'tuple' ? call.args.items : [];
    const storage = args[0];
    const storageOffset = int(args[1]);
    const sizes = ints(args[2]);
    const strides = ints(args[3]);
    if (
      storageOffset === undefined ||
      sizes === undefined ||
      strides === undefined
    )
      continue;
    const bad =
      storageOffset < 0n ||
      strides.some((s) => s < 0n) ||
      sizes.some((s) => s < 0n) ||
      sizes.length !== strides.length;
    const numel = storage !== undefined ? numelOf.get(storage) : undefined;
    let outOfBounds = bad;
    let extent = storageOffset;
    if (!bad && sizes.every((s) => s > 0n)) {
      for (let i = 0; i < sizes.length; i++)
        extent += (sizes[i]! - 1n) * strides[i]!;
      if (numel !== undefined && extent >= numel) outOfBounds = true;
    }
    if (outOfBounds) {
      report(
        'TORCH_TENSOR_OOB',
        'critical',
        `tensor view reaches element ${extent} of a storage of ${numel ?? 'unknown'} elements`,
        offset,
        {
          storageOffset: storageOffset.toString(),
          size: sizes.map(String),
          stride: strides.map(String),
          numel: numel?.toString(),
        },
      );
    }
  }
}

/** PyTorch zip checkpoints and TorchScript archives. */
export const TORCH_ZIP_SCANNER: FormatScanner = {
  id: 'pytorch-zip',
  async detect(head: Buffer, source: ByteSource): Promise<boolean> {
    if (!isZipHead(head)) return false;
    const dir = await zipDirectoryOf(source);
    return dir !== undefined && isTorchLayout(dir);
  },
  async scan(source: ByteSource, ctx: ScanContext): Promise<void> {
    const dir = await zipDirectoryOf(source);
    if (dir === undefined) return;
    ctx.recognise('pytorch-zip');
    reportZipAnomalies(ctx, dir.anomalies);
    const prefix = torchArchivePrefix(dir);
    const base = prefix === '' ? '' : `${prefix}/`;
    // torch.jit.load finds `constants.pkl` and `code/` as miniz does, without
    // regard to case (`ARCHIVE/CODE/` is TorchScript code).
    const constantsPkl = `${base}constants.pkl`.toLowerCase();
    const codeDir = `${base}code/`.toLowerCase();
    const torchScript = dir.entries.some((e) => {
      const n = e.name.toLowerCase();
      return n === constantsPkl || n.startsWith(codeDir);
    });
    if (torchScript) {
      ctx.recognise('torchscript');
      ctx.report({
        ruleId: 'TORCH_TORCHSCRIPT',
        severity: 'high',
        message:
          'archive is TorchScript: loaded through torch.jit.load, code runs with the model',
        evidence: { prefix },
      });
    }
    const records = new Map<string, number>();
    const dataDir = `${base}data/`;
    for (const e of dir.entries) {
      if (
        e.name.startsWith(dataDir) &&
        e.name.length > dataDir.length &&
        !e.name.slice(dataDir.length).includes('/')
      ) {
        records.set(e.name.slice(dataDir.length), e.uncompressedSize);
      }
    }
    // torch finds its records through miniz, which compares names without
    // regard to case: `ARCHIVE/DATA.PKL` is unpickled as `archive/data.pkl`.
    const dataPkl = `${base}data.pkl`.toLowerCase();
    if (
      !dir.entries.some((e) => e.name.toLowerCase() === dataPkl) &&
      !torchScript
    ) {
      ctx.report({
        ruleId: 'TORCH_NO_DATA_PKL',
        severity: 'medium',
        message: `archive has no ${base}data.pkl`,
        evidence: { prefix },
      });
    }
    for (const e of dir.entries) {
      if (ctx.signal?.aborted) return;
      // Raw storages are never unpickled by torch; skip them unread.
      if (
        e.name.startsWith(dataDir) &&
        records.has(e.name.slice(dataDir.length))
      )
        continue;
      if (e.name.endsWith('/')) continue;
      // Any size: a member over maxMemberBytes is streamed (slice or bounded inflate).
      const member = await openMemberForScan(source, e, ctx);
      if (member === 'skip') continue;
      if (member === 'stop') return;
      try {
        if (e.name.toLowerCase().endsWith('.pkl')) {
          // torch unpickles these whatever their first byte is (protocol 0/1 included, CVE-2025-1889).
          ctx.recognise('pickle');
          const analysis = await scanPickleSource(member.source, ctx, {
            member: [e.name],
          });
          if (e.name.toLowerCase() === dataPkl)
            checkTorchTensors(analysis, records, ctx, [e.name]);
        } else {
          await ctx.scanNested(member.source, e.name);
        }
      } finally {
        await member.close();
      }
    }
  },
};
