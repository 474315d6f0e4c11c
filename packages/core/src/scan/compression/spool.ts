// SPDX-License-Identifier: Apache-2.0
/**
 * Where decoded bytes wait to be scanned: in memory while they are small,
 * in a private temporary file (mode 0600, in a fresh 0700 directory under
 * `os.tmpdir()`) once they pass {@link SPILL_BYTES}, so that a large
 * decompressed pickle is scanned with positioned reads instead of being held
 * in memory. {@link OutputSpool.dispose} removes the file.
 */
import { mkdtemp, open, rm, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bufferSource,
  openFileSource,
  type FileByteSource,
} from '../source.js';
import type { ByteSource } from '../types.js';

/** Decoded bytes kept in memory at most; past this they go to a temporary file. */
export const SPILL_BYTES: number = 64 * 1024 * 1024;

async function writeAll(fh: FileHandle, chunk: Buffer): Promise<void> {
  let done = 0;
  while (done < chunk.length) {
    const { bytesWritten } = await fh.write(chunk, done, chunk.length - done);
    done += bytesWritten;
  }
}

/** Decoded bytes of one stream, in memory or in a temporary file. */
export class OutputSpool {
  private chunks: Buffer[] = [];
  private bytes = 0;
  private dir: string | undefined;
  private fh: FileHandle | undefined;
  private reader: FileByteSource | undefined;
  private readonly spillBytes: number;

  constructor(spillBytes: number = SPILL_BYTES) {
    this.spillBytes = spillBytes;
  }

  /** Bytes written so far. */
  get size(): number {
    return this.bytes;
  }

  /** True once the bytes are in a temporary file. */
  get spilled(): boolean {
    return this.dir !== undefined;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.dir === undefined && this.bytes + chunk.length > this.spillBytes) {
      this.dir = await mkdtemp(join(tmpdir(), 'modelseal-decoded-'));
      this.fh = await open(join(this.dir, 'stream'), 'wx', 0o600);
      for (const c of this.chunks) await writeAll(this.fh, c);
      this.chunks = [];
    }
    if (this.fh !== undefined) await writeAll(this.fh, chunk);
    else this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  /** The bytes written, as a source; valid until {@link dispose}. */
  async source(): Promise<ByteSource> {
    if (this.dir === undefined) {
      const all =
        this.chunks.length === 1
          ? this.chunks[0]!
          : Buffer.concat(this.chunks, this.bytes);
      this.chunks = [all];
      return bufferSource(all);
    }
    await this.fh?.close();
    this.fh = undefined;
    this.reader = await openFileSource(join(this.dir, 'stream'));
    return this.reader;
  }

  /** Releases memory and removes the temporary file. */
  async dispose(): Promise<void> {
    this.chunks = [];
    const { fh, reader, dir } = this;
    this.fh = undefined;
    this.reader = undefined;
    this.dir = undefined;
    try {
      await fh?.close();
      await reader?.close();
    } finally {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    }
  }
}
