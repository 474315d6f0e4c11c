// SPDX-License-Identifier: Apache-2.0
/**
 * The pickle global policy: allow profiles first, then the deny list
 * (threats.md §1.4 step 4 and §1.7), extended by a user policy file
 * (`docs/scan-policy.md`).
 *
 * Patterns are dotted paths matched against the canonical name of a global
 * (see {@link normaliseGlobal}): an allow pattern matches exactly, or every
 * name below it when it ends in `.*`; a deny pattern matches the path itself
 * and everything below it (`os` covers `os.system` and `os.path.join`).
 */
import { readFile } from 'node:fs/promises';
import { modelSealError } from '../errors.js';
import { jsonBudget, parseBoundedJson } from './bounded-json.js';
import { DEFAULT_SCAN_LIMITS } from './types.js';
import { normaliseGlobal, type NormalisedGlobal } from './pickle/names.js';

/** Names of the built-in allow profiles. */
export type AllowProfileName =
  'weights' | 'numpy' | 'joblib' | 'stdlib-data' | 'torch-modules' | 'sklearn';

const TORCH_STORAGES = [
  'BFloat16',
  'Bool',
  'Byte',
  'Char',
  'ComplexDouble',
  'ComplexFloat',
  'Double',
  'Float',
  'Half',
  'Int',
  'Long',
  'QInt32',
  'QInt8',
  'QUInt2x4',
  'QUInt4x2',
  'QUInt8',
  'Short',
  'Untyped',
].map((t) => `torch.${t}Storage`);

const TORCH_DTYPES = [
  'float32',
  'float16',
  'bfloat16',
  'float64',
  'float',
  'double',
  'half',
  'int8',
  'int16',
  'int32',
  'int64',
  'uint8',
  'uint16',
  'uint32',
  'uint64',
  'bool',
  'complex64',
  'complex128',
  'long',
  'int',
  'short',
  'cfloat',
  'cdouble',
  'float8_e4m3fn',
  'float8_e5m2',
  'quint8',
  'qint8',
  'qint32',
].map((t) => `torch.${t}`);

/** The built-in allow profiles (threats.md §1.7, "Allow profile"). */
export const ALLOW_PROFILES: Readonly<
  Record<AllowProfileName, readonly string[]>
> = {
  weights: [
    'collections.OrderedDict',
    'torch._utils._rebuild_tensor',
    'torch._utils._rebuild_tensor_v2',
    'torch._utils._rebuild_tensor_v3',
    'torch._utils._rebuild_parameter',
    'torch._utils._rebuild_parameter_with_state',
    'torch._utils._rebuild_qtensor',
    'torch._utils._rebuild_sparse_tensor',
    'torch._utils._rebuild_device_tensor_from_numpy',
    'torch._utils._rebuild_meta_tensor_no_storage',
    'torch._utils._rebuild_wrapper_subclass',
    'torch._tensor._rebuild_from_type_v2',
    'torch._utils._get_restore_location',
    ...TORCH_STORAGES,
    ...TORCH_DTYPES,
    'torch.Size',
    'torch.device',
    'torch.Tensor',
    'torch.nn.parameter.Parameter',
    'torch.strided',
    'torch.sparse_coo',
    'torch.per_tensor_affine',
    'torch.per_channel_affine',
    'torch.contiguous_format',
    'torch.channels_last',
    'torch.preserve_format',
    '_codecs.encode',
    'builtins.set',
    'builtins.frozenset',
    'builtins.slice',
    'builtins.complex',
    'builtins.bytearray',
  ],
  numpy: [
    'numpy.dtype',
    'numpy.ndarray',
    'numpy.core.multiarray._reconstruct',
    'numpy.core.multiarray.scalar',
    // NumPy before 1.0 pickled arrays through this name (ndarray.__new__).
    'numpy.core._internal._reconstruct',
    'numpy._core.multiarray._reconstruct',
    'numpy._core.multiarray.scalar',
    'numpy.core.numeric._frombuffer',
    'numpy._core.numeric._frombuffer',
    'numpy.random._pickle.__randomstate_ctor',
    'numpy.random._pickle.__bit_generator_ctor',
    'numpy.random._pickle.__generator_ctor',
    'numpy.random.mtrand.RandomState',
    'numpy.random.bit_generator.BitGenerator',
    'numpy.random._mt19937.MT19937',
    'numpy.random._pcg64.PCG64',
    'numpy.dtypes.*',
  ],
  joblib: [
    'joblib.numpy_pickle.NumpyArrayWrapper',
    'joblib.numpy_pickle.NDArrayWrapper',
    'joblib.numpy_pickle.ZNDArrayWrapper',
    'sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper',
  ],
  'stdlib-data': [
    'builtins.int',
    'builtins.float',
    'builtins.str',
    'builtins.bytes',
    'builtins.bool',
    'builtins.list',
    'builtins.dict',
    'builtins.tuple',
    'builtins.range',
    'builtins.object',
    'builtins.NoneType',
    'builtins.Ellipsis',
    'builtins.NotImplemented',
    'collections.deque',
    'collections.Counter',
    'collections.ChainMap',
    'datetime.datetime',
    'datetime.date',
    'datetime.time',
    'datetime.timedelta',
    'datetime.timezone',
    'decimal.Decimal',
    'fractions.Fraction',
    'argparse.Namespace',
    'uuid.UUID',
    'uuid.SafeUUID',
    'http.HTTPStatus',
    'enum.Enum',
    'pathlib.Path',
    'pathlib.PosixPath',
    'pathlib.WindowsPath',
    'pathlib.PurePosixPath',
    'pathlib.PureWindowsPath',
    'pathlib.PurePath',
    'copyreg._reconstructor',
  ],
  'torch-modules': [
    'torch.nn.modules.*',
    'torch.nn.parameter.*',
    'torch.nn.utils.parametrize.*',
  ],
  sklearn: [
    'sklearn.linear_model._logistic.LogisticRegression',
    'sklearn.linear_model._base.LinearRegression',
    'sklearn.tree._classes.DecisionTreeClassifier',
    'sklearn.tree._classes.DecisionTreeRegressor',
    'sklearn.tree._tree.Tree',
    'sklearn.ensemble._forest.RandomForestClassifier',
    'sklearn.preprocessing._data.StandardScaler',
    'sklearn.preprocessing._label.LabelEncoder',
    'sklearn.pipeline.Pipeline',
  ],
};

