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

type TokenKind = 'name' | 'string' | 'number' | 'op';
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
      if (/^[xuU]/.test(esc))
        return String.fromCodePoint(Number.parseInt(esc.slice(1), 16));
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
  while (i < src.length && total < MAX_TOKENS) {
    const open = src.indexOf('{', i);
    if (open < 0 || open + 1 >= src.length) break;
    const kind = src[open + 1];
    if (kind === '#') {
      const end = src.indexOf('#}', open + 2);
      i = end < 0 ? src.length : end + 2;
      continue;
    }
    if (kind !== '{' && kind !== '%') {
      i = open + 1;
      continue;
    }
    const tokens: Token[] = [];
    const start =
      open + 2 + (src[open + 2] === '-' || src[open + 2] === '+' ? 1 : 0);
    i = tokenizeBlock(src, start, kind === '{' ? '}}' : '%}', tokens);
    total += tokens.length;
    blocks.push(tokens);
    if (kind === '%' && tokens[0]?.value === 'raw') {
      // Text up to endraw is literal output, not code.
      const end = /\{%-?\s*endraw\s*-?%\}/.exec(src.slice(i));
      i = end === null ? src.length : i + end.index + end[0].length;
    }
  }
  return blocks;
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
    for (let k = 0; k < tokens.length; k++) {
      const t = tokens[k] as Token;
      const prev = tokens[k - 1];
      const next = tokens[k + 1];
      if (t.kind === 'name') {
        if (t.value.startsWith('__')) {
          add('injection', t, `dunder name ${t.value}`);
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
        } else if (t.value === 'attr' && prev?.text === '|') {
          const arg = tokens[k + 2];
          if (next?.text !== '(' || arg === undefined) continue;
          if (arg.kind !== 'string' || tokens[k + 3]?.text !== ')')
            add('obfuscation', t, 'attr filter with a computed name');
          else if (arg.value.startsWith('_'))
            add('injection', arg, `attr filter reaching ${arg.value}`);
        }
      } else if (t.kind === 'string') {
        if (/^__\w+__$/.test(t.value)) {
          add('injection', t, `dunder name ${t.value} as a string`);
        } else if (UNDERSCORE_ESCAPE.test(t.text)) {
          add('obfuscation', t, 'string spelling an underscore with an escape');
        } else if (
          t.value.startsWith('_') &&
          (prev?.text === '~' ||
            prev?.text === '+' ||
            next?.text === '~' ||
            next?.text === '+')
        ) {
          add(
            'obfuscation',
            t,
            'underscore-prefixed name built by concatenation',
          );
        } else if (
          /%c/.test(t.value) &&
          next?.text === '|' &&
          tokens[k + 2]?.value === 'format'
        ) {
          add('obfuscation', t, 'characters built with the format filter');
        } else if (
          /(^|[^\w])_$/.test(t.value) &&
          (next?.text === '~' || next?.text === '+')
        ) {
          add(
            'obfuscation',
            t,
            'underscore-prefixed name built by concatenation',
          );
        }
      }
    }
  }
  return issues;
}
