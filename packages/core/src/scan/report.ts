// SPDX-License-Identifier: Apache-2.0
/**
 * `@modelseal/core/scan/report`: what presenting a scan needs (severities,
 * limits and their defaults, finding locations, SARIF) without
 * loading a single format scanner. The scanners are in `@modelseal/core/scan`.
 */
export {
  toSarif,
  sarifLevel,
  findingUri,
  findingFingerprint,
  SECURITY_SEVERITY,
  type SarifLog,
  type SarifOptions,
} from './sarif.js';
export {
  SEVERITIES,
  DEFAULT_SCAN_LIMITS,
  severityRank,
  severityAtLeast,
  type Severity,
  type Finding,
  type RuleInfo,
  type ScanLimits,
  type FileScanResult,
} from './types.js';
export { SCAN_INCOMPLETE, INCOMPLETE_RULE_IDS } from './incomplete.js';
