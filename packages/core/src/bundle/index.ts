// SPDX-License-Identifier: Apache-2.0
export { compatPae, pae, pythonBytesRepr } from './dsse.js';
export {
  bundleLimits,
  checkBundleLists,
  DEFAULT_BUNDLE_LIMITS,
  parseBundle,
  readBundle,
  type BundleLimits,
  type ReadBundleOptions,
} from './read.js';
export type {
  DecodedEnvelope,
  EnvelopeSignature,
  MaterialKind,
  ParsedBundle,
  PublicKeyMaterial,
  SigningMethod,
} from './types.js';
export {
  buildCertificateBundle,
  buildKeyBundle,
  serializeBundle,
  writeBundle,
  type CertificateBundleJSON,
  type EnvelopeJSON,
  type KeyBundleJSON,
} from './write.js';
// Atomic, no-clobber file writing, shared with the CLI (bundles, scan reports).
export {
  assertWritable,
  writeFileAtomic,
  type AtomicWriteOptions,
} from '../internal/atomic-write.js';
