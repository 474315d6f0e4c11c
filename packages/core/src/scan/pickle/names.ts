// SPDX-License-Identifier: Apache-2.0
/**
 * Normalisation of pickle globals before any policy decision (threats.md
 * §1.4 step 3 and §1.7): Python 2 module and name aliases, module equivalences
 * (`posix` is `os`), dotted names resolved as attribute paths through modules
 * that are attributes of other modules (`argparse._os.system` is `os.system`),
 * and detection of paths through dunder attributes.
 */
import { STDLIB_MODULE_ALIASES } from './module-aliases.generated.js';

/** Python 2 module names as `_compat_pickle` maps them (security-relevant subset plus data modules). */
const PY2_MODULES: Readonly<Record<string, string>> = {
  __builtin__: 'builtins',
  copy_reg: 'copyreg',
  commands: 'subprocess',
  cPickle: 'pickle',
  httplib: 'http.client',
  urllib2: 'urllib.request',
  thread: '_thread',
  SocketServer: 'socketserver',
  xmlrpclib: 'xmlrpc.client',
  SimpleXMLRPCServer: 'xmlrpc.server',
  DocXMLRPCServer: 'xmlrpc.server',
  BaseHTTPServer: 'http.server',
  SimpleHTTPServer: 'http.server',
  CGIHTTPServer: 'http.server',
  StringIO: 'io',
  cStringIO: 'io',
  Queue: 'queue',
  UserDict: 'collections',
  UserList: 'collections',
  UserString: 'collections',
  dbm: 'dbm.ndbm',
  anydbm: 'dbm',
  whichdb: 'dbm',
  ConfigParser: 'configparser',
  repr: 'reprlib',
  HTMLParser: 'html.parser',
  htmlentitydefs: 'html.entities',
  Cookie: 'http.cookies',
  cookielib: 'http.cookiejar',
  robotparser: 'urllib.robotparser',
  urlparse: 'urllib.parse',
  Tkinter: 'tkinter',
  __main__: '__main__',
};

/** Name-level Python 2 mappings (`module.name` to `module.name`). */
const PY2_NAMES: Readonly<Record<string, string>> = {
  '__builtin__.reduce': 'functools.reduce',
  '__builtin__.intern': 'sys.intern',
  '__builtin__.xrange': 'builtins.range',
  '__builtin__.unicode': 'builtins.str',
  '__builtin__.long': 'builtins.int',
  '__builtin__.unichr': 'builtins.chr',
  '__builtin__.basestring': 'builtins.str',
  '__builtin__.raw_input': 'builtins.input',
  '__builtin__.izip': 'builtins.zip',
  'itertools.izip': 'builtins.zip',
  'itertools.imap': 'builtins.map',
  'itertools.ifilter': 'builtins.filter',
  'urllib.urlopen': 'urllib.request.urlopen',
  'urllib.urlretrieve': 'urllib.request.urlretrieve',
  'urllib.quote': 'urllib.parse.quote',
  'multiprocessing.forking.Popen': 'multiprocessing.popen_fork.Popen',
  '_multiprocessing.Connection': 'multiprocessing.connection.Connection',
  'UserDict.IterableUserDict': 'collections.UserDict',
  'socket._socketobject': 'socket.SocketType',
};

/** Modules equated for policy purposes (C accelerators, platform spellings). */
const EQUIVALENT_MODULES: Readonly<Record<string, string>> = {
  posix: 'os',
  nt: 'os',
  posixpath: 'os.path',
  ntpath: 'os.path',
  genericpath: 'os.path',
  _operator: 'operator',
  _pickle: 'pickle',
  _io: 'io',
  _pyio: 'io',
  __builtins__: 'builtins',
  _collections: 'collections',
  _functools: 'functools',
  _codecs: '_codecs',
  _subprocess: 'subprocess',
  _posixsubprocess: '_posixsubprocess',
};

/** Extra attribute aliases the generated stdlib table cannot know (third-party modules). */
const EXTRA_ALIASES: Readonly<Record<string, string>> = {
  'numpy.os': 'os',
  'numpy.sys': 'sys',
  'numpy.__builtins__': 'builtins',
  'torch.os': 'os',
  'torch.sys': 'sys',
  'torch.serialization.os': 'os',
  'torch.serialization.pickle': 'pickle',
  'torch._utils.sys': 'sys',
  'joblib.numpy_pickle.pickle': 'pickle',
  'joblib.numpy_pickle.os': 'os',
};

/** A global after normalisation. */
export interface NormalisedGlobal {
  /** As written in the pickle: `module.name` (cut to {@link MAX_GLOBAL_CHARS} when overlong). */
  raw: string;
  /** Canonical dotted path after every alias was applied, e.g. `os.system`. */
  canonical: string;
  /** Every distinct spelling met on the way, raw first and canonical last. */
  spellings: string[];
  /** The first dunder attribute in the path after the module, e.g. `__globals__`. */
  dunder?: string;
  /**
   * Set when the dotted path is longer than {@link MAX_GLOBAL_CHARS} characters
   * or {@link MAX_GLOBAL_PARTS} components: it was not normalised (no real
   * module path is that long, and a cyclic attribute path such as
   * `os.path.os.path….system` still resolves in Python), so the policy
   * treats it as denied. Holds the full length in characters.
   */
  overlong?: number;
}

