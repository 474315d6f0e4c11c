// SPDX-License-Identifier: Apache-2.0
import { readRange } from './archive/byte-source.js';
import { reportIncomplete } from './incomplete.js';
import type { ByteSource, ScanContext } from './types.js';

/** What {@link readWholeSource} reports when a source is over its limit. */
export interface WholeSourceLimit {
  /** Most bytes held in memory. */
  limit: number;
  /** The option that sets `limit` (`maxMemberBytes`), named in the finding. */
  limitName: string;
  /** What was not scanned, naming the file kind (lower case, no trailing period). */
  message: string;
  /**
   * True only when nothing in the source can execute (tensor bytes of a
   * code-free format): the finding is then medium instead of high.
   */
  inert?: boolean;
}

/**
 * Reads a whole source into memory for formats that can only be parsed in one
 * piece (protobuf, FlatBuffers, compressed streams). A source larger than
 * `limit` is not read: it is reported as `SCAN_INCOMPLETE` naming the limit,
 * high unless the caller knows the bytes are inert.
 * @returns the bytes, or undefined when the source was over the limit
 */
export async function readWholeSource(
  source: ByteSource,
  ctx: ScanContext,
  { limit, limitName, message, inert = false }: WholeSourceLimit,
): Promise<Buffer | undefined> {
  if (source.size > limit) {
    reportIncomplete(ctx, {
      limit: limitName,
      value: limit,
      message,
      severity: inert ? 'medium' : 'high',
      evidence: { size: source.size },
    });
    return undefined;
  }
  return readRange(source, 0, source.size);
}
