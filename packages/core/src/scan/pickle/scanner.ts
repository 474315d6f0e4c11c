// SPDX-License-Identifier: Apache-2.0
/**
 * The pickle scanner: runs the symbolic VM ({@link analysePickleSource}) and
 * turns what it saw into findings with the policy (allow list first, then
 * calls, then the deny list; threats.md §1.4). Also the content detector for
 * raw pickles and the recursion into nested payloads.
 */
import { inflateSync } from 'node:zlib';
import type {
  ByteSource,
  FindingInput,
  FormatScanner,
  ScanContext,
  Severity,
} from '../types.js';
import {
  joblibBuildHook,
  type JoblibCompanion,
  type JoblibUnreadable,
} from '../joblib/array-wrapper.js';
import { scanJoblibCompanions } from '../joblib/companions.js';
import {
  defaultScanPolicy,
  judgeGlobal,
  type CompiledScanPolicy,
  type GlobalVerdict,
} from '../policy.js';
import { normaliseGlobal, type NormalisedGlobal } from './names.js';
import {
  analysePickleSource,
  DEFAULT_PICKLE_VM_LIMITS,
  PICKLE_INCOMPLETE_RULE,
  pickleOpcodeName,
  protoHeader,
  type PickleAnalysis,
  type PickleAnalysisOptions,
  type PickleValue,
} from './vm.js';
import { bufferSource, sliceSource } from '../source.js';
import {
  detectBinaryPickle,
  detectPickleReading,
  detectTextPickle,
} from './detect.js';

export { detectBinaryPickle, detectPickleReading, detectTextPickle };
import { incompleteFinding } from '../incomplete.js';
import { PICKLE_POLICY_SETTING } from '../settings.js';

export { PICKLE_POLICY_SETTING };

/** The policy of a context: its `pickle.policy` setting, else the default. */
export function policyOf(ctx: ScanContext): CompiledScanPolicy {
  const p = ctx.settings?.[PICKLE_POLICY_SETTING];
  return (p as CompiledScanPolicy | undefined) ?? defaultScanPolicy();
}

type GlobalValue = Extract<PickleValue, { k: 'global' }>;

function globalName(g: GlobalValue): NormalisedGlobal {
  return normaliseGlobal(g.module, g.name);
}

function tupleItems(v: PickleValue): PickleValue[] {
  return v.k === 'tuple' || v.k === 'list' ? v.items : [];
}

/** Aggregates findings by (rule, subject) so that a name used 10,000 times yields one finding. */
class FindingSink {
  private readonly byKey = new Map<
    string,
    FindingInput & { evidence: Record<string, unknown> }
  >();
  constructor(private readonly ctx: ScanContext) {}

  add(
    key: string,
    f: FindingInput & { evidence: Record<string, unknown> },
  ): void {
    const prev = this.byKey.get(key);
    if (prev !== undefined) {
      prev.evidence['occurrences'] =
        ((prev.evidence['occurrences'] as number | undefined) ?? 1) + 1;
      return;
    }
    this.byKey.set(key, f);
  }

  /** Counts one more occurrence of an existing finding; false when there is none. */
  bump(key: string): boolean {
    const prev = this.byKey.get(key);
    if (prev === undefined) return false;
    prev.evidence['occurrences'] =
      ((prev.evidence['occurrences'] as number | undefined) ?? 1) + 1;
    return true;
  }

  flush(): void {
    for (const f of this.byKey.values()) this.ctx.report(f);
    this.byKey.clear();
  }
}

/** Calls of calls named in a description before the rest is elided. */
const MAX_DESCRIBED_CALLS = 16;

function describe(v: PickleValue, depth = 0): string {
  switch (v.k) {
    case 'global':
      return `${v.module}.${v.name}`;
    case 'call':
      // Bounded: a hostile pickle chains REDUCE on REDUCE hundreds of thousands
      // deep, which would overflow the stack and cost quadratic string space.
      return depth >= MAX_DESCRIBED_CALLS
        ? '…(…)'
        : `${describe(v.fn, depth + 1)}(…)`;
    case 'pid':
      return 'persistent object';
    case 'ext':
      return `extension code ${v.code}`;
    case 'none':
    case 'bool':
    case 'int':
    case 'float':
    case 'str':
    case 'bytes':
    case 'tuple':
    case 'list':
    case 'dict':
    case 'set':
    case 'buffer':
    case 'unknown':
      return v.k;
  }
}

