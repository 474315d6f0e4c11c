// SPDX-License-Identifier: Apache-2.0
/**
 * Finds the Hydra `_target_` keys of a YAML document (NeMo `model_config.yaml`)
 * without building the document: one linear pass over the text that
 * tokenises scalars (plain, single- and double-quoted with YAML escapes,
 * block scalars), flow and block indicators, anchors, aliases, tags and
 * comments. Keys are compared after decoding, so `"\x5ftarget\x5f"` is
 * `_target_`; an alias value is resolved through the anchors seen before it.
 */

/** How a `_target_` value was written. */
export type TargetKind =
  /** A scalar (plain, quoted or block): `value` holds it. */
  | 'scalar'
  /** An interpolation (`${...}`) or an alias to something not a scalar: computed at load time. */
  | 'computed'
  /** A mapping or sequence where a dotted name belongs. */
  | 'collection'
  /** A value carrying a YAML tag (`!!python/name:...`). */
  | 'tagged';

/** One `_target_` (or legacy `target`/`cls`) key found in the document. */
export interface YamlTarget {
  key: string;
  kind: TargetKind;
  /** The decoded scalar, for `scalar` (and `tagged`, the text after the tag). */
  value?: string;
  /** UTF-16 offset of the key in the text. */
  index: number;
  tag?: string;
}

/** What the pass found. */
export interface YamlTargets {
  targets: YamlTarget[];
  /** Python-specific tags (`!!python/...`, `!python/...`) anywhere in the document. */
  pythonTags: { tag: string; index: number }[];
}

/** Keys whose values name a callable Hydra or NeMo instantiates. */
export const TARGET_KEYS: ReadonlySet<string> = new Set([
  '_target_',
  'target',
  'cls',
]);

type Tok =
  | { t: 'scalar'; v: string; i: number; plain: boolean; line: number }
  | { t: 'ind'; v: string; i: number; line: number }
  | { t: 'anchor' | 'alias' | 'tag'; v: string; i: number; line: number }
  | { t: 'block'; v: string; i: number; line: number };

const YAML_ESCAPES: Readonly<Record<string, string>> = {
  '0': '\0',
  a: '\x07',
  b: '\b',
  t: '\t',
  '\t': '\t',
  n: '\n',
  v: '\v',
  f: '\f',
  r: '\r',
  e: '\x1b',
  ' ': ' ',
  '"': '"',
  '/': '/',
  '\\': '\\',
  N: '\u0085',
  _: '\u00a0',
  L: '\u2028',
  P: '\u2029',
};

function decodeDoubleQuoted(raw: string): string {
  return raw
    .replace(/\\\r?\n[ \t]*/g, '')
    .replace(/[ \t]*\r?\n[ \t]*/g, ' ')
    .replace(
      /\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)/g,
      (m, e: string) => {
        if (e.length > 1) {
          const cp = Number.parseInt(e.slice(1), 16);
          return cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
        }
        return YAML_ESCAPES[e] ?? m;
      },
    );
}

function isSpace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === undefined;
}

/**
 * Tokenises `src`. `stop()` is polled every few thousand tokens (deadline or
 * abort); when it returns true the pass ends early and `complete` is false.
 */
function tokenize(
  src: string,
  stop: () => boolean,
): { toks: Tok[]; complete: boolean } {
  const toks: Tok[] = [];
  let i = 0;
  let line = 0;
  let lineStart = 0;
  let flow = 0;
  const n = src.length;
  while (i < n) {
    if ((toks.length & 0xfff) === 0 && toks.length > 0 && stop())
      return { toks, complete: false };
    const c = src[i]!;
    if (c === '\n') {
      line++;
      i++;
      lineStart = i;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\ufeff') {
      i++;
      continue;
    }
    if (c === '#' && (i === lineStart || isSpace(src[i - 1]))) {
      const e = src.indexOf('\n', i);
      i = e < 0 ? n : e;
      continue;
    }
    if (c === '"' || c === "'") {
      let j = i + 1;
      for (; j < n; j++) {
        if (c === '"' && src[j] === '\\') j++;
        else if (src[j] === c) {
          if (c === "'" && src[j + 1] === "'") j++;
          else break;
        }
      }
      const raw = src.slice(i + 1, Math.min(j, n));
      const v =
        c === '"'
          ? decodeDoubleQuoted(raw)
          : raw.replace(/''/g, "'").replace(/[ \t]*\r?\n[ \t]*/g, ' ');
      toks.push({ t: 'scalar', v, i, plain: false, line });
      for (let k = i; k < j && k < n; k++) if (src[k] === '\n') line++;
      i = j + 1;
      continue;
    }
    if (c === '{' || c === '[') {
      flow++;
      toks.push({ t: 'ind', v: c, i, line });
      i++;
      continue;
    }
    if (c === '}' || c === ']') {
      flow = Math.max(0, flow - 1);
      toks.push({ t: 'ind', v: c, i, line });
      i++;
      continue;
    }
    if (c === ',' && flow > 0) {
      toks.push({ t: 'ind', v: c, i, line });
      i++;
      continue;
    }
    if (
      c === ':' &&
      (isSpace(src[i + 1]) ||
        (flow > 0 && ',}]'.includes(src[i + 1]!)) ||
        toks.at(-1)?.t === 'scalar')
    ) {
      toks.push({ t: 'ind', v: ':', i, line });
      i++;
      continue;
    }
    if ((c === '-' || c === '?') && isSpace(src[i + 1])) {
      i++;
      continue;
    }
    if (c === '&' || c === '*' || c === '!') {
      let j = i + 1;
      while (
        j < n &&
        !isSpace(src[j]) &&
        (flow === 0 || !',[]{}'.includes(src[j]!))
      )
        j++;
      toks.push({
        t: c === '&' ? 'anchor' : c === '*' ? 'alias' : 'tag',
        v: src.slice(c === '!' ? i : i + 1, j),
        i,
        line,
      });
      i = j;
      continue;
    }
    if ((c === '|' || c === '>') && toks.at(-1)?.v === ':') {
      // Block scalar: the lines below, more indented than the key's line.
      const keyLineStart = src.lastIndexOf('\n', i) + 1;
      let indent = 0;
      while (src[keyLineStart + indent] === ' ') indent++;
      let e = src.indexOf('\n', i);
      const parts: string[] = [];
      while (e >= 0 && e < n) {
        const next = src.indexOf('\n', e + 1);
        const text = src.slice(e + 1, next < 0 ? n : next);
        const lead = text.length - text.trimStart().length;
        if (text.trim() !== '' && lead <= indent) break;
        parts.push(text.trim());
        line++;
        e = next;
      }
      toks.push({
        t: 'block',
        v: parts.join(c === '>' ? ' ' : '\n').trim(),
        i,
        line,
      });
      i = e < 0 ? n : e;
      continue;
    }
    // Plain scalar: up to ': ', ' #', the end of the line, or a flow indicator.
    let j = i;
    while (j < n) {
      const d = src[j]!;
      if (d === '\n') break;
      if (
        d === ':' &&
        (isSpace(src[j + 1]) || (flow > 0 && ',}]'.includes(src[j + 1]!)))
      )
        break;
      if (d === '#' && isSpace(src[j - 1])) break;
      if (flow > 0 && ',[]{}'.includes(d)) break;
      j++;
    }
    toks.push({ t: 'scalar', v: src.slice(i, j).trim(), i, plain: true, line });
    i = j === i ? i + 1 : j;
  }
  return { toks, complete: true };
}

