// SPDX-License-Identifier: Apache-2.0
/**
 * The walk over a Keras model config (`threats.md` §5): every object at any
 * depth, iteratively, looking for Lambda layers, code-loading layers, modules
 * outside Keras and safe-mode bypass gadgets.
 */
import type { FindingInput } from '../types.js';

const MAX_DEPTH = 512;
const MAX_NODES = 5_000_000;

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

/** Reports produced by {@link walkKerasConfig}. */
export function walkKerasConfig(root: unknown, where: string): FindingInput[] {
  const findings: FindingInput[] = [];
  const stack: { value: unknown; path: string; depth: number }[] = [
    { value: root, path: '$', depth: 0 },
  ];
  let visited = 0;
  let tooDeep = false;
  const layerName = (node: Record<string, unknown>): string => {
    const config = node.config;
    return typeof config === 'object' &&
      config !== null &&
      typeof (config as { name?: unknown }).name === 'string'
      ? (config as { name: string }).name
      : '';
  };
  while (stack.length > 0) {
    const { value, path, depth } = stack.pop() as {
      value: unknown;
      path: string;
      depth: number;
    };
    if (++visited > MAX_NODES) {
      findings.push({
        ruleId: 'KERAS_MALFORMED',
        severity: 'medium',
        message: `${where} has more than ${MAX_NODES} values, rest not scanned`,
      });
      break;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth > MAX_DEPTH) {
      if (!tooDeep)
        findings.push({
          ruleId: 'KERAS_MALFORMED',
          severity: 'medium',
          message: `${where} nests deeper than ${MAX_DEPTH} levels, deeper parts not scanned`,
          evidence: { path },
        });
      tooDeep = true;
      continue;
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--)
        stack.push({
          value: value[i],
          path: `${path}[${i}]`,
          depth: depth + 1,
        });
      continue;
    }
    const node = value as Record<string, unknown>;
    const className =
      typeof node.class_name === 'string' ? node.class_name : undefined;
    const registered =
      typeof node.registered_name === 'string'
        ? node.registered_name
        : undefined;
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
    const evidence = {
      path,
      className,
      module: moduleName,
      registeredName: registered,
      layer: layerName(node),
    };
    if (
      names.some((n) => n.toLowerCase() === 'lambda' || n === '__lambda__') ||
      node.function_type === 'lambda'
    ) {
      findings.push({
        ruleId: 'KERAS_LAMBDA',
        severity: 'critical',
        message: `lambda layer ${evidence.layer || path} in ${where}`,
        evidence,
      });
    }
    for (const n of names) {
      const loads = CODE_LAYERS[n];
      if (loads !== undefined) {
        findings.push({
          ruleId: 'KERAS_DANGEROUS_LAYER',
          severity: 'critical',
          message: `${n} layer in ${where} loads ${loads}`,
          evidence,
        });
        break;
      }
    }
    if (moduleName !== undefined) {
      const root = moduleName.split('.')[0] ?? '';
      if (!ALLOWED_MODULE_ROOTS.has(root)) {
        const host = HOST_MODULE_ROOTS.has(root);
        findings.push({
          ruleId: 'KERAS_UNSAFE_MODULE',
          severity: host ? 'critical' : 'high',
          message: `${where} references module ${moduleName}${className === undefined ? '' : ` (${className})`}`,
          evidence,
        });
      }
    }
    const target = typeof node.config === 'string' ? node.config : undefined;
    const called = [
      target,
      shortRegistered,
      className === 'function' ? undefined : className,
    ].filter((n): n is string => n !== undefined);
    const gadget = called.find((n) => GADGETS.has(n.split('.').pop() ?? n));
    if (
      gadget !== undefined &&
      (className === 'function' ||
        (moduleName !== undefined &&
          /keras\.(src\.)?(config|utils|saving)/.test(moduleName)))
    ) {
      findings.push({
        ruleId: 'KERAS_SAFE_MODE_BYPASS',
        severity: 'critical',
        message: `${where} calls ${gadget} while loading`,
        evidence: { ...evidence, gadget },
      });
    }
    if (registered !== undefined && registered.includes('>')) {
      const pkg = registered.split('>')[0]?.trim() ?? '';
      if (!ALLOWED_MODULE_ROOTS.has(pkg.split('.')[0] ?? '')) {
        findings.push({
          ruleId: 'KERAS_CUSTOM_OBJECT',
          severity: 'low',
          message: `custom object ${registered} in ${where}`,
          evidence,
        });
      }
    }
    const keys = Object.keys(node);
    for (let i = keys.length - 1; i >= 0; i--) {
      const key = keys[i] as string;
      const child = node[key];
      if (typeof child === 'object' && child !== null)
        stack.push({ value: child, path: `${path}.${key}`, depth: depth + 1 });
    }
  }
  return findings;
}

/**
 * Parses JSON the way Python's json module accepts it: bare `NaN`,
 * `Infinity` and `-Infinity` (which Keras may write) become null first.
 * Returns undefined when the text is not JSON.
 */
export function parsePythonJson(
  text: string,
): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    if (!/NaN|Infinity/.test(text))
      return {
        ok: false,
        reason: error instanceof Error ? error.message : String(error),
      };
  }
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i] ?? '';
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    if (text.startsWith('-Infinity', i)) {
      out += 'null';
      i += 8;
    } else if (text.startsWith('Infinity', i)) {
      out += 'null';
      i += 7;
    } else if (text.startsWith('NaN', i)) {
      out += 'null';
      i += 2;
    } else {
      out += c;
    }
  }
  try {
    return { ok: true, value: JSON.parse(out) };
  } catch (error) {
    return {
      ok: false,
      reason: error instanceof Error ? error.message : String(error),
    };
  }
}
