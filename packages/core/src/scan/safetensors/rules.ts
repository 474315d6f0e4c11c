// SPDX-License-Identifier: Apache-2.0
import type { RuleInfo } from '../types.js';

/** Rules reported by the SafeTensors scanner (`docs/scanner-rules.md`, "Other formats"). */
export const SAFETENSORS_RULES: readonly RuleInfo[] = Object.freeze([
  {
    id: 'SAFETENSORS_MALFORMED',
    severity: 'high',
    title: 'malformed safetensors header',
    description:
      'The header length, JSON, a dtype, a shape or an offset pair does not follow the safetensors format; the reference loader refuses the file, other loaders may read it differently.',
    remediation:
      'Re-export the tensors with the safetensors library; do not load a file its reference loader rejects.',
  },
  {
    id: 'SAFETENSORS_SIZE_MISMATCH',
    severity: 'high',
    title: 'tensor byte range disagrees with its shape',
    description:
      "prod(shape) × dtype size differs from the length of the tensor's data_offsets range.",
    remediation:
      'Re-export the tensors; a mismatch is either corruption or an attempt to confuse a loader.',
  },
  {
    id: 'SAFETENSORS_OFFSET_OUT_OF_BOUNDS',
    severity: 'high',
    title: 'tensor data outside the file',
    description:
      "A tensor's data_offsets end past the end of the data section.",
    remediation:
      'The file is truncated or crafted; obtain it again from a trusted source.',
  },
  {
    id: 'SAFETENSORS_OVERLAP',
    severity: 'high',
    title: 'overlapping tensors',
    description:
      'Two tensors share bytes; the reference loader requires contiguous, disjoint ranges.',
    remediation: 'Re-export the tensors with the safetensors library.',
  },
  {
    id: 'SAFETENSORS_GAP',
    severity: 'high',
    title: 'bytes between tensors',
    description:
      'The data section has bytes that no tensor accounts for; they can smuggle a second payload (a pickle or a zip) for another loader of the same file.',
    remediation: 'Re-export the tensors; inspect the unaccounted bytes.',
  },
  {
    id: 'SAFETENSORS_TRAILING_DATA',
    severity: 'high',
    title: 'bytes after the last tensor',
    description:
      'The file continues after the last tensor; the safetensors loader ignores these bytes, another loader may read them (polyglot file).',
    remediation: 'Re-export the tensors; inspect the trailing bytes.',
  },
  {
    id: 'SAFETENSORS_METADATA_INVALID',
    severity: 'high',
    title: '__metadata__ is not a string map',
    description:
      'The reference format requires `__metadata__` to map strings to strings.',
    remediation: 'Re-export the file with string metadata only.',
  },
]);
