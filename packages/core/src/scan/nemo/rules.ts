// SPDX-License-Identifier: Apache-2.0
import type { RuleInfo } from '../types.js';

/** Rules of the NeMo config scanner (`docs/scanner-rules.md`, "NeMo"). */
export const NEMO_RULES: readonly RuleInfo[] = Object.freeze([
  {
    id: 'NEMO_DANGEROUS_TARGET',
    severity: 'critical',
    title: 'config instantiates a dangerous callable',
    description:
      'A `_target_` (or NeMo legacy `target`/`cls`) key of a YAML config names a callable on the pickle deny list (`os.system`, `builtins.exec`, `subprocess.Popen`, `pkgutil.resolve_name`, ...) or a dunder path; `restore_from` passes the config to Hydra, which imports and calls it while the model loads (CVE-2025-23304).',
    remediation:
      'Do not load the model; obtain it from a trusted source or load only its weights (model_weights.ckpt with weights_only=True).',
  },
  {
    id: 'NEMO_UNTRUSTED_TARGET',
    severity: 'high',
    title: 'config instantiates a callable outside the allow list',
    description:
      'A `_target_` names a callable outside the allow list (NeMo collections and core, Megatron core, torch.nn and torch.optim, the pickle allow profiles), is computed at load time (an interpolation or an unresolved alias), or is not a string. Hydra imports and calls whatever it names.',
    remediation:
      'Review the callable; if it is expected (a class of your own project), allow it in a policy file; otherwise do not load the model.',
  },
  {
    id: 'NEMO_PYTHON_TAG',
    severity: 'high',
    title: 'YAML with a Python tag',
    description:
      'The config carries a `!!python/...` tag (object, name, module, apply): an unsafe YAML loader constructs Python objects from it; OmegaConf refuses the file.',
    remediation:
      'Do not load the config with an unsafe YAML loader; re-export the model.',
  },
]);
