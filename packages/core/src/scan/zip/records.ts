// SPDX-License-Identifier: Apache-2.0
/**
 * Zip record signatures and field readers shared by the zip reader and the
 * embedded-archive finder (which the scan engine loads for every file, so
 * this module imports nothing).
 */

export const EOCD = 0x06054b50;
export const ZIP64_LOCATOR = 0x07064b50;
export const ZIP64_EOCD = 0x06064b50;
export const CENTRAL = 0x02014b50;
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A little-endian 64-bit field, saturated at the largest safe integer. */
export function u64(b: Buffer, o: number): number {
  const v = b.readBigUInt64LE(o);
  return v > MAX_SAFE ? Number.MAX_SAFE_INTEGER : Number(v);
}

/** A central entry's 32-bit sizes and local header offset. */
export interface EntrySizes {
  usize: number;
  csize: number;
  lho: number;
}

/** {@link zip64Sizes}'s result: the entry's fields and how many ZIP64 fields gave them. */
export interface Zip64Sizes extends EntrySizes {
  /** How many ZIP64 extended-information fields (header id 1) `extra` holds. */
  fields: number;
}

/**
 * The entry's fields with the saturated (0xffffffff) ones taken from its
 * ZIP64 extended information in `extra`, in the order the format gives
 * them; `undefined` when `extra` has no ZIP64 field.
 *
 * With more than one ZIP64 field, the values come from the first, as both
 * loaders read them: miniz (`mz_zip_file_stat_internal`) stops at the first
 * field, and Python's `zipfile` (`ZipInfo._decodeExtra`) reads every field
 * but only for values still saturated, so a later field counts only where
 * the first left 0xffffffff (then the two readers differ: the caller
 * reports an entry with several fields).
 */
export function zip64Sizes(
  extra: Buffer,
  fields: EntrySizes,
): Zip64Sizes | undefined {
  const out: Zip64Sizes = { ...fields, fields: 0 };
  for (let e = 0; e + 4 <= extra.length;) {
    const id = extra.readUInt16LE(e);
    const len = extra.readUInt16LE(e + 2);
    if (id === 0x0001) {
      out.fields++;
      let q = e + 4;
      const end = Math.min(extra.length, e + 4 + len);
      if (out.usize === 0xffffffff && q + 8 <= end) {
        out.usize = u64(extra, q);
        q += 8;
      }
      if (out.csize === 0xffffffff && q + 8 <= end) {
        out.csize = u64(extra, q);
        q += 8;
      }
      if (out.lho === 0xffffffff && q + 8 <= end) out.lho = u64(extra, q);
    }
    e += 4 + len;
  }
  return out.fields > 0 ? out : undefined;
}
