// SPDX-License-Identifier: Apache-2.0
import type { RuleInfo } from '../types.js';

/** Rules reported by the GGUF scanner (`docs/scanner-rules.md`, "Other formats"). */
export const GGUF_RULES: readonly RuleInfo[] = Object.freeze([
  {
    id: 'GGUF_TEMPLATE_INJECTION',
    severity: 'critical',
    title: 'chat template reaches Python internals',
    description:
      'A `tokenizer.chat_template*` value accesses dunder or private attributes (`__globals__`, `_TemplateReference__context`), the internals of Jinja globals (`lipsum`, `cycler`, `joiner`, `namespace`, `self`, `config`, `request`) or `popen`/`subprocess`; subscripts a function the renderer passes in or a macro (`raise_exception[…]`: Jinja getitem falls back to getattr); names such an attribute with a literal however it is spelled (escapes Jinja decodes, `\\N{…}`, a backslash-newline, adjacent literals, a dotted attribute-filter path such as `next.__func__.__globals__`); or reads one through a `str.format` field. Rendering it outside a sandbox runs code (CVE-2024-34359, CVE-2026-5760).',
    remediation:
      'Do not render the template; render chat templates only in a sandboxed Jinja environment, and replace this one with the template the model family publishes.',
  },
  {
    id: 'GGUF_TEMPLATE_SUSPICIOUS',
    severity: 'high',
    title: 'chat template spells names indirectly',
    description:
      "A subscript key that could start with `_` because the template builds it: text assembled from pieces (`~`, `+`, `join`, `replace`, `format`, `%`, `*`, string methods other than those that return part of their input), a `*_token` value (the model file's own vocabulary), macro, block or `caller` output, the text of a function, macro or namespace, or a variable, macro parameter, loop variable, list or namespace that may hold such text (through aliases and `append`/`update`/attribute sets too); a key that starts with a non-empty literal (`\"tool_\" ~ name`), a number, a loop index or the conversation's own data is not. A subscript whose key the conversation chooses (message text, tool schemas, argument keys, or a variable a request may set) on what such a key may already have named (`messages[0][k1][k2]`, followed through variables, loops, macro parameters, namespaces and lists), on `loop`, a namespace, a macro or a Jinja global, or whose result is called; a `str.format` string from the conversation. An `attr` name, attribute-filter path (positional or `attribute=`) or `map` filter name that is not a literal. `\\x5f`/octal escapes, `%c`/`{:c}` formatting, leading underscores joined, names reversed, characters picked from an object's text, Jinja globals or passed-in functions used as values. A block the analysis cannot parse, or a template past its work budget. Expressions are parsed as Jinja parses them; blocks end where Jinja's lexer ends them, and a block or raw section that does not close is analysed to the template's end.",
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
