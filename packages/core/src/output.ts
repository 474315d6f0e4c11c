// SPDX-License-Identifier: Apache-2.0
/** Writing files the way modelseal writes signatures and reports: temp file + rename, no silent overwrite. */
export {
  writeFileAtomic,
  type AtomicWriteOptions,
} from './internal/atomic-write.js';
