// SPDX-License-Identifier: Apache-2.0
/**
 * NeMo model configs. A `.nemo` file is a tar (gzip'd in older releases) of
 * `model_config.yaml`, the weights (`model_weights.ckpt`, a PyTorch zip) and
 * tokenizer files; `restore_from` hands the config to Hydra, whose
 * `instantiate` imports and calls every `_target_` it finds. This scanner
 * recognises such a YAML document by content, so it runs on the member
 * whatever reads the container (the tar and gzip scanners pass every member
 * on), and on a config file of its own (NeMo 2 `context/model.yaml`).
 * Targets are judged with the pickle policy (deny list, dunder paths,
 * allow profiles) plus the NeMo allow list below; anything else is high.
 */
import { reportIncomplete } from '../incomplete.js';
import { normaliseGlobal } from '../pickle/names.js';
import {
  detectTextPickle,
  policyOf,
  TEXT_PICKLE_SCANNER,
} from '../pickle/scanner.js';
import { judgeGlobal, type CompiledScanPolicy } from '../policy.js';
import type { ByteSource, FormatScanner, ScanContext } from '../types.js';
import { findYamlTargets, type YamlTarget } from './yaml-targets.js';

/** Dotted prefixes of callables a NeMo or NeMo 2 config instantiates in normal use. */
export const NEMO_ALLOWED_PREFIXES: readonly string[] = Object.freeze([
  'nemo.collections.',
  'nemo.core.classes.',
  'nemo.core.neural_types.',
  'nemo.core.optim.',
  'nemo.lightning.',
  'megatron.core.',
  'torch.nn.',
  'torch.optim.',
]);

/** Bytes searched by `detect` for signs of a Hydra config (the rest is scanned, not searched). */
const DETECT_SEARCH_BYTES = 64 * 1024 * 1024;
const CHUNK = 1024 * 1024;

