// SPDX-License-Identifier: Apache-2.0
/**
 * Keys of `ScanContext.settings`, in a module of their own: the engine sets
 * them without loading the scanners that read them.
 */

/** Key of `ScanContext.settings` holding a `CompiledScanPolicy` (the pickle scanner reads it). */
export const PICKLE_POLICY_SETTING = 'pickle.policy';
