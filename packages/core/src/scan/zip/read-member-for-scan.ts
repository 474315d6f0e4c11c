// SPDX-License-Identifier: Apache-2.0
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { crc32, createInflateRaw } from 'node:zlib';
import { reportIncomplete } from '../incomplete.js';
import { bufferSource, openFileSource, sliceSource } from '../source.js';
import type { ByteSource, ScanContext } from '../types.js';
import { readZipEntry, type ZipAnomaly, type ZipEntry } from './reader.js';
import { reportZipAnomalies } from './report-zip-anomalies.js';

/** Chunk of compressed bytes read at a time when a member is inflated as a stream. */
const CHUNK = 1024 * 1024;

function expandedLimitHit(ctx: ScanContext, entry: ZipEntry): 'stop' {
  reportIncomplete(ctx, {
    limit: 'maxExpandedBytes',
    value: ctx.limits.maxExpandedBytes,
    message: `${entry.name} and the members after it: expanded bytes exceed the limit`,
    member: [entry.name],
  });
  return 'stop';
}

/** A member opened for scanning: its bytes as a source, and how to release them. */
export interface MemberForScan {
  source: ByteSource;
  close(): Promise<void>;
}

const noClose = (): Promise<void> => Promise.resolve();

/**
 * Opens one member for scanning whatever its size, with bounded memory: a
 * member within `maxMemberBytes` is read into memory; a larger stored member
 * is a slice of the archive; a larger DEFLATE member is inflated as a stream
 * (1 MiB at a time, charged to `maxExpandedBytes`, never past its declared
 * size + 1) into a temporary file that `close()` deletes. Read problems are
 * reported as findings below the member; the CRC of a large stored member
 * is not checked (that would read it whole; torch ignores CRCs).
 */
export async function openMemberForScan(
  source: ByteSource,
  entry: ZipEntry,
  ctx: ScanContext,
): Promise<MemberForScan | 'skip' | 'stop'> {
  const read = await readZipEntry(source, entry, ctx.limits.maxMemberBytes);
  if (read.ok) {
    reportZipAnomalies(ctx, read.anomalies);
    if (
      entry.method === 8 &&
      ctx.reserveExpanded !== undefined &&
      !ctx.reserveExpanded(read.data.length)
    )
      return expandedLimitHit(ctx, entry);
    return { source: bufferSource(read.data), close: noClose };
  }
  if (read.anomaly.ruleId !== 'SCAN_LIMIT_EXCEEDED') {
    reportZipAnomalies(ctx, [read.anomaly]);
    return 'skip';
  }
  // Over the member limit (readZipEntry checked the data offset and method first).
  const dataOffset = entry.dataOffset!;
  if (entry.method === 0) {
    if (entry.compressedSize !== entry.uncompressedSize) {
      reportZipAnomalies(ctx, [
        {
          ruleId: 'ZIP_MALFORMED',
          severity: 'medium',
          message: `stored entry ${entry.name} declares different sizes`,
          entry: entry.name,
          evidence: {
            compressedSize: entry.compressedSize,
            uncompressedSize: entry.uncompressedSize,
          },
        },
      ]);
    }
    return {
      source: sliceSource(source, dataOffset, entry.compressedSize),
      close: noClose,
    };
  }
  return inflateToTempFile(source, entry, dataOffset, ctx);
}

async function inflateToTempFile(
  source: ByteSource,
  entry: ZipEntry,
  dataOffset: number,
  ctx: ScanContext,
): Promise<MemberForScan | 'skip' | 'stop'> {
  const dir = await mkdtemp(join(tmpdir(), 'modelseal-member-'));
  const path = join(dir, 'member');
  const removeDir = (): Promise<void> =>
    rm(dir, { recursive: true, force: true });
  const cap = entry.uncompressedSize + 1;
  let produced = 0;
  let crc = 0;
  let outcome: 'ok' | 'stop' | 'aborted' = 'ok';
  let inflateError: string | undefined;
  const out = await open(path, 'w');
  try {
    async function* compressed(): AsyncGenerator<Buffer> {
      for (let at = 0; at < entry.compressedSize; at += CHUNK) {
        const chunk = await source.read(
          dataOffset + at,
          Math.min(CHUNK, entry.compressedSize - at),
        );
        if (chunk.length === 0) return;
        yield chunk;
      }
    }
    const inflate = createInflateRaw();
    const input = Readable.from(compressed());
    input.on('error', (e) => inflate.destroy(e));
    input.pipe(inflate);
    try {
      for await (const chunk of inflate as AsyncIterable<Buffer>) {
        if (ctx.signal?.aborted === true) {
          outcome = 'aborted';
          break;
        }
        const piece = chunk.subarray(0, Math.max(0, cap - produced));
        if (
          ctx.reserveExpanded !== undefined &&
          !ctx.reserveExpanded(piece.length)
        ) {
          outcome = 'stop';
          break;
        }
        await out.write(piece);
        crc = crc32(piece, crc);
        produced += piece.length;
        if (produced >= cap) break;
      }
    } catch (e) {
      inflateError = String((e as Error).message).slice(0, 120);
    } finally {
      input.destroy();
      inflate.destroy();
    }
  } finally {
    await out.close();
  }
  if (outcome !== 'ok' || inflateError !== undefined) {
    await removeDir();
    if (outcome === 'stop') return expandedLimitHit(ctx, entry);
    if (outcome === 'aborted') return 'stop';
    reportZipAnomalies(ctx, [
      {
        ruleId: 'ZIP_INFLATE_ERROR',
        severity: 'high',
        message: `${entry.name} does not inflate`,
        entry: entry.name,
        evidence: { reason: inflateError },
      },
    ]);
    return 'skip';
  }
  const anomalies: ZipAnomaly[] = [];
  if (produced !== entry.uncompressedSize) {
    anomalies.push({
      ruleId: 'ZIP_INFLATE_ERROR',
      severity: 'high',
      message: `${entry.name} inflates to ${produced} bytes, not the declared ${entry.uncompressedSize}`,
      entry: entry.name,
      evidence: { actual: produced, declared: entry.uncompressedSize },
    });
  }
  if (crc >>> 0 !== entry.crc32 >>> 0) {
    anomalies.push({
      ruleId: 'ZIP_CRC_MISMATCH',
      severity: 'low',
      message: `${entry.name} fails its CRC-32 check`,
      entry: entry.name,
    });
  }
  reportZipAnomalies(ctx, anomalies);
  let file;
  try {
    file = await openFileSource(path);
  } catch (e) {
    await removeDir();
    throw e;
  }
  return {
    source: file,
    close: async () => {
      await file.close();
      await removeDir();
    },
  };
}
