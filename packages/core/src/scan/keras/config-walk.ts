// SPDX-License-Identifier: Apache-2.0
/**
 * The walk over a Keras model config (`threats.md` §5): every object at any
 * depth, iteratively, looking for Lambda layers, code-loading layers, modules
 * outside Keras and safe-mode bypass gadgets. The config was parsed within the
 * JSON budget (`maxJsonTokens`, `maxJsonDepth`), so the walk is linear in it;
 * it holds one frame per level of the current path (never the siblings still
 * to visit) and spells a value's path only when a finding needs it.
 */
import type { FindingInput } from '../types.js';
import { cappedReporter } from '../capped-report.js';

/** Module roots Keras resolves itself (`threats.md` §5). */
const ALLOWED_MODULE_ROOTS: ReadonlySet<string> = new Set([
  'keras',
  'keras_hub',
  'keras_nlp',
  'keras_cv',
  'keras_rs',
  'tensorflow',
  'tf_keras',
]);
/** Module roots that give direct access to the host. */
const HOST_MODULE_ROOTS: ReadonlySet<string> = new Set([
  'os',
  'posix',
  'nt',
  'subprocess',
  'builtins',
  '__builtin__',
  'sys',
  'shutil',
  'socket',
  'importlib',
  'pickle',
  'runpy',
  'code',
  'pty',
  'ctypes',
  'marshal',
  'requests',
  'urllib',
  'http',
  'webbrowser',
  'joblib',
  'dill',
]);
const GADGETS: ReadonlySet<string> = new Set([
  'enable_unsafe_deserialization',
  'get_file',
  'load_model',
  'load_weights',
  'exec',
  'eval',
  'system',
  'popen',
  'import_module',
  'deserialize_keras_object',
]);
const CODE_LAYERS: Readonly<Record<string, string>> = {
  TorchModuleWrapper: 'torch.load(weights_only=False)',
  TFSMLayer: 'an external SavedModel',
};

/** One container on the current path, and the next child to visit. */
interface Frame {
  value: object;
  parent: Frame | undefined;
  /** Key or index of `value` in its parent. */
  key: string | number;
  /** Own keys of an object (undefined for an array). */
  keys: string[] | undefined;
  next: number;
}

/** `$`, `.key` and `[index]` from the root down to `frame`. */
function pathOf(frame: Frame): string {
  const parts: string[] = [];
  for (let f: Frame | undefined = frame; f?.parent !== undefined; f = f.parent)
    parts.push(typeof f.key === 'number' ? `[${f.key}]` : `.${f.key}`);
  return `$${parts.reverse().join('')}`;
}

function layerName(node: Record<string, unknown>): string {
  const config = node.config;
  return typeof config === 'object' &&
    config !== null &&
    typeof (config as { name?: unknown }).name === 'string'
    ? (config as { name: string }).name
    : '';
}

/**
 * Reports produced by {@link walkKerasConfig}: at most
 * `MAX_FINDINGS_PER_RULE` (100) per rule, then one saying how many more.
 */
export function walkKerasConfig(root: unknown, where: string): FindingInput[] {
  const listed: FindingInput[] = [];
  if (typeof root !== 'object' || root === null) return listed;
  const out = cappedReporter({ report: (f) => listed.push(f) });
  const findings = { push: out.report };
  const enter = (
    value: object,
    parent: Frame | undefined,
    key: string | number,
  ): Frame => {
    const frame: Frame = {
      value,
      parent,
      key,
      keys: Array.isArray(value) ? undefined : Object.keys(value),
      next: 0,
    };
    if (!Array.isArray(value))
      checkNode(value as Record<string, unknown>, frame, where, findings);
    return frame;
  };
  const stack: Frame[] = [enter(root, undefined, '$')];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as Frame;
    const { value, keys } = frame;
    const length =
      keys === undefined ? (value as unknown[]).length : keys.length;
    let child: unknown;
    let key: string | number | undefined;
    while (frame.next < length) {
      const at = frame.next++;
      key = keys === undefined ? at : (keys[at] ?? '');
      child =
        keys === undefined
          ? (value as unknown[])[at]
          : (value as Record<string, unknown>)[key];
      if (typeof child === 'object' && child !== null) break;
      child = undefined;
    }
    if (child === undefined || key === undefined) {
      stack.pop();
      continue;
    }
    stack.push(enter(child as object, frame, key));
  }
  out.flush();
  return listed;
}

