// SPDX-License-Identifier: Apache-2.0
import type { RuleInfo } from '../types.js';

/** Rules reported by the TensorFlow SavedModel scanner (`docs/scanner-rules.md`, "Other formats"). */
export const TF_RULES: readonly RuleInfo[] = Object.freeze([
  {
    id: 'TF_FILE_ACCESS_OP',
    severity: 'critical',
    title: 'op that reads, writes or globs files',
    description:
      'The graph or a library function uses `ReadFile`, `WriteFile`, `MatchingFiles`, file readers or datasets, summary writers, `ImmutableConst` or `LoadAndRemapMatrix`; calling a signature touches the host file system. Checkpoint plumbing (`SaveV2`, `RestoreV2`, … in save/restore functions) is not reported.',
    remediation: 'Do not serve the model; review why it needs file access.',
  },
  {
    id: 'TF_PYTHON_OP',
    severity: 'critical',
    title: 'op that calls back into Python',
    description:
      '`PyFunc`, `PyFuncStateless` or `EagerPyFunc` run a Python function of the host process; the function is looked up by token at run time.',
    remediation:
      'Do not load the model in a process that has such functions registered; rebuild it without tf.py_function.',
  },
  {
    id: 'TF_CHECKPOINT_OP_OUTSIDE_SAVER',
    severity: 'low',
    title: 'checkpoint op outside the saver',
    description:
      'A checkpoint op (`SaveV2`, `RestoreV2`, `MergeV2Checkpoints`, …) appears outside the `save/` nodes and `__inference__traced_save/restore` functions where TensorFlow puts it.',
    remediation: 'Check which signature reaches it.',
  },
  {
    id: 'TF_TABLE_FROM_FILE',
    severity: 'low',
    title: 'lookup table initialised from a file',
    description:
      '`InitializeTableFromTextFile` reads a vocabulary file (normally an asset of the SavedModel).',
    remediation: "Make sure the file it reads is one of the model's assets.",
  },
  {
    id: 'TF_PRINT_OP',
    severity: 'low',
    title: 'print op',
    description:
      '`Print`/`PrintV2` write to the log or, with `output_stream`, to a file.',
    remediation: 'Review the output stream.',
  },
  {
    id: 'TF_MALFORMED',
    severity: 'high',
    title: 'malformed SavedModel protobuf',
    description:
      'saved_model.pb is not valid wire format; TensorFlow refuses it, and the rest was not scanned. (A file over the in-memory limit is SCAN_INCOMPLETE.)',
    remediation: 'Re-export the model.',
  },
]);
