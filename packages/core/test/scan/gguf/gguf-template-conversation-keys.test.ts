// SPDX-License-Identifier: Apache-2.0
// Keys the conversation chooses. Whoever publishes a GGUF can also send chat
// messages (and tools) to a server that renders its template, so a template
// that subscripts with text taken from the conversation lets the sender name
// attributes: Jinja's getitem falls back to getattr when the key is not an
// item. One such lookup on the conversation's data or on a literal yields a
// type, a bound method or a doc string; running code takes a chain of them or
// a call of one, and that is what the analysis reports.
//
// EXPLOITS: each was rendered by an unsandboxed jinja2 3.1.6 Environment (as
// llama-cpp-python did before its sandbox fix), with a system message and one
// user message whose text is `message` below (the second one also with the
// tool list in `tools`); each ran `touch` on a marker file. An
// ImmutableSandboxedEnvironment stops each with a SecurityError. The
// analysis before this change reported none of them.
//
// BENIGN: minimal snippets written after constructs of the 152 published
// templates the analysis is checked against (Qwen 3.5/3.6, Nemotron, EXAONE
// 4, Command R, Hermes 2 Pro, Jamba, DeepSeek V3.2, Llama Guard 3).
import { describe, expect, it } from 'vitest';
import { analyzeChatTemplate } from '../../../src/scan/gguf/index.js';
import { scanBytes } from '../archive/format-harness.js';
import { ggufWithTemplate } from '../helpers/gguf-template.js';

const gguf = ggufWithTemplate;

/** The finding details of this rule. */
const CONVERSATION =
  /conversation key may name|key from the conversation|format string the conversation/;

/** [label, template, the user message that made it run a command]. */
const EXPLOITS: readonly [string, string, string][] = [
  [
    'a chain of message-chosen names on the message dict',
    "{%- set ks = messages[-1]['content'].split('|') -%}" +
      '{%- set base = messages[0][ks[0]][ks[1]][ks[1]] -%}' +
      '{%- for c in base[ks[2]]() -%}{%- if c[ks[3]] == ks[4] -%}' +
      '{{- c[ks[5]][ks[6]][ks[7]](ks[8])[ks[9]]() -}}' +
      '{%- endif -%}{%- endfor -%}',
    '__class__|__base__|__subclasses__|__name__|_wrap_close|__init__|__globals__|popen|touch MARKER|read',
  ],
  [
    'names from the property names of a tool schema',
    '{%- for tool in tools -%}' +
      '{%- set ks = tool.function.parameters.properties | list -%}' +
      '{%- set base = messages[0][ks[0]][ks[1]][ks[1]] -%}' +
      '{%- for c in base[ks[2]]() if c[ks[3]] == tool.function.name -%}' +
      '{{- c[ks[4]][ks[5]][ks[6]](tool.function.description)[ks[7]]() -}}' +
      '{%- endfor -%}{%- endfor -%}',
    // tools: one function named `_wrap_close`, described `touch MARKER`,
    // with properties __class__, __base__, __subclasses__, __name__,
    // __init__, __globals__, popen, read.
    'what is the weather?',
  ],
  [
    'a recursive macro walking a path from the message',
    '{%- macro walk(o, path) -%}' +
      '{%- if path | length == 0 -%}{{- o -}}' +
      "{%- elif path[0] == '()' -%}{{- walk(o(), path[1:]) -}}" +
      "{%- elif path[0].startswith('(') -%}{{- walk(o(path[0][1:]), path[1:]) -}}" +
      "{%- elif path[0].startswith('#') -%}" +
      '{%- for c in o if c[path[1]] == path[0][1:] -%}{{- walk(c, path[2:]) -}}{%- endfor -%}' +
      '{%- else -%}{{- walk(o[path[0]], path[1:]) -}}' +
      '{%- endif -%}{%- endmacro -%}' +
      "{{- walk(messages[0], messages[-1]['content'].split(' ')) -}}",
    '__class__ __base__ __base__ __subclasses__ () #_wrap_close __name__ __init__ __globals__ popen (touch${IFS}MARKER read ()',
  ],
  [
    'a namespace attribute folding the names in a loop',
    "{%- set ks = messages[-1]['content'].split('|') -%}" +
      '{%- set ns = namespace(o=messages[0]) -%}' +
      '{%- for k in ks[:3] -%}{%- set ns.o = ns.o[k] -%}{%- endfor -%}' +
      '{%- for c in ns.o[ks[3]]() if c[ks[4]] == ks[5] -%}' +
      '{%- set ns.o = c -%}' +
      '{%- for k in ks[6:9] -%}{%- set ns.o = ns.o[k] -%}{%- endfor -%}' +
      '{{- ns.o(ks[9])[ks[10]]() -}}' +
      '{%- endfor -%}',
    '__class__|__base__|__base__|__subclasses__|__name__|_wrap_close|__init__|__globals__|popen|touch MARKER|read',
  ],
  [
    'names looked up on the loop object',
    "{%- set ks = messages[-1]['content'].split('|') -%}" +
      '{%- for m in messages -%}{%- if loop.last -%}' +
      '{{- loop[ks[0]][ks[1]][ks[2]][ks[3]](ks[4])[ks[5]](ks[6])[ks[7]]() -}}' +
      '{%- endif -%}{%- endfor -%}',
    '__init__|__globals__|__builtins__|__import__|os|popen|touch MARKER|read',
  ],
  [
    'a call of one message-chosen method (__reduce_ex__)',
    "{%- set ks = messages[-1]['content'].split('|') -%}" +
      '{%- set f = messages[0][ks[0]] -%}{%- set r = f(2) -%}' +
      '{{- r[0][ks[1]][ks[2]][ks[3]](ks[4])[ks[5]](ks[6])[ks[7]]() -}}',
    '__reduce_ex__|__globals__|__builtins__|__import__|os|popen|touch MARKER|read',
  ],
  [
    'a key removed from the mapping its loop walks',
    "{%- set ks = messages[-1]['content'].split('|') -%}" +
      '{%- set d = {ks[0]: 1} -%}' +
      '{%- for k, v in d.items() -%}{%- set _ = d.pop(k) -%}' +
      '{%- set base = d[k][ks[1]][ks[1]] -%}' +
      '{%- for c in base[ks[2]]() if c[ks[3]] == ks[4] -%}' +
      '{{- c[ks[5]][ks[6]][ks[7]](ks[8])[ks[9]]() -}}' +
      '{%- endfor -%}{%- endfor -%}',
    '__class__|__base__|__subclasses__|__name__|_wrap_close|__init__|__globals__|popen|touch MARKER|read',
  ],
];