/** Default active profiles: all of them. */
export const DEFAULT_ALLOW_PROFILES: readonly AllowProfileName[] =
  Object.freeze(Object.keys(ALLOW_PROFILES) as AllowProfileName[]);

/** Whole modules (and everything below them) that are critical when referenced (threats.md §1.7). */
export const DENIED_MODULES: readonly string[] = Object.freeze([
  'builtins',
  'os',
  'sys',
  'subprocess',
  '_posixsubprocess',
  'pty',
  'commands',
  'multiprocessing',
  '_multiprocessing',
  'runpy',
  'code',
  'codeop',
  'compileall',
  'py_compile',
  'marshal',
  'types',
  'importlib',
  'imp',
  '_imp',
  '_frozen_importlib',
  '_frozen_importlib_external',
  'zipimport',
  'pkgutil',
  'pydoc',
  'inspect',
  'gc',
  'site',
  'ctypes',
  '_ctypes',
  '_interpreters',
  '_xxsubinterpreters',
  'socket',
  '_socket',
  'socketserver',
  'ssl',
  'http.client',
  'http.server',
  'urllib',
  'urllib2',
  'httplib',
  'requests',
  'aiohttp',
  'asyncio',
  'smtplib',
  'imaplib',
  'ftplib',
  'poplib',
  'telnetlib',
  'nntplib',
  'xmlrpc',
  'webbrowser',
  'pickle',
  'cPickle',
  'dill',
  'cloudpickle',
  'joblib',
  'shelve',
  'shutil',
  'tempfile',
  'filecmp',
  'fileinput',
  'glob',
  'tarfile',
  'zipfile',
  'mmap',
  'select',
  'selectors',
  'signal',
  '_signal',
  'threading',
  '_thread',
  'atexit',
  'sqlite3',
  '_sqlite3',
  'cProfile',
  'profile',
  'pdb',
  'bdb',
  'trace',
  'timeit',
  'doctest',
  'unittest',
  'test',
  'distutils',
  'setuptools',
  'pip',
  'ensurepip',
  'venv',
  'idlelib',
  'lib2to3',
  'pexpect',
  'pipes',
  'platform',
  'syslog',
  'linecache',
  '_osx_support',
  '_aix_support',
  '_pyrepl',
  'numpy.f2py',
  'numpy.distutils',
  'numpy.testing._private.utils',
  'torch.hub',
  'torch.jit',
  'torch._dynamo',
  'torch._inductor',
  'torch.distributed.rpc',
  'torch.utils.bottleneck',
  'torch.utils.data.datapipes',
  'nt',
  'posix',
  'io.open_code',
  // Pure-Python twins and C back ends of denied modules.
  '_pyio',
  '_lsprof',
  '_pickle',
]);

