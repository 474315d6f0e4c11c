// SPDX-License-Identifier: Apache-2.0
/**
 * The compression wrappers the scanner decodes, in the order the registry
 * consults them (each is also its scanner's id). A module of its own, with
 * no imports: the registry names them without loading any decoder.
 */
export const WRAPPER_KINDS = [
  'gzip',
  'zlib',
  'bzip2',
  'xz',
  'lzma',
  'zstd',
  'lz4',
  'joblib-zf',
] as const;

/** A compression wrapper the scanner decodes. */
export type WrapperKind = (typeof WRAPPER_KINDS)[number];
