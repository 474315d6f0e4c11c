// SPDX-License-Identifier: Apache-2.0
import type { RuleInfo } from '../types.js';

/** Rules reported by the TFLite scanner (`docs/scanner-rules.md`, "Other formats"). */
export const TFLITE_RULES: readonly RuleInfo[] = Object.freeze([
  {
    id: 'TFLITE_CUSTOM_OP',
    severity: 'info',
    title: 'custom operator',
    description:
      'The model uses a custom operator that the host must register (MediaPipe models do); custom does not mean malicious.',
    remediation: 'None needed; know which library provides the kernel.',
  },
  {
    id: 'TFLITE_FLEX_OP',
    severity: 'medium',
    title: 'TensorFlow (Flex) operator',
    description:
      'A `Flex*` custom operator runs a full TensorFlow op through the Flex delegate; critical when that op (the one named in the NodeDef of its custom options, not the name after `Flex`) reads or writes files or calls Python; high when that NodeDef cannot be read. An operator code is custom when TFLite reads it so: the larger of `builtin_code` and `deprecated_builtin_code`.',
    remediation:
      'Run without the Flex delegate, or review the TensorFlow ops it would run.',
  },
  {
    id: 'TFLITE_MALFORMED',
    severity: 'high',
    title: 'malformed TFLite flatbuffer',
    description:
      'An offset, vector length or buffer range points outside the file, or the schema version is not 3; loaders that skip the flatbuffer verifier read out of bounds (tensorflow#115308).',
    remediation: 'Do not load the model; re-convert it.',
  },
]);