/** Single names in modules that also hold benign names (threats.md §1.7). */
export const DENIED_NAMES: readonly string[] = Object.freeze([
  'io.open',
  'io.FileIO',
  'io.open_code',
  'functools.partial',
  'functools.reduce',
  'operator.attrgetter',
  'operator.itemgetter',
  'operator.methodcaller',
  'operator.getitem',
  'uuid._get_command_stdout',
  'uuid._popen',
  'logging.FileHandler',
  'logging.config',
  'logging.handlers',
  'concurrent.futures.ProcessPoolExecutor',
  'concurrent.futures.ThreadPoolExecutor',
  'torch.compile',
  'torch.load',
  'torch.save',
  'torch.serialization',
  'torch.storage._load_from_bytes',
  'torch.utils.collect_env.run',
  'torch.utils._config_module.ConfigModule',
  'torch.fx.experimental.symbolic_shapes.ShapeEnv.evaluate_guards_expression',
  'torch.distributed.elastic.rendezvous.api.basichandlers',
  'pandas.read_csv',
  'pandas.read_pickle',
  'mlflow.projects.backend.local._run_entry_point',
  'numpy.load',
  'numpy.fromfile',
  'numpy.save',
  'numpy.loadtxt',
  'keras.utils.get_file',
  'emails',
  'code.interact',
  'operator.call',
]);

/**
 * Loader trampolines: they unpickle (or unmarshal) their argument. Their
 * constant payloads are scanned as nested artifacts.
 */
export const LOADER_TRAMPOLINES: readonly string[] = Object.freeze([
  'pickle.loads',
  'pickle.load',
  'pickle._loads',
  'pickle._load',
  'pickle.Unpickler',
  'pickle._Unpickler',
  'dill.loads',
  'dill.load',
  'cloudpickle.loads',
  'marshal.loads',
  'numpy.load',
  'joblib.load',
  'torch.load',
  'torch.serialization.load',
  'torch.storage._load_from_bytes',
  'pandas.read_pickle',
]);

/** Staging helpers: medium unless their result reaches a loader. */
export const STAGING_HELPERS: readonly string[] = Object.freeze([
  'base64.b64decode',
  'base64.decodebytes',
  'base64.decode',
  'base64.a85decode',
  'base64.b85decode',
  'base64.b32decode',
  'base64.urlsafe_b64decode',
  'codecs.decode',
  'codecs.encode',
  'zlib.decompress',
  'gzip.decompress',
  'bz2.decompress',
  'lzma.decompress',
  'base64.b16decode',
  'binascii.a2b_hex',
  'binascii.unhexlify',
  'binascii.a2b_base64',
  'bytes.fromhex',
]);

/**
 * Wrappers judged by their callable argument: `defaultdict(int)`,
 * `partial(int)` and `copyreg._reconstructor(cls, object, None)` are as safe
 * as `int` or `cls`.
 */
export const CALLABLE_WRAPPERS: readonly string[] = Object.freeze([
  'collections.defaultdict',
  'functools.partial',
  'copyreg._reconstructor',
]);

/** What a user policy file says (`docs/scan-policy.md`). */
export interface ScanPolicy {
  /** Extra allowed globals (exact, or `prefix.*`). */
  allow?: string[];
  /** Extra denied globals or modules (each covers everything below it). */
  deny?: string[];
  /** Active allow profiles; default all ({@link DEFAULT_ALLOW_PROFILES}). */
  profiles?: AllowProfileName[];
}

/** A policy ready for lookups. Build with {@link compileScanPolicy}. */
export interface CompiledScanPolicy {
  readonly allowExact: ReadonlySet<string>;
  /** `a.b` for the pattern `a.b.*`. */
  readonly allowPrefixes: ReadonlySet<string>;
  readonly userDeny: ReadonlySet<string>;
  readonly userAllowExact: ReadonlySet<string>;
  readonly userAllowPrefixes: ReadonlySet<string>;
}

/** The verdict of the policy on one global (before call analysis). */
export type GlobalVerdict =
  | { kind: 'allowed' }
  | { kind: 'dunder'; attribute: string }
  | { kind: 'denied'; pattern: string; via: string }
  | { kind: 'trampoline' }
  | { kind: 'wrapper' }
  | { kind: 'staging' }
  | { kind: 'unknown' };

const PATTERN =
  /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_<>][A-Za-z0-9_<>]*)*(\.\*)?$/;

function splitPatterns(list: readonly string[]): {
  exact: Set<string>;
  prefixes: Set<string>;
} {
  const exact = new Set<string>();
  const prefixes = new Set<string>();
  for (const p of list) {
    if (p.endsWith('.*')) prefixes.add(p.slice(0, -2));
    else exact.add(p);
  }
  return { exact, prefixes };
}

