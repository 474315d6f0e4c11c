// SPDX-License-Identifier: Apache-2.0
/**
 * {@link ByteSource} implementations: a file read with positioned reads, a
 * buffer, and a window onto another source.
 */
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { ByteSource } from './types.js';

/** A {@link ByteSource} over an open file; `close()` releases it. */
export interface FileByteSource extends ByteSource {
  close(): Promise<void>;
}

/**
 * Opens `path` for positioned reads. Throws the underlying I/O error, and an
 * error with code `ENOTREG` for anything but a regular file: a FIFO is opened
 * non-blocking and refused, never waited on.
 */
export async function openFileSource(path: string): Promise<FileByteSource> {
  const fh: FileHandle = await open(
    path,
    constants.O_RDONLY | constants.O_NONBLOCK,
  );
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      throw Object.assign(new Error(`${path}: not a regular file`), {
        code: 'ENOTREG',
      });
    }
    const { size } = st;
    return {
      size,
      async read(offset: number, length: number): Promise<Buffer> {
        const start = Math.max(0, offset);
        const n = Math.max(0, Math.min(length, size - start));
        if (n === 0) return Buffer.alloc(0);
        const buf = Buffer.allocUnsafe(n);
        let done = 0;
        while (done < n) {
          const { bytesRead } = await fh.read(
            buf,
            done,
            n - done,
            start + done,
          );
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        return done === n ? buf : buf.subarray(0, done);
      },
      async readInto(target: Buffer, offset: number): Promise<number> {
        const start = Math.max(0, offset);
        const n = Math.max(0, Math.min(target.length, size - start));
        let done = 0;
        while (done < n) {
          const { bytesRead } = await fh.read(
            target,
            done,
            n - done,
            start + done,
          );
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        return done;
      },
      close: () => fh.close(),
    };
  } catch (e) {
    await fh.close();
    throw e;
  }
}

/**
 * A {@link ByteSource} over bytes already in memory (a decompressed member).
 * @param bytes the bytes; not copied
 */
export function bufferSource(bytes: Buffer): ByteSource {
  return {
    size: bytes.length,
    read(offset: number, length: number): Promise<Buffer> {
      const start = Math.max(0, Math.min(offset, bytes.length));
      const end = Math.max(start, Math.min(offset + length, bytes.length));
      return Promise.resolve(bytes.subarray(start, end));
    },
  };
}

/** Where a slice lies in the source it was cut from. */
export interface SliceOrigin {
  parent: ByteSource;
  offset: number;
}

const ORIGINS = new WeakMap<ByteSource, SliceOrigin>();

/** The source `slice` was cut from by {@link sliceSource}, and where; `undefined` for any other source. */
export function sliceOrigin(slice: ByteSource): SliceOrigin | undefined {
  return ORIGINS.get(slice);
}

/** The bytes `[offset, offset + length)` of `source` as a source of their own (clamped to the source). */
export function sliceSource(
  source: ByteSource,
  offset: number,
  length: number,
): ByteSource {
  const start = Math.min(Math.max(0, offset), source.size);
  const size = Math.max(0, Math.min(length, source.size - start));
  const slice: ByteSource = {
    size,
    read(o: number, n: number): Promise<Buffer> {
      const s = Math.max(0, o);
      const m = Math.max(0, Math.min(n, size - s));
      return m === 0
        ? Promise.resolve(Buffer.alloc(0))
        : source.read(start + s, m);
    },
  };
  const inner = source.readInto?.bind(source);
  if (inner !== undefined)
    slice.readInto = (target: Buffer, o: number): Promise<number> => {
      const s = Math.max(0, o);
      const m = Math.max(0, Math.min(target.length, size - s));
      return m === 0
        ? Promise.resolve(0)
        : inner(target.subarray(0, m), start + s);
    };
  ORIGINS.set(slice, { parent: source, offset: start });
  return slice;
}
