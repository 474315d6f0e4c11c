// SPDX-License-Identifier: Apache-2.0
/**
 * Static analysis of Jinja2 chat templates (`threats.md` §4). The template is
 * tokenised, never rendered: only the code inside `{{ … }}` and `{% … %}` is
 * examined, so prose that mentions commands does not count, and the constructs
 * real templates use (`namespace()`, `tojson`, `raise_exception`, `{% set %}`,
 * slicing, string methods) are not flagged.
 */

/** One suspicious construct found in a template. */
export interface TemplateIssue {
  /** `injection`: reaches Python internals directly; `obfuscation`: builds such a name indirectly. */
  kind: 'injection' | 'obfuscation';
  /** Offset of the construct in the template (UTF-16 code units). */
  index: number;
  /** Short description, lower case. */
  detail: string;
  /** The offending token. */
  token: string;
}

/** `data`: literal text captured by `{% set x %}`, `{% macro %}`, `{% call %}` or `{% filter %}` blocks. */
type TokenKind = 'name' | 'string' | 'number' | 'op' | 'data';
interface Token {
  kind: TokenKind;
  /** Source text (strings with their quotes). */
  text: string;
  /** Decoded value for strings. */
  value: string;
  index: number;
}

/** Globals of the Jinja environment whose internals lead to Python objects. */
const SENSITIVE_GLOBALS: ReadonlySet<string> = new Set([
  'lipsum',
  'cycler',
  'joiner',
  'namespace',
  'self',
  'config',
  'request',
  'url_for',
  'get_flashed_messages',
]);
/** Names that only appear in templates that reach the operating system. */
const DANGEROUS_NAMES: ReadonlySet<string> = new Set([
  'popen',
  'subprocess',
  'eval',
  'exec',
  'execfile',
  'import_module',
  'builtins',
  'globals',
  'getattr',
  'setattr',
  'check_output',
  'spawn',
]);
/** Escapes that spell `_` without writing it. */
const UNDERSCORE_ESCAPE = /\\(x5[fF]|u005[fF]|U0000005[fF]|137|N\{LOW LINE\})/;

/** Cap on tokens examined per template; templates of real models have a few thousand. */
const MAX_TOKENS = 1_000_000;

function decodeString(raw: string): string {
  // Enough of Python's escapes to see what a literal spells.
  return raw.replace(
    /\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|.)/g,
    (_m, esc: string) => {
      if (/^[xuU]./.test(esc)) {
        // Only escapes that carry their hex digits (the regex's first
        // branches); code points past U+10FFFF read as U+FFFD.
        const cp = Number.parseInt(esc.slice(1), 16);
        return String.fromCodePoint(cp <= 0x10ffff ? cp : 0xfffd);
      }
      if (/^[0-7]/.test(esc))
        return String.fromCodePoint(Number.parseInt(esc, 8));
      return (
        ({ n: '\n', t: '\t', r: '\r' } as Record<string, string>)[esc] ?? esc
      );
    },
  );
}

/** Tokenises the code between `from` and the closing delimiter; returns the tokens and where the block ends. */
function tokenizeBlock(
  src: string,
  from: number,
  close: string,
  tokens: Token[],
): number {
  let i = from;
  while (i < src.length) {
    const c = src[i] as string;
    if (
      src.startsWith(close, i) ||
      (src[i] === '-' && src.startsWith(close, i + 1)) ||
      (src[i] === '+' && src.startsWith(close, i + 1))
    ) {
      return src.indexOf(close, i) + close.length;
    }
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== c) j += src[j] === '\\' ? 2 : 1;
      const raw = src.slice(i + 1, Math.min(j, src.length));
      tokens.push({
        kind: 'string',
        text: src.slice(i, j + 1),
        value: decodeString(raw),
        index: i,
      });
      i = j + 1;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i, i + 256));
    if (name !== null) {
      tokens.push({ kind: 'name', text: name[0], value: name[0], index: i });
      i += name[0].length;
      continue;
    }
    const number = /^[0-9][0-9_.]*/.exec(src.slice(i, i + 64));
    if (number !== null) {
      tokens.push({
        kind: 'number',
        text: number[0],
        value: number[0],
        index: i,
      });
      i += number[0].length;
      continue;
    }
    tokens.push({ kind: 'op', text: c, value: c, index: i });
    i++;
  }
  return src.length;
}

