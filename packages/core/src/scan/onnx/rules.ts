// SPDX-License-Identifier: Apache-2.0
import type { RuleInfo } from '../types.js';

/** Rules reported by the ONNX scanner (`docs/scanner-rules.md`, "Other formats"). */
export const ONNX_RULES: readonly RuleInfo[] = Object.freeze([
  {
    id: 'ONNX_CUSTOM_DOMAIN',
    severity: 'high',
    title: 'operator outside the standard domains',
    description:
      "A node (in the main graph, an If/Loop/Scan subgraph, a training graph or a model-local function) uses an operator domain that is neither standard ONNX nor onnxruntime's own; running the model needs a custom operator library supplied by the host.",
    remediation:
      'Review where the custom operator implementation comes from before registering it; prefer models that use standard operators only.',
  },
  {
    id: 'ONNX_EXTERNAL_DATA_ESCAPE',
    severity: 'critical',
    title: 'external data outside the model directory',
    description:
      "A tensor's external_data location is absolute, has a drive letter or UNC prefix, climbs out with `..`, or resolves through a symlink to a path outside the model directory, checked on the raw location as the kernel resolves it (`link/../x` through a linked folder) as well as normalised; loading reads (and re-saving writes) arbitrary files (CVE-2022-25882, CVE-2024-27318, CVE-2025-51480). High when the location only holds a `..` component (onnx 1.16 refuses it) or is too long to check (over 4,096 bytes).",
    remediation:
      'Do not load the model; external data files must be plain files inside the model directory.',
  },
  {
    id: 'ONNX_EXTERNAL_DATA_MISSING',
    severity: 'low',
    title: 'external data file not found',
    description:
      'A tensor refers to an external data file that does not exist next to the model.',
    remediation:
      'Ship the external data files with the model, or check that the right directory was scanned.',
  },
  {
    id: 'ONNX_EXTERNAL_DATA_OUT_OF_RANGE',
    severity: 'high',
    title: 'external data range outside its file',
    description:
      'offset + length of an external data reference runs past the end of the external file.',
    remediation:
      'The model or its data file is truncated or crafted; obtain both again.',
  },
  {
    id: 'ONNX_TENSOR_SIZE_MISMATCH',
    severity: 'high',
    title: 'tensor data disagrees with its dims',
    description:
      'prod(dims) × element size differs from the bytes the tensor carries (raw_data or external data length).',
    remediation:
      'Re-export the model; a mismatch is corruption or an attempt to trigger an out-of-bounds read.',
  },
  {
    id: 'ONNX_TENSOR_ABSURD_SIZE',
    severity: 'high',
    title: 'tensor with an absurd declared size',
    description:
      'A tensor declares negative dims or more than 1 TiB of data; loaders that trust the dims allocate or read out of bounds.',
    remediation:
      'Do not load the model in a runtime that trusts declared sizes.',
  },
  {
    id: 'ONNX_NESTING_TOO_DEEP',
    severity: 'high',
    title: 'graph nesting too deep',
    description:
      "Subgraphs or messages nest beyond the scanner's depth cap; recursive decoders overflow their stack on such files. The part below the cap was not scanned.",
    remediation:
      'Treat the model as hostile unless its producer is known; real models nest a handful of levels.',
  },
  {
    id: 'ONNX_MALFORMED',
    severity: 'high',
    title: 'malformed ONNX protobuf',
    description:
      'The file is not valid protobuf wire format for ModelProto, or it has no graph; the part after the error was not scanned.',
    remediation: 'Re-export the model; do not load files that do not parse.',
  },
  {
    id: 'ONNX_UNUSED_CUSTOM_OPSET',
    severity: 'info',
    title: 'non-standard opset imported but unused',
    description:
      'The model imports an opset domain outside the standard ones that no node uses.',
    remediation: 'None needed; informational.',
  },
]);
