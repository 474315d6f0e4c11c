// SPDX-License-Identifier: Apache-2.0
/** Barrel of the scanner: what `packages/core/src/index.ts` re-exports. */
export {
  scanPaths,
  scanFile,
  scanSource,
  reportReaches,
  summariseResults,
  type ScanOptions,
  type ScanReport,
  type ScanSummary,
  type ScanProgressEvent,
} from './engine.js';
export {
  loadScanPolicy,
  parseScanPolicy,
  compileScanPolicy,
  ALLOW_PROFILES,
  DEFAULT_ALLOW_PROFILES,
  type ScanPolicy,
  type CompiledScanPolicy,
  type AllowProfileName,
} from './policy.js';
export { SCAN_RULES, PICKLE_FAMILY_RULES, ruleInfo } from './rules.js';
export {
  toSarif,
  sarifLevel,
  findingUri,
  findingFingerprint,
  SECURITY_SEVERITY,
  type SarifLog,
  type SarifOptions,
} from './sarif.js';
export { SCANNERS, FALLBACK_SCANNERS, lazyScanner } from './registry.js';
export {
  openFileSource,
  sliceSource,
  bufferSource,
  type FileByteSource,
} from './source.js';
export {
  readZipDirectory,
  readZipEntry,
  isZipHead,
  type ZipEntry,
  type ZipDirectory,
  type ZipAnomaly,
  type ZipEntryData,
} from './zip/reader.js';
export {
  analysePickleSource,
  type PickleAnalysis,
  type PickleValue,
} from './pickle/vm.js';
export { normaliseGlobal, type NormalisedGlobal } from './pickle/names.js';
export {
  SEVERITIES,
  DEFAULT_SCAN_LIMITS,
  severityRank,
  severityAtLeast,
  type Severity,
  type Finding,
  type FindingInput,
  type RuleInfo,
  type ByteSource,
  type ScanLimits,
  type FileScanResult,
  type ScanContext,
  type FormatScanner,
} from './types.js';
export {
  OnnxScanner,
  normaliseExternalLocation,
  ONNX_RULES,
} from './onnx/index.js';
export { SafetensorsScanner, SAFETENSORS_RULES } from './safetensors/index.js';
export {
  GgufScanner,
  analyzeChatTemplate,
  GGUF_RULES,
  type TemplateIssue,
} from './gguf/index.js';
export {
  KerasScanner,
  KerasH5Scanner,
  KerasMetadataScanner,
  walkKerasConfig,
  KERAS_RULES,
} from './keras/index.js';
export {
  SavedModelScanner,
  classifyTensorFlowOp,
  TF_RULES,
} from './savedmodel/index.js';
export { TfliteScanner, TFLITE_RULES } from './tflite/index.js';
export {
  GzipScanner,
  TarArchiveScanner,
  ZipArchiveScanner,
  scanZipArchive,
  ARCHIVE_RULES,
  type ZipScanHooks,
} from './archive/index.js';
