// SPDX-License-Identifier: Apache-2.0
import type { ByteSource } from '../types.js';

/**
 * Reads `length` bytes at `offset`, clamped to the source size, with one
 * positioned read per 16 MiB so that a short read of the underlying source
 * does not silently truncate the result.
 */
export async function readRange(
  source: ByteSource,
  offset: number,
  length: number,
): Promise<Buffer> {
  const end = Math.min(source.size, offset + length);
  if (offset >= end) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  let pos = offset;
  while (pos < end) {
    const chunk = await source.read(pos, Math.min(16 * 1024 * 1024, end - pos));
    if (chunk.length === 0) break;
    parts.push(chunk);
    pos += chunk.length;
  }
  return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
}
