// SPDX-License-Identifier: Apache-2.0
import type { RuleInfo } from '../types.js';

/** Rules of the Hugging Face config scanner (`docs/scanner-rules.md`, "Hugging Face"). */
export const HF_RULES: readonly RuleInfo[] = Object.freeze([
  {
    id: 'HF_REMOTE_CODE',
    severity: 'high',
    title: 'config loads Python code from the repository',
    description:
      'A JSON config (`config.json`, `tokenizer_config.json`, a processor config) has an `auto_map` that names classes in Python modules of the repository (`modeling_x.MyModel` is `modeling_x.py`). transformers imports and runs those modules when the model is loaded with `trust_remote_code=True`; the scanner does not analyse Python source.',
    remediation:
      'Review the named Python files before loading with trust_remote_code=True, pin the revision you reviewed, or load a model that needs no remote code.',
  },
]);
