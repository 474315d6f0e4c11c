// SPDX-License-Identifier: Apache-2.0
import type { ByteSource, ScanContext } from '../types.js';
import { readZipEntry, type ZipEntry } from './reader.js';
import { reportZipAnomalies } from './report-zip-anomalies.js';

/**
 * Reads one member of a zip-based model format (PyTorch, NumPy `.npz`) for
 * scanning, bounded by `maxMemberBytes`. Read problems are reported as
 * findings below the member; inflated bytes are charged to the file's
 * expansion budget (`maxExpandedBytes`).
 * @returns the member's bytes; `'skip'` when it cannot be read (reported);
 *   `'stop'` when the expansion budget is spent (reported, the rest of the
 *   archive is not scanned)
 */
export async function readMemberForScan(
  source: ByteSource,
  entry: ZipEntry,
  ctx: ScanContext,
): Promise<Buffer | 'skip' | 'stop'> {
  const read = await readZipEntry(source, entry, ctx.limits.maxMemberBytes);
  if (!read.ok) {
    reportZipAnomalies(ctx, [read.anomaly]);
    return 'skip';
  }
  reportZipAnomalies(ctx, read.anomalies);
  // Stored members are bytes of the file itself; only inflation expands it.
  if (
    entry.method === 8 &&
    ctx.reserveExpanded !== undefined &&
    !ctx.reserveExpanded(read.data.length)
  ) {
    ctx.report({
      ruleId: 'SCAN_LIMIT_EXCEEDED',
      severity: 'medium',
      message: 'expanded bytes exceed the limit; remaining members not scanned',
      member: [entry.name],
    });
    return 'stop';
  }
  return read.data;
}