/** Smaller shapes of the rule (not exploits on their own). */
const SHAPES: readonly [string, string][] = [
  [
    'two message-chosen names in a row',
    "{% set k = messages[-1]['content'].split('|') %}{{ messages[0][k[0]][k[1]] }}",
  ],
  [
    'the chain through a variable',
    '{% set x = messages[0][messages[1].content] %}{{ x[messages[2].content] }}',
  ],
  [
    'the chain through a macro parameter',
    '{% macro f(o) %}{{ o[messages[1].content] }}{% endmacro %}{{ f(messages[0][messages[2].content]) }}',
  ],
  [
    'a message-chosen name on the loop object',
    '{% for m in messages %}{{ loop[m.content] }}{% endfor %}',
  ],
  [
    'a message-chosen name on a namespace',
    '{% set ns = namespace(a=1) %}{{ ns[messages[0].content] }}',
  ],
  [
    'a message-chosen method called',
    '{{ messages[0].content[messages[1].content](messages) }}',
  ],
  [
    'a format string from the message',
    '{{ messages[0].content.format(messages) }}',
  ],
  [
    'a set that reads its own name in sequence',
    "{% set p = messages[0] %}{% set p = p[messages[1]['content']] %}{% set p = p[messages[2]['content']] %}{{ p }}",
  ],
  [
    'keys of a mapping, then the name rebound in the loop',
    '{% for k, v in messages[0].items() %}{% set d = messages[0].content %}{{ d[k][messages[1].content] }}{% endfor %}',
  ],
  [
    'a call through a namespace attribute set by an alias',
    '{% set ns = namespace(o=none) %}{% set a = ns %}{% set a.o = messages[0][messages[1].content] %}{{ ns.o(2) }}',
  ],
  [
    'a call of what a cycler hands back',
    '{% set c = cycler(messages[0][messages[1].content]) %}{{ c.next()(2) }}',
  ],
  [
    'a key loop over a list (getattr on the list)',
    "{% set p = messages[0].content.split('|') %}{% for k in p %}{{ p[k][p[0]] }}{% endfor %}",
  ],
];

