// SPDX-License-Identifier: Apache-2.0
import { readRange } from './archive/byte-source.js';
import type { ByteSource, ScanContext } from './types.js';

/** What {@link readWholeSource} reports when a source is over its limit. */
export interface WholeSourceLimit {
  /** Rule id of the finding (the format's `*_MALFORMED`, or `SCAN_LIMIT_EXCEEDED`). */
  ruleId: string;
  /** Most bytes held in memory. */
  limit: number;
  /** Finding message, naming the file kind. */
  message: string;
}

/**
 * Reads a whole source into memory for formats that can only be parsed in one
 * piece (protobuf, FlatBuffers, compressed streams). A source larger than
 * `limit` is reported as a medium finding with its size and is not read.
 * @returns the bytes, or undefined when the source was over the limit
 */
export async function readWholeSource(
  source: ByteSource,
  ctx: ScanContext,
  { ruleId, limit, message }: WholeSourceLimit,
): Promise<Buffer | undefined> {
  if (source.size > limit) {
    ctx.report({
      ruleId,
      severity: 'medium',
      message,
      evidence: { size: source.size, limit },
    });
    return undefined;
  }
  return readRange(source, 0, source.size);
}