function isTensorLike(v: PickleValue): boolean {
  if (v.k === 'pid') return true;
  if (v.k !== 'call' || v.fn.k !== 'global') return false;
  const c = globalName(v.fn).canonical;
  return (
    /^torch\.(_utils\._rebuild_|_tensor\._rebuild_)/.test(c) ||
    /^torch\.[A-Za-z0-9]+Storage$/.test(c) ||
    c === 'torch.Tensor'
  );
}

/**
 * Base64 text decoded only where Python's lenient decoder (`b64decode`,
 * `a2b_base64`) and Node's read the same bytes. Both skip characters outside
 * the alphabet; they differ on `=` before the end (Python skips it, Node
 * stops) and on `-` and `_` (Node reads them as URL-safe digits, Python skips
 * them). Text with either is not decoded: the payload then counts as
 * computed at load time (critical), never as a payload we scanned.
 */
function strictBase64(text: string): Buffer {
  const kept = text.replace(/[^A-Za-z0-9+/=_-]+/g, '');
  if (/[-_]/.test(kept) || !/^[^=]*={0,2}$/.test(kept))
    throw new Error('base64 text that decoders read differently');
  return Buffer.from(kept, 'base64');
}

/** Hex text decoded only when every character is read (whitespace aside). */
function strictHex(text: string): Buffer {
  const digits = text.replace(/\s+/g, '');
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(digits))
    throw new Error('hex text that decoders read differently');
  return Buffer.from(digits, 'hex');
}

/** The decoder a staging helper applies, by its canonical name. */
function stagingDecoder(c: string): ((b: Buffer) => Buffer) | undefined {
  if (
    /^base64\.(b64decode|decodebytes|standard_b64decode)$/.test(c) ||
    c === 'binascii.a2b_base64'
  )
    return (b) => strictBase64(b.toString('latin1'));
  if (c === 'base64.urlsafe_b64decode')
    // Python maps - and _ to + and / and decodes the result.
    return (b) =>
      strictBase64(b.toString('latin1').replace(/-/g, '+').replace(/_/g, '/'));
  if (c === 'binascii.unhexlify' || c === 'bytes.fromhex')
    return (b) => strictHex(b.toString('latin1'));
  if (c === 'zlib.decompress')
    return (b) => inflateSync(b, { maxOutputLength: 64 * 1024 * 1024 });
  return undefined;
}

/** Bytes of constants the VM did not keep, read back from the source, by the offset of their opcode. */
type ReadBack = Map<number, Buffer>;

/**
 * Decodes a staging helper applied to a constant (`base64.b64decode(b'…')`),
 * when we can; the bytes of a constant the VM did not keep come from `readBack`.
 */
function stagedConstant(
  v: PickleValue,
  used: Set<number>,
  readBack: ReadBack,
  depth = 0,
): Buffer | undefined {
  if (v.k === 'bytes' || v.k === 'str') used.add(v.offset);
  if (v.k === 'bytes') return v.v ?? readBack.get(v.offset);
  if (v.k === 'str') return Buffer.from(v.v, 'latin1');
  if (v.k !== 'call' || v.fn.k !== 'global' || depth > 8) return undefined;
  const decode = stagingDecoder(globalName(v.fn).canonical);
  const inner = stagedConstant(
    tupleItems(v.args)[0] ?? { k: 'unknown' },
    used,
    readBack,
    depth + 1,
  );
  if (inner === undefined || decode === undefined) return undefined;
  try {
    return decode(inner);
  } catch {
    return undefined;
  }
}

/**
 * The constant a chain of staging helpers decodes (`zlib.decompress(b64decode(b'…'))`),
 * when the VM did not keep its bytes and they lie in the source: what
 * {@link stagedConstant} needs read back.
 */
function unkeptStagedBytes(
  v: PickleValue,
  depth = 0,
): Extract<PickleValue, { k: 'bytes' }> | undefined {
  if (v.k === 'bytes')
    return depth > 0 && v.v === undefined && v.dataOffset !== undefined
      ? v
      : undefined;
  if (v.k !== 'call' || v.fn.k !== 'global' || depth > 8) return undefined;
  if (stagingDecoder(globalName(v.fn).canonical) === undefined)
    return undefined;
  const first = tupleItems(v.args)[0];
  return first === undefined ? undefined : unkeptStagedBytes(first, depth + 1);
}

