// SPDX-License-Identifier: Apache-2.0
/**
 * skops files (`.skops`): a zip whose `schema.json` describes the object tree
 * node by node (`__class__`, `__module__`, `__loader__`), with arrays in
 * `.npy` members. `skops.io.load` refuses any node whose type is not trusted
 * (builtin scalars and containers, scikit-learn estimators, NumPy and SciPy
 * types, NumPy ufuncs as functions) unless the caller trusts it by name.
 * This scanner reports what skops would refuse: functions, bound methods and
 * `operator` functions (whose trust checks were bypassed before skops 0.12,
 * CVE-2025-54412/54413), and types outside that set, critical when the name
 * is on the pickle deny list. Every other member is scanned like any zip
 * member (the `.npy` arrays by the NumPy scanner).
 */
import { scanZipArchive } from '../archive/zip-scanner.js';
import { reportIncomplete } from '../incomplete.js';
import { normaliseGlobal } from '../pickle/names.js';
import { policyOf } from '../pickle/scanner.js';
import { judgeGlobal, type CompiledScanPolicy } from '../policy.js';
import type { ByteSource, FormatScanner, ScanContext } from '../types.js';
import { zipDirectoryOf } from '../zip/zip-directory-of.js';
import { parseSchemaJson } from './schema-json.js';

/** Node kinds (`__loader__`) of skops protocols 0 to 3. */
export const SKOPS_LOADERS: ReadonlySet<string> = new Set([
  'DictNode',
  'DefaultDictNode',
  'ListNode',
  'SetNode',
  'TupleNode',
  'BytesNode',
  'BytearrayNode',
  'SliceNode',
  'FunctionNode',
  'MethodNode',
  'PartialNode',
  'TypeNode',
  'ConstructorFromReduceNode',
  'ObjectNode',
  'JsonNode',
  'OperatorFuncNode',
  'CachedNode',
  'NdArrayNode',
  'MaskedArrayNode',
  'DTypeNode',
  'RandomStateNode',
  'RandomGeneratorNode',
  'SparseMatrixNode',
  'LossNode',
  'TreeNode',
  'SGDNode',
  '_DictWithDeprecatedKeysNode',
  'QuantileForestNode',
]);

const NUMPY_LOADERS = new Set([
  'NdArrayNode',
  'MaskedArrayNode',
  'DTypeNode',
  'RandomStateNode',
  'RandomGeneratorNode',
  'ObjectNode',
]);

/** Builtin types skops trusts (primitives, containers) by default. */
const BUILTIN_TYPES = new Set([
  'int',
  'float',
  'str',
  'bool',
  'list',
  'set',
  'map',
  'tuple',
  'dict',
  'bytes',
  'bytearray',
  'slice',
  'NoneType',
  'complex',
  'frozenset',
]);

/** NumPy ufuncs that skops trusts as functions by default (a common subset). */
const NUMPY_UFUNCS = new Set(
  (
    'abs absolute add arccos arccosh arcsin arcsinh arctan arctan2 arctanh cbrt ceil cos cosh deg2rad degrees ' +
    'divide exp exp2 expm1 fabs floor floor_divide fmax fmin fmod hypot log log10 log1p log2 logaddexp ' +
    'logical_and logical_not logical_or maximum minimum multiply negative positive power rad2deg radians ' +
    'reciprocal remainder rint sign sin sinh sqrt square subtract tan tanh true_divide trunc'
  ).split(' '),
);

const MAX_FINDINGS = 1000;

type Verdict = 'dangerous' | 'trusted' | 'untrusted';

function judge(
  policy: CompiledScanPolicy,
  module: string,
  name: string,
): Verdict | 'allowed' {
  const v = judgeGlobal(policy, normaliseGlobal(module, name));
  if (v.kind === 'dunder' || v.kind === 'denied' || v.kind === 'trampoline')
    return 'dangerous';
  return v.kind === 'allowed' ? 'allowed' : 'untrusted';
}

function isSklearnClass(module: string, cls: string): boolean {
  return (
    (module === 'sklearn' || module.startsWith('sklearn.')) &&
    /^_?[A-Z]/.test(cls) &&
    !module.includes('._testing') &&
    !module.includes('.externals')
  );
}

