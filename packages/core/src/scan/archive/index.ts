// SPDX-License-Identifier: Apache-2.0
export { GzipScanner, TarArchiveScanner } from './tar-scanner.js';
export {
  ZipArchiveScanner,
  scanZipArchive,
  type ZipScanHooks,
} from './zip-scanner.js';
export { bufferSource } from '../source.js';
export { ARCHIVE_RULES } from './rules.js';
