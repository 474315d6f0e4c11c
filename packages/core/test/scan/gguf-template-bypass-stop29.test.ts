// SPDX-License-Identifier: Apache-2.0
// Three red-team bypasses of the chat-template analysis (stop 29): each ran
// code when rendered by an unsandboxed jinja2 Environment (CVE-2024-34359)
// while the scan reported nothing.
//  1. `}}` inside open braces does not end a `{{ }}` block (Jinja balances
//     brackets), so the payload after it was skipped as text.
//  2. `{% endraw +%}` (Jinja accepts `+` and `-` on both sides) was not
//     recognised, and everything after `{% raw %}` was dropped.
//  3. Computed subscripts: Jinja's getitem falls back to getattr for string
//     keys, so `raise_exception[d~'globals'~d]` reaches `__globals__`.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeChatTemplate } from '../../src/scan/gguf/index.js';
import { REPO_ROOT, scanBytes } from './archive/format-harness.js';
import { ggufWithTemplate } from './helpers/gguf-template.js';

const templates = (await import(
  join(REPO_ROOT, 'scripts/fixtures/chat-templates.mjs')
)) as Record<string, unknown>;

const gguf = ggufWithTemplate;

const POPEN = "cycler.__init__.__globals__.os.popen('id').read()";

/**
 * The red team's payloads (/tmp/rt3-a/g_*.gguf) and variants of each, all
 * verified to run code under jinja2 3.1 (except the two unterminated ones,
 * which Jinja rejects: they must still not hide code from the analysis).
 * The original analysis reported nothing for any of them.
 */
const BYPASSES: readonly [string, string][] = [
  ['brace (PoC)', `{{ {'a':{'b':1}} ~ ${POPEN} }}`],
  ['brace in a list', `{{ [{'a':{'b':1}}] ~ ${POPEN} }}`],
  ['brace in a tuple', `{{ ({'a':{'b':1}}, 1) ~ ${POPEN} }}`],
  ['raw with +%} (PoC)', `{% raw %}x{% endraw +%}{{ ${POPEN} }}`],
  ['raw with {%+ endraw', `{% raw %}x{%+ endraw %}{{ ${POPEN} }}`],
  ['raw never ended', `{% raw %}x{{ ${POPEN} }}`],
  ['comment never ended', `{# x {{ ${POPEN} }}`],
  [
    'computed subscripts (PoC)',
    "{% set u='_' %}{% set d=u~u %}{{ raise_exception[d~'globals'~d][d~'builtins'~d][d~'import'~d]('os')['popen']('id').read() }}",
  ],
  [
    'computed subscripts, no telling literal',
    "{% set u = '_' %}{% set d = u ~ u %}{% set g = 'glo' ~ 'bals' %}{{ raise_exception[d ~ g ~ d] }}",
  ],
  [
    'key held in a set variable',
    "{% set u = '_' %}{% set k = u ~ u ~ 'glo' ~ 'bals' ~ u ~ u %}{{ raise_exception[k] }}",
  ],
  [
    'key from a loop over assembled names',
    "{% set u = '_' %}{% for k in [u ~ u ~ 'glo' ~ 'bals' ~ u ~ u] %}{{ raise_exception[k] }}{% endfor %}",
  ],
  [
    'key passed to a macro',
    "{% set u = '_' %}{% macro g(o, k) %}{{ o[k] }}{% endmacro %}{{ g(raise_exception, u ~ u ~ 'glo' ~ 'bals' ~ u ~ u) }}",
  ],
  [
    'key joined with +',
    "{% set u = '_' %}{{ raise_exception[u + u + 'glo' + 'bals' + u + u] }}",
  ],
  ['literal internal key', "{{ f['builtins'] }}"],
  ['literal internal attr', "{{ f|attr('popen') }}"],
];

/** Shapes the old analysis already caught; kept so the rewrite does not lose them. */
const STILL_FLAGGED: readonly [string, string][] = [
  ['brace in a statement', `{% set x = {'a':{'b':1}} ~ ${POPEN} %}`],
  ['}} in a string', `{{ ('}}', {'x':[1]}) ~ ${POPEN} }}`],
  ['raw with {%- endraw -%}', `{%- raw -%}x{%- endraw -%}{{ ${POPEN} }}`],
  ['private subscript', "{{ self['_TemplateReference__context'] }}"],
];

