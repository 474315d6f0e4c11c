// SPDX-License-Identifier: Apache-2.0
/**
 * `scanModel` as the attest entry point exports it: the scanners load on the
 * first call, so verifying a scan attestation never loads them.
 */
import type { ScanReport } from '../scan/engine.js';
import type { ScanModelOptions } from './scan-model.js';

/**
 * Scans exactly the files that signing `modelPath` would hash (same ignore
 * rules and symlink policy); see `scan-model.ts`.
 */
export async function scanModel(
  modelPath: string,
  options: ScanModelOptions = {},
): Promise<ScanReport> {
  const m = await import('./scan-model.js');
  return m.scanModel(modelPath, options);
}