/** The rules for one object of the config. */
function checkNode(
  node: Record<string, unknown>,
  frame: Frame,
  where: string,
  findings: { push(finding: FindingInput): void },
): void {
  const className =
    typeof node.class_name === 'string' ? node.class_name : undefined;
  const registered =
    typeof node.registered_name === 'string' ? node.registered_name : undefined;
  // `module` names an import only beside `class_name`; elsewhere it is data
  // (TorchModuleWrapper keeps its pickled module under that key).
  const moduleName =
    typeof node.module === 'string' && className !== undefined
      ? node.module
      : undefined;
  const shortRegistered = registered?.split('>').pop()?.trim();
  const names = [className, shortRegistered]
    .filter((n): n is string => n !== undefined)
    .map((n) => n.trim());
  const isLambda =
    names.some((n) => n.toLowerCase() === 'lambda' || n === '__lambda__') ||
    node.function_type === 'lambda';
  const loads = names
    .map((n) => [n, CODE_LAYERS[n]] as const)
    .find(([, l]) => l !== undefined);
  const moduleRoot = moduleName?.split('.')[0] ?? '';
  const unsafeModule =
    moduleName !== undefined && !ALLOWED_MODULE_ROOTS.has(moduleRoot);
  const target = typeof node.config === 'string' ? node.config : undefined;
  const called = [
    target,
    shortRegistered,
    className === 'function' ? undefined : className,
  ].filter((n): n is string => n !== undefined);
  const gadget = called.find((n) => GADGETS.has(n.split('.').pop() ?? n));
  const bypass =
    gadget !== undefined &&
    (className === 'function' ||
      (moduleName !== undefined &&
        /keras\.(src\.)?(config|utils|saving)/.test(moduleName)));
  const customPackage =
    registered !== undefined && registered.includes('>')
      ? (registered.split('>')[0]?.trim() ?? '')
      : undefined;
  const custom =
    customPackage !== undefined &&
    !ALLOWED_MODULE_ROOTS.has(customPackage.split('.')[0] ?? '');
  if (!isLambda && loads === undefined && !unsafeModule && !bypass && !custom)
    return;
  const evidence = {
    path: pathOf(frame),
    className,
    module: moduleName,
    registeredName: registered,
    layer: layerName(node),
  };
  if (isLambda) {
    findings.push({
      ruleId: 'KERAS_LAMBDA',
      severity: 'critical',
      message: `lambda layer ${evidence.layer || evidence.path} in ${where}`,
      evidence,
    });
  }
  if (loads !== undefined) {
    findings.push({
      ruleId: 'KERAS_DANGEROUS_LAYER',
      severity: 'critical',
      message: `${loads[0]} layer in ${where} loads ${loads[1]}`,
      evidence,
    });
  }
  if (unsafeModule) {
    findings.push({
      ruleId: 'KERAS_UNSAFE_MODULE',
      severity: HOST_MODULE_ROOTS.has(moduleRoot) ? 'critical' : 'high',
      message: `${where} references module ${moduleName}${className === undefined ? '' : ` (${className})`}`,
      evidence,
    });
  }
  if (bypass) {
    findings.push({
      ruleId: 'KERAS_SAFE_MODE_BYPASS',
      severity: 'critical',
      message: `${where} calls ${gadget} while loading`,
      evidence: { ...evidence, gadget },
    });
  }
  if (custom) {
    findings.push({
      ruleId: 'KERAS_CUSTOM_OBJECT',
      severity: 'low',
      message: `custom object ${registered} in ${where}`,
      evidence,
    });
  }
}