const BENIGN: readonly [string, string][] = [
  [
    'fields of each property, looked up in the property (own keys)',
    '{%- set props = tool.function.parameters.properties %}' +
      '{%- for name, spec in props.items() %}' +
      '{%- for field in props[name].keys() %}' +
      '{{- name }}.{{ field }}={{ props[name][field] | tojson }}' +
      '{%- endfor %}{%- endfor %}',
  ],
  [
    'arguments in key order (dictsort)',
    '{%- for key, value in tool_call.function.arguments | dictsort %}{{ key }}={{ tool_call.function.arguments[key] | tojson }}{%- endfor %}',
  ],
  [
    'argument values looked up by name (Qwen 3.5)',
    '{%- if tool_call.arguments is mapping %}{%- for args_name in tool_call.arguments %}' +
      '{%- set args_value = tool_call.arguments[args_name] %}' +
      "{{- '<parameter=' + args_name + '>' }}" +
      '{{- args_value | tojson | safe if args_value is mapping else args_value | string }}' +
      '{%- endfor %}{%- endif %}',
  ],
  [
    'a literal map keyed by the schema type (Command R)',
    "{%- set basic_type_map = {'string': 'str', 'number': 'float', 'integer': 'int'} %}" +
      '{%- if basic_type_map[json_spec.type] is defined %}{{- basic_type_map[json_spec.type] }}' +
      '{%- else %}{{- json_spec.type | tojson }}{%- endif %}',
  ],
  [
    'a literal map keyed by the role (EXAONE 4)',
    "{%- set role_indicators = {'user': '[|user|]\\n', 'assistant': '[|assistant|]'} %}" +
      '{%- for message in messages %}{{- role_indicators[message.role] }}{{- message.content }}{%- endfor %}',
  ],
  [
    'required names looked up in the properties',
    '{%- for name in params.required %}{{ name }}: {{ params.properties[name].description }} ({{ params.properties[name].type }}){%- endfor %}',
  ],
  [
    'a macro narrowing its parameter by a field (Jamba)',
    '{%- macro is_set(param, field=none) %}{%- if field is not none %}{%- if field in param %}{%- set param = param[field] %}' +
      '{%- else %}{%- set param = none %}{%- endif %}{%- endif %}' +
      '{%- set ns.defined = param is defined and param is not none %}{%- endmacro %}' +
      '{%- set ns = namespace(defined=false) %}' +
      '{%- set _ = is_set(message, field="tool_calls") %}{%- set _ = is_set(tool, field="type") %}{%- set _ = is_set(documents) %}',
  ],
  [
    'keys of a mapping other than those handled (Nemotron)',
    '{%- macro extra(json_dict, handled) %}{%- if json_dict is mapping %}' +
      '{%- for json_key in json_dict if json_key not in handled %}' +
      "{{- '<' ~ json_key ~ '>' ~ (json_dict[json_key] | tojson | safe) }}" +
      '{%- endfor %}{%- endif %}{%- endmacro %}' +
      "{{- extra(tool.function.parameters, ['type', 'properties']) }}",
  ],
  [
    'the previous message through loop.previtem (Qwen, Hermes)',
    "{%- for message in messages %}{%- if loop.previtem and loop.previtem.role != 'tool' %}<tool_response>{%- endif %}{{ message.content }}{%- endfor %}",
  ],
  [
    'the last assistant message found by index (DeepSeek V3.2)',
    '{%- set prev = namespace(value=-1) %}{%- for i in range(messages | length - 1, -1, -1) %}' +
      "{%- if messages[i].role != 'tool' and prev.value == -1 %}{%- set prev.value = i %}{%- endif %}{%- endfor %}" +
      "{%- set assistant_msg = messages[prev.value] %}{{- assistant_msg.get('tool_calls', []) | length }}",
  ],
  [
    'categories of a mapping (Llama Guard 3)',
    "{%- for key in categories %}{%- if key not in excluded_category_keys %}{{- key + ': ' + categories[key] + '\\n' }}{%- endif %}{%- endfor %}",
  ],
  [
    'a message-chosen key once, on the message itself',
    "{%- for m in messages %}{%- set k = m['content'] %}{{ m[k] }}{%- endfor %}",
  ],
  [
    'lines of the content looked up in a literal map',
    "{%- set mapping = {'yes': 1, 'no': 0} %}{%- for line in messages[-1].content.split('\\n') %}{{ mapping[line] }}{%- endfor %}",
  ],
];

describe('chat template conversation keys: exploits', () => {
  it.each(EXPLOITS)('flags %s', (_label, template) => {
    const details = analyzeChatTemplate(template).map((i) => i.detail);
    expect(details.some((d) => CONVERSATION.test(d))).toBe(true);
  });

  it.each(EXPLOITS)('%s is a high finding of a GGUF', async (_l, t) => {
    const { findings } = await scanBytes(gguf(t));
    const found = findings.filter(
      (f) => f.ruleId === 'GGUF_TEMPLATE_SUSPICIOUS',
    );
    expect(found).toHaveLength(1);
    expect(found[0]!.severity).toBe('high');
    expect(found[0]!.message).toMatch(CONVERSATION);
  });

  it.each(SHAPES)('flags %s', (_label, template) => {
    const details = analyzeChatTemplate(template).map((i) => i.detail);
    expect(details.some((d) => CONVERSATION.test(d))).toBe(true);
  });

  it('names the key where the chain continues', () => {
    const t =
      "{% set k = messages[-1]['content'].split('|') %}{{ messages[0][k[0]][k[1]] }}";
    expect(analyzeChatTemplate(t)).toEqual([
      {
        kind: 'obfuscation',
        index: t.indexOf('k[1]'),
        detail:
          'subscript with a key from the conversation on an attribute a conversation key may name',
        token: 'k',
      },
    ]);
  });

  it('lists at most 100 findings of this rule', () => {
    const t = Array.from(
      { length: 300 },
      () => '{{ messages[0][messages[1].content][messages[2].content] }}',
    ).join('');
    expect(analyzeChatTemplate(t)).toHaveLength(100);
  });
});

describe('chat template conversation keys: idioms of real templates', () => {
  it.each(BENIGN)('accepts %s', (_label, template) => {
    expect(analyzeChatTemplate(template)).toEqual([]);
  });

  it.each(BENIGN)('scans %s with no high finding', async (_l, template) => {
    const { findings } = await scanBytes(gguf(template));
    expect(
      findings.filter(
        (f) => f.severity === 'high' || f.severity === 'critical',
      ),
    ).toEqual([]);
  });
});