/**
 * Compiles the built-in lists plus a user policy.
 * @throws ModelSealError `INVALID_OPTIONS` for an unknown profile or a malformed pattern.
 */
export function compileScanPolicy(policy: ScanPolicy = {}): CompiledScanPolicy {
  const profiles = policy.profiles ?? DEFAULT_ALLOW_PROFILES;
  const allow: string[] = [];
  for (const name of profiles) {
    const list = (
      ALLOW_PROFILES as Record<string, readonly string[] | undefined>
    )[name];
    if (list === undefined) {
      throw modelSealError(
        'INVALID_OPTIONS',
        `unknown allow profile ${JSON.stringify(name)}`,
        { details: { profile: name } },
      );
    }
    allow.push(...list);
  }
  for (const p of [...(policy.allow ?? []), ...(policy.deny ?? [])]) {
    if (typeof p !== 'string' || !PATTERN.test(p)) {
      throw modelSealError(
        'INVALID_OPTIONS',
        `invalid policy pattern ${JSON.stringify(p)}`,
        { details: { pattern: p } },
      );
    }
  }
  const builtin = splitPatterns(allow);
  const user = splitPatterns(policy.allow ?? []);
  return {
    allowExact: builtin.exact,
    allowPrefixes: builtin.prefixes,
    userDeny: new Set(
      (policy.deny ?? []).map((p) => (p.endsWith('.*') ? p.slice(0, -2) : p)),
    ),
    userAllowExact: user.exact,
    userAllowPrefixes: user.prefixes,
  };
}

/** `a.b.c`, `a.b`, `a`: every dotted prefix of a path, longest first. */
function dottedPrefixes(path: string): string[] {
  const out = [path];
  for (let i = path.length - 1; i > 0; i--) {
    if (path.charCodeAt(i) === 0x2e) out.push(path.slice(0, i));
  }
  return out;
}

/** The entry of `set` that covers `path` (the path itself or a dotted prefix of it). */
function coveredBy(path: string, set: ReadonlySet<string>): string | undefined {
  if (set.size === 0) return undefined;
  return dottedPrefixes(path).find((p) => set.has(p));
}

function inAllow(
  path: string,
  exact: ReadonlySet<string>,
  prefixes: ReadonlySet<string>,
): boolean {
  if (exact.has(path)) return true;
  if (prefixes.size === 0) return false;
  // `a.b.*` covers names below `a.b`, not `a.b` itself.
  return dottedPrefixes(path)
    .slice(1)
    .some((p) => prefixes.has(p));
}

const DENIED_MODULE_SET: ReadonlySet<string> = new Set(DENIED_MODULES);
const DENIED_NAME_SET: ReadonlySet<string> = new Set(DENIED_NAMES);
const TRAMPOLINE_SET: ReadonlySet<string> = new Set(LOADER_TRAMPOLINES);
const WRAPPER_SET: ReadonlySet<string> = new Set(CALLABLE_WRAPPERS);
const STAGING_SET: ReadonlySet<string> = new Set(STAGING_HELPERS);

/** Components whose appearance inside a dotted path means a module alias reaches a dangerous module. */
const HIDDEN_MODULES = new Set([
  'os',
  'sys',
  'subprocess',
  'builtins',
  'posix',
  'nt',
  'pty',
  'socket',
  'shutil',
  'pickle',
  'marshal',
  'ctypes',
  'importlib',
  'runpy',
  'commands',
  'posixsubprocess',
  'multiprocessing',
  'cPickle',
  'dill',
  'code',
  'webbrowser',
]);

let defaultPolicy: CompiledScanPolicy | undefined;

/** The compiled default policy (all profiles, no user entries). */
export function defaultScanPolicy(): CompiledScanPolicy {
  defaultPolicy ??= compileScanPolicy();
  return defaultPolicy;
}

/**
 * Judges a normalised global: user allow, then dunder paths, then the
 * built-in allow profiles, then the deny lists (user and built-in, over every
 * spelling and every hidden module component).
 */