/** A YAML mapping line near the top: `key:` or `- key:` or a document marker. */
const YAML_HEAD =
  /^(?:%YAML|---|[ \t]*(?:-[ \t]+)?(?:[A-Za-z_][\w.$-]*|"[^"\n]*"|'[^'\n]*')[ \t]*:(?:[ \t]|$))/m;
/**
 * Signs that a text may hold a Hydra target: the key itself, a YAML or JSON
 * escape that spells one of its characters (`_`, `t`, `a`, `r`, `g`, `e`) in
 * a quoted key, or a Python tag.
 */
const TARGET_SIGNS =
  /_target_|\\(?:x|u00|U000000)(?:5[fF]|6[157]|7[24])|!!?python\//;
/** NeMo's legacy `target:`/`cls:` keys, looked for only in YAML-looking text. */
const LEGACY_SIGNS = /(?:^|[\s{,])["']?(?:target|cls)["']?[ \t]*:/m;

function looksLikeText(head: Buffer): boolean {
  const n = Math.min(head.length, 4096);
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const b = head[i]!;
    if (b === 0 || (b < 0x20 && b !== 9 && b !== 10 && b !== 13)) return false;
  }
  return true;
}

/** YAML-looking: a mapping line, or nothing but comments and blank lines so far. */
function looksLikeYaml(text: string): boolean {
  // Blank and comment-only text. Every repeated line must end in a line
  // break, so the pattern has one way to match and stays linear (the former
  // `(?:[ \t]*...\r?\n?)*` backtracked through 2^n splits of n spaces).
  return (
    YAML_HEAD.test(text) ||
    /^(?:[ \t]*(?:#[^\r\n]*)?(?:\r\n|\r(?!\n)|\n))*[ \t]*(?:#[^\r\n]*)?$/.test(
      text,
    )
  );
}

async function detectHydraConfig(
  head: Buffer,
  source: ByteSource,
): Promise<boolean> {
  if (!looksLikeText(head)) return false;
  const text = head.toString('latin1');
  if (TARGET_SIGNS.test(text)) return true;
  const yaml = looksLikeYaml(text);
  if (yaml && LEGACY_SIGNS.test(text)) return true;
  if (source.size <= head.length) return false;
  // Too large to search here: claimed; the scan searches it in chunks.
  if (source.size > DETECT_SEARCH_BYTES) return true;
  // Search the rest in chunks overlapping by 64 bytes.
  for (let off = head.length; off < source.size; off += CHUNK) {
    const chunk = (await source.read(off - 64, CHUNK + 64)).toString('latin1');
    if (TARGET_SIGNS.test(chunk) || (yaml && LEGACY_SIGNS.test(chunk)))
      return true;
  }
  return false;
}

/** What the policy says about one dotted path. */
interface Judgement {
  verdict: 'dangerous' | 'allowed' | 'unknown';
  why: string;
}

/** Judges a dotted path with the pickle policy, then the NeMo allow list. */
function judgePath(policy: CompiledScanPolicy, path: string): Judgement {
  const parts = path.split('.');
  if (parts.length > 64 || parts.some((p) => !/^[A-Za-z_]\w*$/.test(p)))
    return { verdict: 'unknown', why: 'not a dotted Python name' };
  if (parts.length === 1) {
    // Hydra imports a bare module name: importing runs the module.
    const v = judgeGlobal(policy, normaliseGlobal(parts[0]!, '__module__'));
    return v.kind === 'denied'
      ? { verdict: 'dangerous', why: `module ${v.pattern}` }
      : { verdict: 'unknown', why: 'bare module import' };
  }
  const v = judgeGlobal(
    policy,
    normaliseGlobal(parts[0]!, parts.slice(1).join('.')),
  );
  switch (v.kind) {
    case 'dunder':
      return { verdict: 'dangerous', why: `dunder attribute ${v.attribute}` };
    case 'denied':
      return { verdict: 'dangerous', why: `deny list entry ${v.pattern}` };
    case 'trampoline':
      return { verdict: 'dangerous', why: 'loader trampoline' };
    case 'allowed':
      return { verdict: 'allowed', why: 'allow profile' };
    default:
      return NEMO_ALLOWED_PREFIXES.some((p) => path.startsWith(p))
        ? { verdict: 'allowed', why: 'NeMo allow list' }
        : {
            verdict: 'unknown',
            why: `${v.kind === 'unknown' ? 'not on the allow list' : v.kind}`,
          };
  }
}

/** Most target findings reported for one config. */
const MAX_FINDINGS = 1000;

/** UTF-8 byte offset of UTF-16 indices given in ascending order, computed incrementally. */
function byteOffsets(text: string): (index: number) => number {
  let at = 0;
  let bytes = 0;
  return (index: number): number => {
    if (index < at) {
      at = 0;
      bytes = 0;
    }
    bytes += Buffer.byteLength(text.slice(at, index), 'utf8');
    at = index;
    return bytes;
  };
}

/** Reports one target when it is not allowed (within its severity's quota); the severity reported. */
function reportTarget(
  ctx: ScanContext,
  judge: (path: string) => Judgement,
  t: YamlTarget,
  offset: number,
  reported: { critical: number; high: number },
): 'critical' | 'high' | undefined {
  const shown = (t.value ?? '').slice(0, 200);
  if (t.kind !== 'scalar') {
    if (t.key !== '_target_' && t.kind !== 'tagged') return undefined;
    if (reported.high >= MAX_FINDINGS) return undefined;
    ctx.report({
      ruleId: 'NEMO_UNTRUSTED_TARGET',
      severity: 'high',
      offset,
      message:
        t.kind === 'computed'
          ? `${t.key} is computed at load time (${shown})`
          : t.kind === 'tagged'
            ? `${t.key} carries the YAML tag ${t.tag ?? ''}`
            : `${t.key} is a mapping or sequence, not a dotted name`,
      evidence: { key: t.key, kind: t.kind, value: shown },
    });
    return 'high';
  }
  const path = (t.value ?? '').trim();
  if (path === '') return undefined;
  const j = judge(path);
  if (j.verdict === 'allowed') return undefined;
  // Legacy `target`/`cls` keys hold dotted data as often as callables:
  // only the deny list speaks for them.
  if (t.key !== '_target_' && j.verdict !== 'dangerous') return undefined;
  const severity = j.verdict === 'dangerous' ? 'critical' : 'high';
  if (reported[severity] >= MAX_FINDINGS) return undefined;
  ctx.report({
    ruleId:
      j.verdict === 'dangerous'
        ? 'NEMO_DANGEROUS_TARGET'
        : 'NEMO_UNTRUSTED_TARGET',
    severity,
    offset,
    message: `${t.key} instantiates ${shown} (${j.why})`,
    evidence: { key: t.key, target: shown, reason: j.why },
  });
  return severity;
}

/** Hydra/NeMo YAML configs, by content (`_target_` keys). */
export const NemoConfigScanner: FormatScanner = Object.freeze({
  id: 'nemo-config',
  detect: detectHydraConfig,
  async scan(source: ByteSource, ctx: ScanContext): Promise<void> {
    ctx.recognise('nemo-config');
    const head = await source.read(0, 4096);
    // Parsed in one piece up to this size; a larger text is searched in
    // chunks and fails closed only if it shows signs of targets.
    const parseLimit = Math.min(ctx.limits.maxMemberBytes, DETECT_SEARCH_BYTES);
    if (source.size > parseLimit) {
      let signs = false;
      for (let off = 0; off < source.size && !signs; off += CHUNK) {
        if (ctx.signal?.aborted === true) break;
        const chunk = await source.read(Math.max(0, off - 64), CHUNK + 64);
        signs = TARGET_SIGNS.test(chunk.toString('latin1'));
      }
      if (signs || ctx.signal?.aborted === true)
        reportIncomplete(ctx, {
          limit:
            parseLimit === ctx.limits.maxMemberBytes
              ? 'maxMemberBytes'
              : 'nemo-config-size',
          value: parseLimit,
          message: `YAML config of ${source.size} bytes with target keys, larger than ${parseLimit} bytes`,
        });
    } else {
      const text = (await source.read(0, source.size)).toString('utf8');
      const started = Date.now();
      const policy = policyOf(ctx);
      const offsets = byteOffsets(text);
      const reported = { critical: 0, high: 0 };
      const judged = new Map<string, Judgement>();
      const judgeCached = (path: string): Judgement => {
        let j = judged.get(path);
        if (j === undefined) {
          j = judgePath(policy, path);
          if (judged.size < 65_536) judged.set(path, j);
        }
        return j;
      };
      const { pythonTags, complete } = findYamlTargets(
        text,
        () =>
          ctx.signal?.aborted === true ||
          Date.now() - started > ctx.limits.maxFileMs,
        (t) => {
          // Dangerous targets keep their own quota, so a flood of unknown
          // ones cannot hide them.
          if (Math.min(reported.critical, reported.high) >= MAX_FINDINGS)
            return;
          const sev = reportTarget(
            ctx,
            judgeCached,
            t,
            offsets(t.index),
            reported,
          );
          if (sev !== undefined) reported[sev]++;
        },
      );
      for (const p of pythonTags.slice(0, 100)) {
        ctx.report({
          ruleId: 'NEMO_PYTHON_TAG',
          severity: 'high',
          offset: offsets(p.index),
          message: `python tag ${p.tag} in a YAML config`,
          evidence: { tag: p.tag },
        });
      }
      if (!complete) {
        reportIncomplete(ctx, {
          limit: ctx.signal?.aborted === true ? 'aborted' : 'maxFileMs',
          value: ctx.limits.maxFileMs,
          message: 'YAML config after the deadline',
        });
      }
    }
    // A protocol 0 pickle can also read as YAML: scan it as one too.
    if (await detectTextPickle(head, source))
      await TEXT_PICKLE_SCANNER.scan(source, ctx);
  },
});
