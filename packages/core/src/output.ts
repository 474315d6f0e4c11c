// SPDX-License-Identifier: Apache-2.0
/** Output helpers: writing files the way modelseal writes signatures and reports (temp file + rename, no silent overwrite), and text from artifacts made safe to print. */
export {
  writeFileAtomic,
  type AtomicWriteOptions,
} from './internal/atomic-write.js';
/** Making text from artifacts and bundles safe for a terminal or a log line. */
export {
  isSafeText,
  safeJSONStringify,
  safeText,
} from './internal/safe-text.js';