/** Templates real models ship (repository fixtures and well-known families). */
const GEMMA = `{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{'<start_of_turn>model\n'}}{% endif %}`;
const MISTRAL = `{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}`;
// Shapes from Qwen3 and Qwen3-Coder: namespace indices, loop-variable keys,
// macros over tool schemas, split()[-1], nested literal subscripts.
const QWEN3_SHAPES = `{%- macro render_extra_keys(json_dict, handled_keys) %}{%- if json_dict is mapping %}{%- for json_key in json_dict if json_key not in handled_keys %}{%- if json_dict[json_key] is mapping %}{{- '\\n<' ~ json_key ~ '>' ~ (json_dict[json_key] | tojson | safe) ~ '</' ~ json_key ~ '>' }}{%- else %}{{- '\\n<' ~ json_key ~ '>' ~ (json_dict[json_key] | string) ~ '</' ~ json_key ~ '>' }}{%- endif %}{%- endfor %}{%- endif %}{%- endmacro %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}{%- set index = (messages|length - 1) - loop.index0 %}{%- if ns.multi_step_tool and message.role == "user" %}{%- set ns.multi_step_tool = false %}{%- set ns.last_query_index = index %}{%- endif %}{%- endfor %}
{%- for tool in tools %}{%- for param_name, param_fields in tool.parameters.properties|items %}{%- set handled_keys = ['name', 'type', 'description'] %}{{- render_extra_keys(param_fields, handled_keys) }}{%- endfor %}{%- endfor %}
{%- for message in messages %}{%- set content = message.content.split('</think>')[-1].lstrip('\\n') %}{{- '<|im_start|>' + message[ 'role' ] + '\\n' + content }}
{%- if message.tool_calls %}{%- for tool_call in message.tool_calls %}{{- tool_call['function']['name'] }}{{- tool_call['function']['arguments'] | tojson }}{%- for key in tool_call['function'] %}{{- tool_call['function'][key] }}{%- endfor %}{%- endfor %}{%- endif %}
{{- messages[ns.last_query_index]['content'] }}{{- messages[loop.index0 + 1]['role'] if not loop.last }}{{- messages[(messages|length) - 1]['content'] }}{{- roles[message['role']] }}
{%- endfor %}`;

const FIXTURE_CONTROLS = [
  'CHATML',
  'LLAMA3_TOOLS',
  'QWEN_TOOLS',
  'PROSE_MENTIONS',
]
  .map((name) => [name, templates[name] as string] as [string, string])
  .concat(
    (templates.SSTI_LOOKALIKES as [string, string][]).map(
      ([name, t]) => [name, t] as [string, string],
    ),
  );
const CONTROLS: readonly [string, string][] = [
  ...FIXTURE_CONTROLS,
  ['gemma', GEMMA],
  ['mistral', MISTRAL],
  ['qwen3 shapes', QWEN3_SHAPES],
  [
    'balanced braces and raw done right',
    "{{ {'a': {'b': 1}}['a']['b'] }}{% raw %}{{ self.__init__ }}{% endraw %}{%- raw -%}{{ x }}{%+ endraw -%}{{ message['content'] }}",
  ],
];

describe('chat template bypasses (stop 29)', () => {
  it.each([...BYPASSES, ...STILL_FLAGGED])('%s is flagged', (_l, template) => {
    expect(analyzeChatTemplate(template).length).toBeGreaterThan(0);
  });

  it.each(BYPASSES)(
    '%s is a high or critical finding',
    async (_l, template) => {
      const { findings } = await scanBytes(gguf(template));
      const template_ = findings.filter((f) =>
        f.ruleId.startsWith('GGUF_TEMPLATE_'),
      );
      expect(template_.length).toBeGreaterThan(0);
      expect(
        template_.every(
          (f) => f.severity === 'high' || f.severity === 'critical',
        ),
      ).toBe(true);
    },
  );

  it('reports the red-team PoCs as injection', () => {
    for (const [label, template] of BYPASSES.filter(([l]) =>
      l.endsWith('(PoC)'),
    )) {
      expect(
        analyzeChatTemplate(template).some((i) => i.kind === 'injection'),
        label,
      ).toBe(true);
    }
  });

  it.each(CONTROLS)('accepts the real template %s', (_label, template) => {
    expect(analyzeChatTemplate(template)).toEqual([]);
  });

  it.each(CONTROLS)('scans %s with no template finding', async (_l, t) => {
    const { findings } = await scanBytes(gguf(t));
    expect(
      findings.filter((f) => f.severity !== 'info' && f.severity !== 'low'),
    ).toEqual([]);
  });
});
