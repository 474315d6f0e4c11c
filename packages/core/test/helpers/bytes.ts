// SPDX-License-Identifier: Apache-2.0
// Little builders of binary test inputs (pickle opcodes' operands, GGUF
// fields): each returns the value's bytes as a Buffer.

import { ResizableArrayBuffer } from '../../src/internal/release.js';

/** The bytes given. */
export const u8 = (...bytes: number[]): Buffer => Buffer.from(bytes);

/** An unsigned 32-bit integer, little-endian. */
export const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

/** A signed 32-bit integer, little-endian. */
export const i32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
};

/** An unsigned 64-bit integer, little-endian. */
export const u64 = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

/** A 64-bit float, big-endian (pickle's BINFLOAT). */
export const f64be = (x: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(x);
  return b;
};

/**
 * A copy of `bytes` filling a resizable buffer of exactly their length, as
 * readBundle leaves a payload it read (what decodeOwnedStatement gives back).
 */
export function ownedCopy(bytes: Uint8Array): Buffer {
  const view = Buffer.from(
    new ResizableArrayBuffer(bytes.length, { maxByteLength: bytes.length }),
  );
  view.set(bytes);
  return view;
}