/** Splits a template into the tokens of its expression and statement blocks. */
function tokenize(src: string): Token[][] {
  const blocks: Token[][] = [];
  let i = 0;
  let total = 0;
  // Open blocks whose body is captured as a value (`{% set x %}…{% endset %}`,
  // macros, calls, filters): their literal text is examined like a string.
  let capture = 0;
  let dataFrom = 0;
  while (i < src.length && total < MAX_TOKENS) {
    const open = src.indexOf('{', i);
    if (open < 0 || open + 1 >= src.length) break;
    const kind = src[open + 1];
    if (kind !== '{' && kind !== '%' && kind !== '#') {
      i = open + 1;
      continue;
    }
    if (capture > 0 && open > dataFrom) {
      const text = src.slice(dataFrom, open);
      blocks.push([
        { kind: 'data', text, value: text.trim(), index: dataFrom },
      ]);
    }
    if (kind === '#') {
      const end = src.indexOf('#}', open + 2);
      i = end < 0 ? src.length : end + 2;
      dataFrom = i;
      continue;
    }
    const tokens: Token[] = [];
    const start =
      open + 2 + (src[open + 2] === '-' || src[open + 2] === '+' ? 1 : 0);
    i = tokenizeBlock(src, start, kind === '{' ? '}}' : '%}', tokens);
    dataFrom = i;
    total += tokens.length;
    blocks.push(tokens);
    if (kind === '%') {
      const head = tokens[0]?.value;
      if (
        (head === 'set' && !tokens.some((t) => t.text === '=')) ||
        head === 'macro' ||
        head === 'call' ||
        head === 'filter'
      )
        capture++;
      else if (
        capture > 0 &&
        (head === 'endset' ||
          head === 'endmacro' ||
          head === 'endcall' ||
          head === 'endfilter')
      )
        capture--;
    }
    if (kind === '%' && tokens[0]?.value === 'raw') {
      // Text up to endraw is literal output, not code.
      const end = /\{%-?\s*endraw\s*-?%\}/.exec(src.slice(i));
      i = end === null ? src.length : i + end.index + end[0].length;
    }
  }
  return blocks;
}

/** Jinja globals whose objects lead to Python internals when used other than by calling them. */
const CALLABLE_GLOBALS: ReadonlySet<string> = new Set([
  'lipsum',
  'cycler',
  'joiner',
  'namespace',
  'url_for',
  'get_flashed_messages',
]);
/** Words an obfuscated template spells backwards or piece by piece. */
const SENSITIVE_WORDS: ReadonlySet<string> = new Set([
  'class',
  'mro',
  'base',
  'bases',
  'subclasses',
  'globals',
  'builtins',
  'init',
  'import',
  'dict',
  'code',
  'getattribute',
  'os',
  'system',
  'popen',
  'eval',
  'exec',
  'getattr',
  'subprocess',
]);
/** Filters that take an attribute name (`attribute=` or first positional). */
const ATTRIBUTE_FILTERS: ReadonlySet<string> = new Set([
  'selectattr',
  'rejectattr',
  'groupby',
  'sort',
  'unique',
  'sum',
  'min',
  'max',
]);

/**
 * The call or bracket that encloses `tokens[k]`: the name before an unmatched
 * `(` (empty for a bare parenthesis), or `[` for a list literal or subscript.
 */
function enclosing(tokens: readonly Token[], k: number): string | undefined {
  let depth = 0;
  for (let j = k - 1; j >= 0 && k - j < 4096; j--) {
    const t = tokens[j]!.text;
    if (t === ')' || t === ']') depth++;
    else if (t === '(' || t === '[') {
      if (depth === 0)
        return t === '['
          ? '['
          : tokens[j - 1]?.kind === 'name'
            ? tokens[j - 1]!.value
            : '';
      depth--;
    }
  }
  return undefined;
}

