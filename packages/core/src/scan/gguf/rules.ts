// SPDX-License-Identifier: Apache-2.0
import type { RuleInfo } from '../types.js';

/** Rules reported by the GGUF scanner (`docs/scanner-rules.md`, "Other formats"). */
export const GGUF_RULES: readonly RuleInfo[] = Object.freeze([
  {
    id: 'GGUF_TEMPLATE_INJECTION',
    severity: 'critical',
    title: 'chat template reaches Python internals',
    description:
      'A `tokenizer.chat_template*` value accesses dunder attributes, `__globals__`/`__builtins__`, the internals of Jinja globals (`lipsum`, `cycler`, `joiner`, `namespace`, `self`, `config`, `request`) or `popen`/`subprocess`, or subscripts a function the renderer passes in (`raise_exception[…]`: Jinja getitem falls back to getattr); rendering it outside a sandbox runs code (CVE-2024-34359, CVE-2026-5760).',
    remediation:
      'Do not render the template; render chat templates only in a sandboxed Jinja environment, and replace this one with the template the model family publishes.',
  },
  {
    id: 'GGUF_TEMPLATE_SUSPICIOUS',
    severity: 'high',
    title: 'chat template spells names indirectly',
    description:
      "The template spells names indirectly: `|attr(` or an attribute filter on a computed value, `\\x5f`/octal escapes, `%c`/`{:c}` formatting, underscores repeated, joined, formatted or substituted in, names reversed, characters from an object's text, Jinja globals used as values, `{% set %}` text, a subscript key that is computed (concatenated, formatted, filtered, held in a variable so built, or a `*_token` value, which the model file's own vocabulary supplies). Blocks end where Jinja's lexer ends them (brackets balanced), and a block or raw section that does not close is analysed to the template's end.",
    remediation:
      'Review the template by hand; real chat templates do not need these constructs.',
  },
  {
    id: 'GGUF_DUPLICATE_KEY',
    severity: 'high',
    title: 'metadata key appears twice',
    description:
      'Loaders disagree on which copy wins (current ggml rejects, older readers took the first, @huggingface/gguf keeps the last), so a payload can hide in one copy; every copy is scanned.',
    remediation: 'Do not load the file; re-convert the model.',
  },
  {
    id: 'GGUF_DUPLICATE_TENSOR',
    severity: 'high',
    title: 'tensor name appears twice',
    description: 'Two tensor infos share a name; loaders pick different ones.',
    remediation: 'Re-convert the model.',
  },
  {
    id: 'GGUF_SIZE_OVERFLOW',
    severity: 'high',
    title: 'tensor size overflows',
    description:
      "prod(dims) × type size overflows 64 bits, or a dim is not a multiple of the type's block size; this is how llama.cpp heap overflows were triggered (CVE-2025-53630, CVE-2026-27940, GHSA-96jg-mvhq-q7q7).",
    remediation:
      'Do not load the file in a GGUF runtime older than the fixes; re-convert the model.',
  },
  {
    id: 'GGUF_TENSOR_OUT_OF_BOUNDS',
    severity: 'high',
    title: 'tensor data outside the file',
    description:
      "A tensor's offset plus size runs past the end of the data section, or the offset is not aligned.",
    remediation: 'The file is truncated or crafted; obtain it again.',
  },
  {
    id: 'GGUF_TENSOR_OVERLAP',
    severity: 'high',
    title: 'overlapping tensors',
    description: 'Two tensors share bytes of the data section.',
    remediation: 'Re-convert the model.',
  },
  {
    id: 'GGUF_MALFORMED',
    severity: 'high',
    title: 'malformed GGUF header',
    description:
      'A count, length, type or alignment in the header is invalid or runs past the end of the file; parsing stopped there.',
    remediation:
      'Do not load the file; GGUF parsers have had memory-safety bugs on such headers (CVE-2024-21802).',
  },
]);