/**
 * Finds `_target_`, `target` and `cls` keys and what they are set to.
 * @param stop polled during the pass; true ends it (the result is then partial)
 */
export function findYamlTargets(
  src: string,
  stop: () => boolean = () => false,
): YamlTargets & { complete: boolean } {
  const { toks, complete } = tokenize(src, stop);
  const anchors = new Map<string, string | undefined>();
  const targets: YamlTarget[] = [];
  const pythonTags: { tag: string; index: number }[] = [];
  for (let k = 0; k < toks.length; k++) {
    const t = toks[k]!;
    if (t.t === 'tag' && /^!!?python\//i.test(t.v))
      pythonTags.push({ tag: t.v.slice(0, 120), index: t.i });
    if (t.t === 'anchor') {
      const v = toks[k + 1];
      anchors.set(
        t.v,
        v !== undefined &&
          (v.t === 'scalar' || v.t === 'block') &&
          v.line === t.line
          ? v.v
          : undefined,
      );
    }
    if (t.t !== 'scalar' || toks[k + 1]?.v !== ':' || toks[k + 1]?.t !== 'ind')
      continue;
    if (!TARGET_KEYS.has(t.v)) continue;
    // The value: skip an anchor, note a tag.
    let m = k + 2;
    let tag: string | undefined;
    while (m < toks.length && toks[m]!.t === 'anchor') m++;
    if (toks[m]?.t === 'tag') tag = toks[m++]!.v;
    const v = toks[m];
    const sameLine =
      v !== undefined && (v.line === toks[k + 1]!.line || v.t === 'block');
    if (!sameLine || v === undefined) {
      // `_target_:` with nothing after it on the line: null, or a nested block.
      const nested =
        v !== undefined && v.t === 'scalar' && toks[m + 1]?.v === ':';
      if (t.v === '_target_' && nested)
        targets.push({ key: t.v, kind: 'collection', index: t.i });
      continue;
    }
    if (v.t === 'alias') {
      const resolved = anchors.get(v.v);
      targets.push(
        resolved === undefined
          ? { key: t.v, kind: 'computed', index: t.i, value: `*${v.v}` }
          : { key: t.v, kind: 'scalar', index: t.i, value: resolved },
      );
      continue;
    }
    if (v.t === 'ind' && (v.v === '{' || v.v === '[')) {
      if (t.v === '_target_')
        targets.push({ key: t.v, kind: 'collection', index: t.i });
      continue;
    }
    if (v.t !== 'scalar' && v.t !== 'block') continue;
    const value = v.v;
    if (tag !== undefined && tag !== '!!str' && tag !== '!str') {
      targets.push({ key: t.v, kind: 'tagged', index: t.i, value, tag });
    } else if (value.includes('${')) {
      targets.push({ key: t.v, kind: 'computed', index: t.i, value });
    } else if (
      t.v === '_target_' ||
      /^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$/.test(value)
    ) {
      // `target`/`cls` only when they hold a dotted path (NeMo's legacy keys).
      if (v.t === 'scalar' && v.plain && /^(null|~|Null|NULL)?$/.test(value))
        continue;
      targets.push({ key: t.v, kind: 'scalar', index: t.i, value });
    }
  }
  return { targets, pythonTags, complete };
}
