// SPDX-License-Identifier: Apache-2.0
/** Where HDF5 (h5py, so keras.models.load_model) finds a superblock. */
import type { ByteSource } from '../types.js';

export const HDF5_SIGNATURE: Buffer = Buffer.from([
  0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a,
]);

/**
 * Whether the HDF5 signature stands after a user block of 512, 1024, 2048,
 * … bytes (the places the HDF5 library looks besides byte 0). Reads 8 bytes
 * at each place past `head`.
 */
export async function hdf5AfterUserBlock(
  head: Buffer,
  source: ByteSource,
): Promise<boolean> {
  for (let at = 512; at + 8 <= source.size; at *= 2) {
    const bytes =
      at + 8 <= head.length
        ? head.subarray(at, at + 8)
        : await source.read(at, 8);
    if (bytes.equals(HDF5_SIGNATURE)) return true;
  }
  return false;
}
