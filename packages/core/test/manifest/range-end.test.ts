// SPDX-License-Identifier: Apache-2.0
// A range that ends at the end of its file is read with one byte more in its
// last read instead of an fstat after it (issue 11 item 3): the size check it
// replaces must still hold. A file longer or shorter than when it was listed
// is refused; one of the listed size hashes as before, at every size around
// a chunk boundary.
import { createHash, randomBytes } from 'node:crypto';
import {
  appendFileSync,
  readFileSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CHUNK_SIZE,
  HashTaskError,
  RangeHasher,
  type HashTask,
} from '../../src/manifest/hash-worker.js';
import { tempDir } from '../helpers/tree.js';

function task(path: string, size: number, listed = size): HashTask {
  return {
    id: 0,
    path,
    name: 'w.bin',
    start: 0,
    end: listed,
    size: listed,
    algorithm: 'sha256',
    noFollow: true,
  };
}

describe('the end of a range that ends with its file', () => {
  const dir = tempDir();
  const hasher = new RangeHasher();

  it('hashes files of every size around a chunk as SHA-256 of their bytes', () => {
    for (const size of [
      0,
      1,
      CHUNK_SIZE - 1,
      CHUNK_SIZE,
      CHUNK_SIZE + 1,
      3 * CHUNK_SIZE,
    ]) {
      const path = join(dir, `s${size}.bin`);
      const bytes = Buffer.alloc(size, size % 251);
      writeFileSync(path, bytes);
      expect(hasher.hashWhole(task(path, size), () => {}).digest).toBe(
        createHash('sha256').update(bytes).digest('hex'),
      );
    }
  });

  it('refuses a file that grew after it was listed', () => {
    for (const size of [10, CHUNK_SIZE, CHUNK_SIZE + 10]) {
      const path = join(dir, `g${size}.bin`);
      writeFileSync(path, Buffer.alloc(size + 1));
      expect(() =>
        hasher.hashWhole(task(path, size + 1, size), () => {}),
      ).toThrow(/w\.bin: file changed size while hashing/);
    }
  });

  it('refuses a file that grows while it is read', () => {
    const path = join(dir, 'growing.bin');
    writeFileSync(path, Buffer.alloc(2 * CHUNK_SIZE + 10));
    let grown = false;
    expect(() =>
      hasher.hashWhole(task(path, 2 * CHUNK_SIZE + 10), () => {
        // After the first chunk: one byte more at the end.
        if (!grown) appendFileSync(path, 'x');
        grown = true;
      }),
    ).toThrow(/w\.bin: file changed size while hashing/);
  });

  it('refuses a file that shrank after it was listed', () => {
    const path = join(dir, 'shrunk.bin');
    writeFileSync(path, Buffer.alloc(CHUNK_SIZE + 5));
    expect(() =>
      hasher.hashWhole(task(path, CHUNK_SIZE + 5, CHUNK_SIZE + 6), () => {}),
    ).toThrow(/w\.bin: file (shrank|changed size) while hashing/);
  });
});

describe('ranges of distinct bytes, through full and partial reads', () => {
  const dir = tempDir();
  const hasher = new RangeHasher();
  // Distinct bytes (not one value repeated): a read at the wrong offset, or
  // a chunk left from an earlier read, changes the digest.
  const size = 3 * CHUNK_SIZE + 12_345;
  const bytes = randomBytes(size);
  const path = join(dir, 'r.bin');
  writeFileSync(path, bytes);
  const expected = (start: number, end: number): string =>
    createHash('sha256').update(bytes.subarray(start, end)).digest('hex');
  const range = (start: number, end: number): HashTask => ({
    ...task(path, size),
    start,
    end,
  });

  it('hashes ranges in the middle, at the end and whole, as SHA-256 of their bytes', () => {
    for (const [start, end] of [
      [0, size],
      [0, 2 * CHUNK_SIZE + 7],
      [2 * CHUNK_SIZE + 7, size],
      [5, CHUNK_SIZE + 5],
      [CHUNK_SIZE - 1, 3 * CHUNK_SIZE + 1],
      [CHUNK_SIZE, 2 * CHUNK_SIZE],
    ] as const) {
      expect(hasher.hashWhole(range(start, end), () => {}).digest).toBe(
        expected(start, end),
      );
    }
  });

  it('hashes the same in slices (the calling thread), whatever the slice', () => {
    for (const slice of [1, CHUNK_SIZE, CHUNK_SIZE + 3, 4 * CHUNK_SIZE]) {
      const open = hasher.openRange(range(3, size));
      try {
        while (!hasher.step(open, slice, () => {}));
        expect(hasher.finish(open).digest).toBe(expected(3, size));
      } finally {
        hasher.abandon(open);
      }
    }
  });
});

describe('ranges that cannot be read exactly', () => {
  const dir = tempDir();
  const hasher = new RangeHasher();
  const path = join(dir, 'x.bin');
  writeFileSync(path, randomBytes(2 * CHUNK_SIZE));

  it('refuses offsets that are not exact integers, or out of order, before reading', () => {
    // readvSync reads a position that is not a safe integer from the file's
    // current offset instead of refusing it: the range check comes first.
    const size = 2 * CHUNK_SIZE;
    for (const [start, end, listed] of [
      [2 ** 53, 2 ** 53 + CHUNK_SIZE, 2 ** 53 + 2 * CHUNK_SIZE],
      [2.5, CHUNK_SIZE, size],
      [-CHUNK_SIZE, CHUNK_SIZE, size],
      [CHUNK_SIZE, 0, size],
      [0, size + 1, size],
      [0, Number.NaN, size],
    ] as const) {
      let thrown: unknown;
      try {
        hasher.hashWhole({ ...task(path, size, listed), start, end }, () => {
          throw new Error('read');
        });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(HashTaskError);
      expect((thrown as HashTaskError).code).toBe('IO_ERROR');
      expect((thrown as Error).message).toMatch(
        /^w\.bin: cannot read bytes .* \(offsets are exact up to 2\^53\)$/,
      );
    }
  });

  it('hashes a full read that comes back short as the bytes it got (a file cut and grown back)', () => {
    // The range [0, 2 chunks) of a 3-chunk file: cut to 1.5 chunks after
    // the first chunk (the next full read is short), then grown back to 3
    // chunks with other bytes. The digest is of the bytes read at their
    // offsets, which the file holds at the end.
    const grown = join(dir, 'cut.bin');
    writeFileSync(grown, randomBytes(3 * CHUNK_SIZE));
    let reads = 0;
    const digest = hasher.hashWhole(
      { ...task(grown, 3 * CHUNK_SIZE), end: 2 * CHUNK_SIZE },
      () => {
        reads += 1;
        if (reads === 1) truncateSync(grown, 1.5 * CHUNK_SIZE);
        if (reads === 2) appendFileSync(grown, randomBytes(1.5 * CHUNK_SIZE));
      },
    ).digest;
    expect(reads).toBe(3);
    expect(digest).toBe(
      createHash('sha256')
        .update(readFileSync(grown).subarray(0, 2 * CHUNK_SIZE))
        .digest('hex'),
    );
  });
});
