// SPDX-License-Identifier: Apache-2.0
import type { RuleInfo } from '../types.js';

/** Rules reported by the Keras scanners (`docs/scanner-rules.md`, "Other formats"). */
export const KERAS_RULES: readonly RuleInfo[] = Object.freeze([
  {
    id: 'KERAS_LAMBDA',
    severity: 'critical',
    title: 'Lambda layer',
    description:
      'A Lambda layer (Keras 3 `__lambda__` or legacy `function_type: "lambda"`) carries marshalled Python bytecode that runs when the model is loaded with safe_mode off, and when it is called (CVE-2024-3660). Found at any depth of the config.',
    remediation:
      'Do not load the model with safe_mode=False; replace the Lambda with a registered custom layer whose code you review.',
  },
  {
    id: 'KERAS_DANGEROUS_LAYER',
    severity: 'critical',
    title: 'layer that loads other code',
    description:
      '`TorchModuleWrapper` calls `torch.load(weights_only=False)` (CVE-2025-49655); `TFSMLayer` loads an attacker-chosen SavedModel (CVE-2026-1462).',
    remediation:
      'Do not load the model with an affected Keras version; review where the wrapped model comes from.',
  },
  {
    id: 'KERAS_UNSAFE_MODULE',
    severity: 'high',
    title: 'object from a module outside Keras',
    description:
      'A config object names a `module` whose root is not keras, keras_hub, keras_nlp, keras_cv, keras_rs, tensorflow or tf_keras; Keras before 3.9 imported it even in safe_mode (CVE-2025-1550). Critical for os, subprocess, builtins and similar modules.',
    remediation:
      'Load only with Keras ≥ 3.9 and safe_mode on; review the referenced module.',
  },
  {
    id: 'KERAS_SAFE_MODE_BYPASS',
    severity: 'critical',
    title: 'config calls a safe-mode bypass gadget',
    description:
      'A `class_name: "function"` object (or a module reference) names `enable_unsafe_deserialization`, `get_file` or a similar gadget that turns safe_mode off or fetches files during loading (CVE-2025-9906, CVE-2025-8747).',
    remediation: 'Do not load the model; upgrade Keras to ≥ 3.11.',
  },
  {
    id: 'KERAS_DUPLICATE_CONFIG',
    severity: 'high',
    title: 'config.json appears more than once',
    description:
      "Python's zipfile reads the last copy; a scanner that reads the first is bypassed. Every copy is scanned.",
    remediation: 'Do not load the model; re-save it.',
  },
  {
    id: 'KERAS_CUSTOM_OBJECT',
    severity: 'low',
    title: 'custom registered object',
    description:
      "A `registered_name` names a package-registered custom object; loading needs that package's code.",
    remediation: 'Make sure the package that registers it is one you trust.',
  },
  {
    id: 'KERAS_MALFORMED',
    severity: 'high',
    title: 'Keras config does not parse',
    description:
      'config.json (or the .h5 model_config found by the heuristic search, or a keras_metadata.pb) is not valid JSON or protobuf; Keras refuses it, another reader may not. (A config over the JSON limits is SCAN_INCOMPLETE.)',
    remediation:
      'Re-save the model; do not load files whose config cannot be inspected.',
  },
]);
