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
  emit: (t: Tok) => void,
): boolean {
  let count = 0;
  let last: Tok | undefined;
  const push = (t: Tok): void => {
    count++;
    last = t;
    emit(t);
  };
  let i = 0;
  let line = 0;
  let lineStart = 0;
  let flow = 0;
  const n = src.length;
  while (i < n) {
    if ((count & 0xfff) === 0 && count > 0 && stop()) return false;
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
      push({ t: 'scalar', v, i, plain: false, line });
      for (let k = i; k < j && k < n; k++) if (src[k] === '\n') line++;
      i = j + 1;
      continue;
    }
    if (c === '{' || c === '[') {
      flow++;
      push({ t: 'ind', v: c, i, line });
      i++;
      continue;
    }
    if (c === '}' || c === ']') {
      flow = Math.max(0, flow - 1);
      push({ t: 'ind', v: c, i, line });
      i++;
      continue;
    }
    if (c === ',' && flow > 0) {
      push({ t: 'ind', v: c, i, line });
      i++;
      continue;
    }
    if (
      c === ':' &&
      (isSpace(src[i + 1]) ||
        (flow > 0 && ',}]'.includes(src[i + 1]!)) ||
        last?.t === 'scalar')
    ) {
      push({ t: 'ind', v: ':', i, line });
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
      push({
        t: c === '&' ? 'anchor' : c === '*' ? 'alias' : 'tag',
        v: src.slice(c === '!' ? i : i + 1, j),
        i,
        line,
      });
      i = j;
      continue;
    }
    if ((c === '|' || c === '>') && last?.v === ':') {
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
      push({
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
    push({ t: 'scalar', v: src.slice(i, j).trim(), i, plain: true, line });
    i = j === i ? i + 1 : j;
  }
  return true;
}

/**
 * Finds `_target_`, `target` and `cls` keys and what they are set to. Tokens
 * are consumed as they are produced (memory stays proportional to the
 * anchors and targets found, not to the document).
 * @param stop polled during the pass; true ends it (the result is then partial)
 * @param onTarget when given, receives each target as it is found (and the
 *   returned list is empty)
 */
export function findYamlTargets(
  src: string,
  stop: () => boolean = () => false,
  onTarget?: (t: YamlTarget) => void,
): YamlTargets & { complete: boolean } {
  const anchors = new Map<string, string | undefined>();
  const found: YamlTarget[] = [];
  // With a callback, targets are handed over as found and not kept.
  const targets = onTarget === undefined ? found : { push: onTarget };
  const pythonTags: { tag: string; index: number }[] = [];
  let prev: Tok | undefined;
  let anchor: { name: string; line: number } | undefined;
  /** A target key whose value has not been seen yet. */
  let key:
    { key: string; index: number; line: number; tag?: string } | undefined;
  /**
   * A target key followed by a scalar on a later line: the start of a nested
   * mapping if a `:` follows, else the key's value.
   */
  let nested:
    { k: { key: string; index: number; tag?: string }; v: Tok } | undefined;

  const value = (
    k: { key: string; index: number; tag?: string },
    v: Tok,
  ): void => {
    if (v.t === 'alias') {
      const resolved = anchors.get(v.v);
      targets.push(
        resolved === undefined
          ? { key: k.key, kind: 'computed', index: k.index, value: `*${v.v}` }
          : { key: k.key, kind: 'scalar', index: k.index, value: resolved },
      );
      return;
    }
    if (v.t === 'ind' && (v.v === '{' || v.v === '[')) {
      if (k.key === '_target_')
        targets.push({ key: k.key, kind: 'collection', index: k.index });
      return;
    }
    if (v.t !== 'scalar' && v.t !== 'block') return;
    if (k.tag !== undefined && k.tag !== '!!str' && k.tag !== '!str') {
      targets.push({
        key: k.key,
        kind: 'tagged',
        index: k.index,
        value: v.v,
        tag: k.tag,
      });
    } else if (v.v.includes('${')) {
      targets.push({
        key: k.key,
        kind: 'computed',
        index: k.index,
        value: v.v,
      });
    } else if (
      k.key === '_target_' ||
      /^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$/.test(v.v)
    ) {
      // `target`/`cls` only when they hold a dotted path (NeMo's legacy keys).
      if (v.t === 'scalar' && v.plain && /^(null|~|Null|NULL)?$/.test(v.v))
        return;
      targets.push({ key: k.key, kind: 'scalar', index: k.index, value: v.v });
    }
  };

  const complete = tokenize(src, stop, (t) => {
    if (t.t === 'tag' && /^!!?python\//i.test(t.v))
      pythonTags.push({ tag: t.v.slice(0, 120), index: t.i });
    if (anchor !== undefined) {
      anchors.set(
        anchor.name,
        (t.t === 'scalar' || t.t === 'block') && t.line === anchor.line
          ? t.v
          : undefined,
      );
      anchor = undefined;
    }
    if (t.t === 'anchor') anchor = { name: t.v, line: t.line };
    if (nested !== undefined) {
      const { k, v } = nested;
      nested = undefined;
      if (!(t.t === 'ind' && t.v === ':')) value(k, v);
      else if (k.key === '_target_')
        targets.push({ key: k.key, kind: 'collection', index: k.index });
    }
    if (key !== undefined) {
      if (t.t === 'anchor') return;
      if (t.t === 'tag') {
        key.tag = t.v;
        return;
      }
      const k = key;
      key = undefined;
      const column = (at: number): number => at - src.lastIndexOf('\n', at) - 1;
      if (t.line === k.line || t.t === 'block') value(k, t);
      // Less or equally indented: a sibling, and the key was null.
      else if (column(t.i) <= column(k.index)) {
        /* null */
      } else if (t.t !== 'scalar') value(k, t);
      else nested = { k, v: t };
    }
    // The key: a scalar, or an alias to an anchored scalar (`*k : x`).
    const name =
      prev?.t === 'scalar'
        ? prev.v
        : prev?.t === 'alias'
          ? anchors.get(prev.v)
          : undefined;
    if (
      t.t === 'ind' &&
      t.v === ':' &&
      prev !== undefined &&
      name !== undefined &&
      TARGET_KEYS.has(name)
    )
      key = { key: name, index: prev.i, line: t.line };
    prev = t;
  });
  if (nested !== undefined) value(nested.k, nested.v);
  return { targets: found, pythonTags: pythonTags.slice(0, 1000), complete };
}