/** True when `v` is, or stages (`b64decode(…)`), a constant the VM did not keep (nor read back). */
function unkeptConstant(
  v: PickleValue,
  readBack: ReadBack,
  depth = 0,
): boolean {
  if (v.k === 'bytes') return v.v === undefined && !readBack.has(v.offset);
  if (v.k === 'unknown') return true;
  if (v.k !== 'call' || depth > 8) return false;
  // A decoder modelseal does not model (gzip, b85…): the payload is not
  // decoded whatever its size (the loader's finding is critical), so it is
  // not "too large".
  if (
    v.fn.k === 'global' &&
    stagingDecoder(globalName(v.fn).canonical) === undefined
  )
    return false;
  const first = tupleItems(v.args)[0];
  return first !== undefined && unkeptConstant(first, readBack, depth + 1);
}

/**
 * Bytes of unkept constants read back for staging helpers, per analysis:
 * as many as the VM keeps by default (`maxRetainedBytes`). Past it a staged
 * payload is not decoded: a high `SCAN_INCOMPLETE`, as before.
 */
const READ_BACK_BYTES = DEFAULT_PICKLE_VM_LIMITS.maxRetainedBytes;

/** True when the bytes look like a complete binary pickle (`PROTO n … STOP`). */
export function looksLikePickle(b: Buffer): boolean {
  return b.length >= 4 && b[b.length - 1] === 0x2e && detectBinaryPickle(b);
}

/**
 * False when bytes of `length` whose first are `b[start, end)` (all of
 * them, or a part) cannot be a complete binary pickle
 * ({@link looksLikePickle}); the last byte is looked at only when it is
 * there. The VM lists a constant past its retention budget only when this
 * holds (`listBytes`): of such a constant the scanner reads back only its
 * first and last bytes, to find a raw pickle.
 */
export function mayBeRawPickle(
  b: Buffer,
  start = 0,
  end: number = b.length,
  length: number = end - start,
): boolean {
  if (length < 4) return false;
  if (end - start === length && b[end - 1] !== 0x2e) return false;
  if (end - start < 3) return true;
  return (
    protoHeader(b[start], b[start + 1]) &&
    pickleOpcodeName(b[start + 2]!) !== undefined
  );
}

/** Bytes that `String.prototype.trim` removes from a latin1 string. */
function isTrimmedByte(c: number): boolean {
  return (c >= 0x09 && c <= 0x0d) || c === 0x20 || c === 0xa0;
}

/** True for the bytes of base64 (either alphabet, with padding), which include hex digits. */
function isBase64Byte(c: number): boolean {
  return (
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2b ||
    c === 0x2f ||
    c === 0x5f ||
    c === 0x2d ||
    c === 0x3d
  );
}

/**
 * False when the first bytes after leading whitespace already rule out base64
 * and hex text: then a large constant (binary data, mostly) is not turned
 * into a string of its own size to be matched. Never false for text the
 * matching below would accept.
 */
function mayBeEncodedText(b: Buffer): boolean {
  let i = 0;
  while (i < b.length && isTrimmedByte(b[i]!)) i++;
  const end = Math.min(b.length, i + 256);
  for (; i < end; i++) {
    const c = b[i]!;
    if (!isBase64Byte(c) && !isTrimmedByte(c)) return false;
  }
  return true;
}

/** Finds a pickle hidden in a constant: raw, zlib-compressed, base64 or hex text. */
export function unwrapNestedPickle(
  b: Buffer,
): { data: Buffer; encoding: string } | undefined {
  if (looksLikePickle(b)) return { data: b, encoding: 'raw' };
  if (b.length >= 8 && b[0] === 0x78 && ((0x78 << 8) | b[1]!) % 31 === 0) {
    try {
      const out = inflateSync(b, { maxOutputLength: 64 * 1024 * 1024 });
      if (looksLikePickle(out)) return { data: out, encoding: 'zlib' };
    } catch {
      // not zlib after all
    }
  }
  if (!mayBeEncodedText(b)) return undefined;
  const text = b.toString('latin1').trim();
  if (text.length >= 8 && text.length <= 64 * 1024 * 1024) {
    if (/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) {
      const raw = Buffer.from(text, 'base64');
      if (looksLikePickle(raw)) return { data: raw, encoding: 'base64' };
      const inner =
        raw.length >= 2 && raw[0] === 0x78
          ? unwrapNestedPickle(raw)
          : undefined;
      if (inner !== undefined)
        return { data: inner.data, encoding: `base64+${inner.encoding}` };
    }
    if (/^([0-9a-fA-F]{2})+$/.test(text)) {
      const raw = Buffer.from(text, 'hex');
      if (looksLikePickle(raw)) return { data: raw, encoding: 'hex' };
    }
  }
  return undefined;
}

