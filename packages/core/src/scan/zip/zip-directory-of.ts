// SPDX-License-Identifier: Apache-2.0
import type { ByteSource } from '../types.js';
import { readZipDirectory, type ZipDirectory } from './reader.js';

const directories = new WeakMap<
  ByteSource,
  Promise<ZipDirectory | undefined>
>();

/**
 * Lists a zip once per source, with the default entry limit, so that the
 * detectors of zip-based formats (PyTorch, NumPy `.npz`, Keras) and their
 * scans share one parse of the central directory.
 * @returns the directory, or undefined when the source is not a readable zip
 *   (read errors included)
 */
export function zipDirectoryOf(
  source: ByteSource,
): Promise<ZipDirectory | undefined> {
  let p = directories.get(source);
  if (p === undefined) {
    p = readZipDirectory(source).catch(() => undefined);
    directories.set(source, p);
  }
  return p;
}
