// SPDX-License-Identifier: Apache-2.0
export { scanModel } from './scan-model-lazy.js';
export type { ScanModelOptions } from './scan-model.js';
export {
  MAX_ATTESTED_FINDINGS,
  SCAN_PREDICATE_TYPE,
  decodeScanStatement,
  encodeScanStatement,
  scanVerdict,
  type ScanPredicate,
  type ScanStatement,
  type ScanStatementInput,
} from './scan-statement.js';
export {
  defaultScanAttestationPath,
  verifyScanAttestation,
  type ScanAttestationResult,
} from './verify-scan.js';
