// SPDX-License-Identifier: Apache-2.0
import type { RuleInfo } from '../types.js';

/** Rules of the skops scanner (`docs/scanner-rules.md`, "skops"). */
export const SKOPS_RULES: readonly RuleInfo[] = Object.freeze([
  {
    id: 'SKOPS_DANGEROUS_CALLABLE',
    severity: 'critical',
    title: 'skops schema names a dangerous callable',
    description:
      'A function, method, operator, type or reduce node of `schema.json` names a callable on the pickle deny list (`os.system`, `builtins.eval`, `subprocess.Popen`, `operator.attrgetter`, ...) or a dunder path. Loading with that name trusted (or with a skops version affected by CVE-2025-54412/54413) runs it.',
    remediation:
      'Do not load the file, and never pass these names in `trusted=`; obtain the model from a trusted source.',
  },
  {
    id: 'SKOPS_UNTRUSTED_CALLABLE',
    severity: 'high',
    title: 'skops schema holds a function, method or operator',
    description:
      'A `FunctionNode`, `MethodNode` or `OperatorFuncNode` refers to a callable; skops refuses it unless the caller trusts it by name, and its own trust checks for operators and methods were bypassed before 0.12 (CVE-2025-54412, CVE-2025-54413).',
    remediation:
      'Review the callable; pass it in `trusted=` only if you know why the model needs it.',
  },
  {
    id: 'SKOPS_UNTRUSTED_TYPE',
    severity: 'high',
    title: 'skops schema builds a type outside the trusted set',
    description:
      'A node constructs an object (or refers to a type) that is neither a builtin container or scalar, nor a scikit-learn class, nor a NumPy/SciPy type, nor on the pickle allow profiles: what `skops.io.get_untrusted_types` lists and `skops.io.load` refuses by default.',
    remediation:
      'Review the type; trust it explicitly only if it comes from a package you trust.',
  },
  {
    id: 'SKOPS_UNKNOWN_NODE',
    severity: 'high',
    title: 'skops node of an unknown kind',
    description:
      'A node of `schema.json` has a `__loader__` that skops does not define; skops refuses the file, and other readers may do something else with it.',
    remediation: 'Do not load the file; re-save the model with skops.',
  },
  {
    id: 'SKOPS_MALFORMED',
    severity: 'high',
    title: 'skops schema.json does not parse or appears twice',
    description:
      '`schema.json` is not a JSON object, or the zip holds more than one `schema.json` (Python reads the last copy; every copy is scanned). A schema that cannot be inspected is not known to be safe.',
    remediation: 'Do not load the file; re-save the model with skops.',
  },
]);