/** The trust verdict of the type a node builds. */
function judgeType(
  policy: CompiledScanPolicy,
  loader: string,
  module: string,
  cls: string,
): Verdict {
  const v = judge(policy, module, cls);
  if (v === 'dangerous') return 'dangerous';
  if (v === 'allowed') return 'trusted';
  if (module === 'builtins' && BUILTIN_TYPES.has(cls)) return 'trusted';
  if (isSklearnClass(module, cls)) return 'trusted';
  if (
    NUMPY_LOADERS.has(loader) &&
    (module === 'numpy' || module.startsWith('numpy.'))
  )
    return 'trusted';
  if (loader === 'SparseMatrixNode' && module.startsWith('scipy.sparse'))
    return 'trusted';
  if (loader === 'PartialNode' && module === 'functools' && cls === 'partial')
    return 'trusted';
  if (
    (loader === 'DefaultDictNode' || loader === 'DictNode') &&
    module === 'collections'
  )
    return 'trusted';
  return 'untrusted';
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** Reports what skops would refuse in one parsed `schema.json`. */
export function reportSkopsSchema(
  ctx: ScanContext,
  root: unknown,
  member: string,
): void {
  const policy = policyOf(ctx);
  let reported = 0;
  const report = (
    ruleId: string,
    severity: 'critical' | 'high',
    message: string,
    evidence: Record<string, unknown>,
  ): void => {
    if (reported++ < MAX_FINDINGS)
      ctx.report({ ruleId, severity, message, member: [member], evidence });
  };
  const callable = (kind: string, path: string, verdict: Verdict): void => {
    if (verdict === 'trusted') return;
    report(
      verdict === 'dangerous'
        ? 'SKOPS_DANGEROUS_CALLABLE'
        : 'SKOPS_UNTRUSTED_CALLABLE',
      verdict === 'dangerous' ? 'critical' : 'high',
      `${kind} ${path}${verdict === 'dangerous' ? ' is on the deny list' : ' is not trusted by skops'}`,
      { node: kind, name: path },
    );
  };
  const stack: unknown[] = [root];
  let visited = 0;
  while (stack.length > 0) {
    const node = stack.pop();
    if (++visited % 4096 === 0 && ctx.signal?.aborted === true) {
      reportIncomplete(ctx, {
        limit: 'aborted',
        message: 'skops schema walk aborted',
        member: [member],
      });
      return;
    }
    if (Array.isArray(node)) {
      for (const x of node)
        if (typeof x === 'object' && x !== null) stack.push(x);
      continue;
    }
    if (typeof node !== 'object' || node === null) continue;
    const o = node as Record<string, unknown>;
    for (const x of Object.values(o))
      if (typeof x === 'object' && x !== null) stack.push(x);
    if (!('__loader__' in o)) continue;
    const loader = str(o['__loader__']) ?? '';
    const module = str(o['__module__']);
    const cls = str(o['__class__']);
    const shown = `${module ?? '?'}.${cls ?? '?'}`;
    if (!SKOPS_LOADERS.has(loader)) {
      report(
        'SKOPS_UNKNOWN_NODE',
        'high',
        `node ${shown} has the unknown loader ${JSON.stringify(loader.slice(0, 80))}`,
        {
          loader: loader.slice(0, 200),
          type: shown,
        },
      );
      continue;
    }
    if (module === undefined || cls === undefined) {
      report(
        'SKOPS_MALFORMED',
        'high',
        `${loader} without __module__ or __class__`,
        { loader },
      );
      continue;
    }
    const content = o['content'];
    const c =
      typeof content === 'object' && content !== null && !Array.isArray(content)
        ? (content as Record<string, unknown>)
        : {};
    switch (loader) {
      case 'FunctionNode': {
        // Protocol 0 kept the function in `content`; later ones in the node.
        const m = str(c['module_path']) ?? module;
        const f = str(c['function']) ?? cls;
        const v = judge(policy, m, f);
        const ufunc =
          (m === 'numpy' ||
            m === 'numpy.core' ||
            m.startsWith('scipy.special')) &&
          NUMPY_UFUNCS.has(f);
        callable(
          'function',
          `${m}.${f}`,
          v === 'dangerous' ? 'dangerous' : ufunc ? 'trusted' : 'untrusted',
        );
        break;
      }
      case 'MethodNode': {
        const f = str(c['func']) ?? '?';
        const v = judge(policy, module, `${cls}.${f}`);
        callable(
          'method',
          `${module}.${cls}.${f}`,
          v === 'dangerous' ? 'dangerous' : 'untrusted',
        );
        break;
      }
      case 'OperatorFuncNode': {
        const v = judge(policy, 'operator', cls);
        callable(
          'operator function',
          `${module}.${cls}`,
          v === 'dangerous' || module !== 'operator'
            ? 'dangerous'
            : 'untrusted',
        );
        break;
      }
      case 'TypeNode': {
        // Protocol 0 wrote the referenced type into `content`.
        const m = str(c['__module__']) ?? module;
        const k = str(c['__class__']) ?? cls;
        const v = judge(policy, m, k);
        const trusted =
          v === 'allowed' ||
          (m === 'builtins' && BUILTIN_TYPES.has(k)) ||
          (m === 'numpy' && /^[a-z]/.test(k));
        if (v === 'dangerous' || !trusted)
          report(
            v === 'dangerous'
              ? 'SKOPS_DANGEROUS_CALLABLE'
              : 'SKOPS_UNTRUSTED_TYPE',
            v === 'dangerous' ? 'critical' : 'high',
            `type reference ${m}.${k}${v === 'dangerous' ? ' is on the deny list' : ' is not trusted by skops'}`,
            { node: 'type', name: `${m}.${k}` },
          );
        break;
      }
      default: {
        const v = judgeType(policy, loader, module, cls);
        if (v !== 'trusted')
          report(
            v === 'dangerous'
              ? 'SKOPS_DANGEROUS_CALLABLE'
              : 'SKOPS_UNTRUSTED_TYPE',
            v === 'dangerous' ? 'critical' : 'high',
            `${loader} builds ${shown}${v === 'dangerous' ? ', which is on the deny list' : ', a type skops does not trust'}`,
            { node: loader, type: shown },
          );
      }
    }
  }
}

async function detectSkops(head: Buffer, source: ByteSource): Promise<boolean> {
  if (head.length < 4 || head.readUInt32LE(0) !== 0x04034b50) return false;
  const directory = await zipDirectoryOf(source);
  return directory?.entries.some((e) => e.name === 'schema.json') ?? false;
}

/** Scanner for skops zips; register it before the Keras and generic zip scanners. */
export const SkopsScanner: FormatScanner = Object.freeze({
  id: 'skops',
  detect: detectSkops,
  async scan(source: ByteSource, ctx: ScanContext): Promise<void> {
    ctx.recognise('skops');
    const schemas: Buffer[] = [];
    await scanZipArchive(source, ctx, {
      onMember(entry, data) {
        if (entry.name === 'schema.json') schemas.push(data);
      },
    });
    if (schemas.length === 0) {
      ctx.report({
        ruleId: 'SKOPS_MALFORMED',
        severity: 'high',
        message: 'schema.json could not be read',
        member: ['schema.json'],
      });
    } else if (schemas.length > 1) {
      ctx.report({
        ruleId: 'SKOPS_MALFORMED',
        severity: 'high',
        message: `schema.json appears ${schemas.length} times; python reads the last`,
        member: ['schema.json'],
        evidence: { copies: schemas.length },
      });
    }
    for (const data of schemas) {
      const parsed = parseSchemaJson(
        data.toString('utf8'),
        ctx.limits.maxJsonTokens,
        ctx.limits.maxJsonDepth,
      );
      if (!parsed.ok) {
        if (parsed.error.kind === 'syntax')
          ctx.report({
            ruleId: 'SKOPS_MALFORMED',
            severity: 'high',
            message: `schema.json is not valid JSON: ${parsed.error.message}`,
            member: ['schema.json'],
          });
        else
          reportIncomplete(ctx, {
            limit:
              parsed.error.kind === 'tokens' ? 'maxJsonTokens' : 'maxJsonDepth',
            value:
              parsed.error.kind === 'tokens'
                ? ctx.limits.maxJsonTokens
                : ctx.limits.maxJsonDepth,
            message: `schema.json past the JSON ${parsed.error.kind} limit`,
            member: ['schema.json'],
            offset: parsed.error.at,
          });
        continue;
      }
      if (
        typeof parsed.value !== 'object' ||
        parsed.value === null ||
        Array.isArray(parsed.value)
      ) {
        ctx.report({
          ruleId: 'SKOPS_MALFORMED',
          severity: 'high',
          message: 'schema.json is not a JSON object',
          member: ['schema.json'],
        });
        continue;
      }
      reportSkopsSchema(ctx, parsed.value, 'schema.json');
    }
  },
});