/**
 * The VM's `keepBytes` and `listBytes` of {@link scanPickleSource}. The
 * bytes of a constant matter afterwards only when they hide a pickle: one
 * within the retention budget is kept only when {@link unwrapNestedPickle}
 * finds one in it, one past it is listed only when it may be a raw pickle
 * ({@link mayBeRawPickle}). The others are data that no later check reads
 * (a staging helper applied to one reads it back from the source; a
 * loader's raw payload is a slice of it).
 */
export const PICKLE_BYTES_HOOKS: Readonly<
  Pick<PickleAnalysisOptions, 'keepBytes' | 'listBytes'>
> = Object.freeze({
  keepBytes: (b: Buffer): boolean => unwrapNestedPickle(b) !== undefined,
  listBytes: mayBeRawPickle,
});

/** Options of {@link scanPickleSource}. */
export interface PickleScanOptions {
  /** Stop after this many stacked streams. */
  streamLimit?: number;
  /** Start offset in the source. */
  start?: number;
  /** Resynchronise over junk after streams. Default true. */
  resync?: boolean;
  /** Extra sub-member path for the findings (e.g. a zip entry name). */
  member?: string[];
}

/**
 * Analyses the pickle streams of `source` and reports findings on `ctx`.
 * Returns the analysis so that containers can add their own checks (tensor
 * bounds). Never throws on hostile data.
 */
