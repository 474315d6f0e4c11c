// SPDX-License-Identifier: Apache-2.0
import { describe, expect, it } from 'vitest';
import {
  releaseBuffer,
  ResizableArrayBuffer,
} from '../../src/internal/release.js';

describe('releaseBuffer', () => {
  it('frees a resizable buffer of ours whatever its size (the bundle reader makes them)', () => {
    const view = Buffer.from(
      new ResizableArrayBuffer(800_000, { maxByteLength: 800_000 }),
    );
    const payload = view.subarray(100, 700_000);
    releaseBuffer(payload);
    expect(view.buffer.byteLength).toBe(0);
    expect(payload.byteLength).toBe(0);
  });

  it('frees a plain buffer of 1 MiB or more', () => {
    const view = new Uint8Array(1 << 20);
    releaseBuffer(view.subarray(10));
    expect(view.buffer.byteLength).toBe(0);
  });

  it('leaves a plain buffer under 1 MiB alone, and so Node’s small-buffer pool', () => {
    const plain = new Uint8Array((1 << 20) - 1);
    releaseBuffer(plain);
    expect(plain.byteLength).toBe((1 << 20) - 1);
    const a = Buffer.from('first');
    const b = Buffer.from('second');
    // Node's pool: both are views of one shared ArrayBuffer.
    expect(a.buffer).toBe(b.buffer);
    releaseBuffer(a);
    expect(b.toString()).toBe('second');
  });

  it('is a no-op on a buffer already freed', () => {
    const view = Buffer.from(
      new ResizableArrayBuffer(16, { maxByteLength: 16 }),
    );
    releaseBuffer(view);
    expect(() => releaseBuffer(view)).not.toThrow();
  });
});
