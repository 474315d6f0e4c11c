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
/** What makes a YAML document worth scanning: a target key, an escape that could spell one, a Python tag. */
const HYDRA_SIGNS = /target|cls[ \t'"]*:|\\[xuU]|![!]?python\//;

function looksLikeText(head: Buffer): boolean {
  const n = Math.min(head.length, 4096);
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const b = head[i]!;
    if (b === 0 || (b < 0x20 && b !== 9 && b !== 10 && b !== 13)) return false;
  }
  return true;
}

async function detectHydraConfig(
  head: Buffer,
  source: ByteSource,
): Promise<boolean> {
  if (!looksLikeText(head)) return false;
  const text = head.toString('utf8');
  if (text.includes('_target_')) return true;
  if (!YAML_HEAD.test(text)) return false;
  // Search the rest in chunks (overlapping by 64 bytes) for the signs.
  const end = Math.min(source.size, DETECT_SEARCH_BYTES);
  if (source.size > DETECT_SEARCH_BYTES) return true; // scanned, and reported as partial
  for (let off = 0; off < end; off += CHUNK) {
    const chunk = await source.read(Math.max(0, off - 64), CHUNK + 64);
    if (HYDRA_SIGNS.test(chunk.toString('latin1'))) return true;
  }
  return false;
}

/** Candidate (module, name) splits of a dotted path, for the pickle policy. */
function judgePath(
  policy: CompiledScanPolicy,
  path: string,
): { verdict: 'dangerous' | 'allowed' | 'unknown'; why: string } {
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

function reportTarget(
  ctx: ScanContext,
  policy: CompiledScanPolicy,
  t: YamlTarget,
  text: string,
): void {
  const offset = Buffer.byteLength(text.slice(0, t.index), 'utf8');
  const shown = (t.value ?? '').slice(0, 200);
  if (t.kind !== 'scalar') {
    if (t.key !== '_target_' && t.kind !== 'tagged') return;
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
    return;
  }
  const path = (t.value ?? '').trim();
  if (path === '') return;
  const j = judgePath(policy, path);
  if (j.verdict === 'allowed') return;
  // Legacy `target`/`cls` keys hold dotted data as often as callables:
  // only the deny list speaks for them.
  if (t.key !== '_target_' && j.verdict !== 'dangerous') return;
  ctx.report({
    ruleId:
      j.verdict === 'dangerous'
        ? 'NEMO_DANGEROUS_TARGET'
        : 'NEMO_UNTRUSTED_TARGET',
    severity: j.verdict === 'dangerous' ? 'critical' : 'high',
    offset,
    message: `${t.key} instantiates ${shown} (${j.why})`,
    evidence: { key: t.key, target: shown, reason: j.why },
  });
}

/** Hydra/NeMo YAML configs, by content (`_target_` keys). */
export const NemoConfigScanner: FormatScanner = Object.freeze({
  id: 'nemo-config',
  detect: detectHydraConfig,
  async scan(source: ByteSource, ctx: ScanContext): Promise<void> {
    ctx.recognise('nemo-config');
    const limit = ctx.limits.maxMemberBytes;
    const size = Math.min(source.size, limit);
    const bytes = await source.read(0, size);
    const text = bytes.toString('utf8');
    const started = Date.now();
    const { targets, pythonTags, complete } = findYamlTargets(
      text,
      () =>
        ctx.signal?.aborted === true ||
        Date.now() - started > ctx.limits.maxFileMs,
    );
    const policy = policyOf(ctx);
    for (const t of targets) reportTarget(ctx, policy, t, text);
    for (const p of pythonTags.slice(0, 100)) {
      ctx.report({
        ruleId: 'NEMO_PYTHON_TAG',
        severity: 'high',
        offset: Buffer.byteLength(text.slice(0, p.index), 'utf8'),
        message: `python tag ${p.tag} in a YAML config`,
        evidence: { tag: p.tag },
      });
    }
    if (source.size > limit) {
      reportIncomplete(ctx, {
        limit: 'maxMemberBytes',
        value: limit,
        offset: limit,
        message: `YAML config beyond ${limit} bytes`,
      });
    } else if (!complete) {
      reportIncomplete(ctx, {
        limit: ctx.signal?.aborted === true ? 'aborted' : 'maxFileMs',
        value: ctx.limits.maxFileMs,
        message: 'YAML config after the deadline',
      });
    }
    // A protocol 0 pickle can also read as YAML: scan it as one too.
    const head = bytes.subarray(0, 4096);
    if (await detectTextPickle(head))
      await TEXT_PICKLE_SCANNER.scan(source, ctx);
  },
});