export async function scanPickleSource(
  source: ByteSource,
  ctx: ScanContext,
  options: PickleScanOptions = {},
): Promise<PickleAnalysis> {
  const policy = policyOf(ctx);
  let joblib = false;
  // joblib arrays whose inline size cannot be known: the VM reads on, and
  // the stream is reported not fully scanned (high), its other findings kept.
  const unmeasured: JoblibUnreadable[] = [];
  // Files joblib's loader unpickles because the pickle names them.
  const companions: JoblibCompanion[] = [];
  const vmOptions: PickleAnalysisOptions = {
    onBuild: joblibBuildHook(
      () => {
        joblib = true;
      },
      (info) => {
        joblib = true;
        unmeasured.push(info);
      },
      (companion) => companions.push(companion),
    ),
    ...PICKLE_BYTES_HOOKS,
    limits: {
      maxOpcodes: ctx.limits.maxPickleOpcodes,
      maxStack: ctx.limits.maxPickleStack,
      maxMemo: ctx.limits.maxPickleMemo,
    },
  };
  if (options.streamLimit !== undefined)
    vmOptions.streamLimit = options.streamLimit;
  if (options.start !== undefined) vmOptions.start = options.start;
  if (options.resync !== undefined) vmOptions.resync = options.resync;
  if (ctx.signal !== undefined) vmOptions.signal = ctx.signal;
  const analysis = await analysePickleSource(source, vmOptions);
  if (joblib) ctx.recognise('joblib');
  const member = options.member;
  const withMember = (
    f: FindingInput & { evidence: Record<string, unknown> },
  ): FindingInput & { evidence: Record<string, unknown> } =>
    member === undefined ? f : { ...f, member };
  const sink = new FindingSink(ctx);
  const add = (
    key: string,
    f: FindingInput & { evidence: Record<string, unknown> },
  ): void => sink.add(key, withMember(f));

  for (const info of unmeasured.slice(0, 1)) {
    const f = incompleteFinding({
      limit: 'joblib-array-size',
      message: info.message,
      evidence: { ...info.evidence, count: unmeasured.length },
    });
    add('inc:joblib-array-size', { ...f, evidence: f.evidence ?? {} });
  }
  for (const a of analysis.anomalies) {
    if (a.ruleId === PICKLE_INCOMPLETE_RULE) {
      // A limit stopped the VM: "not fully scanned", naming the limit.
      const { limit, value, ...rest } = a.evidence ?? {};
      const f = incompleteFinding({
        limit: String(limit),
        ...(typeof value === 'number' ? { value } : {}),
        message: a.message,
        offset: a.offset,
        evidence: rest,
      });
      add(`inc:${String(limit)}`, { ...f, evidence: f.evidence ?? {} });
      continue;
    }
    add(`${a.ruleId}@${a.offset}`, {
      ruleId: a.ruleId,
      severity: a.severity,
      message: a.message,
      offset: a.offset,
      evidence: { ...a.evidence },
    });
  }

  // 1. How each global value is used: called, instantiated, or only referenced.
  const usage = new Map<GlobalValue, 'call' | 'instantiate'>();
  const mark = (
    g: PickleValue | undefined,
    how: 'call' | 'instantiate',
  ): void => {
    if (g?.k !== 'global') return;
    if (usage.get(g) !== 'call') usage.set(g, how);
  };
  const calledValues = new Set<PickleValue>();
  for (const { value } of analysis.calls) {
    calledValues.add(value.fn);
    mark(
      value.fn,
      value.kind === 'NEWOBJ' || value.kind === 'NEWOBJ_EX'
        ? 'instantiate'
        : 'call',
    );
  }

  // One verdict per distinct (module, name), shared by every pass.
  const judged = new Map<string, { n: NormalisedGlobal; v: GlobalVerdict }>();
  const judgeName = (
    module: string,
    name: string,
  ): { n: NormalisedGlobal; v: GlobalVerdict } => {
    const key = `${module}\n${name}`;
    let r = judged.get(key);
    if (r === undefined) {
      const n = normaliseGlobal(module, name);
      r = { n, v: judgeGlobal(policy, n) };
      judged.set(key, r);
    }
    return r;
  };
  const verdictOf = (
    g: GlobalValue,
  ): { n: NormalisedGlobal; v: GlobalVerdict } => judgeName(g.module, g.name);

  // 2. Calls: wrappers, getattr, trampolines, staging, dynamic callees.
  const nestedDone = new Set<number>();
  /** getattr and loader globals whose direct calls were judged by their arguments. */
  const analysedCallees = new Set<GlobalValue>();
  const nestedJobs: { data: Buffer; name: string }[] = [];
  /** Nested payloads too large to keep: scanned as slices of the source. */
  const sliceJobs: { offset: number; length: number; name: string }[] = [];
  const readBack: ReadBack = new Map();
  let readBackLeft = READ_BACK_BYTES;
  for (const { value: call, offset } of analysis.calls) {
    const fn = call.fn;
    if (fn.k !== 'global') {
      if (
        fn.k === 'call' &&
        fn.fn.k === 'global' &&
        verdictOf(fn.fn).n.canonical === 'builtins.getattr'
      )
        continue; // judged with getattr below
      add(`dyn@${offset}`, {
        ruleId: 'PICKLE_DYNAMIC_CALL',
        severity:
          fn.k === 'unknown' ||
          fn.k === 'none' ||
          fn.k === 'str' ||
          fn.k === 'int'
            ? 'medium'
            : 'high',
        message: `pickle calls a computed callable (${describe(fn)})`,
        offset,
        evidence: { opcode: call.kind, callee: describe(fn) },
      });
      continue;
    }
    const { n, v } = verdictOf(fn);
    const args = tupleItems(call.args);
    if (v.kind === 'wrapper') {
      const target = args[0];
      if (target === undefined || target.k === 'none') continue;
      if (target.k === 'global') {
        mark(
          target,
          n.canonical === 'copyreg._reconstructor' ? 'instantiate' : 'call',
        );
      } else {
        add(`wrap@${offset}`, {
          ruleId: 'PICKLE_DYNAMIC_CALL',
          severity: 'high',
          message: `${n.canonical} wraps a computed callable`,
          offset,
          evidence: { global: n.canonical, callee: describe(target) },
        });
      }
      continue;
    }
    if (v.kind === 'denied' && n.canonical === 'builtins.getattr') {
      analysedCallees.add(fn);
      const obj = args[0];
      const attr = args[1];
      const resultCalled = calledValues.has(call);
      if (attr?.k !== 'str') {
        add(`ga@${offset}`, {
          ruleId: 'PICKLE_GETATTR_CHAIN',
          severity: 'critical',
          message: 'getattr with a computed attribute name',
          offset,
          evidence: { global: n.raw },
        });
      } else if (attr.v.startsWith('__') && attr.v.endsWith('__')) {
        add(`ga@${offset}`, {
          ruleId: 'PICKLE_GETATTR_CHAIN',
          severity: 'critical',
          message: `getattr reaches dunder attribute ${attr.v}`,
          offset,
          evidence: { global: n.raw, attribute: attr.v },
        });
      } else if (obj?.k === 'global') {
        const dotted = normaliseGlobal(obj.module, `${obj.name}.${attr.v}`);
        const dv = judgeGlobal(policy, dotted);
        const critical =
          dv.kind === 'denied' ||
          dv.kind === 'dunder' ||
          dv.kind === 'trampoline';
        if (dv.kind !== 'allowed' || resultCalled) {
          add(`ga@${offset}`, {
            ruleId: 'PICKLE_GETATTR_CHAIN',
            severity: critical ? 'critical' : 'high',
            message: `getattr resolves ${dotted.canonical}`,
            offset,
            evidence: {
              global: dotted.canonical,
              via: 'builtins.getattr',
              called: resultCalled,
            },
          });
        }
        usage.set(obj, usage.get(obj) ?? 'instantiate');
      } else if (resultCalled) {
        add(`ga@${offset}`, {
          ruleId: 'PICKLE_DYNAMIC_CALL',
          severity: 'high',
          message: `pickle calls method ${attr.v} of an object it built`,
          offset,
          evidence: {
            attribute: attr.v,
            target: obj === undefined ? 'none' : describe(obj),
          },
        });
      }
      continue;
    }
    if (v.kind === 'trampoline') {
      analysedCallees.add(fn);
      const payloads: Buffer[] = [];
      let sliced = 0;
      for (const a of args) {
        if (
          a.k === 'bytes' &&
          a.v === undefined &&
          a.dataOffset !== undefined
        ) {
          // Too large to keep: the raw payload is a slice of the source.
          nestedDone.add(a.offset);
          if (a.length > 0)
            sliceJobs.push({
              offset: a.dataOffset,
              length: a.length,
              name: `${n.canonical}@${offset}`,
            });
          sliced++;
          continue;
        }
        const leaf = unkeptStagedBytes(a);
        if (
          leaf !== undefined &&
          !readBack.has(leaf.offset) &&
          leaf.length <= readBackLeft
        ) {
          const data = await source.read(leaf.dataOffset!, leaf.length);
          if (data.length === leaf.length) {
            readBack.set(leaf.offset, data);
            readBackLeft -= data.length;
          }
        }
        const b = stagedConstant(a, nestedDone, readBack);
        if (b !== undefined) payloads.push(b);
        else if (unkeptConstant(a, readBack)) {
          // An encoded payload too large to keep: it was not decoded nor scanned.
          const f = incompleteFinding({
            limit: 'pickleRetainedBytes',
            message: `payload of ${n.canonical} at offset ${offset} too large to decode and scan`,
            offset,
            evidence: { global: n.canonical },
          });
          add(`inc:retained@${offset}`, { ...f, evidence: f.evidence ?? {} });
        }
      }
      const lenient = n.canonical === 'torch.storage._load_from_bytes';
      const constantPayloads = payloads.length + sliced;
      add(`tr@${offset}`, {
        ruleId: 'PICKLE_LOADER_TRAMPOLINE',
        severity:
          constantPayloads === 0 ? 'critical' : lenient ? 'info' : 'medium',
        message:
          constantPayloads === 0
            ? `${n.canonical} loads a payload computed at load time`
            : `${n.canonical} loads a constant payload (scanned as a nested artifact)`,
        offset,
        evidence: { global: n.canonical, payloads: constantPayloads },
      });
      for (const b of payloads) {
        if (b.length > 0)
          nestedJobs.push({ data: b, name: `${n.canonical}@${offset}` });
      }
    }
  }

  // 3. Every import site, judged by the policy and by how it is used.
  const mutated: { path: string; offset: number }[] = [];
  for (const b of analysis.builds) {
    if (b.target.k === 'global') {
      const n = globalName(b.target);
      mutated.push({ path: n.canonical, offset: b.offset });
      add(`mut:${n.canonical}`, {
        ruleId: 'PICKLE_GLOBAL_MUTATION',
        severity: 'high',
        message: `BUILD sets attributes on ${n.canonical}`,
        offset: b.offset,
        evidence: { global: n.canonical },
      });
    } else if (isTensorLike(b.target)) {
      add(`tw@${b.offset}`, {
        ruleId: 'PICKLE_TENSOR_WRITE',
        severity: 'critical',
        message: `BUILD writes into ${describe(b.target)}`,
        offset: b.offset,
        evidence: { opcode: 'BUILD', target: describe(b.target) },
      });
    }
  }
  for (const m of analysis.mutations) {
    if (m.opcode !== 'BUILD' && isTensorLike(m.target)) {
      add(`tw@${m.offset}`, {
        ruleId: 'PICKLE_TENSOR_WRITE',
        severity: 'critical',
        message: `${m.opcode} writes into ${describe(m.target)}`,
        offset: m.offset,
        evidence: { opcode: m.opcode, target: describe(m.target) },
      });
    }
  }

  const seen = new Set<GlobalValue>();
  const allGlobals: GlobalValue[] = [];
  const collect = (v: PickleValue): void => {
    if (v.k === 'global' && !seen.has(v)) {
      seen.add(v);
      allGlobals.push(v);
    }
  };
  for (const c of analysis.calls) collect(c.value.fn);
  for (const c of analysis.calls)
    for (const a of tupleItems(c.value.args)) collect(a);
  const byOffset = new Map<number, GlobalValue>();
  for (const g of allGlobals) byOffset.set(g.offset, g);
  /**
   * The finding key decided for an import site by (module, name, use), when
   * nothing was mutated (no read-back to check): a repeated site only counts,
   * so a pickle of millions of imports costs a lookup each.
   */
  const decidedImports = new Map<string, string | null>();
  for (const imp of analysis.imports) {
    const g = byOffset.get(imp.offset);
    const how =
      g !== undefined && g.module === imp.module && g.name === imp.name
        ? usage.get(g)
        : undefined;
    const decideKey =
      mutated.length === 0
        ? `${imp.module}\n${imp.name}\n${how ?? ''}\n${g !== undefined && analysedCallees.has(g) ? 1 : 0}`
        : undefined;
    if (decideKey !== undefined) {
      const decided = decidedImports.get(decideKey);
      if (decided === null) continue;
      if (decided !== undefined && sink.bump(decided)) continue;
    }
    const { n, v } = judgeName(imp.module, imp.name);
    const ev: Record<string, unknown> = {
      global: n.canonical,
      opcode: imp.opcode,
      stream: imp.stream,
    };
    if (n.raw !== n.canonical) ev['raw'] = n.raw;
    const readBack = mutated.find(
      (m) => m.offset < imp.offset && n.canonical.startsWith(m.path + '.'),
    );
    if (readBack !== undefined) {
      add(`rb:${n.canonical}`, {
        ruleId: 'PICKLE_MUTATED_READBACK',
        severity: 'critical',
        message: `${n.canonical} is read through ${readBack.path}, mutated earlier`,
        offset: imp.offset,
        evidence: { ...ev, mutated: readBack.path },
      });
      continue;
    }
    let ruleId: string | undefined;
    let severity: Severity = 'info';
    let message = '';
    switch (v.kind) {
      case 'allowed':
        break;
      case 'dunder':
        ruleId = 'PICKLE_DUNDER_ACCESS';
        severity = 'critical';
        message = `${n.raw} reaches dunder attribute ${v.attribute}`;
        break;
      case 'denied':
        // getattr called directly was judged by its arguments above; passed
        // to a wrapper (`partial(getattr, os, 'system')`) it is critical.
        if (g !== undefined && analysedCallees.has(g)) break;
        ruleId = 'PICKLE_DANGEROUS_GLOBAL';
        severity = 'critical';
        message = `${how === 'call' ? 'call of' : how === 'instantiate' ? 'instance of' : 'reference to'} dangerous global ${n.canonical}`;
        ev['denied'] = v.pattern;
        break;
      case 'trampoline':
        if (g !== undefined && analysedCallees.has(g)) break;
        ruleId = 'PICKLE_DANGEROUS_GLOBAL';
        severity = 'critical';
        message = `reference to loader ${n.canonical}`;
        break;
      case 'wrapper':
        break;
      case 'staging':
        ruleId =
          how === 'call' ? 'PICKLE_STAGING_CALL' : 'PICKLE_UNKNOWN_GLOBAL';
        severity = how === 'call' ? 'medium' : 'info';
        message = `${how === 'call' ? 'call of' : 'reference to'} decoding helper ${n.canonical}`;
        break;
      case 'unknown':
        if (how === 'call') {
          ruleId = 'PICKLE_UNSAFE_CALL';
          severity = 'high';
          message = `call of ${n.canonical}, which is not on the allow list`;
        } else if (how === 'instantiate') {
          ruleId = 'PICKLE_UNKNOWN_CLASS';
          severity = 'medium';
          message = `instance of ${n.canonical}, which is not on the allow list`;
        } else {
          ruleId = 'PICKLE_UNKNOWN_GLOBAL';
          severity = 'info';
          message = `reference to ${n.canonical}, which is not on the allow list`;
        }
        break;
    }
    const key = ruleId === undefined ? null : `${ruleId}:${n.canonical}`;
    if (decideKey !== undefined) decidedImports.set(decideKey, key);
    if (ruleId !== undefined && key !== null)
      add(key, {
        ruleId,
        severity,
        message,
        offset: imp.offset,
        evidence: ev,
      });
  }
  sink.flush();

  // 4. Nested payloads: trampoline arguments, then constants that are pickles.
  for (const c of analysis.constants) {
    if (nestedDone.has(c.value.offset)) continue;
    if (c.value.k === 'bytes' && c.value.v === undefined) {
      // Not kept: a raw pickle is recognised from its first and last bytes.
      const at = c.value.dataOffset;
      if (at === undefined || c.value.length < 4) continue;
      const head = await source.read(at, 3);
      const tail = await source.read(at + c.value.length - 1, 1);
      if (!detectBinaryPickle(head) || tail[0] !== 0x2e) continue;
      ctx.report(
        withMember({
          ruleId: 'PICKLE_NESTED_PAYLOAD',
          severity: 'info',
          message: `constant at offset ${c.value.offset} is a pickle (raw)`,
          offset: c.value.offset,
          evidence: { encoding: 'raw', length: c.value.length },
        }),
      );
      sliceJobs.push({
        offset: at,
        length: c.value.length,
        name: `bytes@${c.value.offset}`,
      });
      continue;
    }
    const raw =
      c.value.k === 'bytes'
        ? c.value.v
        : c.value.v.length >= 16
          ? Buffer.from(c.value.v, 'latin1')
          : undefined;
    if (raw === undefined) continue;
    const found = unwrapNestedPickle(raw);
    if (found === undefined) continue;
    ctx.report(
      withMember({
        ruleId: 'PICKLE_NESTED_PAYLOAD',
        severity: 'info',
        message: `constant at offset ${c.value.offset} is a pickle (${found.encoding})`,
        offset: c.value.offset,
        evidence: { encoding: found.encoding, length: found.data.length },
      }),
    );
    nestedJobs.push({ data: found.data, name: `bytes@${c.value.offset}` });
  }
  for (const job of nestedJobs) {
    const name =
      member === undefined ? job.name : [...member, job.name].join('/');
    await ctx.scanNested(bufferSource(job.data), name);
  }
  for (const job of sliceJobs) {
    const name =
      member === undefined ? job.name : [...member, job.name].join('/');
    await ctx.scanNested(sliceSource(source, job.offset, job.length), name);
  }
  await scanJoblibCompanions(companions, ctx, member, source);
  return analysis;
}

/** Raw pickle files and stacked pickles, detected by `PROTO 0..5`. */
export const PICKLE_SCANNER: FormatScanner = {
  id: 'pickle',
  detect: (head: Buffer): boolean => detectBinaryPickle(head),
  async scan(source: ByteSource, ctx: ScanContext): Promise<void> {
    ctx.recognise('pickle');
    await scanPickleSource(source, ctx);
  },
};

/** Protocol 0/1 pickles (no `PROTO` opcode): consulted after every other scanner. */
export const TEXT_PICKLE_SCANNER: FormatScanner = {
  id: 'pickle-text',
  detect: (head: Buffer, source: ByteSource): Promise<boolean> =>
    detectTextPickle(head, source),
  async scan(source: ByteSource, ctx: ScanContext): Promise<void> {
    ctx.recognise('pickle');
    await scanPickleSource(source, ctx);
  },
};
