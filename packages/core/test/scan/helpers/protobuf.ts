// SPDX-License-Identifier: Apache-2.0
// Protobuf bytes for detection tests, written field by field in any order.

/** A base-128 varint (minimal). */
export function varint(value: number | bigint): Buffer {
  const out: number[] = [];
  let n = BigInt(value);
  do {
    let byte = Number(n & 0x7fn);
    n >>= 7n;
    if (n !== 0n) byte |= 0x80;
    out.push(byte);
  } while (n !== 0n);
  return Buffer.from(out);
}

/** One protobuf field: varint (wire 0) or length-delimited (wire 2). */
export function fld(
  field: number,
  wire: 0 | 2,
  payload: number | string | Buffer,
): Buffer {
  const tag = varint((field << 3) | wire);
  if (wire === 0) return Buffer.concat([tag, varint(payload as number)]);
  const bytes =
    typeof payload === 'string' ? Buffer.from(payload) : (payload as Buffer);
  return Buffer.concat([tag, varint(bytes.length), bytes]);
}

/** Fields one after another. */
export const cat = (...parts: Buffer[]): Buffer => Buffer.concat(parts);
