// SPDX-License-Identifier: Apache-2.0
import type { ByteSource } from '../types.js';

/** Thrown by {@link SourceCursor} when a read would pass the end of the source. */
export class TruncatedError extends Error {
  constructor(
    readonly offset: number,
    readonly wanted: number | bigint,
  ) {
    super(`need ${wanted} bytes at offset ${offset}`);
    this.name = 'TruncatedError';
  }
}

/**
 * Sequential little-endian reader over a {@link ByteSource} with a bounded
 * window: it never reads more than `max(window, requested)` bytes at once, and
 * every requested length is checked against the bytes actually left first.
 */
export class SourceCursor {
  private buf: Buffer = Buffer.alloc(0);
  private bufStart = 0;
  /** Absolute offset of the next byte. */
  pos = 0;

  constructor(
    private readonly source: ByteSource,
    private readonly window: number = 1024 * 1024,
  ) {}

  /** Bytes left in the source. */
  get remaining(): number {
    return this.source.size - this.pos;
  }

  /** Makes `n` bytes at `pos` available; throws {@link TruncatedError} past the end. */
  async need(n: number): Promise<void> {
    if (n > this.remaining) throw new TruncatedError(this.pos, n);
    if (
      this.pos >= this.bufStart &&
      this.pos + n <= this.bufStart + this.buf.length
    )
      return;
    const length = Math.min(this.remaining, Math.max(n, this.window));
    this.buf = await this.source.read(this.pos, length);
    this.bufStart = this.pos;
    if (this.buf.length < n) throw new TruncatedError(this.pos, n);
  }

  private at(n: number): number {
    const i = this.pos - this.bufStart;
    this.pos += n;
    return i;
  }

  private async fixed<T>(
    n: number,
    read: (buf: Buffer, at: number) => T,
  ): Promise<T> {
    await this.need(n);
    return read(this.buf, this.at(n));
  }

  u8(): Promise<number> {
    return this.fixed(1, (b, i) => b.readUInt8(i));
  }
  u16(): Promise<number> {
    return this.fixed(2, (b, i) => b.readUInt16LE(i));
  }
  u32(): Promise<number> {
    return this.fixed(4, (b, i) => b.readUInt32LE(i));
  }
  i32(): Promise<number> {
    return this.fixed(4, (b, i) => b.readInt32LE(i));
  }
  u64(): Promise<bigint> {
    return this.fixed(8, (b, i) => b.readBigUInt64LE(i));
  }
  i64(): Promise<bigint> {
    return this.fixed(8, (b, i) => b.readBigInt64LE(i));
  }
  /** Reads `n` bytes (checked against what is left before anything is allocated). */
  async bytes(n: number | bigint): Promise<Buffer> {
    if (BigInt(n) > BigInt(this.remaining))
      throw new TruncatedError(this.pos, n);
    const count = Number(n);
    await this.need(count);
    const i = this.at(count);
    return this.buf.subarray(i, i + count);
  }
  /** Skips `n` bytes without reading them. */
  skip(n: number | bigint): void {
    if (BigInt(n) > BigInt(this.remaining))
      throw new TruncatedError(this.pos, n);
    this.pos += Number(n);
  }
}