/** Positional index of `tokens[k]` in its enclosing call (0 for the first argument). */
function argumentIndex(tokens: readonly Token[], k: number): number {
  let depth = 0;
  let commas = 0;
  for (let j = k - 1; j >= 0 && k - j < 4096; j--) {
    const t = tokens[j]!.text;
    if (t === ')' || t === ']' || t === '}') depth++;
    else if (t === '(' || t === '[' || t === '{') {
      if (depth === 0) return commas;
      depth--;
    } else if (t === ',' && depth === 0) commas++;
  }
  return commas;
}

/** True when the string at `k` is reversed (`|reverse` or `[::-1]`). */
function isReversed(tokens: readonly Token[], k: number): boolean {
  const n = (d: number): string | undefined => tokens[k + d]?.text;
  return (
    (n(1) === '|' && n(2) === 'reverse') ||
    (n(1) === '[' && n(2) === ':' && n(3) === ':' && n(4) === '-')
  );
}

/**
 * Finds constructs in a Jinja2 template that reach Python internals (template
 * injection, CVE-2024-34359) or spell such names indirectly.
 * @param template the template source
 * @returns the issues, in source order; empty for ordinary chat templates
 */
export function analyzeChatTemplate(template: string): TemplateIssue[] {
  const issues: TemplateIssue[] = [];
  const add = (
    kind: TemplateIssue['kind'],
    token: Token,
    detail: string,
  ): void => {
    issues.push({
      kind,
      index: token.index,
      detail,
      token: token.text.slice(0, 80),
    });
  };
  for (const tokens of tokenize(template)) {
    const names = new Set(
      tokens.filter((x) => x.kind === 'name').map((x) => x.value),
    );
    const hasPercent = tokens.some((x) => x.text === '%');
    for (let k = 0; k < tokens.length; k++) {
      const t = tokens[k] as Token;
      const prev = tokens[k - 1];
      const next = tokens[k + 1];
      if (t.kind === 'data') {
        if (/__\w+__/.test(t.value))
          add('injection', t, 'dunder name in captured block text');
        else if (
          /^_+$/.test(t.value) ||
          t.value.startsWith('__') ||
          t.value.endsWith('__')
        )
          add('obfuscation', t, 'underscores in captured block text');
        continue;
      }
      if (t.kind === 'name') {
        if (t.value.startsWith('__')) {
          add('injection', t, `dunder name ${t.value}`);
        } else if (t.value.startsWith('_') && prev?.text === '.') {
          add('injection', t, `private attribute ${t.value}`);
        } else if (
          DANGEROUS_NAMES.has(t.value) &&
          (prev?.text === '.' ||
            next?.text === '(' ||
            next?.text === '.' ||
            next?.text === '[')
        ) {
          add('injection', t, `reference to ${t.value}`);
        } else if (
          (t.value === 'os' || t.value === 'sys') &&
          next?.text === '.' &&
          tokens[k + 2]?.kind === 'name' &&
          ['system', 'popen', 'environ', 'modules', 'exec'].some((n) =>
            (tokens[k + 2] as Token).value.startsWith(n),
          )
        ) {
          add('injection', t, `reference to the ${t.value} module`);
        } else if (
          SENSITIVE_GLOBALS.has(t.value) &&
          prev?.text !== '.' &&
          (next?.text === '.' ||
            next?.text === '[' ||
            (next?.text === '|' && tokens[k + 2]?.value === 'attr'))
        ) {
          add('injection', t, `access to the internals of ${t.value}`);
        } else if (
          CALLABLE_GLOBALS.has(t.value) &&
          prev?.text !== '.' &&
          next?.text !== '(' &&
          next?.text !== '='
        ) {
          add('obfuscation', t, `jinja global ${t.value} used as a value`);
        } else if (
          (t.value === 'string' ||
            t.value === 'tojson' ||
            t.value === 'pprint') &&
          prev?.text === '|' &&
          (next?.text === '[' ||
            (next?.text === ')' && tokens[k + 2]?.text === '[') ||
            (next?.text === '|' && tokens[k + 2]?.value === 'list'))
        ) {
          add('obfuscation', t, "characters picked from an object's text");
        } else if (t.value === 'attribute' && next?.text === '=') {
          const arg = tokens[k + 2];
          if (arg !== undefined && arg.kind !== 'string')
            add('obfuscation', t, 'attribute filter with a computed name');
          else if (arg?.value.startsWith('_'))
            add('injection', arg, `attribute filter reaching ${arg.value}`);
        } else if (
          ATTRIBUTE_FILTERS.has(t.value) &&
          prev?.text === '|' &&
          next?.text === '(' &&
          tokens[k + 2] !== undefined &&
          tokens[k + 2]!.text !== ')' &&
          tokens[k + 3]?.text !== '='
        ) {
          const arg = tokens[k + 2]!;
          if (arg.kind !== 'string' && arg.kind !== 'number')
            add(
              'obfuscation',
              t,
              `${t.value} filter with a computed attribute`,
            );
          else if (arg.kind === 'string' && arg.value.startsWith('_'))
            add('injection', arg, `${t.value} filter reaching ${arg.value}`);
        } else if (t.value === 'attr' && prev?.text === '|') {
          const arg = tokens[k + 2];
          if (next?.text !== '(' || arg === undefined) continue;
          if (arg.kind !== 'string' || tokens[k + 3]?.text !== ')')
            add('obfuscation', t, 'attr filter with a computed name');
          else if (arg.value.startsWith('_'))
            add('injection', arg, `attr filter reaching ${arg.value}`);
        }
      } else if (t.kind === 'string') {
        const joins = (x: Token | undefined): boolean =>
          x?.text === '~' || x?.text === '+' || x?.text === '*';
        const call = /^_+$/.test(t.value) ? enclosing(tokens, k) : undefined;
        const reversed = [...t.value].reverse().join('');
        if (/^__\w+__$/.test(t.value)) {
          add('injection', t, `dunder name ${t.value} as a string`);
        } else if (UNDERSCORE_ESCAPE.test(t.text)) {
          add('obfuscation', t, 'string spelling an underscore with an escape');
        } else if (t.value.startsWith('__') || t.value.endsWith('__')) {
          add('obfuscation', t, 'part of a dunder name');
        } else if (
          (t.value.startsWith('_') || t.value.endsWith('_')) &&
          (joins(prev) || joins(next))
        ) {
          add(
            'obfuscation',
            t,
            'underscore-prefixed name built by concatenation',
          );
        } else if (
          call !== undefined &&
          (call === 'format' ||
            call === 'join' ||
            (call === 'replace' && argumentIndex(tokens, k) === 1) ||
            (call === '[' && names.has('join')) ||
            (call === '' && hasPercent))
        ) {
          add('obfuscation', t, `underscores assembled with ${call || '%'}`);
        } else if (
          /%c/.test(t.value) &&
          ((next?.text === '|' && tokens[k + 2]?.value === 'format') ||
            next?.text === '%')
        ) {
          add('obfuscation', t, 'characters built with the format filter');
        } else if (
          /\{[^{}]*:c\}/.test(t.value) &&
          (next?.text === '.' || next?.text === '|') &&
          tokens[k + 2]?.value === 'format'
        ) {
          add('obfuscation', t, 'characters built with str.format');
        } else if (
          isReversed(tokens, k) &&
          (SENSITIVE_WORDS.has(reversed.replace(/^_+|_+$/g, '')) ||
            DANGEROUS_NAMES.has(reversed))
        ) {
          add('obfuscation', t, `name spelled backwards (${reversed})`);
        }
      }
    }
  }
  return issues;
}
