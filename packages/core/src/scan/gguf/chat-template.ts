// SPDX-License-Identifier: Apache-2.0
/**
 * Static analysis of Jinja2 chat templates (`threats.md` §4). The template is
 * tokenised and its expressions parsed as Jinja parses them, never rendered:
 * only the code inside `{{ … }}` and `{% … %}` is examined, so prose that
 * mentions commands does not count, and the constructs real templates use
 * (`namespace()`, `tojson`, `raise_exception`, `{% set %}`, slicing, string
 * methods, `"call_" + id`, `name|replace("-", "_")`) are not flagged.
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

/**
 * Cap on tokens examined per template; templates of real models have a few
 * thousand (the largest of 152 vendor templates, 40 KB, about 5,000). The
 * analysis holds about 500 bytes a token: 1,000,000 tokens took 600 MiB.
 */
const MAX_TOKENS = 250_000;

function decodeString(raw: string): string {
  // Enough of Python's escapes to see what a literal spells. A backslash
  // before a line break continues the line (`'\\⏎__class__'` is
  // `__class__`).
  return raw.replace(
    /\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{1,3}|\r\n|[\s\S])/g,
    (_m, esc: string) => {
      if (esc === '\r\n' || esc === '\n' || esc === '\r') return '';
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
 * tokenised), or where it stopped once `tokens` held `limit` tokens (one
 * block of 4 MiB was 2,000,000 tokens and 1.2 GiB). As in Jinja's lexer, the delimiter only closes the block while
 * no `(`, `[` or `{` is open, so `{{ {'a':{'b':1}} ~ x }}` is one block.
 */
function tokenizeBlock(
  src: string,
  from: number,
  close: string,
  tokens: Token[],
  limit: number,
): number {
  let i = from;
  // Closers expected for the brackets open at this point.
  const stack: string[] = [];
  while (i < src.length && tokens.length < limit) {
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
    // Jinja's integer and float literals (`1_000`, `1.5`, `1e-3`); a dot
    // with no digit after it is an attribute (`content.0.type`).
    const number = /^\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d[\d_]*)?/.exec(
      src.slice(i, i + 64),
    );
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
  return Math.min(i, src.length);
}

/** One block: its tokens and whether it is a statement (`{% %}`), an expression (`{{ }}`) or captured text. */
interface RawBlock {
  tokens: Token[];
  /** `true` for `{% %}`, `false` for `{{ }}` (and an unclosed comment), undefined for captured text. */
  statement: boolean | undefined;
}

/** Tokens of a template's blocks; `truncated` when {@link MAX_TOKENS} stopped the split. */
interface Tokenized {
  blocks: RawBlock[];
  truncated: number | undefined;
}

/**
 * `{% raw %}` as Jinja's lexer opens it: `{%`, `-`, `+` or nothing, `raw`,
 * then `-%}` or `%}` (`+%}` does not open a raw block).
 */
const RAW_BEGIN = /^\{%[-+]?\s*raw\s*-?%\}$/;
/** `{% endraw %}` with the whitespace modifiers Jinja accepts on both sides. */
const RAW_END = /\{%[-+]?\s*endraw\s*[-+]?%\}/g;

/**
 * Splits a template into the tokens of its expression and statement blocks,
 * as Jinja's lexer does. Nothing is dropped silently: a comment or raw block
 * that never ends leaves the rest to be tokenised as code (Jinja rejects such
 * a template, but the analysis fails closed).
 */
function tokenize(src: string): Tokenized {
  const blocks: RawBlock[] = [];
  let i = 0;
  let total = 0;
  // Open blocks whose body is captured as a value (`{% set x %}…{% endset %}`,
  // macros, calls, filters): their literal text is examined like a string.
  let capture = 0;
  let dataFrom = 0;
  // Set once a search for endraw found none: later raw blocks have none
  // either (searching again for each of 400,000 `{% raw %}` was quadratic).
  let noEndRaw = false;
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
      blocks.push({
        tokens: [{ kind: 'data', text, value: text.trim(), index: dataFrom }],
        statement: undefined,
      });
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
      MAX_TOKENS - total,
    );
    dataFrom = i;
    total += tokens.length;
    blocks.push({ tokens, statement: kind === '%' });
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
    if (!noEndRaw && kind === '%' && RAW_BEGIN.test(src.slice(open, i))) {
      // Text up to endraw is literal output, not code; without an endraw
      // Jinja fails to compile, and the rest is analysed as code.
      RAW_END.lastIndex = i;
      const end = RAW_END.exec(src);
      if (end !== null) i = end.index + end[0].length;
      else noEndRaw = true;
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
/**
 * Functions renderers pass in, and Jinja's `range`, `dict` and `self`: a
 * template calls them or tests them (`strftime_now is defined`); any other
 * use hands the object on, and its text (`<function raise_exception …>`)
 * holds underscores to pick out.
 */
const PASSED_FUNCTIONS: ReadonlySet<string> = new Set([
  'raise_exception',
  'strftime_now',
  'range',
  'dict',
  'self',
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

/** Positional index of the attribute argument of Jinja's filters that look attributes up (`make_attrgetter`). */
const ATTRIBUTE_ARGUMENT: ReadonlyMap<string, number> = new Map([
  ['selectattr', 0],
  ['rejectattr', 0],
  ['groupby', 0],
  ['sum', 0],
  ['unique', 1],
  ['min', 1],
  ['max', 1],
  ['join', 1],
  ['sort', 2],
  ['map', -1],
]);

/** True when the string at `k` is reversed (`|reverse` or `[::-1]`). */
function isReversed(tokens: readonly Token[], k: number): boolean {
  const n = (d: number): string | undefined => tokens[k + d]?.text;
  return (
    (n(1) === '|' && n(2) === 'reverse') ||
    (n(1) === '[' && n(2) === ':' && n(3) === ':' && n(4) === '-')
  );
}

/**
 * The call enclosing `tokens[k]`: the name before an unmatched `(` (empty for
 * a bare parenthesis). `open` holds the brackets still open before `k`, kept
 * by the caller in one pass (scanning back from each string was 4,096 steps a
 * string: 400,000 strings took 15 s); one opened 4,096 tokens back or more is
 * not followed.
 */
function enclosingCall(
  tokens: readonly Token[],
  k: number,
  open: readonly number[],
): string | undefined {
  const j = open.at(-1);
  if (j === undefined || k - j >= 4096 || tokens[j]!.text !== '(')
    return undefined;
  return tokens[j - 1]?.kind === 'name' ? tokens[j - 1]!.value : '';
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

const stripUnderscores = (s: string): string => s.replace(/^_+|_+$/g, '');

/** Token visits allowed per template for the expression analysis. */
const WORK_BUDGET = 4_000_000;
/** Work left for one template; past it every value is U (fails closed). */
interface Budget {
  left: number;
}

/**
 * Appends the elements of `from` to `to`. `push(...list)` passes each element
 * as an argument and overflows the stack past about 120,000 (a 200,000-item
 * list literal threw RangeError).
 */
function pushAll<T>(to: T[], ...from: readonly (readonly T[])[]): void {
  for (const list of from) for (const x of list) to.push(x);
}

/** Nesting of brackets and operators the expression parser follows. */
const MAX_EXPRESSION_DEPTH = 200;

// ---------------------------------------------------------------------------
// Expressions. Each block is parsed as Jinja's parser does (the grammar of
// jinja2/parser.py: conditional, or, and, not, comparisons, `+ -`, `~`,
// `* / // %`, `**`, unary, primary with postfix `.`/`[]`/`()`, filters and
// tests), so that what a subscript key is made of is known, not guessed
// from neighbouring tokens.
// ---------------------------------------------------------------------------

type ExprBody =
  | { k: 'str'; tok: Token; value: string; raw: string }
  | { k: 'num'; tok: Token }
  | { k: 'const'; tok: Token }
  | { k: 'name'; tok: Token; name: string }
  | { k: 'attr'; tok: Token; obj: Expr; name: string }
  | { k: 'item'; tok: Token; obj: Expr; key: Expr }
  | { k: 'slice'; tok: Token; items: Expr[] }
  | {
      k: 'call';
      tok: Token;
      fn: Expr;
      args: Expr[];
      kwargs: [string, Expr][];
      star: boolean;
    }
  | {
      k: 'filter';
      tok: Token;
      value: Expr;
      name: string;
      args: Expr[];
      kwargs: [string, Expr][];
      star: boolean;
    }
  | { k: 'test'; tok: Token; value: Expr; args: Expr[] }
  | { k: 'bin'; tok: Token; op: string; a: Expr; b: Expr }
  | { k: 'unary'; tok: Token; op: string; a: Expr }
  | { k: 'cond'; tok: Token; then: Expr; test: Expr; else: Expr | undefined }
  | { k: 'seq'; tok: Token; items: Expr[] }
  | { k: 'dict'; tok: Token; items: Expr[] };
/** A parsed expression; `d` is the depth of its tree (bounded, so the recursive passes are). */
type Expr = ExprBody & { d: number };

/** Depth of expression trees the analysis follows; deeper blocks count as unparsable. */
const MAX_TREE_DEPTH = 400;

class ParseError extends Error {}

/** Names that are operators or end an expression, never variables. */
const RESERVED: ReadonlySet<string> = new Set([
  'and',
  'or',
  'not',
  'in',
  'is',
  'if',
  'else',
]);

/**
 * Recursive-descent parser over one block's tokens. Multi-character
 * operators (`==`, `//`, `**`, …) are adjacent single-character tokens.
 */
class Parser {
  pos: number;
  private depth = 0;
  constructor(
    private readonly tokens: readonly Token[],
    from: number,
    private readonly end: number,
    private readonly budget: Budget,
  ) {
    this.pos = from;
  }

  /** Builds a node, with the depth of its tree. */
  private mk(n: ExprBody): Expr {
    let d = 0;
    for (const v of Object.values(n) as unknown[]) {
      const kids = Array.isArray(v) ? (v as unknown[]) : [v];
      for (const kid of kids) {
        const x = Array.isArray(kid) ? (kid as unknown[])[1] : kid;
        if (x !== null && typeof x === 'object' && 'd' in x)
          d = Math.max(d, (x as Expr).d);
      }
    }
    if (d + 1 > MAX_TREE_DEPTH) throw new ParseError('too deep');
    return { ...n, d: d + 1 };
  }

  private peek(d = 0): Token | undefined {
    return this.pos + d < this.end ? this.tokens[this.pos + d] : undefined;
  }
  atEnd(): boolean {
    return this.pos >= this.end;
  }
  private next(): Token {
    const t = this.peek();
    if (t === undefined) throw new ParseError('unexpected end');
    this.pos++;
    if (--this.budget.left < 0) throw new ParseError('work budget');
    return t;
  }
  private isOp(text: string, d = 0): boolean {
    const t = this.peek(d);
    return t !== undefined && t.kind === 'op' && t.text === text;
  }
  /** `a` and `b` are one operator (`==`, `**`) when the second follows the first directly. */
  private isOp2(a: string, b: string): boolean {
    const t = this.peek();
    const u = this.peek(1);
    return (
      t?.kind === 'op' &&
      t.text === a &&
      u?.kind === 'op' &&
      u.text === b &&
      u.index === t.index + 1
    );
  }
  isName(value: string, d = 0): boolean {
    const t = this.peek(d);
    return t !== undefined && t.kind === 'name' && t.value === value;
  }
  expect(text: string): Token {
    const t = this.next();
    if (t.text !== text) throw new ParseError(`expected ${text}`);
    return t;
  }
  private enter(): void {
    if (++this.depth > MAX_EXPRESSION_DEPTH) throw new ParseError('too deep');
  }

  /** An expression, or a tuple `a, b` where one is allowed (`{{ a, b }}`, `for` iterables). */
  tuple(condexpr = true): Expr {
    const first = this.expression(condexpr);
    if (!this.isOp(',')) return first;
    const items = [first];
    while (this.isOp(',')) {
      this.next();
      if (this.atEnd() || this.isOp(')') || this.isName('if')) break;
      items.push(this.expression(condexpr));
    }
    return this.mk({ k: 'seq', tok: first.tok, items });
  }

  expression(condexpr = true): Expr {
    this.enter();
    let e = this.or();
    while (condexpr && this.isName('if')) {
      const tok = this.next();
      const test = this.or();
      let otherwise: Expr | undefined;
      if (this.isName('else')) {
        this.next();
        otherwise = this.expression();
      }
      e = this.mk({ k: 'cond', tok, then: e, test, else: otherwise });
    }
    this.depth--;
    return e;
  }

  private or(): Expr {
    let a = this.and();
    while (this.isName('or')) {
      const tok = this.next();
      a = this.mk({ k: 'bin', tok, op: 'or', a, b: this.and() });
    }
    return a;
  }
  private and(): Expr {
    let a = this.not();
    while (this.isName('and')) {
      const tok = this.next();
      a = this.mk({ k: 'bin', tok, op: 'and', a, b: this.not() });
    }
    return a;
  }
  private not(): Expr {
    if (this.isName('not')) {
      const tok = this.next();
      this.enter();
      const a = this.not();
      this.depth--;
      return this.mk({ k: 'unary', tok, op: 'not', a });
    }
    return this.compare();
  }
  private compare(): Expr {
    let a = this.math1();
    for (;;) {
      let op: string | undefined;
      if (this.isOp2('=', '=') || this.isOp2('!', '=')) op = '==';
      else if (this.isOp2('<', '=') || this.isOp2('>', '=')) op = '<=';
      if (op !== undefined) {
        this.next();
        const tok = this.next();
        a = this.mk({ k: 'bin', tok, op, a, b: this.math1() });
      } else if (this.isOp('<') || this.isOp('>')) {
        const tok = this.next();
        a = this.mk({ k: 'bin', tok, op: '<', a, b: this.math1() });
      } else if (this.isName('in')) {
        const tok = this.next();
        a = this.mk({ k: 'bin', tok, op: 'in', a, b: this.math1() });
      } else if (this.isName('not') && this.isName('in', 1)) {
        this.next();
        const tok = this.next();
        a = this.mk({ k: 'bin', tok, op: 'in', a, b: this.math1() });
      } else return a;
    }
  }
  private math1(): Expr {
    let a = this.concat();
    while (this.isOp('+') || this.isOp('-')) {
      const tok = this.next();
      a = this.mk({ k: 'bin', tok, op: tok.text, a, b: this.concat() });
    }
    return a;
  }
  private concat(): Expr {
    let a = this.math2();
    while (this.isOp('~')) {
      const tok = this.next();
      a = this.mk({ k: 'bin', tok, op: '~', a, b: this.math2() });
    }
    return a;
  }
  private math2(): Expr {
    let a = this.pow();
    for (;;) {
      if (this.isOp2('/', '/')) {
        this.next();
        const tok = this.next();
        a = this.mk({ k: 'bin', tok, op: '//', a, b: this.pow() });
      } else if (this.isOp('*') && !this.isOp2('*', '*')) {
        const tok = this.next();
        a = this.mk({ k: 'bin', tok, op: '*', a, b: this.pow() });
      } else if (this.isOp('/') || this.isOp('%')) {
        const tok = this.next();
        a = this.mk({ k: 'bin', tok, op: tok.text, a, b: this.pow() });
      } else return a;
    }
  }
  private pow(): Expr {
    let a = this.unary();
    while (this.isOp2('*', '*')) {
      this.next();
      const tok = this.next();
      a = this.mk({ k: 'bin', tok, op: '**', a, b: this.unary() });
    }
    return a;
  }
  private unary(withFilter = true): Expr {
    this.enter();
    let e: Expr;
    if (this.isOp('-') || this.isOp('+')) {
      const tok = this.next();
      e = this.mk({ k: 'unary', tok, op: tok.text, a: this.unary(false) });
    } else {
      e = this.primary();
    }
    e = this.postfix(e);
    if (withFilter) e = this.filters(e);
    this.depth--;
    return e;
  }
  private primary(): Expr {
    const t = this.next();
    if (t.kind === 'name') {
      if (RESERVED.has(t.value)) throw new ParseError(`unexpected ${t.value}`);
      if (/^(true|false|none|True|False|None)$/.test(t.value))
        return this.mk({ k: 'const', tok: t });
      return this.mk({ k: 'name', tok: t, name: t.value });
    }
    if (t.kind === 'string') {
      // Adjacent literals are one string, as in Python.
      let value = t.value;
      let raw = t.text;
      while (this.peek()?.kind === 'string') {
        const u = this.next();
        value += u.value;
        raw += u.text;
      }
      return this.mk({ k: 'str', tok: t, value, raw });
    }
    if (t.kind === 'number') {
      return this.mk({ k: 'num', tok: t });
    }
    if (t.text === '(') {
      if (this.isOp(')')) {
        this.next();
        return this.mk({ k: 'seq', tok: t, items: [] });
      }
      const e = this.tuple();
      this.expect(')');
      return e;
    }
    if (t.text === '[') {
      const items: Expr[] = [];
      while (!this.isOp(']')) {
        items.push(this.expression());
        if (!this.isOp(',')) break;
        this.next();
      }
      this.expect(']');
      return this.mk({ k: 'seq', tok: t, items });
    }
    if (t.text === '{') {
      const items: Expr[] = [];
      while (!this.isOp('}')) {
        items.push(this.expression());
        this.expect(':');
        items.push(this.expression());
        if (!this.isOp(',')) break;
        this.next();
      }
      this.expect('}');
      return this.mk({ k: 'dict', tok: t, items });
    }
    throw new ParseError(`unexpected ${t.text}`);
  }
  private postfix(e: Expr): Expr {
    for (;;) {
      if (this.isOp('.')) {
        const tok = this.next();
        const n = this.next();
        if (n.kind === 'name')
          e = this.mk({ k: 'attr', tok: n, obj: e, name: n.value });
        else if (n.kind === 'number')
          e = this.mk({
            k: 'item',
            tok,
            obj: e,
            key: this.mk({ k: 'num', tok: n }),
          });
        else throw new ParseError('bad attribute');
      } else if (this.isOp('[')) {
        const tok = this.next();
        e = this.mk({ k: 'item', tok, obj: e, key: this.subscript() });
        this.expect(']');
      } else if (this.isOp('(')) {
        e = this.call(e);
      } else return e;
    }
  }
  /** The key of `x[…]`; a `slice` node for `x[a:b]` (a slice never reaches an attribute, but its bounds are checked). */
  private subscript(): Expr {
    const keys: Expr[] = [];
    let slice = false;
    for (;;) {
      if (this.isOp(':')) {
        slice = true;
        this.next();
        continue;
      }
      if (this.isOp(']')) break;
      if (this.isOp(',')) {
        this.next();
        continue;
      }
      keys.push(this.expression());
    }
    if (slice) return this.mk({ k: 'slice', tok: this.peek()!, items: keys });
    if (keys.length === 0) throw new ParseError('empty subscript');
    return keys.length === 1
      ? keys[0]!
      : this.mk({ k: 'seq', tok: keys[0]!.tok, items: keys });
  }
  private args(): { args: Expr[]; kwargs: [string, Expr][]; star: boolean } {
    this.expect('(');
    const args: Expr[] = [];
    const kwargs: [string, Expr][] = [];
    let star = false;
    while (!this.isOp(')')) {
      if (this.isOp('*')) {
        this.next();
        if (this.isOp('*')) this.next();
        star = true;
        args.push(this.expression());
      } else if (this.keyword()) {
        const name = this.next().value;
        this.next();
        kwargs.push([name, this.expression()]);
      } else {
        args.push(this.expression());
      }
      if (!this.isOp(',')) break;
      this.next();
    }
    this.expect(')');
    return { args, kwargs, star };
  }
  /** At `name=` (a keyword argument), not `name ==`. */
  private keyword(): boolean {
    const eq = this.peek(1);
    const after = this.peek(2);
    return (
      this.peek()?.kind === 'name' &&
      eq?.text === '=' &&
      !(after?.text === '=' && after.index === eq.index + 1)
    );
  }
  private call(fn: Expr): Expr {
    const tok = this.peek()!;
    return this.mk({ k: 'call', tok, fn, ...this.args() });
  }
  /** Filters, tests and calls after a value (`parse_filter_expr`). */
  filters(e: Expr): Expr {
    for (;;) {
      if (this.isOp('|')) {
        this.next();
        e = this.filter(e);
      } else if (this.isName('is')) {
        const tok = this.next();
        if (this.isName('not')) this.next();
        this.dottedName();
        const args: Expr[] = [];
        if (this.isOp('(')) {
          const a = this.args();
          pushAll(
            args,
            a.args,
            a.kwargs.map(([, v]) => v),
          );
        } else {
          const t = this.peek();
          if (
            t !== undefined &&
            (t.kind === 'string' ||
              t.kind === 'number' ||
              (t.kind === 'name' && !RESERVED.has(t.value)) ||
              t.text === '(' ||
              t.text === '[' ||
              t.text === '{')
          )
            args.push(this.postfix(this.primary()));
        }
        e = this.mk({ k: 'test', tok, value: e, args });
      } else if (this.isOp('(')) {
        e = this.call(e);
      } else return e;
    }
  }
  /** One filter: a dotted name and its arguments. */
  filter(value: Expr): Expr {
    const tok = this.peek()!;
    const name = this.dottedName();
    const a = this.isOp('(')
      ? this.args()
      : { args: [], kwargs: [] as [string, Expr][], star: false };
    return this.mk({ k: 'filter', tok, value, name, ...a });
  }
  private dottedName(): string {
    const t = this.next();
    if (t.kind !== 'name') throw new ParseError('expected a name');
    let name = t.value;
    while (this.isOp('.') && this.peek(1)?.kind === 'name') {
      this.next();
      name += `.${this.next().value}`;
    }
    return name;
  }
}

// ---------------------------------------------------------------------------
// What a value can spell. A subscript key, an `attr` argument or an attribute
// filter's name reaches Python internals only when it names an attribute that
// starts with `_` (every escape from Jinja's data types goes through one:
// `__class__`, `__globals__`, `__init__`, `_TemplateReference__context`, …;
// names such as `popen` matter only on objects reached that way). So each
// value gets a level saying whether the template can steer it to such a name:
//   N  a number or boolean;
//   V  the conversation's own data (messages, tools, add_generation_prompt),
//      a piece of it, or a literal with no `_`, `%`, `{`, `}` or `\N`
//      escape: one value the template selects but does not assemble;
//   P  text that starts with a non-empty literal whose first character is not
//      `_` (`"tool_" ~ name`): whatever follows, the name starts there;
//   K  P read from a variable (it may be undefined, so empty, there), a list
//      of P and V values, or either of P and V: a key as it stands, but any
//      operation on it gives U and it cannot lead a concatenation;
//   U  anything else: text assembled from pieces (`u ~ u ~ 'class'`, `join`,
//      `replace`, `format`, `%`), `*_token` values (the model file's own
//      vocabulary), block or macro output, objects' text (`|string` of a
//      function or macro), and values derived from U.
// A piece of V may be a single `_` the template picked out of the
// conversation (`tool_calls` is in most tool-calling message lists), which
// is harmless alone; that is why joining V values gives U.
// Levels judge what the template itself can spell. The conversation's own
// text is V: whoever publishes the model file may also send the messages,
// but a key taken from them is judged by what it is applied to (see
// `reachOf`, further down).
// ---------------------------------------------------------------------------

type Level = 'N' | 'V' | 'P' | 'K' | 'U';
/** Not assigned yet (fixpoint start). */
type Lattice = Level | 'T';

function meet(a: Lattice, b: Lattice): Lattice {
  if (a === 'T') return b;
  if (b === 'T' || a === b) return a;
  if (a === 'U' || b === 'U') return 'U';
  const s = a + b;
  if (s === 'NV' || s === 'VN') return 'V';
  if (s === 'NP' || s === 'PN') return 'P';
  return 'K';
}

/**
 * `\\N{…}`: Jinja decodes literals with Python's `unicode-escape`, which
 * names characters (`\\N{LOW LINE}` is `_`); {@link decodeString} does not.
 */
const NAMED_ESCAPE = /\\N\{/;
const LEADING_NAMED_ESCAPE = /^['"]\\N\{/;

/** A literal's decoded text can hold `_`, a format spec or an unhandled escape. */
function uncleanLiteral(value: string, raw: string): boolean {
  return /[_%{}]/.test(value) || NAMED_ESCAPE.test(raw);
}
/** A literal whose first character may be `_` (decoded, or through `\N{…}`). */
function leadsWithUnderscore(value: string, raw: string): boolean {
  return value.startsWith('_') || LEADING_NAMED_ESCAPE.test(raw);
}

/** The constant a literal-only concatenation spells (`'tool_' + 'calls'`), if the node is one. */
function constantText(e: Expr): { value: string; raw: string } | undefined {
  if (e.k === 'str') return { value: e.value, raw: e.raw };
  if (e.k === 'bin' && (e.op === '~' || e.op === '+')) {
    const a = constantText(e.a);
    const b = a && constantText(e.b);
    if (a !== undefined && b !== undefined)
      return { value: a.value + b.value, raw: a.raw + b.raw };
  }
  return undefined;
}

/** Filters whose result is a number or boolean whatever they are given. */
const NUMBER_FILTERS: ReadonlySet<string> = new Set([
  'length',
  'count',
  'int',
  'float',
  'abs',
  'round',
  'wordcount',
]);
/**
 * Filters that return their input, part of it, or its text with case or
 * escaping changed: given V data and V arguments they give V data. Filters
 * that add text (`join`, `replace`, `format`, `center`, `indent`,
 * `truncate`, `wordwrap`, `urlize`, `xmlattr`) are not here.
 */
const PIECE_FILTERS: ReadonlySet<string> = new Set([
  'first',
  'last',
  'list',
  'sort',
  'unique',
  'reverse',
  'lower',
  'upper',
  'title',
  'capitalize',
  'trim',
  'string',
  'e',
  'escape',
  'forceescape',
  'safe',
  'items',
  'dictsort',
  'select',
  'reject',
  'selectattr',
  'rejectattr',
  'map',
  'batch',
  'slice',
  'groupby',
  'min',
  'max',
  'default',
  'd',
  'tojson',
  'pprint',
  'random',
]);
/** `str` and `dict` methods that return their receiver, part of it, or a number (V arguments only). */
const PIECE_METHODS: ReadonlySet<string> = new Set([
  'split',
  'rsplit',
  'splitlines',
  'partition',
  'rpartition',
  'strip',
  'lstrip',
  'rstrip',
  'lower',
  'upper',
  'title',
  'capitalize',
  'casefold',
  'startswith',
  'endswith',
  'count',
  'find',
  'rfind',
  'index',
  'rindex',
  'isdigit',
  'isalpha',
  'isalnum',
  'isspace',
  'islower',
  'isupper',
  'get',
  'items',
  'keys',
  'values',
]);
/** `loop` attributes that are numbers or booleans. */
const LOOP_NUMBERS: ReadonlySet<string> = new Set([
  'index',
  'index0',
  'revindex',
  'revindex0',
  'first',
  'last',
  'length',
  'depth',
  'depth0',
]);

/** Render-context values the model file itself supplies (`bos_token`, `eos_token`, …). */
const FILE_TEXT = /^[a-z]*_token$/;

/** Dotted path of a name or attribute chain (`ns.key`), if the node is one. */
function pathOf(e: Expr): string | undefined {
  if (e.k === 'name') return e.name;
  if (e.k === 'attr') {
    const p = pathOf(e.obj);
    return p === undefined ? undefined : `${p}.${e.name}`;
  }
  return undefined;
}

/** What the assignments and macro calls of a template give each variable. */
interface Variables {
  /** Meet of every value assigned to a name or `ns.attr` path. */
  levels: Map<string, Lattice>;
  /** Names assigned `namespace(…)`: the object itself is U, its attributes are tracked by path. */
  namespaces: Set<string>;
  /** Macro names (their output and their text are U). */
  macros: Set<string>;
  /** Names the template binds (assignments, loop targets, parameters): `range` or `loop` so bound are not Jinja's. */
  bound: Set<string>;
  /**
   * Union of the Reach bits (see {@link CONV}) of every value assigned to a
   * name or path; shifted left by 3, those from sources other than
   * `{% set %}`, `for` and `with` (parameters, mutations, namespace paths).
   */
  reach: Map<string, number>;
  /** Index of the block whose expressions are being evaluated (for {@link KeyLoop}s). */
  at: number;
  /** The innermost loop around each block. */
  loops: readonly (KeyLoop | undefined)[];
  /** Names some `for` loop binds. */
  loopTargets: ReadonlySet<string>;
  /** Reach of the nodes of the checked expressions, once the variables are final. */
  cache: Map<Expr, number> | undefined;
  /** The reach of a name without what one assignment to it gave it. */
  without: (a: Assignment, t: string) => number;
  budget: Budget;
}

/** The level of a variable as read: P becomes K, as it may be undefined (empty) there; unassigned names are the conversation's (V). */
function readLevel(l: Lattice | undefined): Level {
  if (l === undefined || l === 'T') return 'V';
  return l === 'P' ? 'K' : l;
}

/** The level of a value (see {@link Level}). */
function levelOf(e: Expr, vars: Variables): Level {
  if (--vars.budget.left < 0) return 'U';
  switch (e.k) {
    case 'num':
    case 'const':
      return 'N';
    case 'str':
      if (!uncleanLiteral(e.value, e.raw)) return 'V';
      return leadsWithUnderscore(e.value, e.raw) || e.value === '' ? 'U' : 'P';
    case 'name': {
      const n = e.name;
      if (FILE_TEXT.test(n)) return 'U';
      if (
        PASSED_FUNCTIONS.has(n) ||
        CALLABLE_GLOBALS.has(n) ||
        SENSITIVE_GLOBALS.has(n) ||
        vars.macros.has(n) ||
        vars.namespaces.has(n) ||
        n === 'caller' ||
        n === 'varargs' ||
        n === 'kwargs'
      )
        return 'U';
      if (n === 'loop' && !vars.bound.has('loop'))
        return meet('V', readLevel(vars.levels.get('loop'))) as Level;
      return readLevel(vars.levels.get(n));
    }
    case 'attr': {
      if (e.name.startsWith('_')) return 'U';
      if (
        e.obj.k === 'name' &&
        e.obj.name === 'loop' &&
        !vars.bound.has('loop')
      )
        return LOOP_NUMBERS.has(e.name) ? 'N' : 'U';
      const path = pathOf(e);
      const assigned = path === undefined ? undefined : vars.levels.get(path);
      const root = e.obj.k === 'name' ? e.obj.name : undefined;
      // An attribute of a namespace is what was assigned to it; the
      // namespace object itself (its text shows its keys) is U.
      const obj =
        root !== undefined &&
        vars.namespaces.has(root) &&
        !vars.levels.has(root)
          ? 'V'
          : levelOf(e.obj, vars);
      if (obj !== 'V' && obj !== 'N') return 'U';
      return meet('V', readLevel(assigned)) as Level;
    }
    case 'item': {
      const obj = levelOf(e.obj, vars);
      if (obj !== 'V' && obj !== 'N') return 'U';
      if (e.key.k === 'slice') return 'V';
      const c = constantText(e.key);
      if (c !== undefined)
        return leadsWithUnderscore(c.value, c.raw) ? 'U' : 'V';
      const key = levelOf(e.key, vars);
      return key === 'U' ? 'U' : 'V';
    }
    case 'call': {
      const fn = e.fn;
      // Jinja's `range` (unless the template rebinds the name).
      if (fn.k === 'name' && fn.name === 'range' && !vars.bound.has('range'))
        return 'N';
      if (fn.k === 'attr' && PIECE_METHODS.has(fn.name)) {
        const recv = levelOf(fn.obj, vars);
        if (recv !== 'V' && recv !== 'N') return 'U';
        if (e.star) return 'U';
        for (const a of [...e.args, ...e.kwargs.map(([, v]) => v)]) {
          const l = levelOf(a, vars);
          if (l !== 'V' && l !== 'N') return 'U';
        }
        return 'V';
      }
      return 'U';
    }
    case 'filter': {
      if (NUMBER_FILTERS.has(e.name)) return 'N';
      if (!PIECE_FILTERS.has(e.name) || e.star) return 'U';
      // `map('replace', …)` runs the named filter: it must be a piece filter
      // too, and not `map` again (`map('map', 'replace', …)`).
      if (e.name === 'map' && e.args[0] !== undefined) {
        const f = e.args[0];
        if (
          f.k !== 'str' ||
          f.value === 'map' ||
          !(PIECE_FILTERS.has(f.value) || NUMBER_FILTERS.has(f.value))
        )
          return 'U';
      }
      const v = levelOf(e.value, vars);
      if (v !== 'V' && v !== 'N') return 'U';
      for (const a of [...e.args, ...e.kwargs.map(([, x]) => x)]) {
        const l = levelOf(a, vars);
        if (l !== 'V' && l !== 'N') return 'U';
      }
      return 'V';
    }
    case 'test':
    case 'unary':
      return 'N';
    case 'bin':
      return binaryLevel(e, vars);
    case 'cond': {
      const a = levelOf(e.then, vars);
      const b = e.else === undefined ? 'V' : levelOf(e.else, vars);
      return meet(a, b) as Level;
    }
    case 'slice':
      return 'U';
    case 'seq':
    case 'dict': {
      // As a key a list, tuple or dict is not a string (no getattr); as a
      // value its level is that of its items, P read as K.
      let l: Lattice = 'T';
      for (const item of e.items) l = meet(l, levelOf(item, vars));
      return readLevel(l);
    }
  }
}

/** Numbers stay numbers; `~` and string `+` are {@link concatLevel}. */
function binaryLevel(e: Extract<Expr, { k: 'bin' }>, vars: Variables): Level {
  switch (e.op) {
    case 'and':
    case 'or':
      return meet(levelOf(e.a, vars), levelOf(e.b, vars)) as Level;
    case '==':
    case '<=':
    case '<':
    case 'in':
    case '-':
    case '/':
    case '//':
    case '**':
      return 'N';
    case '*':
    case '%':
      // `'_' * 2`, `'%c' % 95`, `fmt % args`: text unless the left is a number.
      return levelOf(e.a, vars) === 'N' &&
        (e.op === '%' || levelOf(e.b, vars) === 'N')
        ? 'N'
        : 'U';
    case '+':
      if (numericSum(e, vars)) return 'N';
      return concatLevel(e, vars);
    default:
      return concatLevel(e, vars);
  }
}

/** `a + b` adds numbers: one side is a number and neither is U. */
function numericSum(e: Extract<Expr, { k: 'bin' }>, vars: Variables): boolean {
  const a = levelOf(e.a, vars);
  const b = levelOf(e.b, vars);
  return a !== 'U' && b !== 'U' && (a === 'N' || b === 'N');
}

/** True for a literal that adds nothing to a concatenation. */
function emptyLiteral(e: Expr): boolean {
  return e.k === 'str' && e.value === '' && !NAMED_ESCAPE.test(e.raw);
}

/**
 * Level of `a ~ b ~ …` (and string `+`). The operands are taken left to
 * right; empty literals drop out. All literals: the constant's level. A
 * non-empty literal (not starting with `_`) or a number literal first, or a
 * P expression first: P, whatever follows. Anything else first is U: a
 * variable may be undefined (empty) and a piece of the conversation may be a
 * `_` the template picked out, so what follows could lead.
 */
function concatLevel(e: Expr, vars: Variables): Level {
  const operands: Expr[] = [];
  const stack: Expr[] = [e];
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (
      x.k === 'bin' &&
      (x.op === '~' || (x.op === '+' && !numericSum(x, vars)))
    ) {
      stack.push(x.b, x.a);
    } else if (!emptyLiteral(x)) operands.push(x);
  }
  if (operands.length === 0) return 'V';
  if (operands.length === 1) return levelOf(operands[0]!, vars);
  if (operands.every((x) => x.k === 'str')) {
    const value = operands.map((x) => (x as { value: string }).value).join('');
    const raw = operands.map((x) => (x as { raw: string }).raw).join('');
    return levelOf({ k: 'str', tok: operands[0]!.tok, value, raw, d: 1 }, vars);
  }
  const first = operands[0]!;
  if (first.k === 'num') return 'P';
  if (first.k === 'str')
    return leadsWithUnderscore(first.value, first.raw) ? 'U' : 'P';
  return levelOf(first, vars) === 'P' ? 'P' : 'U';
}

// ---------------------------------------------------------------------------
// Keys the conversation chooses. Whoever sends a chat message to a server that
// renders the template also chooses text the template reads (message content
// and roles, tool names and schemas, argument keys) and, where the server
// passes request fields on as template variables, any variable the template
// reads before or instead of setting it. Such text as a subscript key reaches
// one attribute of the subscripted object when it is not one of its keys
// (getitem falls back to getattr): on the conversation's own data or a
// literal that is a type, a method or a doc string, and running code takes
// more than one step (`__class__`, `__base__`, `__subclasses__()`, …). So a
// conversation key is judged by what it is applied to and what becomes of
// the result: each value carries Reach bits, and a subscript with a
// conversation key is reported when its object may itself be such a result
// (a chain), or a Jinja object (`loop`, a namespace, a macro, a global), or
// when that result is called. A key taken from the object's own keys inside
// the loop over them (`for k, v in d.items()`, then `d[k]`) finds an item.
// ---------------------------------------------------------------------------

/** Reach: text or data the conversation (or a variable it may set) chooses. */
const CONV = 1;
/** Reach: an attribute a conversation key may have named (the result of a getattr fallback), or anything derived from one. */
const STEERED = 2;
/** Reach: a Jinja or renderer object that is not data (`loop`, namespaces, macros, globals, passed-in functions). */
const OBJECT = 4;
const ALL_REACH = CONV | STEERED | OBJECT;

/**
 * A `for` loop, for the own-key exemption: `key` iterates the keys of the
 * mapping at `path` (`.items()`, `.keys()`, `|items`, `|dictsort`), and
 * `own` stays true while nothing in the body can rebind the key or the
 * mapping's root, or remove keys (assignments, calls other than read-only
 * methods, macro calls).
 */
interface KeyLoop {
  targets: ReadonlySet<string>;
  key: string | undefined;
  path: string | undefined;
  own: boolean;
  /** Its body calls something (then so do the bodies of the loops around it). */
  calls: boolean;
  parent: KeyLoop | undefined;
}
/** Findings of the conversation-key rule listed per template. */
const MAX_CONVERSATION_FINDINGS = 100;
/**
 * Enclosing loops looked at (for the exemption and for loop targets): Jinja
 * compiles a loop to a Python `for`, and CPython rejects more than 20 nested
 * blocks, so a template with deeper loops does not render.
 */
const MAX_LOOP_LOOKUP = 24;

/** Source text of a name, attribute or literal-key path (`tool_call["function"].arguments`). */
function pathKey(e: Expr): string | undefined {
  if (e.k === 'name') return e.name;
  if (e.k === 'attr') {
    const p = pathKey(e.obj);
    return p === undefined ? undefined : `${p}.${e.name}`;
  }
  if (e.k === 'item' && e.key.k === 'str') {
    const p = pathKey(e.obj);
    return p === undefined ? undefined : `${p}[${JSON.stringify(e.key.value)}]`;
  }
  return undefined;
}

/** `d[k]` inside the loop over d's own keys, where d is still the mapping iterated. */
function ownKey(e: Extract<Expr, { k: 'item' }>, vars: Variables): boolean {
  if (e.key.k !== 'name') return false;
  const name = e.key.name;
  let loop = vars.loops[vars.at];
  for (let n = 0; loop !== undefined && n < MAX_LOOP_LOOKUP; n++) {
    if (loop.targets.has(name))
      return loop.own && loop.key === name && loop.path === pathKey(e.obj);
    loop = loop.parent;
  }
  return false;
}

/**
 * A key the conversation may choose, as text that need not start with a
 * literal: not a literal, number, tuple or slice, of level V or K (U keys
 * are reported as computed already; P ones start with a literal), and made
 * of a variable or piece of one.
 */
function conversationKey(key: Expr, vars: Variables): boolean {
  if (key.k === 'seq' || key.k === 'dict' || key.k === 'num') return false;
  if (key.k === 'slice' || key.k === 'const') return false;
  if (constantText(key) !== undefined) return false;
  const l = levelOf(key, vars);
  return (
    (l === 'V' || l === 'K') && (reachOf(key, vars) & (CONV | STEERED)) !== 0
  );
}

/** A subscript whose key the conversation chooses and that may miss the object's items (see {@link ownKey}). */
function steeredSubscript(
  e: Extract<Expr, { k: 'item' }>,
  vars: Variables,
): boolean {
  return conversationKey(e.key, vars) && !ownKey(e, vars);
}

/** Names whose value, unless the template sets them, is a Jinja or renderer object rather than data. */
const JINJA_OBJECTS: ReadonlySet<string> = new Set([
  ...PASSED_FUNCTIONS,
  ...CALLABLE_GLOBALS,
  ...SENSITIVE_GLOBALS,
  'caller',
  'loop',
]);
/** Flag in a `vars.reach` entry: the name is a Jinja object, a macro or a namespace. */
const OBJECT_NAME = 1 << 12;
/** The first `vars.reach` entry of a name. */
function objectName(n: string, vars: Variables): number {
  return JINJA_OBJECTS.has(n) || vars.macros.has(n) || vars.namespaces.has(n)
    ? OBJECT_NAME
    : 0;
}

/** The Reach bits of a value (see {@link CONV}). */
function reachOf(e: Expr, vars: Variables): number {
  if (e.d === 1) return reachOfNode(e, vars);
  const cached = vars.cache?.get(e);
  if (cached !== undefined) return cached;
  const r = reachOfNode(e, vars);
  vars.cache?.set(e, r);
  return r;
}

/**
 * `a ~ b` (or `+`) whose leftmost operand is a number or a non-empty literal
 * not starting with `_`, or a P value: text that starts with the template's
 * own characters ({@link concatLevel}), or a sum of numbers.
 */
function literalFirst(e: Expr, vars: Variables): boolean {
  let x = e;
  while (x.k === 'bin' && (x.op === '~' || x.op === '+')) x = x.a;
  if (x.k === 'num') return true;
  if (x.k === 'str')
    return x.value !== '' && !leadsWithUnderscore(x.value, x.raw);
  return x.k !== 'name' && levelOf(x, vars) === 'P';
}

/** Union of the Reach of some values and of the values of keyword arguments. */
function reachAll(
  vars: Variables,
  xs: readonly (Expr | undefined)[],
  kwargs: readonly [string, Expr][] = [],
): number {
  let r = 0;
  for (const x of xs) if (x !== undefined) r |= reachOf(x, vars);
  for (const [, x] of kwargs) r |= reachOf(x, vars);
  return r;
}

/** The Reach of a variable as read in the block being evaluated. */
function nameReach(n: string, vars: Variables): number {
  if (n === 'varargs' || n === 'kwargs') return CONV | STEERED;
  // A name the template sets may still be read before the set, or in a
  // branch that did not set it: the render variable of that name. A loop's
  // target is bound throughout its body.
  const v = vars.reach.get(n) ?? objectName(n, vars);
  if ((v & OBJECT_NAME) !== 0) return (v & ALL_REACH) | OBJECT;
  return (v & ALL_REACH) | (loopTarget(n, vars) ? 0 : CONV);
}

/** `n` is a target of a loop around the block being evaluated. */
function loopTarget(n: string, vars: Variables): boolean {
  if (!vars.loopTargets.has(n)) return false;
  let loop = vars.loops[vars.at];
  for (let i = 0; loop !== undefined && i < MAX_LOOP_LOOKUP; i++) {
    if (loop.key !== undefined && loop.targets.has(n)) return true;
    loop = loop.parent;
  }
  return false;
}

/** `loop.previtem`, `loop.nextitem`: an element of the innermost loop, as its targets are. */
function loopItemReach(vars: Variables): number {
  const loop = vars.loops[vars.at];
  if (loop === undefined || loop.key === undefined) return CONV | STEERED;
  let r = 0;
  for (const t of loop.targets) r |= nameReach(t, vars);
  return r;
}

function reachOfNode(e: Expr, vars: Variables): number {
  if (--vars.budget.left < 0) return ALL_REACH;
  switch (e.k) {
    case 'num':
    case 'const':
    case 'str':
      return 0;
    case 'name':
      return nameReach(e.name, vars);
    case 'attr': {
      if (e.name.startsWith('_')) return ALL_REACH;
      if (
        e.obj.k === 'name' &&
        e.obj.name === 'loop' &&
        !vars.bound.has('loop')
      )
        return LOOP_NUMBERS.has(e.name)
          ? 0
          : e.name === 'previtem' || e.name === 'nextitem'
            ? loopItemReach(vars)
            : OBJECT;
      const path = pathOf(e);
      const assigned =
        path === undefined ? 0 : (vars.reach.get(path) ?? 0) & ALL_REACH;
      const root = e.obj.k === 'name' ? e.obj.name : undefined;
      // A namespace's attribute is what was assigned to it.
      if (
        root !== undefined &&
        vars.namespaces.has(root) &&
        !vars.levels.has(root)
      )
        return assigned;
      return reachOf(e.obj, vars) | assigned;
    }
    case 'item': {
      const obj = reachOf(e.obj, vars);
      if (e.key.k !== 'slice' && steeredSubscript(e, vars))
        return STEERED | (obj & CONV);
      return obj;
    }
    case 'call': {
      const fn = e.fn;
      const args = reachAll(vars, e.args, e.kwargs);
      if (fn.k === 'name' && !vars.bound.has(fn.name)) {
        if (fn.name === 'range' || PASSED_FUNCTIONS.has(fn.name)) {
          return fn.name === 'dict' ? args : 0;
        }
        // `namespace`, `cycler`, `joiner`: an object that hands back what
        // it was given (`cycler(x).next()`, `joiner(x)()`).
        if (CALLABLE_GLOBALS.has(fn.name)) return OBJECT | args;
      }
      // Macro and `caller` output is text.
      if (fn.k === 'name' && (vars.macros.has(fn.name) || fn.name === 'caller'))
        return CONV;
      return reachOf(fn, vars) | args;
    }
    case 'filter':
      if (NUMBER_FILTERS.has(e.name)) return 0;
      return reachOf(e.value, vars) | reachAll(vars, e.args, e.kwargs);
    case 'test':
    case 'unary':
      return 0;
    case 'bin':
      switch (e.op) {
        case 'and':
        case 'or':
          return reachOf(e.a, vars) | reachOf(e.b, vars);
        case '~':
        case '+':
          // Text that starts with a literal of the template is no key the
          // conversation chooses, and as an object it is a string.
          if (literalFirst(e, vars)) return 0;
          return reachOf(e.a, vars) | reachOf(e.b, vars);
        case '*':
        case '%':
          return reachOf(e.a, vars) | reachOf(e.b, vars);
        default:
          return 0;
      }
    case 'cond':
      return reachAll(vars, [e.then, e.else]);
    case 'seq':
    case 'dict':
    case 'slice':
      return reachAll(vars, e.items);
  }
}

// ---------------------------------------------------------------------------
// Statements: what each block assigns and which expressions it holds.
// ---------------------------------------------------------------------------

interface Assignment {
  /** Names or `ns.attr` paths assigned. */
  targets: string[];
  /** The value; undefined for `{% set x %}…{% endset %}` (rendered text, U). */
  value: Expr | undefined;
  /** `for` targets take the elements of the value. */
  iterate: boolean;
  /** The value reads one of the targets (set on first use). */
  readsItself: boolean | undefined;
  /** The Reach bits this assignment has given its targets. */
  reached: number;
}

interface Block {
  tokens: readonly Token[];
  /** Expressions whose nodes are checked (sinks) and whose calls feed macro parameters. */
  exprs: Expr[];
  assigns: Assignment[];
  /** `{% macro name(params) %}`: parameter names and defaults. */
  macro?: { name: string; params: [string, Expr | undefined][] };
  /** Parameters of `{% call(params) … %}` (U: `caller()` passes them). */
  callParams?: string[];
  /** Set when the block could not be parsed as Jinja parses it. */
  error?: Token;
  /** The tag of a statement (`for`, `endfor`, `if`, `else`, …). */
  tag: string | undefined;
  /** `{% for … recursive %}`. */
  recursive: boolean;
}

/**
 * Most names one assignment may bind. Templates bind one to three; the
 * aliasing between the names of one assignment grows with the square of
 * their number (a 58 KB `{% set a0,…,a4999 = a0,…,a4999 %}` took 2.4 GiB
 * and 19 s, 20,000 names ran out of memory: stop 30).
 */
const MAX_ASSIGNMENT_TARGETS = 64;

/** Assignment targets: names, `ns.attr` paths, tuples of them. */
function parseTargets(
  tokens: readonly Token[],
  from: number,
  to: number,
): string[] {
  const out: string[] = [];
  for (let j = from; j < to; j++) {
    const t = tokens[j]!;
    if (t.kind === 'name' && tokens[j - 1]?.text !== '.') {
      let path = t.value;
      while (
        tokens[j + 1]?.text === '.' &&
        tokens[j + 2]?.kind === 'name' &&
        j + 2 < to
      ) {
        path += `.${tokens[j + 2]!.value}`;
        j += 2;
      }
      out.push(path);
      if (out.length > MAX_ASSIGNMENT_TARGETS)
        throw new ParseError('too many assignment targets');
    } else if (t.kind !== 'op' || !['(', ')', ','].includes(t.text)) {
      throw new ParseError('bad assignment target');
    }
  }
  return out;
}

/** Index of the top-level name `value` in `tokens[from, to)`, or -1. */
function topLevelName(
  tokens: readonly Token[],
  from: number,
  to: number,
  values: readonly string[],
): number {
  let depth = 0;
  for (let j = from; j < to; j++) {
    const t = tokens[j]!;
    if (t.text === '(' || t.text === '[' || t.text === '{') depth++;
    else if (t.text === ')' || t.text === ']' || t.text === '}') depth--;
    else if (depth === 0 && t.kind === 'name' && values.includes(t.value))
      return j;
  }
  return -1;
}

/** Index of the top-level assignment `=` (not `==`, `!=`, `<=`, `>=`), or -1. */
function assignmentAt(
  tokens: readonly Token[],
  from: number,
  to: number,
): number {
  let depth = 0;
  for (let j = from; j < to; j++) {
    const t = tokens[j]!;
    if (t.text === '(' || t.text === '[' || t.text === '{') depth++;
    else if (t.text === ')' || t.text === ']' || t.text === '}') depth--;
    else if (
      depth === 0 &&
      t.text === '=' &&
      !['=', '!', '<', '>'].includes(tokens[j - 1]?.text ?? '') &&
      tokens[j + 1]?.text !== '='
    )
      return j;
  }
  return -1;
}

function parseWhole(
  tokens: readonly Token[],
  from: number,
  to: number,
  budget: Budget,
  tuple = true,
): Expr {
  const p = new Parser(tokens, from, to, budget);
  const e = tuple ? p.tuple() : p.expression();
  if (!p.atEnd()) throw new ParseError('trailing tokens');
  return e;
}

/** Parses one `{{ }}` or `{% %}` block. */
function parseBlock(
  tokens: readonly Token[],
  statement: boolean,
  budget: Budget,
): Block {
  const block: Block = {
    tokens,
    exprs: [],
    assigns: [],
    tag: undefined,
    recursive: false,
  };
  const n = tokens.length;
  try {
    if (!statement) {
      if (n > 0) block.exprs.push(parseWhole(tokens, 0, n, budget));
      return block;
    }
    const head = tokens[0];
    if (head?.kind !== 'name') {
      if (head !== undefined) throw new ParseError('no tag');
      return block;
    }
    block.tag = head.value;
    switch (head.value) {
      case 'set': {
        const eq = assignmentAt(tokens, 1, n);
        if (eq < 0) {
          // `{% set x %}…{% endset %}`, optionally `{% set x | filter %}`.
          const bar = tokens.findIndex((t) => t.text === '|');
          const end = bar < 0 ? n : bar;
          block.assigns.push({
            targets: parseTargets(tokens, 1, end),
            value: undefined,
            iterate: false,
            readsItself: undefined,
            reached: 0,
          });
          if (bar >= 0) {
            const p = new Parser(tokens, bar, n, budget);
            block.exprs.push(
              p.filters({ k: 'str', tok: head, value: '', raw: "''", d: 1 }),
            );
          }
        } else {
          const value = parseWhole(tokens, eq + 1, n, budget);
          block.exprs.push(value);
          block.assigns.push({
            targets: parseTargets(tokens, 1, eq),
            value,
            iterate: false,
            readsItself: undefined,
            reached: 0,
          });
        }
        return block;
      }
      case 'for': {
        const at = topLevelName(tokens, 1, n, ['in']);
        if (at < 0) throw new ParseError('for without in');
        const stop = topLevelName(tokens, at + 1, n, ['if', 'recursive']);
        const end = stop < 0 ? n : stop;
        const p = new Parser(tokens, at + 1, end, budget);
        const value = p.tuple(false);
        if (!p.atEnd()) throw new ParseError('trailing tokens');
        block.exprs.push(value);
        block.assigns.push({
          targets: parseTargets(tokens, 1, at),
          value,
          iterate: true,
          readsItself: undefined,
          reached: 0,
        });
        block.recursive = topLevelName(tokens, at + 1, n, ['recursive']) >= 0;
        if (stop >= 0 && tokens[stop]!.value === 'if') {
          const rec = topLevelName(tokens, stop + 1, n, ['recursive']);
          block.exprs.push(
            parseWhole(tokens, stop + 1, rec < 0 ? n : rec, budget, false),
          );
        }
        return block;
      }
      case 'with': {
        let j = 1;
        while (j < n) {
          const name = tokens[j]!;
          if (name.kind !== 'name' || tokens[j + 1]?.text !== '=')
            throw new ParseError('bad with');
          const p = new Parser(tokens, j + 2, n, budget);
          const value = p.expression();
          block.exprs.push(value);
          block.assigns.push({
            targets: [name.value],
            value,
            iterate: false,
            readsItself: undefined,
            reached: 0,
          });
          j = p.pos;
          if (tokens[j]?.text === ',') j++;
          else if (j < n) throw new ParseError('bad with');
        }
        return block;
      }
      case 'macro': {
        const name = tokens[1];
        if (name?.kind !== 'name' || tokens[2]?.text !== '(')
          throw new ParseError('bad macro');
        const params: [string, Expr | undefined][] = [];
        let j = 3;
        while (j < n && tokens[j]!.text !== ')') {
          const pn = tokens[j]!;
          if (pn.kind !== 'name') throw new ParseError('bad parameter');
          let def: Expr | undefined;
          j++;
          if (tokens[j]?.text === '=') {
            const p = new Parser(tokens, j + 1, n, budget);
            def = p.expression();
            block.exprs.push(def);
            j = p.pos;
          }
          params.push([pn.value, def]);
          if (tokens[j]?.text === ',') j++;
        }
        if (tokens[j]?.text !== ')' || j !== n - 1)
          throw new ParseError('bad macro');
        block.macro = { name: name.value, params };
        return block;
      }
      case 'call': {
        let j = 1;
        if (tokens[1]?.text === '(') {
          // `{% call(a, b=default) m() %}`: parameters as a macro's.
          block.callParams = [];
          j = 2;
          while (j < n && tokens[j]!.text !== ')') {
            const pn = tokens[j]!;
            if (pn.kind !== 'name') throw new ParseError('bad parameter');
            block.callParams.push(pn.value);
            j++;
            if (tokens[j]?.text === '=') {
              const p = new Parser(tokens, j + 1, n, budget);
              block.exprs.push(p.expression());
              j = p.pos;
            }
            if (tokens[j]?.text === ',') j++;
          }
          if (tokens[j]?.text !== ')') throw new ParseError('bad call');
          j++;
        }
        block.exprs.push(parseWhole(tokens, j, n, budget, false));
        return block;
      }
      case 'filter': {
        // `{% filter f(args)|g %}`: filters applied to the section's text.
        const p = new Parser(tokens, 1, n, budget);
        let e = p.filter({ k: 'str', tok: head, value: '', raw: "''", d: 1 });
        e = p.filters(e);
        if (!p.atEnd()) throw new ParseError('trailing tokens');
        block.exprs.push(e);
        return block;
      }
      case 'if':
      case 'elif':
      case 'print':
      case 'do':
      case 'autoescape':
        block.exprs.push(parseWhole(tokens, 1, n, budget));
        return block;
      case 'include':
      case 'import':
      case 'from':
      case 'extends': {
        const p = new Parser(tokens, 1, n, budget);
        block.exprs.push(p.expression());
        return block;
      }
      case 'else':
      case 'raw':
      case 'endraw':
      case 'break':
      case 'continue':
      case 'block':
      case 'endblock':
        return block;
      default:
        // `endX`, and tags of extensions (`{% generation %}` in
        // transformers): any arguments are checked as expressions.
        if (n > 1 && !/^end/.test(head.value))
          block.exprs.push(parseWhole(tokens, 1, n, budget));
        return block;
    }
  } catch (error) {
    if (!(error instanceof ParseError)) throw error;
    block.error = tokens[0] ?? { kind: 'op', text: '', value: '', index: 0 };
    return block;
  }
}

/** Calls every node of `e` (pre-order) with its parent. */
function walk(
  e: Expr,
  visit: (node: Expr, parent: Expr | undefined) => void,
  parent?: Expr,
): void {
  const stack: [Expr, Expr | undefined][] = [[e, parent]];
  while (stack.length > 0) {
    const [node, up] = stack.pop()!;
    visit(node, up);
    const kids: (Expr | undefined)[] = [];
    switch (node.k) {
      case 'attr':
        kids.push(node.obj);
        break;
      case 'item':
        kids.push(node.obj, node.key);
        break;
      case 'call':
        pushAll(
          kids,
          [node.fn],
          node.args,
          node.kwargs.map(([, v]) => v),
        );
        break;
      case 'filter':
        pushAll(
          kids,
          [node.value],
          node.args,
          node.kwargs.map(([, v]) => v),
        );
        break;
      case 'test':
        pushAll(kids, [node.value], node.args);
        break;
      case 'bin':
        kids.push(node.a, node.b);
        break;
      case 'unary':
        kids.push(node.a);
        break;
      case 'cond':
        kids.push(node.then, node.test, node.else);
        break;
      case 'seq':
      case 'dict':
      case 'slice':
        pushAll(kids, node.items);
        break;
      default:
        break;
    }
    for (const kid of kids) if (kid !== undefined) stack.push([kid, node]);
  }
}

/** `{% set ns = namespace(…) %}`. */
function namespaceCall(a: Assignment): boolean {
  const v = a.value;
  return (
    !a.iterate &&
    a.targets.length === 1 &&
    v?.k === 'call' &&
    v.fn.k === 'name' &&
    v.fn.name === 'namespace'
  );
}

/** Level of the elements a `for` loop takes from `e`. */
function elementLevel(e: Expr, vars: Variables): Level {
  // A K value is a list of key-safe literals or a key-safe string: its
  // elements are key-safe as they stand (a single character is harmless),
  // and K already rules out every operation on them.
  const l = levelOf(e, vars);
  return l === 'P' ? 'U' : l;
}

/** Methods that change their receiver: what they are given becomes part of it. */
const MUTATORS: ReadonlySet<string> = new Set([
  'append',
  'extend',
  'insert',
  'update',
  'setdefault',
  'add',
]);
/** Calls that change no object the template already holds. */
const PURE_CALLS: ReadonlySet<string> = new Set([
  'range',
  'namespace',
  'dict',
  'lipsum',
  'cycler',
  'joiner',
  'raise_exception',
  'strftime_now',
  'caller',
  'loop',
]);
/** Methods that only read their receiver (or return a new value). */
const PURE_METHODS: ReadonlySet<string> = new Set([
  ...PIECE_METHODS,
  'format',
  'format_map',
  'join',
  'replace',
  'encode',
  'decode',
  'center',
  'ljust',
  'rjust',
  'zfill',
  'copy',
  'pop',
  'remove',
  'clear',
  'sort',
  'reverse',
  'next',
  'reset',
  'cycle',
  'changed',
]);

/** Names (roots of paths) a node mentions, other than functions it calls by name. */
function namesIn(e: Expr | undefined): string[] {
  const out: string[] = [];
  if (e !== undefined)
    walk(e, (node, up) => {
      if (node.k === 'name' && !(up?.k === 'call' && up.fn === node))
        out.push(node.name);
    });
  return out;
}

/**
 * What a value may share with the variables it is made from: `part` names
 * whose objects it may be (or be inside: `n`, `n.x`, `n[0]`, `n|first`,
 * `n.get(k)`), `holds` names whose objects it may contain (`[n]`,
 * `namespace(k=n)`, `n|list`). Strings and numbers share nothing.
 */
interface Sharing {
  part: string[];
  holds: string[];
}
/** Filters that return new text or a number. */
const TEXT_FILTERS: ReadonlySet<string> = new Set([
  ...NUMBER_FILTERS,
  'string',
  'lower',
  'upper',
  'title',
  'capitalize',
  'trim',
  'e',
  'escape',
  'forceescape',
  'safe',
  'tojson',
  'pprint',
  'join',
  'replace',
  'format',
  'center',
  'indent',
  'wordwrap',
  'truncate',
  'urlencode',
  'urlize',
  'striptags',
  'xmlattr',
  'filesizeformat',
]);
/** Filters that return a new list of the parts of their input. */
const COLLECTION_FILTERS: ReadonlySet<string> = new Set([
  'list',
  'sort',
  'unique',
  'reverse',
  'select',
  'reject',
  'selectattr',
  'rejectattr',
  'map',
  'batch',
  'slice',
  'groupby',
  'items',
  'dictsort',
]);

function sharing(e: Expr | undefined): Sharing {
  const out: Sharing = { part: [], holds: [] };
  if (e === undefined) return out;
  const all = (x: Expr): string[] => namesIn(x);
  switch (e.k) {
    case 'name':
      out.part.push(e.name);
      break;
    case 'attr':
    case 'item': {
      const s = sharing(e.obj);
      pushAll(out.part, s.part, s.holds);
      break;
    }
    case 'cond':
      for (const x of [e.then, e.else]) {
        const s = sharing(x);
        pushAll(out.part, s.part);
        pushAll(out.holds, s.holds);
      }
      break;
    case 'bin':
      if (e.op === 'and' || e.op === 'or') {
        for (const x of [e.a, e.b]) {
          const s = sharing(x);
          pushAll(out.part, s.part);
          pushAll(out.holds, s.holds);
        }
      } else if (e.op === '+' || e.op === '*') {
        // List concatenation or repetition holds the parts of both sides.
        pushAll(out.holds, all(e.a), all(e.b));
      }
      break;
    case 'seq':
    case 'dict':
      for (const x of e.items) pushAll(out.holds, all(x));
      break;
    case 'filter':
      if (TEXT_FILTERS.has(e.name)) break;
      if (COLLECTION_FILTERS.has(e.name)) pushAll(out.holds, all(e));
      else pushAll(out.part, all(e));
      break;
    case 'call': {
      const fn = e.fn;
      if (fn.k === 'name' && PURE_CALLS.has(fn.name)) {
        if (['namespace', 'dict', 'cycler', 'joiner'].includes(fn.name))
          pushAll(out.holds, all(e));
      } else if (fn.k !== 'name') {
        // Methods may return their receiver, a part of it or an argument.
        pushAll(out.part, all(e));
      }
      break;
    }
    default:
      break;
  }
  return out;
}

const NO_NAMES: ReadonlySet<string> = new Set();

/**
 * Which variables may contain which: an edge a → b when a's object may hold
 * b's (a container and its element, or two names for one object).
 */
class Containment {
  private readonly down = new Map<string, Set<string>>();
  private readonly up = new Map<string, Set<string>>();
  /** {@link affected}, per name (the graph is complete before it is asked). */
  private readonly cache = new Map<string, Set<string>>();
  edge(from: string, to: string): void {
    if (from === to) return;
    if (!this.down.has(from)) this.down.set(from, new Set());
    if (!this.up.has(to)) this.up.set(to, new Set());
    this.down.get(from)!.add(to);
    this.up.get(to)!.add(from);
  }
  /** `t = e`: t is a part of what e selects from and holds what e holds. */
  assign(target: string, e: Expr | undefined): void {
    const s = sharing(e);
    for (const n of s.part) this.edge(n, target);
    for (const n of s.holds) this.edge(target, n);
  }
  /**
   * Variables that see a change to `x`'s object: those that may contain it
   * (transitively), and everything those may hold or have handed out. Each
   * edge followed is charged to the work budget: 600 names each holding all
   * 600 are 360,000 edges walked for each name asked (1.7 MB took 5.5 s,
   * growing with the cube of the names).
   */
  affected(x: string, budget: Budget): Set<string> {
    const cached = this.cache.get(x);
    if (cached !== undefined) return cached;
    const above = new Set([x]);
    for (const queue = [x]; queue.length > 0 && budget.left >= 0;) {
      const ups = this.up.get(queue.pop()!) ?? NO_NAMES;
      budget.left -= 1 + ups.size;
      for (const p of ups)
        if (!above.has(p)) {
          above.add(p);
          queue.push(p);
        }
    }
    const seen = new Set(above);
    for (const queue = [...above]; queue.length > 0 && budget.left >= 0;) {
      const downs = this.down.get(queue.pop()!) ?? NO_NAMES;
      budget.left -= 1 + downs.size;
      for (const c of downs)
        if (!seen.has(c)) {
          seen.add(c);
          queue.push(c);
        }
    }
    this.cache.set(x, seen);
    return seen;
  }
}

/** Methods that only read their receiver: a loop over a mapping's keys may call them in its body. */
const READ_ONLY_METHODS: ReadonlySet<string> = new Set([
  ...PIECE_METHODS,
  'format',
  'format_map',
  'join',
  'replace',
  'encode',
  'decode',
  'center',
  'ljust',
  'rjust',
  'zfill',
  'copy',
]);

/** `e` calls something other than a read-only method or a pure function. */
function callsSomething(e: Expr): boolean {
  switch (e.k) {
    case 'call': {
      const fn = e.fn;
      const pure =
        (fn.k === 'attr' && READ_ONLY_METHODS.has(fn.name)) ||
        (fn.k === 'name' && PURE_CALLS.has(fn.name) && fn.name !== 'caller');
      return (
        !pure ||
        callsSomething(fn) ||
        e.args.some(callsSomething) ||
        e.kwargs.some(([, v]) => callsSomething(v))
      );
    }
    case 'attr':
      return callsSomething(e.obj);
    case 'item':
      return callsSomething(e.obj) || callsSomething(e.key);
    case 'filter':
      return (
        callsSomething(e.value) ||
        e.args.some(callsSomething) ||
        e.kwargs.some(([, v]) => callsSomething(v))
      );
    case 'test':
      return callsSomething(e.value) || e.args.some(callsSomething);
    case 'bin':
      return callsSomething(e.a) || callsSomething(e.b);
    case 'unary':
      return callsSomething(e.a);
    case 'cond':
      return (
        callsSomething(e.then) ||
        callsSomething(e.test) ||
        (e.else !== undefined && callsSomething(e.else))
      );
    case 'seq':
    case 'dict':
    case 'slice':
      return e.items.some(callsSomething);
    default:
      return false;
  }
}

/** The mapping whose keys a `for` iterable yields first (`d.items()`, `d.keys()`, `d|items`, `d|dictsort`). */
function keysOf(v: Expr): string | undefined {
  if (
    v.k === 'call' &&
    v.fn.k === 'attr' &&
    (v.fn.name === 'items' || v.fn.name === 'keys') &&
    v.args.length === 0 &&
    v.kwargs.length === 0 &&
    !v.star
  )
    return pathKey(v.fn.obj);
  if (v.k === 'filter' && (v.name === 'items' || v.name === 'dictsort'))
    return pathKey(v.value);
  return undefined;
}

/**
 * The innermost `for` loop around each block, for {@link ownKey}. A loop's
 * `else` section and its own header are outside it. A loop over a mapping's
 * keys loses the exemption when its body assigns the key or the mapping's
 * root name (sets, loops, macro or call parameters), calls anything but a
 * read-only method or a pure function (a macro or `pop` could remove a key,
 * and a missing key falls back to getattr), or the loop is recursive.
 */
function keyLoops(blocks: readonly Block[]): (KeyLoop | undefined)[] {
  const out: (KeyLoop | undefined)[] = [];
  // Open `for` and `if` statements; `else` belongs to the innermost.
  const open: {
    tag: string;
    loop?: KeyLoop;
    outer?: KeyLoop | undefined;
  }[] = [];
  // Open loops by the names that end their exemption.
  const watch = new Map<string, Set<KeyLoop>>();
  let current: KeyLoop | undefined;
  let watching = 0;
  const unwatch = (l: KeyLoop): void => {
    watching--;
    for (const n of [l.key!, l.path!.split(/[.[]/)[0]!])
      watch.get(n)?.delete(l);
  };
  // A loop loses its exemption once: it is then no longer watched.
  const drop = (l: KeyLoop): void => {
    if (!l.own) return;
    l.own = false;
    unwatch(l);
  };
  const rebound = (n: string): void => {
    for (const l of watch.get(n) ?? []) drop(l);
  };
  for (const b of blocks) {
    const names: string[] = [];
    if (watching > 0) {
      for (const a of b.assigns)
        for (const t of a.targets) names.push(t.split('.')[0]!);
      for (const [p] of b.macro?.params ?? []) names.push(p);
      pushAll(names, b.callParams ?? []);
    }
    if (b.tag !== 'for') for (const n of names) rebound(n);
    const calls =
      watching > 0 &&
      current !== undefined &&
      !current.calls &&
      b.exprs.some(callsSomething);
    if (calls || b.macro !== undefined || b.error !== undefined)
      // Loops already marked have had their outer loops marked too.
      for (let l = current; l !== undefined && !l.calls; l = l.parent) {
        l.calls = true;
        drop(l);
      }
    out.push(current);
    if (b.tag === 'for') {
      const a = b.assigns[0];
      const targets = a?.targets ?? [];
      const bound = new Set(targets);
      const path = a?.value === undefined ? undefined : keysOf(a.value);
      const loop: KeyLoop = {
        targets: bound,
        key: targets[0],
        path,
        own: path !== undefined && !b.recursive,
        calls: false,
        parent: current,
      };
      // Nested loops that rebind these names end the outer exemptions.
      for (const n of names) rebound(n);
      if (loop.own) {
        watching++;
        for (const n of [loop.key!, path!.split(/[.[]/)[0]!]) {
          if (!watch.has(n)) watch.set(n, new Set());
          watch.get(n)!.add(loop);
        }
      }
      open.push({ tag: 'for', loop, outer: current });
      current = loop;
    } else if (b.tag === 'if') {
      open.push({ tag: 'if' });
    } else if (b.tag === 'else' && open.at(-1)?.tag === 'for') {
      // The loop's else section runs when it did not iterate: its
      // targets there are the render variables of those names.
      const top = open.at(-1)!;
      current = {
        targets: top.loop!.targets,
        key: undefined,
        path: undefined,
        own: false,
        calls: false,
        parent: top.outer,
      };
    } else if (b.tag === 'endfor' || b.tag === 'endif') {
      const want = b.tag === 'endfor' ? 'for' : 'if';
      while (open.length > 0) {
        const top = open.pop()!;
        if (top.tag === 'for') {
          current = top.outer;
          if (top.loop!.own) unwatch(top.loop!);
        }
        if (top.tag === want) break;
      }
    }
  }
  return out;
}

/** True when `e` reads a name of `names`. */
function mentions(e: Expr, names: ReadonlySet<string>): boolean {
  const any = (xs: readonly (Expr | undefined)[]): boolean =>
    xs.some((x) => x !== undefined && mentions(x, names));
  switch (e.k) {
    case 'name':
      return names.has(e.name);
    case 'attr':
      return mentions(e.obj, names);
    case 'item':
      return any([e.obj, e.key]);
    case 'call':
      return any([e.fn, ...e.args, ...e.kwargs.map(([, v]) => v)]);
    case 'filter':
      return any([e.value, ...e.args, ...e.kwargs.map(([, v]) => v)]);
    case 'test':
      return any([e.value, ...e.args]);
    case 'bin':
      return any([e.a, e.b]);
    case 'unary':
      return mentions(e.a, names);
    case 'cond':
      return any([e.then, e.test, e.else]);
    case 'seq':
    case 'dict':
    case 'slice':
      return any(e.items);
    default:
      return false;
  }
}

/**
 * Before `a`'s value is evaluated: the names it assigns reach only what
 * other sources give them (see `reachWithout` in {@link variableLevels}).
 * Returns the entries {@link restoreReach} puts back, if any changed.
 */
function withoutOwn(
  vars: Variables,
  a: Assignment,
): [string, number][] | undefined {
  if (a.reached === 0 || a.value === undefined || a.readsItself === false)
    return undefined;
  let saved: [string, number][] | undefined;
  for (const t of a.targets) {
    if (t.includes('.')) continue;
    const cur = vars.reach.get(t) ?? 0;
    const w = vars.without(a, t);
    if (w === (cur & ALL_REACH)) continue;
    // Only a value that reads one of the names it is assigned to differs.
    a.readsItself ??= mentions(a.value, new Set(a.targets));
    if (!a.readsItself) return undefined;
    (saved ??= []).push([t, cur]);
    vars.reach.set(t, (cur & ~ALL_REACH) | w);
  }
  return saved;
}
function restoreReach(
  vars: Variables,
  saved: [string, number][] | undefined,
): void {
  if (saved !== undefined)
    for (let i = saved.length - 1; i >= 0; i--)
      vars.reach.set(saved[i]![0], saved[i]![1]);
}

/**
 * Levels of every variable: assignments, loop targets and macro parameters,
 * iterated to a fixpoint (levels only go down, so this ends). Objects are
 * shared: a list or namespace that is appended to, updated or has an
 * attribute set (`l.append(k)`, `{% set a.x = k %}`, a bound method or any
 * call the analysis does not know, given k) takes k's level, and so does
 * every variable that may refer to it (assigned from it, a loop over it, a
 * macro parameter given it). Past the work budget every variable is U.
 */
function variableLevels(
  blocks: readonly Block[],
  loops: readonly (KeyLoop | undefined)[],
  budget: Budget,
): Variables {
  const vars: Variables = {
    levels: new Map(),
    namespaces: new Set(),
    macros: new Set(),
    bound: new Set(),
    reach: new Map(),
    at: 0,
    loops,
    loopTargets: new Set(
      blocks.flatMap((b) =>
        b.tag === 'for' ? (b.assigns[0]?.targets ?? []) : [],
      ),
    ),
    cache: undefined,
    without: () => 0,
    budget,
  };
  // Each definition of a macro name (a template may define one twice; a
  // call takes the arguments of whichever is defined when it runs).
  const params = new Map<string, [string, Expr | undefined][][]>();
  // Where each macro is defined (its defaults are evaluated there).
  const macroAt = new Map<string, number>();
  for (const [at, b] of blocks.entries()) {
    if (b.macro !== undefined) {
      macroAt.set(b.macro.name, at);
      vars.macros.add(b.macro.name);
      vars.reach.set(b.macro.name, OBJECT_NAME);
      // Appended in place (copying the list for each definition was
      // quadratic in the number of definitions).
      const defs = params.get(b.macro.name);
      if (defs === undefined) params.set(b.macro.name, [b.macro.params]);
      else defs.push(b.macro.params);
    }
  }
  // Macro call sites, and macros used other than by calling them.
  const calls: {
    params: [string, Expr | undefined][][];
    call: Expr;
    at: number;
  }[] = [];
  const escaped = new Set<string>();
  blocks.forEach((b, at) => {
    for (const e of b.exprs)
      walk(e, (node, up) => {
        if (node.k !== 'name' || !params.has(node.name)) return;
        if (up?.k === 'call' && up.fn === node)
          calls.push({ params: params.get(node.name)!, call: up, at });
        else escaped.add(node.name);
      });
  });
  // What may contain what, and the calls that may change a shared object.
  const graph = new Containment();
  const handedOn: { args: Expr[]; at: number }[] = [];
  const mutations: {
    roots: string[];
    args: Expr[];
    at: number;
    applied?: Lattice;
    reached: number;
  }[] = [];
  const root = (path: string): string => path.split('.')[0]!;
  const objects = (x: Expr | undefined): string[] => {
    const s = sharing(x);
    return [...s.part, ...s.holds];
  };
  blocks.forEach((b, at) => {
    for (const a of b.assigns)
      for (const t of a.targets) {
        if (t.includes('.')) {
          // `{% set a.x = v %}`: a now holds v.
          for (const n of objects(a.value)) graph.edge(root(t), n);
        } else if (a.iterate) {
          for (const n of objects(a.value)) graph.edge(n, t);
        } else graph.assign(t, a.value);
      }
    for (const e of b.exprs)
      walk(e, (node) => {
        if (node.k !== 'call') return;
        const fn = node.fn;
        const args = [...node.args, ...node.kwargs.map(([, v]) => v)];
        // Any call but one of a macro by name may call a macro handed on as
        // a value (`m = l[0]`, `ns.f = m`).
        if (escaped.size > 0 && !(fn.k === 'name' && params.has(fn.name)))
          handedOn.push({ args, at });
        let roots: string[];
        if (fn.k === 'attr' && MUTATORS.has(fn.name)) roots = objects(fn.obj);
        else if (fn.k === 'attr' && PURE_METHODS.has(fn.name)) return;
        else if (fn.k === 'name' && params.has(fn.name)) {
          // Macro parameters take what they are given. Charged to the work
          // budget: a name defined as a macro many times has each definition
          // take each call's arguments (20,000 definitions and 20,000 calls
          // took 35 s), and `*args` gives every argument to every parameter
          // (5,000 of each took 20 s and 2.6 GiB).
          for (const ps of params.get(fn.name)!) {
            budget.left -=
              1 +
              node.args.length +
              node.kwargs.length +
              (node.star ? ps.length * args.length : 0);
            if (budget.left < 0) break;
            node.args.forEach((x, i) => {
              const p = ps[i];
              if (p !== undefined) graph.assign(p[0], x);
            });
            for (const [k, x] of node.kwargs) graph.assign(k, x);
            if (node.star)
              for (const [p] of ps) for (const x of args) graph.assign(p, x);
          }
          return;
        } else if (fn.k === 'name' && PURE_CALLS.has(fn.name)) return;
        else {
          roots = objects(fn);
          // A call the analysis cannot resolve may be a macro handed on as
          // a value: its arguments may reach any parameter of those.
          // Charged to the work budget: unresolved calls times macros
          // handed on grow with the square of the template (5,000 macros
          // and 50,000 calls took 65 s: stop 30).
          for (const name of escaped) {
            if (budget.left < 0) break;
            for (const ps of params.get(name) ?? [])
              for (const [p] of ps)
                for (const x of args) {
                  budget.left--;
                  graph.assign(p, x);
                }
          }
        }
        if (args.length === 0 || roots.length === 0) return;
        for (const r of roots)
          for (const x of args)
            for (const n of objects(x)) {
              budget.left--;
              graph.edge(r, n);
            }
        mutations.push({ roots, args, at, reached: 0 });
      });
  });
  // Dotted paths (`ns.key`) by their root, for changes to the root's object.
  const paths = new Map<string, Set<string>>();
  // Reach from assignments is also counted per assignment, so that an
  // assignment's value is judged without its own earlier results: Jinja
  // keeps no `{% set %}` across loop iterations or macro calls, so
  // `{% set p = p[k] %}` reads the p from before it (a namespace attribute,
  // which does persist, is a path and is not counted this way).
  // For each Reach bit, how many assignments gave it to a name (0, 1 or
  // more), kept in bits 6 to 11 of the name's `vars.reach` entry.
  // The bits an assignment gives that it had not given before.
  const gain = (a: Assignment, r: number): number => {
    const gained = r & ~a.reached;
    a.reached |= r;
    return gained;
  };
  /** The reach of `t` without what assignment `a` gave it. */
  const reachWithout = (a: Assignment, t: string): number => {
    const v = vars.reach.get(t) ?? 0;
    let r = (v >> 3) & ALL_REACH;
    const own = a.reached;
    for (let bit = 0; bit < 3; bit++)
      if (((v >> (6 + 2 * bit)) & 3) > ((own >> bit) & 1)) r |= 1 << bit;
    return r;
  };
  vars.without = reachWithout;
  /** Assigns level `l` and Reach `r` to a name or path; `gained` for an assignment's new bits (undefined for other sources). */
  const set = (
    path: string,
    l: Lattice,
    r: number,
    gained?: number,
  ): boolean => {
    const dot = path.indexOf('.');
    if (dot > 0 && !vars.levels.has(path)) {
      const r = path.slice(0, dot);
      if (!paths.has(r)) paths.set(r, new Set());
      paths.get(r)!.add(path);
    }
    const old = vars.levels.get(path) ?? 'T';
    const now = meet(old, l);
    let grew = false;
    if (r !== 0) {
      const got = vars.reach.get(path);
      const was = got ?? objectName(path, vars);
      let is = was | r;
      if (gained === undefined || dot > 0) is |= r << 3;
      else
        for (let bit = 0; bit < 3; bit++) {
          const shift = 6 + 2 * bit;
          if ((gained & (1 << bit)) !== 0 && ((is >> shift) & 3) < 2)
            is += 1 << shift;
        }
      if (is !== got) vars.reach.set(path, is);
      // Counts matter too: they change what an assignment reads of itself.
      grew = is !== was;
    }
    if (now === old && vars.levels.has(path)) return grew;
    vars.levels.set(path, now);
    return now !== old || grew;
  };
  for (const b of blocks) {
    for (const a of b.assigns)
      for (const t of a.targets) vars.bound.add(root(t));
    for (const p of b.callParams ?? []) vars.bound.add(p);
  }
  for (const defs of params.values())
    for (const ps of defs) for (const [p] of ps) vars.bound.add(p);
  for (const b of blocks) {
    for (const p of b.callParams ?? []) set(p, 'U', CONV | STEERED);
    for (const a of b.assigns)
      if (!namespaceCall(a))
        for (const t of a.targets) if (!vars.levels.has(t)) set(t, 'T', 0);
  }
  for (const [name, defs] of params)
    for (const ps of defs)
      for (const [p] of ps) set(p, escaped.has(name) ? 'U' : 'T', 0);
  let changed = true;
  while (changed) {
    changed = false;
    if (budget.left < 0) break;
    for (let at = 0; at < blocks.length; at++)
      for (const a of blocks[at]!.assigns) {
        vars.at = at;
        if (a.value === undefined) {
          const gained = gain(a, CONV);
          for (const t of a.targets)
            changed = set(t, 'U', CONV, gained) || changed;
          continue;
        }
        const v = a.value;
        // `{% set ns = namespace(k=…) %}`: the attributes carry the values.
        if (namespaceCall(a) && v.k === 'call') {
          const ns = a.targets[0]!;
          if (!vars.namespaces.has(ns)) {
            vars.namespaces.add(ns);
            vars.reach.set(ns, (vars.reach.get(ns) ?? 0) | OBJECT_NAME);
            changed = true;
          }
          for (const [k, x] of v.kwargs)
            changed =
              set(`${ns}.${k}`, levelOf(x, vars), reachOf(x, vars)) || changed;
          if (v.args.length > 0 || v.star)
            changed = set(ns, 'U', CONV | STEERED) || changed;
          continue;
        }
        let l: Lattice = a.iterate ? elementLevel(v, vars) : levelOf(v, vars);
        // A loop's elements reach what the iterable reaches.
        const saved = withoutOwn(vars, a);
        const r = reachOf(v, vars);
        restoreReach(vars, saved);
        const gained = gain(a, r);
        if (a.targets.length > 1) l = l === 'N' || l === 'V' ? l : 'U';
        for (const t of a.targets) {
          changed = set(t, l, r, gained) || changed;
          // `{% set a.x = … %}` sets `x` on the namespace `a` refers to,
          // which other names may hold too.
          const dot = t.indexOf('.');
          if (dot > 0)
            for (const m of graph.affected(t.slice(0, dot), budget)) {
              budget.left--;
              changed = set(m + t.slice(dot), l, r) || changed;
            }
        }
      }
    for (const mutation of mutations) {
      let l: Lattice = 'T';
      let r = 0;
      vars.at = mutation.at;
      for (const x of mutation.args) {
        l = meet(l, levelOf(x, vars));
        r |= reachOf(x, vars);
      }
      // Each mutation is applied once per level and once per new Reach bit
      // (at most seven times).
      if (l === 'T' || l === 'N' || l === 'V' || l === mutation.applied)
        l = 'T';
      if (l === 'T' && (r & ~mutation.reached) === 0) continue;
      if (l !== 'T') mutation.applied = l;
      mutation.reached |= r;
      for (const root of mutation.roots)
        for (const m of graph.affected(root, budget)) {
          if (--budget.left < 0) break;
          changed = set(m, l, r) || changed;
          for (const path of paths.get(m) ?? []) {
            budget.left--;
            changed = set(path, l, r) || changed;
          }
        }
    }
    let handed = 0;
    for (const { args, at } of handedOn) {
      vars.at = at;
      for (const x of args) handed |= reachOf(x, vars);
    }
    if (handed !== 0)
      for (const name of escaped)
        for (const ps of params.get(name) ?? [])
          for (const [p] of ps) changed = set(p, 'T', handed) || changed;
    for (const { params: defs, call, at } of calls) {
      if (call.k !== 'call') continue;
      vars.at = at;
      for (const ps of defs) {
        // Charged: definitions times calls, keyword arguments times
        // parameters (see the graph above).
        budget.left -=
          1 + (call.star ? ps.length : 0) + call.kwargs.length * ps.length;
        if (budget.left < 0) break;
        if (call.star)
          for (const [p] of ps)
            changed = set(p, 'U', CONV | STEERED) || changed;
        call.args.forEach((x, i) => {
          const p = ps[i];
          if (p !== undefined)
            changed = set(p[0], levelOf(x, vars), reachOf(x, vars)) || changed;
        });
        for (const [k, x] of call.kwargs)
          if (ps.some(([p]) => p === k))
            changed = set(k, levelOf(x, vars), reachOf(x, vars)) || changed;
      }
    }
    for (const [name, defs] of params) {
      vars.at = macroAt.get(name) ?? 0;
      for (const ps of defs)
        for (const [p, def] of ps)
          if (def !== undefined)
            changed = set(p, levelOf(def, vars), reachOf(def, vars)) || changed;
    }
  }
  if (budget.left < 0)
    for (const k of vars.levels.keys()) {
      vars.levels.set(k, 'U');
      vars.reach.set(k, ALL_REACH | (ALL_REACH << 3) | OBJECT_NAME);
    }
  return vars;
}

/** Format fields that read an attribute starting with `_` (`'{0.__class__}'`). */
const FORMAT_PRIVATE_FIELD = /\{[^{}!:]*\.\s*_/;

/** True for a literal attribute name that reaches Python internals. */
function internalName(name: string, called: boolean): boolean {
  const bare = stripUnderscores(name);
  return (
    name.startsWith('_') ||
    KEY_NAMES.has(bare) ||
    (called && CALLED_KEY_NAMES.has(bare))
  );
}

/**
 * The conversation-key rule (see {@link CONV}): a subscript whose key the
 * conversation chooses, on an attribute such a key may have named (a chain)
 * or on a Jinja object; a call of such an attribute (a call of a value that
 * may be one, other than of a method named by a literal: `d[k].items()`);
 * and a `str.format` string the conversation chooses (its fields name
 * attributes of the arguments).
 */
/** The first token of an expression (`ks` in `ks[1]`). */
function firstToken(e: Expr): Token {
  for (;;)
    switch (e.k) {
      case 'attr':
      case 'item':
        e = e.obj;
        break;
      case 'call':
        e = e.fn;
        break;
      case 'filter':
      case 'test':
        e = e.value;
        break;
      case 'bin':
        e = e.a;
        break;
      case 'cond':
        e = e.then;
        break;
      default:
        return e.tok;
    }
}

function conversationChecks(
  node: Expr,
  vars: Variables,
  add: (kind: TemplateIssue['kind'], token: Token, detail: string) => void,
): void {
  if (node.k === 'item' && node.key.k !== 'slice') {
    if (!steeredSubscript(node, vars)) return;
    const obj = reachOf(node.obj, vars);
    if ((obj & STEERED) !== 0)
      add(
        'obfuscation',
        firstToken(node.key),
        'subscript with a key from the conversation on an attribute a conversation key may name',
      );
    else if ((obj & OBJECT) !== 0)
      add(
        'obfuscation',
        firstToken(node.key),
        'subscript with a key from the conversation on a jinja object',
      );
  } else if (node.k === 'call') {
    const fn = node.fn;
    if (
      fn.k === 'attr' &&
      (fn.name === 'format' || fn.name === 'format_map') &&
      constantText(fn.obj) === undefined
    ) {
      // `str.format` fields read attributes of the arguments.
      const l = levelOf(fn.obj, vars);
      if (
        (l === 'V' || l === 'N') &&
        (reachOf(fn.obj, vars) & (CONV | STEERED)) !== 0
      )
        add('obfuscation', fn.tok, 'format string the conversation may choose');
      return;
    }
    // A method named by a literal on such an attribute (`d[k].items()`)
    // is no choice of the conversation's; what it returns stays steered.
    if (
      (fn.k === 'attr' ||
        (fn.k === 'item' && constantText(fn.key) !== undefined)) &&
      (reachOf(fn.obj, vars) & STEERED) !== 0
    )
      return;
    if ((reachOf(fn, vars) & STEERED) !== 0)
      add(
        'obfuscation',
        firstToken(fn.k === 'item' ? fn.key : fn),
        'call of an attribute a conversation key may name',
      );
  }
}

/**
 * The sinks: subscripts, `attr`, the attribute argument of attribute filters
 * (and `map`), and `str.format` receivers. A literal that names internals is
 * an injection; a value of level U is reported as computed.
 */
function checkExpressions(
  blocks: readonly Block[],
  vars: Variables,
  add: (kind: TemplateIssue['kind'], token: Token, detail: string) => void,
  computed: Token[],
): void {
  const attributeArg = (
    arg: Expr | undefined,
    filter: string,
    tok: Token,
    called: boolean,
  ): void => {
    if (arg === undefined) return;
    const c = constantText(arg);
    // `attr` takes one name; the attribute filters take a dotted path
    // (`'next.__func__.__globals__'`), each part looked up in turn.
    const parts =
      filter === 'attr' ? [c?.value ?? ''] : (c?.value ?? '').split('.');
    if (c === undefined) {
      add('obfuscation', tok, `${filter} filter with a computed attribute`);
    } else if (
      parts.some((part) => internalName(part, called && filter === 'attr')) ||
      NAMED_ESCAPE.test(c.raw)
    ) {
      add('injection', arg.tok, `${filter} filter reaching ${c.value}`);
    }
  };
  let conversationFindings = 0;
  const addConversation: typeof add = (kind, token, detail) => {
    conversationFindings++;
    add(kind, token, detail);
  };
  const check = (e: Expr): void => {
    walk(e, (node, up) => {
      const called = up?.k === 'call' && up.fn === node;
      if (conversationFindings < MAX_CONVERSATION_FINDINGS)
        conversationChecks(node, vars, addConversation);
      if (node.k === 'item' && node.key.k !== 'slice') {
        const obj = node.obj;
        if (
          obj.k === 'name' &&
          (PASSED_FUNCTIONS.has(obj.name) ||
            CALLABLE_GLOBALS.has(obj.name) ||
            vars.macros.has(obj.name) ||
            obj.name === 'caller')
        ) {
          add('injection', obj.tok, `subscript on the function ${obj.name}`);
          return;
        }
        const key = node.key;
        if (key.k === 'seq' || key.k === 'dict' || key.k === 'num') return;
        const c = constantText(key);
        if (c !== undefined) {
          if (internalName(c.value, called) || LEADING_NAMED_ESCAPE.test(c.raw))
            add(
              'injection',
              key.tok,
              c.value.startsWith('_') && !c.value.startsWith('__')
                ? `subscript reaching private ${c.value}`
                : `subscript reaching ${c.value}`,
            );
          return;
        }
        if (levelOf(key, vars) === 'U') computed.push(key.tok);
      } else if (node.k === 'filter') {
        const pos = ATTRIBUTE_ARGUMENT.get(node.name);
        if (node.name === 'attr') {
          attributeArg(
            node.args[0] ?? node.kwargs[0]?.[1],
            'attr',
            node.tok,
            called,
          );
        } else if (node.name === 'map') {
          const f = node.args[0];
          if (f !== undefined) {
            const c = constantText(f);
            if (c === undefined)
              add(
                'obfuscation',
                node.tok,
                'map filter with a computed filter name',
              );
            else if (c.value === 'attr' || ATTRIBUTE_ARGUMENT.has(c.value))
              // `map('attr', k)`, `map('groupby', k)`, `map('map', 'attr',
              // k)`: every further argument may name an attribute.
              for (const a of node.args.slice(1))
                attributeArg(a, c.value, node.tok, false);
          }
        } else if (pos !== undefined && pos >= 0) {
          attributeArg(node.args[pos], node.name, node.tok, false);
        }
        for (const [k, v] of node.kwargs)
          if (k === 'attribute') attributeArg(v, node.name, node.tok, false);
        if (node.star && pos !== undefined)
          add(
            'obfuscation',
            node.tok,
            `${node.name} filter with unpacked arguments`,
          );
      } else if (
        node.k === 'call' &&
        node.fn.k === 'attr' &&
        (node.fn.name === 'format' || node.fn.name === 'format_map')
      ) {
        const recv = node.fn.obj;
        const c = constantText(recv);
        if (c !== undefined) {
          if (FORMAT_PRIVATE_FIELD.test(c.value))
            add(
              'injection',
              recv.tok,
              'format field reaching a private attribute',
            );
        } else {
          const l = levelOf(recv, vars);
          if (l !== 'V' && l !== 'N')
            add(
              'obfuscation',
              node.fn.tok,
              'format string the template assembles',
            );
        }
      }
    });
  };
  // The variables are final: each node's Reach is computed once.
  vars.cache = new Map();
  for (const [at, b] of blocks.entries()) {
    if (b.error !== undefined) {
      add('obfuscation', b.error, 'block the analysis could not parse');
      continue;
    }
    vars.at = at;
    for (const e of b.exprs) {
      // The value of an assignment is judged as Jinja evaluates it, before
      // the assignment (see `withoutOwn`).
      const own = b.assigns.find((a) => a.value === e);
      const saved = own === undefined ? undefined : withoutOwn(vars, own);
      check(e);
      restoreReach(vars, saved);
    }
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
  const { blocks: raw, truncated } = tokenize(template);
  if (truncated !== undefined)
    issues.push({
      kind: 'obfuscation',
      index: truncated,
      detail: `more than ${MAX_TOKENS} tokens; the rest was not analysed`,
      token: '',
    });
  const budget: Budget = { left: WORK_BUDGET };
  const parsed = raw
    .filter((b) => b.statement !== undefined)
    .map((b) => parseBlock(b.tokens, b.statement!, budget));
  const vars = variableLevels(parsed, keyLoops(parsed), budget);
  // Subscripts with computed keys: reported only when nothing else is, as
  // the template is otherwise flagged already.
  const computed: Token[] = [];
  checkExpressions(parsed, vars, add, computed);
  if (budget.left < 0)
    issues.push({
      kind: 'obfuscation',
      index: 0,
      detail: 'template too complex to analyse within the work budget',
      token: '',
    });
  for (const { tokens } of raw) {
    const hasPercent = tokens.some((x) => x.text === '%');
    // Brackets open before token k (see `enclosingCall`).
    const open: number[] = [];
    for (let k = 0; k < tokens.length; k++) {
      const before = tokens[k - 1]?.text;
      if (before === '(' || before === '[' || before === '{') open.push(k - 1);
      else if (before === ')' || before === ']' || before === '}') open.pop();
      const t = tokens[k] as Token;
      const prev = tokens[k - 1];
      const next = tokens[k + 1];
      if (t.kind === 'data') {
        // Captured text is U wherever it goes (a key made of it is
        // computed); a dunder word or a one- or two-underscore piece in it is
        // flagged besides. A longer run of underscores is a separator line.
        if (/__[A-Za-z0-9]\w*__/.test(t.value))
          add('injection', t, 'dunder name in captured block text');
        else if (
          /^_{1,2}$/.test(t.value) ||
          /^__[A-Za-z0-9]/.test(t.value) ||
          /[A-Za-z0-9]__$/.test(t.value)
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
          PASSED_FUNCTIONS.has(t.value) &&
          prev?.text !== '.' &&
          next?.text !== '(' &&
          next?.text !== '=' &&
          next?.value !== 'is'
        ) {
          add('obfuscation', t, `function ${t.value} used as a value`);
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
        }
      } else if (t.kind === 'string') {
        const joins = (x: Token | undefined): boolean =>
          x?.text === '~' || x?.text === '+' || x?.text === '*';
        const call = /^_+$/.test(t.value)
          ? enclosingCall(tokens, k, open)
          : undefined;
        const reversed = [...t.value].reverse().join('');
        if (/^__\w+__$/.test(t.value)) {
          add('injection', t, `dunder name ${t.value} as a string`);
        } else if (UNDERSCORE_ESCAPE.test(t.text)) {
          add('obfuscation', t, 'string spelling an underscore with an escape');
        } else if (t.value.startsWith('__') || t.value.endsWith('__')) {
          add('obfuscation', t, 'part of a dunder name');
        } else if (t.value.startsWith('_') && (joins(prev) || joins(next))) {
          add(
            'obfuscation',
            t,
            'underscore-prefixed name built by concatenation',
          );
        } else if (
          call !== undefined &&
          (call === 'format' || (call === '' && hasPercent))
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
  issues.sort((a, b) => a.index - b.index);
  return issues;
}
