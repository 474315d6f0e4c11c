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

/**
 * Tokenises the code between `from` and the closing delimiter; returns where
 * the block ends (the end of `src` when it never closes: the rest is then all
 * tokenised). As in Jinja's lexer, the delimiter only closes the block while
 * no `(`, `[` or `{` is open, so `{{ {'a':{'b':1}} ~ x }}` is one block.
 */
function tokenizeBlock(
  src: string,
  from: number,
  close: string,
  tokens: Token[],
): number {
  let i = from;
  // Closers expected for the brackets open at this point.
  const stack: string[] = [];
  while (i < src.length) {
    const c = src[i] as string;
    if (
      stack.length === 0 &&
      (src.startsWith(close, i) ||
        ((c === '-' || c === '+') && src.startsWith(close, i + 1)))
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
    if (c === '(') stack.push(')');
    else if (c === '[') stack.push(']');
    else if (c === '{') stack.push('}');
    else if ((c === ')' || c === ']' || c === '}') && stack.at(-1) === c)
      stack.pop();
    tokens.push({ kind: 'op', text: c, value: c, index: i });
    i++;
  }
  return src.length;
}

/** Tokens of a template's blocks; `truncated` when {@link MAX_TOKENS} stopped the split. */
interface Tokenized {
  blocks: Token[][];
  truncated: number | undefined;
}

/**
 * `{% raw %}` as Jinja's lexer opens it: `{%`, `-`, `+` or nothing, `raw`,
 * then `-%}` or `%}` (`+%}` does not open a raw block).
 */
const RAW_BEGIN = /^\{%[-+]?\s*raw\s*-?%\}$/;
/** `{% endraw %}` with the whitespace modifiers Jinja accepts on both sides. */
const RAW_END = /\{%[-+]?\s*endraw\s*[-+]?%\}/;

/**
 * Splits a template into the tokens of its expression and statement blocks,
 * as Jinja's lexer does. Nothing is dropped silently: a comment or raw block
 * that never ends leaves the rest to be tokenised as code (Jinja rejects such
 * a template, but the analysis fails closed).
 */
function tokenize(src: string): Tokenized {
  const blocks: Token[][] = [];
  let i = 0;
  let total = 0;
  // Open blocks whose body is captured as a value (`{% set x %}…{% endset %}`,
  // macros, calls, filters): their literal text is examined like a string.
  let capture = 0;
  let dataFrom = 0;
  while (i < src.length) {
    if (total >= MAX_TOKENS) return { blocks, truncated: i };
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
      if (end >= 0) {
        i = end + 2;
        dataFrom = i;
        continue;
      }
    }
    const tokens: Token[] = [];
    const start =
      open + 2 + (src[open + 2] === '-' || src[open + 2] === '+' ? 1 : 0);
    i = tokenizeBlock(
      src,
      start,
      kind === '{' ? '}}' : kind === '%' ? '%}' : '#}',
      tokens,
    );
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
    if (kind === '%' && RAW_BEGIN.test(src.slice(open, i))) {
      // Text up to endraw is literal output, not code; without an endraw
      // Jinja fails to compile, and the rest is analysed as code.
      const end = RAW_END.exec(src.slice(i));
      if (end !== null) {
        i += end.index + end[0].length;
      }
    }
  }
  return { blocks, truncated: undefined };
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
 * Names that, as a literal subscript or `|attr` key, only lead to Python
 * internals: Jinja's getitem falls back to getattr for string keys, so
 * `f['popen']` is `f.popen`. `eval`, `exec` and `system` count when called.
 */
const KEY_NAMES: ReadonlySet<string> = new Set([
  'globals',
  'builtins',
  'import',
  'subclasses',
  'mro',
  'getattribute',
  'popen',
  'subprocess',
  'check_output',
  'import_module',
  'getattr',
  'setattr',
  'execfile',
  'spawn',
]);
/** Key names that count only when the subscript is called. */
const CALLED_KEY_NAMES: ReadonlySet<string> = new Set([
  'eval',
  'exec',
  'system',
]);
/** Parts of dunder names that real templates never concatenate. */
const CONCAT_WORDS: ReadonlySet<string> = new Set([
  'globals',
  'builtins',
  'import',
  'subclasses',
  'mro',
  'base',
  'bases',
  'class',
  'init',
  'getattribute',
  'popen',
  'subprocess',
]);
/** Filters whose result is not text assembled from the template's own literals. */
const PLAIN_FILTERS: ReadonlySet<string> = new Set([
  'length',
  'count',
  'int',
  'float',
  'abs',
  'round',
  'items',
  'dictsort',
  'list',
  'sort',
  'unique',
  'reverse',
  'first',
  'last',
  'select',
  'reject',
  'selectattr',
  'rejectattr',
  'map',
  'batch',
  'slice',
  'groupby',
  'default',
  'd',
  'trim',
  'lower',
  'upper',
  'title',
  'capitalize',
  'e',
  'escape',
  'safe',
]);
/** Calls whose result cannot be a name (`namespace()` is a plain object). */
const PLAIN_CALLS: ReadonlySet<string> = new Set([
  'namespace',
  'range',
  // Dict views: they hand out what the dict holds, not assembled text (a
  // dict literal with a dunder key is caught by its literal). Tool-calling
  // templates loop `for k, v in tool.items()` and look `tool[k]` up.
  'items',
  'keys',
  'values',
]);
/** Jinja keywords after which `[` opens a list literal, not a subscript. */
const KEYWORDS: ReadonlySet<string> = new Set([
  'in',
  'and',
  'or',
  'not',
  'if',
  'else',
  'elif',
  'is',
  'for',
  'set',
  'print',
  'do',
  'with',
  'return',
  'recursive',
]);

const stripUnderscores = (s: string): string => s.replace(/^_+|_+$/g, '');

/** True for a literal that can help spell a hidden name (underscores, format specs, escapes, internal names). */
function suspiciousLiteral(t: Token): boolean {
  const bare = stripUnderscores(t.value);
  const reversed = [...bare].reverse().join('');
  return (
    /^_|_$|__|[%{}\\]/.test(t.value) ||
    t.text.includes('\\') ||
    CONCAT_WORDS.has(bare) ||
    KEY_NAMES.has(bare) ||
    CONCAT_WORDS.has(reversed) ||
    KEY_NAMES.has(reversed)
  );
}

/** Token visits allowed per template for the subscript and variable analysis. */
const WORK_BUDGET = 4_000_000;
/** Work left for one template; past it every check answers "computed" (fails closed). */
interface Budget {
  left: number;
}

/** Per block, the index of the token closing each bracket (`tokens.length` when unclosed). */
const closerCache = new WeakMap<readonly Token[], Int32Array>();

/** Index of the token closing the bracket opened at `k`, or `tokens.length`. */
function matching(tokens: readonly Token[], k: number): number {
  let closers = closerCache.get(tokens);
  if (closers === undefined) {
    closers = new Int32Array(tokens.length).fill(tokens.length);
    const stack: number[] = [];
    for (let j = 0; j < tokens.length; j++) {
      const t = tokens[j]!.text;
      if (t === '(' || t === '[' || t === '{') stack.push(j);
      else if ((t === ')' || t === ']' || t === '}') && stack.length > 0)
        closers[stack.pop()!] = j;
    }
    closerCache.set(tokens, closers);
  }
  return closers[k] ?? tokens.length;
}

/** The dotted path (`ns.key`) starting with the name at `k`. */
function pathAt(tokens: readonly Token[], k: number): string {
  let path = tokens[k]!.value;
  for (
    let j = k + 1;
    tokens[j]?.text === '.' && tokens[j + 1]?.kind === 'name';
    j += 2
  )
    path += `.${tokens[j + 1]!.value}`;
  return path;
}

/** Render-context values the model file itself supplies (`bos_token`, `eos_token`, …). */
const FILE_TEXT = /^[a-z]*_token(?:$|\.)/;

/**
 * Globals that are functions or helper objects: Jinja's own
 * ({@link CALLABLE_GLOBALS}, `range`, `dict`, `self`) and those renderers
 * pass in. A subscript on one is never data access, and Jinja's getitem
 * falls back to getattr on it (`raise_exception[k]` is
 * `raise_exception.<k>`).
 */
const FUNCTION_GLOBALS: ReadonlySet<string> = new Set([
  ...CALLABLE_GLOBALS,
  'range',
  'dict',
  'self',
  'raise_exception',
  'strftime_now',
]);

/**
 * True when `tokens[from, to)` builds text out of the template's own pieces:
 * `~`, `%` with a string, a suspicious literal, a call or filter that makes
 * text, or a variable that holds such text (`tainted`).
 */
function buildsText(
  tokens: readonly Token[],
  from: number,
  to: number,
  tainted: ReadonlySet<string>,
  budget: Budget,
): boolean {
  budget.left -= to - from;
  if (budget.left < 0) return true;
  const strings = tokens.slice(from, to).some((t) => t.kind === 'string');
  for (let j = from; j < to; j++) {
    const t = tokens[j]!;
    const prev = tokens[j - 1];
    const next = tokens[j + 1];
    if (t.text === '~' || (t.text === '%' && strings)) return true;
    if (t.kind === 'string' && suspiciousLiteral(t)) return true;
    if (t.kind === 'data') return true;
    if (t.kind !== 'name' || prev?.text === '.') continue;
    if (prev?.text === '|') {
      if (!PLAIN_FILTERS.has(t.value)) return true;
      continue;
    }
    if (next?.text === '=' && tokens[j + 2]?.text !== '=') continue; // keyword argument
    const path = pathAt(tokens, j);
    // `bos_token`, `eos_token` and the other `*_token` values come from the
    // model file's own vocabulary: text the attacker chose (stop 29 review:
    // `raise_exception[eos_token]` with eos_token `__globals__`).
    if (FILE_TEXT.test(path)) return true;
    for (
      let p = path;
      p !== '';
      p = p.slice(0, Math.max(0, p.lastIndexOf('.')))
    )
      if (tainted.has(p)) return true;
    // A call: the name (or the last name of a dotted path) before `(`.
    let e = j;
    while (tokens[e + 1]?.text === '.' && tokens[e + 2]?.kind === 'name')
      e += 2;
    if (tokens[e + 1]?.text === '(' && !PLAIN_CALLS.has(tokens[e]!.value))
      return true;
  }
  return false;
}

/** Index of the assignment `=` in a statement (not `==`, `!=`, `<=`, `>=`), or -1. */
function assignment(tokens: readonly Token[]): number {
  return tokens.findIndex(
    (t, j) =>
      t.text === '=' &&
      !['=', '!', '<', '>'].includes(tokens[j - 1]?.text ?? '') &&
      tokens[j + 1]?.text !== '=',
  );
}

/** Dotted paths listed in `tokens[from, to)` (assignment targets). */
function targets(tokens: readonly Token[], from: number, to: number): string[] {
  const out: string[] = [];
  for (let j = from; j < to; j++)
    if (tokens[j]!.kind === 'name' && tokens[j - 1]?.text !== '.')
      out.push(pathAt(tokens, j));
  return out;
}

/**
 * Variables that may hold text the template assembled: targets of `{% set %}`,
 * `{% with %}` and `{% for %}` whose value {@link buildsText}, block sets,
 * and parameters of macros called with such values.
 */
function taintedVariables(
  blocks: readonly Token[][],
  budget: Budget,
): Set<string> {
  const tainted = new Set<string>();
  const macros = new Map<string, string[]>();
  for (const tokens of blocks) {
    if (tokens[0]?.value !== 'macro' || tokens[1]?.kind !== 'name') continue;
    const params: string[] = [];
    for (let j = 3; j < tokens.length; j++) {
      const t = tokens[j]!;
      const before = tokens[j - 1]?.text;
      if (t.kind === 'name' && (before === '(' || before === ','))
        params.push(t.value);
    }
    macros.set(tokens[1].value, params);
  }
  for (let pass = 0; pass < 16; pass++) {
    const size = tainted.size;
    for (const tokens of blocks) {
      const head = tokens[0];
      if (head?.kind === 'name' && head.value === 'set') {
        const eq = assignment(tokens);
        if (
          eq < 0 ||
          buildsText(tokens, eq + 1, tokens.length, tainted, budget)
        )
          for (const t of targets(tokens, 1, eq < 0 ? tokens.length : eq))
            tainted.add(t);
      } else if (head?.kind === 'name' && head.value === 'for') {
        const at = tokens.findIndex(
          (t) => t.value === 'in' && t.kind === 'name',
        );
        if (
          at > 0 &&
          buildsText(tokens, at + 1, tokens.length, tainted, budget)
        )
          for (const t of targets(tokens, 1, at)) tainted.add(t);
      } else if (head?.kind === 'name' && head.value === 'with') {
        if (buildsText(tokens, 1, tokens.length, tainted, budget))
          for (let j = 1; j < tokens.length; j++)
            if (tokens[j]!.kind === 'name' && tokens[j + 1]?.text === '=')
              tainted.add(tokens[j]!.value);
      }
      for (let j = 0; j < tokens.length; j++) {
        const params = macros.get(tokens[j]!.value);
        if (
          params === undefined ||
          tokens[j]!.kind !== 'name' ||
          tokens[j + 1]?.text !== '(' ||
          tokens[j - 1]?.value === 'macro'
        )
          continue;
        if (buildsText(tokens, j + 2, matching(tokens, j + 1), tainted, budget))
          for (const p of params) tainted.add(p);
      }
    }
    if (tainted.size === size) break;
  }
  return tainted;
}

/**
 * Subscripts whose key leads to Python internals. A literal key naming an
 * internal is an injection; a key the template computes (concatenation,
 * formatting, a variable holding assembled text) is returned in `computed`,
 * since Jinja's getitem falls back to getattr and such a key can spell a
 * dunder that no literal shows.
 */
function checkSubscripts(
  tokens: readonly Token[],
  tainted: ReadonlySet<string>,
  add: (kind: TemplateIssue['kind'], token: Token, detail: string) => void,
  computed: Token[],
  budget: Budget,
): void {
  for (let k = 1; k < tokens.length; k++) {
    if (tokens[k]!.text !== '[') continue;
    const prev = tokens[k - 1]!;
    const subscript =
      prev.kind === 'string' ||
      (prev.kind === 'name' && !KEYWORDS.has(prev.value)) ||
      prev.text === ')' ||
      prev.text === ']' ||
      prev.text === '}';
    if (!subscript) continue;
    if (
      prev.kind === 'name' &&
      FUNCTION_GLOBALS.has(prev.value) &&
      tokens[k - 2]?.text !== '.'
    ) {
      add('injection', prev, `subscript on the function ${prev.value}`);
      continue;
    }
    const end = matching(tokens, k);
    if (end - k < 2) continue;
    budget.left -= end - k;
    if (budget.left < 0) {
      computed.push(tokens[k + 1]!);
      continue;
    }
    let depth = 0;
    let slice = false;
    for (let j = k + 1; j < end; j++) {
      const t = tokens[j]!.text;
      if (t === '(' || t === '[' || t === '{') depth++;
      else if (t === ')' || t === ']' || t === '}') depth--;
      else if (t === ':' && depth === 0) slice = true;
    }
    if (slice) continue;
    const key = tokens[k + 1]!;
    if (end === k + 2 && key.kind === 'string') {
      const bare = stripUnderscores(key.value);
      if (
        KEY_NAMES.has(bare) ||
        (CALLED_KEY_NAMES.has(bare) && tokens[end + 1]?.text === '(')
      )
        add('injection', key, `subscript reaching ${key.value}`);
      else if (key.value.startsWith('_') && !key.value.startsWith('__'))
        add('injection', key, `subscript reaching private ${key.value}`);
      continue;
    }
    if (end === k + 2 && key.kind === 'number') continue;
    const joined = tokens
      .slice(k + 1, end)
      .some((t) => t.text === '+' || t.text === '*');
    const strings = tokens.slice(k + 1, end).some((t) => t.kind === 'string');
    if ((joined && strings) || buildsText(tokens, k + 1, end, tainted, budget))
      computed.push(key);
  }
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
  const { blocks, truncated } = tokenize(template);
  if (truncated !== undefined)
    issues.push({
      kind: 'obfuscation',
      index: truncated,
      detail: `more than ${MAX_TOKENS} tokens; the rest was not analysed`,
      token: '',
    });
  const budget: Budget = { left: WORK_BUDGET };
  const tainted = taintedVariables(blocks, budget);
  // Subscripts with computed keys: reported only when nothing else is, as
  // the template is otherwise flagged already.
  const computed: Token[] = [];
  for (const tokens of blocks) {
    checkSubscripts(tokens, tainted, add, computed, budget);
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
          else if (
            arg.value.startsWith('_') ||
            KEY_NAMES.has(stripUnderscores(arg.value)) ||
            (CALLED_KEY_NAMES.has(stripUnderscores(arg.value)) &&
              tokens[k + 4]?.text === '(')
          )
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
        } else if (
          CONCAT_WORDS.has(stripUnderscores(t.value)) &&
          (joins(prev) || joins(next))
        ) {
          add('obfuscation', t, `${t.value} joined into a name`);
        }
      }
    }
  }
  if (issues.length === 0)
    for (const key of computed.slice(0, 100))
      add('obfuscation', key, 'subscript with a computed key');
  return issues;
}