export function judgeGlobal(
  policy: CompiledScanPolicy,
  g: NormalisedGlobal,
): GlobalVerdict {
  const c = g.canonical;
  if (g.dunder !== undefined) return { kind: 'dunder', attribute: g.dunder };
  // Too long to normalise (pickle/names.ts): a cyclic attribute path still resolves.
  if (g.overlong !== undefined)
    return { kind: 'denied', pattern: 'overlong dotted path', via: g.raw };
  for (const s of g.spellings) {
    const d = coveredBy(s, policy.userDeny);
    if (d !== undefined) return { kind: 'denied', pattern: d, via: s };
  }
  if (inAllow(c, policy.userAllowExact, policy.userAllowPrefixes))
    return { kind: 'allowed' };
  if (TRAMPOLINE_SET.has(c)) return { kind: 'trampoline' };
  if (WRAPPER_SET.has(c)) return { kind: 'wrapper' };
  if (inAllow(c, policy.allowExact, policy.allowPrefixes))
    return { kind: 'allowed' };
  if (STAGING_SET.has(c)) return { kind: 'staging' };
  for (const s of g.spellings) {
    const name = coveredBy(s, DENIED_NAME_SET);
    if (name !== undefined) return { kind: 'denied', pattern: name, via: s };
    const mod = coveredBy(s, DENIED_MODULE_SET);
    if (mod !== undefined) return { kind: 'denied', pattern: mod, via: s };
  }
  // `somepkg._os.system`: a module attribute the alias table does not know.
  const parts = c.split('.');
  for (let i = 1; i < parts.length - 1; i++) {
    const bare = parts[i]!.replace(/^_+/, '');
    if (HIDDEN_MODULES.has(bare)) {
      const suffix = [bare, ...parts.slice(i + 1)].join('.');
      const sub = normaliseGlobal(bare, parts.slice(i + 1).join('.'));
      if (inAllow(sub.canonical, policy.allowExact, policy.allowPrefixes))
        continue;
      return { kind: 'denied', pattern: bare, via: suffix };
    }
  }
  return { kind: 'unknown' };
}

function stringList(
  value: unknown,
  key: string,
  file: string,
): string[] | undefined {
  if (value === undefined) return undefined;
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw modelSealError(
      'INVALID_OPTIONS',
      `policy file ${file}: ${key} must be an array of strings`,
      { details: { path: file, key } },
    );
  }
  return value;
}

/**
 * Validates a parsed policy document (`{ "version": 1, "allow": [], "deny": [], "profiles": [] }`).
 * @throws ModelSealError `INVALID_OPTIONS` when it is malformed.
 */
export function parseScanPolicy(doc: unknown, file = '<policy>'): ScanPolicy {
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw modelSealError(
      'INVALID_OPTIONS',
      `policy file ${file} is not a JSON object`,
      { details: { path: file } },
    );
  }
  const o = doc as Record<string, unknown>;
  const known = new Set([
    'version',
    'allow',
    'deny',
    'profiles',
    '$schema',
    'description',
  ]);
  const unknownKey = Object.keys(o).find((k) => !known.has(k));
  if (unknownKey !== undefined) {
    throw modelSealError(
      'INVALID_OPTIONS',
      `policy file ${file}: unknown key ${unknownKey}`,
      { details: { path: file, key: unknownKey } },
    );
  }
  if (o['version'] !== undefined && o['version'] !== 1) {
    throw modelSealError(
      'INVALID_OPTIONS',
      `policy file ${file}: unsupported version`,
      { details: { path: file, version: o['version'] } },
    );
  }
  const policy: ScanPolicy = {};
  const allow = stringList(o['allow'], 'allow', file);
  const deny = stringList(o['deny'], 'deny', file);
  const profiles = stringList(o['profiles'], 'profiles', file);
  if (allow !== undefined) policy.allow = allow;
  if (deny !== undefined) policy.deny = deny;
  if (profiles !== undefined) policy.profiles = profiles as AllowProfileName[];
  compileScanPolicy(policy); // validates patterns and profile names
  return policy;
}

/**
 * Reads and validates a JSON policy file.
 * @throws ModelSealError `IO_ERROR` when it cannot be read, `INVALID_OPTIONS` when it is malformed.
 */
export async function loadScanPolicy(file: string): Promise<ScanPolicy> {
  let text: Buffer;
  try {
    text = await readFile(file);
  } catch (cause) {
    throw modelSealError('IO_ERROR', `cannot read policy file ${file}`, {
      cause,
      details: { path: file },
    });
  }
  // Budgeted like JSON from an artifact: a policy file may come from anywhere.
  const parsed = parseBoundedJson(text, jsonBudget(DEFAULT_SCAN_LIMITS));
  if (!parsed.ok) {
    throw modelSealError(
      'INVALID_OPTIONS',
      parsed.kind === 'limit'
        ? `policy file ${file} is over the JSON limit ${parsed.limit} (${parsed.value})`
        : `policy file ${file} is not valid JSON`,
      {
        details: {
          path: file,
          ...(parsed.kind === 'limit'
            ? { limit: parsed.limit, value: parsed.value }
            : { reason: parsed.reason }),
        },
      },
    );
  }
  return parseScanPolicy(parsed.value, file);
}
