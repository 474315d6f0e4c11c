// SPDX-License-Identifier: Apache-2.0
/**
 * Zip archives (`threats.md` §7, §8), read with the shared central-directory
 * reader of `scan/zip/` (its anomalies are reported under their `ZIP_*` ids):
 * on top of it, entry-name checks with link simulation, an expansion budget
 * across the whole archive, and every member scanned as its own artifact
 * through `ctx.scanNested`.
 */
import type { ByteSource, FormatScanner, ScanContext } from '../types.js';
import {
  isZipHead,
  readZipDirectory,
  readZipEntry,
  type ZipAnomaly,
  type ZipEntry,
} from '../zip/reader.js';
import { bufferSource } from '../source.js';
import { reportIncomplete } from '../incomplete.js';
import { openMemberForScan } from '../zip/read-member-for-scan.js';
import { checkEntryName, checkSymlink, LinkTracker } from './entry-paths.js';

/** Most entries examined per archive. */
export const MAX_ARCHIVE_ENTRIES = 100_000;
/** Ratio past which exceeding the expansion limit counts as a bomb rather than a big archive. */
export const BOMB_RATIO = 100;

/** Hooks for formats built on zip (Keras) to see member bytes. */
export interface ZipScanHooks {
  /** Called with each member's bytes (all copies of duplicate names, in directory order). */
  onMember?(entry: ZipEntry, data: Buffer): void | Promise<void>;
  /** Whether to pass a member on to `ctx.scanNested` (default true). */
  scanMember?(entry: ZipEntry): boolean;
}

function reportAnomalies(
  ctx: ScanContext,
  anomalies: readonly ZipAnomaly[],
): void {
  for (const a of anomalies) {
    // The reader's own limit (more entries than maxArchiveEntries) fails closed.
    if (a.ruleId === 'SCAN_LIMIT_EXCEEDED') {
      reportIncomplete(ctx, {
        limit: 'maxArchiveEntries',
        value: MAX_ARCHIVE_ENTRIES,
        message: `zip entries past the first ${MAX_ARCHIVE_ENTRIES} (${a.message})`,
        ...(a.evidence === undefined ? {} : { evidence: a.evidence }),
      });
      continue;
    }
    ctx.report({
      ruleId: a.ruleId,
      severity: a.severity,
      message: a.message,
      ...(a.offset === undefined ? {} : { offset: a.offset }),
      ...(a.entry === undefined
        ? {}
        : { evidence: { entry: a.entry, ...a.evidence } }),
    });
  }
}

/** True for an entry whose Unix mode says symlink. */
function isZipSymlink(entry: ZipEntry): boolean {
  // Mind the parentheses: `===` binds tighter than `&` (threats.md §9).
  return ((entry.externalAttributes >>> 16) & 0o170000) === 0o120000;
}

/**
 * Scans a zip archive: structure checks plus every member through
 * `ctx.scanNested` (and `hooks.onMember`). Never throws on hostile input.
 */