/** Longest dotted path normalised, in characters. */
export const MAX_GLOBAL_CHARS = 1024;
/** Most components of a dotted path normalised. */
export const MAX_GLOBAL_PARTS = 64;

const EQUIVALENT = new Map(Object.entries(EQUIVALENT_MODULES));
const ALIASES = new Map([
  ...Object.entries(STDLIB_MODULE_ALIASES),
  ...Object.entries(EXTRA_ALIASES),
]);
const PY2_MODULE_MAP = new Map(Object.entries(PY2_MODULES));
const PY2_NAME_MAP = new Map(Object.entries(PY2_NAMES));

function longestKey(table: ReadonlyMap<string, string>): number {
  let n = 0;
  for (const k of table.keys()) n = Math.max(n, k.length);
  return n;
}
const EQUIVALENT_KEY_MAX = longestKey(EQUIVALENT);
const ALIASES_KEY_MAX = longestKey(ALIASES);

function replacePrefix(
  path: string,
  table: ReadonlyMap<string, string>,
  keyMax: number,
  minParts: number,
): string | undefined {
  // Only prefixes no longer than the table's longest key can match, so the
  // work is bounded by that length, never by the length of the path.
  const ends: number[] = [];
  const limit = Math.min(path.length - 1, keyMax);
  let parts = 1;
  for (let i = 1; i <= limit; i++) {
    if (path.charCodeAt(i) === 0x2e) {
      if (parts >= minParts) ends.push(i);
      parts++;
    }
  }
  // When the whole path fits, the loop above saw every dot.
  if (path.length <= keyMax && parts >= minParts) ends.push(path.length);
  // Longest prefix with an entry wins (`posixpath.join` → `os.path.join`).
  for (let k = ends.length - 1; k >= 0; k--) {
    const prefix = path.slice(0, ends[k]);
    const target = table.get(prefix);
    if (target !== undefined && target !== prefix) {
      return target + path.slice(ends[k]);
    }
  }
  return undefined;
}

function equate(path: string): string {
  return replacePrefix(path, EQUIVALENT, EQUIVALENT_KEY_MAX, 1) ?? path;
}

function aliasStep(path: string): string | undefined {
  return replacePrefix(path, ALIASES, ALIASES_KEY_MAX, 2);
}

function firstDunder(parts: readonly string[]): string | undefined {
  return parts.find(
    (p) => p.length > 4 && p.startsWith('__') && p.endsWith('__'),
  );
}

/**
 * Normalises `(module, name)` as found in a pickle into its canonical dotted
 * path. Python applies the Python 2 maps only below protocol 3 and resolves
 * dotted names only from protocol 4; a scanner loses nothing by always doing
 * both (threats.md §8).
 */
export function normaliseGlobal(
  module: string,
  name: string,
): NormalisedGlobal {
  const raw = `${module}.${name}`;
  let dots = 0;
  for (let i = 0; i < raw.length && dots < MAX_GLOBAL_PARTS; i++)
    if (raw.charCodeAt(i) === 0x2e) dots++;
  if (raw.length > MAX_GLOBAL_CHARS || dots >= MAX_GLOBAL_PARTS) {
    // Not normalised: linear work only, and the policy denies it.
    const cut =
      raw.length > MAX_GLOBAL_CHARS
        ? `${raw.slice(0, MAX_GLOBAL_CHARS)}…`
        : raw;
    const over: NormalisedGlobal = {
      raw: cut,
      canonical: cut,
      spellings: [cut],
      overlong: raw.length,
    };
    const d = firstDunder([...module.split('.').slice(1), ...name.split('.')]);
    if (d !== undefined) over.dunder = d.slice(0, 64);
    return over;
  }
  const spellings = [raw];
  let path = raw;
  const nameMapped = PY2_NAME_MAP.get(raw);
  if (nameMapped !== undefined) path = nameMapped;
  else {
    const mod = PY2_MODULE_MAP.get(module);
    if (mod !== undefined) path = `${mod}.${name}`;
  }
  if (!spellings.includes(path)) spellings.push(path);
  for (let i = 0; i < 16; i++) {
    const eq = equate(path);
    const next = aliasStep(eq) ?? (eq !== path ? eq : undefined);
    if (next === undefined || spellings.includes(next)) {
      path = eq;
      break;
    }
    path = next;
    spellings.push(path);
  }
  path = equate(path);
  if (!spellings.includes(path)) spellings.push(path);
  const result: NormalisedGlobal = { raw, canonical: path, spellings };
  // Any attribute path through a dunder reaches interpreter internals.
  const attrs = [...module.split('.').slice(1), ...name.split('.')];
  const dunder = firstDunder(attrs);
  if (dunder !== undefined) result.dunder = dunder;
  return result;
}