export async function scanZipArchive(
  source: ByteSource,
  ctx: ScanContext,
  hooks: ZipScanHooks = {},
): Promise<void> {
  const directory = await readZipDirectory(source, {
    maxEntries: MAX_ARCHIVE_ENTRIES,
  });
  if (directory === undefined) {
    ctx.report({
      ruleId: 'ZIP_MALFORMED',
      severity: 'medium',
      offset: source.size,
      message: 'no end of central directory record',
    });
    return;
  }
  reportAnomalies(ctx, directory.anomalies);
  const links = new LinkTracker();
  const scannedOffsets = new Set<number>();
  let expanded = 0;
  for (const entry of directory.entries) {
    checkEntryName(ctx, entry.name, links, entry.localHeaderOffset);
    if (entry.name.endsWith('/') || entry.dataOffset === undefined) continue;
    // Encrypted entries (flag bit 0) cannot be read; the reader reports the flag.
    if ((entry.flags & 1) !== 0) continue;
    // Overlapping records (one local file behind many names) are inflated once.
    if (scannedOffsets.has(entry.localHeaderOffset)) continue;
    scannedOffsets.add(entry.localHeaderOffset);
    const budget = ctx.limits.maxExpandedBytes - expanded;
    // A member over maxMemberBytes is scanned whole with bounded memory (a
    // slice of the archive, or inflated as a stream into a temporary file,
    // charged to the expansion budget as it goes).
    // (Formats that read member bytes through `onMember` get the high
    // SCAN_INCOMPLETE below instead.)
    if (
      hooks.onMember === undefined &&
      !isZipSymlink(entry) &&
      (entry.uncompressedSize > ctx.limits.maxMemberBytes ||
        (entry.method === 0 &&
          entry.compressedSize > ctx.limits.maxMemberBytes)) &&
      (hooks.scanMember?.(entry) ?? true)
    ) {
      const opened = await openMemberForScan(source, entry, ctx);
      if (opened === 'stop') break;
      if (opened === 'skip') continue;
      try {
        expanded += entry.method === 0 ? 0 : opened.source.size;
        await ctx.scanNested(opened.source, entry.name);
      } finally {
        await opened.close();
      }
      continue;
    }
    // The engine may track one budget for the whole top-level file (nested
    // archives included); the declared size is reserved before inflating, and
    // inflation never produces more than declared + 1 bytes.
    if (
      entry.uncompressedSize > budget ||
      !(ctx.reserveExpanded?.(entry.uncompressedSize) ?? true)
    ) {
      const bomb =
        entry.uncompressedSize / Math.max(1, entry.compressedSize) > BOMB_RATIO;
      const evidence = {
        entry: entry.name,
        declared: entry.uncompressedSize,
        compressed: entry.compressedSize,
      };
      if (bomb)
        ctx.report({
          ruleId: 'ARCHIVE_DECOMPRESSION_BOMB',
          severity: 'high',
          offset: entry.localHeaderOffset,
          message: `entry ${entry.name} declares ${entry.uncompressedSize} bytes from ${entry.compressedSize} compressed`,
          evidence: { ...evidence, limit: ctx.limits.maxExpandedBytes },
        });
      reportIncomplete(ctx, {
        limit: 'maxExpandedBytes',
        value: ctx.limits.maxExpandedBytes,
        offset: entry.localHeaderOffset,
        message: `zip entry ${entry.name} and the entries after it (the archive would expand past ${ctx.limits.maxExpandedBytes} bytes)`,
        evidence,
      });
      break;
    }
    const read = await readZipEntry(
      source,
      entry,
      Math.min(ctx.limits.maxMemberBytes, budget),
    );
    if (!read.ok) {
      if (read.anomaly.ruleId === 'SCAN_LIMIT_EXCEEDED')
        reportIncomplete(ctx, {
          limit: 'maxMemberBytes',
          value: ctx.limits.maxMemberBytes,
          offset: entry.localHeaderOffset,
          message: `zip entry ${entry.name} of ${entry.uncompressedSize} bytes`,
          evidence: { entry: entry.name, size: entry.uncompressedSize },
        });
      else reportAnomalies(ctx, [read.anomaly]);
      continue;
    }
    reportAnomalies(ctx, read.anomalies);
    expanded += read.data.length;
    if (isZipSymlink(entry)) {
      checkSymlink(
        ctx,
        entry.name,
        read.data.toString('utf8', 0, Math.min(read.data.length, 4096)),
        links,
        entry.localHeaderOffset,
      );
      continue;
    }
    await hooks.onMember?.(entry, read.data);
    if (hooks.scanMember?.(entry) ?? true)
      await ctx.scanNested(bufferSource(read.data), entry.name);
  }
}

/** Scanner for zip archives (`threats.md` §7); register it after the zip-based formats (PyTorch, NumPy .npz, Keras). */
export const ZipArchiveScanner: FormatScanner = Object.freeze({
  id: 'zip',
  detect: isZipHead,
  async scan(source: ByteSource, ctx: ScanContext): Promise<void> {
    ctx.recognise('zip');
    await scanZipArchive(source, ctx);
  },
});
