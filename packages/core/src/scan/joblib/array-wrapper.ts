// SPDX-License-Identifier: Apache-2.0
/**
 * joblib's inline arrays: `joblib.dump` pickles a `NumpyArrayWrapper` and
 * then writes the array bytes straight into the file (or, for object arrays,
 * a nested pickle). `NumpyUnpickler.load_build` reads them right after the
 * `BUILD` of any object that is a wrapper instance (`isinstance`), however it
 * was made. This hook tells the pickle VM how many bytes to skip so that it
 * resumes where joblib's unpickler does (threats.md §1.1); where that number
 * cannot be known exactly it fails closed (see {@link joblibBuildHook}).
 */
import type { PickleBuildHook, PickleValue } from '../pickle/vm.js';
import { normaliseGlobal } from '../pickle/names.js';
import { boundedProduct } from '../bounded-product.js';

const WRAPPERS = new Set([
  'joblib.numpy_pickle.NumpyArrayWrapper',
  'sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper',
]);

/**
 * joblib 0.9's array placeholder, which current joblib still honours:
 * `NumpyUnpickler.load_build` replaces a BUILT instance by
 * `numpy.load(os.path.join(dirname, self.filename), allow_pickle=True)`, so
 * the pickle names another file that the load unpickles (stop 30).
 */
const COMPANION_WRAPPERS = new Set([
  'joblib.numpy_pickle.NDArrayWrapper',
  'joblib.numpy_pickle_compat.NDArrayWrapper',
  'sklearn.externals.joblib.numpy_pickle.NDArrayWrapper',
  'sklearn.externals.joblib.numpy_pickle_compat.NDArrayWrapper',
]);

/** A companion file a joblib pickle makes its loader read, or why its name is unknown. */
export type JoblibCompanion = { filename: string } | { unsure: string };

/** Callables that make an instance of their first argument without `__init__`. */
const NEW_WITHOUT_INIT = new Set([
  'copyreg.__newobj__',
  'copyreg.__newobj_ex__',
]);
const RECONSTRUCTOR = 'copyreg._reconstructor';
const OBJECT = 'builtins.object';

/**
 * Attributes whose instance value changes how the wrapper reads its data
 * (`array_wrapper.read(...)` finds an instance attribute before the method).
 */
const METHOD_NAMES = new Set([
  'read',
  'read_array',
  'read_mmap',
  'safe_get_numpy_array_alignment_bytes',
]);

/** `numpy_array_alignment_bytes` defaulted by `__init__`: 16 from joblib 1.2, absent before. */
const VERSION_DEPENDENT = Symbol('version-dependent');
type Attr = PickleValue | typeof VERSION_DEPENDENT;

function globalNames(v: PickleValue | undefined): string[] {
  if (v?.k !== 'global') return [];
  return normaliseGlobal(v.module, v.name).spellings;
}

function isGlobal(
  v: PickleValue | undefined,
  names: ReadonlySet<string>,
): boolean {
  return globalNames(v).some((n) => names.has(n));
}

const isWrapperClass = (v: PickleValue | undefined): boolean =>
  isGlobal(v, WRAPPERS);

function intOf(v: PickleValue | undefined): bigint | undefined {
  return v?.k === 'int' ? v.v : undefined;
}

/**
 * Item size and object-ness of a symbolic `numpy.dtype(...)` value, as NumPy
 * sets them: the state's flags decide `hasobject` for every type, its element
 * size only for flexible types (`S`, `U`, `V`). Undefined when not certain.
 */
export function dtypeInfo(
  v: PickleValue | undefined,
): { itemsize: number; hasObject: boolean } | undefined {
  if (
    v?.k !== 'call' ||
    v.fn.k !== 'global' ||
    !/^numpy(\._core|\.core)?(\.multiarray)?$/.test(v.fn.module) ||
    v.fn.name !== 'dtype' ||
    v.args.k !== 'tuple'
  ) {
    return undefined;
  }
  const first = v.args.items[0];
  const descr = first?.k === 'str' ? first.v : undefined;
  if (descr === undefined) return undefined;
  const m = /^([a-zA-Z?])(\d*)$/.exec(descr);
  if (m === null) return undefined;
  const kind = m[1]!;
  const digits = m[2]!;
  const flexible = 'SUVa'.includes(kind);
  // A second BUILD, or a state on a dtype not copied (`copy=True`, as NumPy
  // pickles it; a shared builtin dtype ignores it): not modelled.
  if (v.states.length > 1) return undefined;
  const state = v.states[0];
  const copy = v.args.items[2];
  // Older NumPy versions pickle it as `1`.
  const copied = copy !== undefined && truthy(copy) === true;
  if (state !== undefined && !copied) return undefined;
  let itemsize: number | undefined;
  let hasObject = kind === 'O';
  if (state !== undefined) {
    if (state.k !== 'tuple') return undefined;
    const n = state.items.length;
    if (flexible) {
      // Versions 1 to 4 (7 to 9 items) hold elsize at index 5.
      if (n < 7 || n > 9) return undefined;
      const elsize = intOf(state.items[5]);
      if (elsize === undefined || elsize <= 0n || elsize >= 1n << 32n)
        return undefined;
      itemsize = Number(elsize);
    }
    if (n >= 8) {
      const flags = intOf(state.items[7]);
      if (flags === undefined) return undefined;
      // NPY_ITEM_HASOBJECT: NumPy takes it from the state whatever the type.
      hasObject = (flags & 1n) === 1n;
    } else if (kind === 'V') return undefined;
  }
  if (itemsize === undefined) {
    if (digits !== '')
      itemsize = kind === 'U' ? Number(digits) * 4 : Number(digits);
    else if (kind === '?') itemsize = 1;
  }
  if (hasObject) return { itemsize: itemsize ?? 8, hasObject };
  return itemsize === undefined ? undefined : { itemsize, hasObject };
}

/** Python truthiness of a value, or undefined when it depends on an object. */
function truthy(v: PickleValue): boolean | undefined {
  switch (v.k) {
    case 'none':
      return false;
    case 'bool':
      return v.v;
    case 'int':
      return v.v !== 0n;
    case 'float':
      return v.v !== 0;
    case 'str':
      return v.v.length > 0;
    case 'bytes':
      return v.length > 0;
    case 'tuple':
    case 'list':
    case 'set':
      return v.items.length > 0;
    case 'dict':
      return v.entries.length > 0;
    default:
      return undefined;
  }
}

/** Why a wrapper's inline data cannot be measured. */
type Unsure = { unsure: string };

/**
 * How a BUILD target was made from a class `isClass` accepts: `init` with
 * the arguments its `__init__` took, `new` without `__init__`
 * (`cls.__new__(cls, ...)`: NEWOBJ, OBJ/INST without arguments,
 * `copyreg.__newobj__`, `copyreg._reconstructor(cls, object, None)`);
 * undefined when the target is no instance of it; {@link Unsure} when it
 * may be one but the scanner cannot tell how it was made.
 */
function instanceMaking(
  target: PickleValue,
  isClass: (v: PickleValue | undefined) => boolean,
  what: string,
): { init: readonly PickleValue[] } | { new: true } | Unsure | undefined {
  if (target.k === 'global')
    // BUILD on the class itself: `setattr` on the class (slot state) changes
    // what every later instance reads.
    return isClass(target)
      ? { unsure: `state applied to the ${what} class` }
      : undefined;
  if (target.k !== 'call') return undefined;
  const args = target.args.k === 'tuple' ? target.args.items : undefined;
  if (isClass(target.fn)) {
    if (target.kind === 'NEWOBJ' || target.kind === 'NEWOBJ_EX')
      return { new: true }; // cls.__new__(cls, ...): no __init__
    if (args === undefined)
      return { unsure: `${what} called with unknown arguments` };
    if ((target.kind === 'OBJ' || target.kind === 'INST') && args.length === 0)
      return { new: true }; // pickle's _instantiate: klass.__new__(klass)
    return { init: args };
  }
  const fnNames = globalNames(target.fn);
  if (args !== undefined && isClass(args[0])) {
    if (fnNames.some((n) => NEW_WITHOUT_INIT.has(n))) return { new: true };
    if (fnNames.includes(RECONSTRUCTOR)) {
      // copyreg._reconstructor(cls, object, None) is object.__new__(cls).
      if (args.length === 3 && isGlobal(args[1], new Set([OBJECT])))
        return { new: true };
      return {
        unsure: `${what} made by copyreg._reconstructor with an unmodelled base`,
      };
    }
  }
  if (mentionsClass(target, isClass, 0))
    return {
      unsure: `object made from the ${what} class in an unmodelled way`,
    };
  return undefined;
}

/**
 * The file a BUILD of an `NDArrayWrapper` makes joblib read, undefined when
 * the target is none; {@link Unsure} when the name cannot be known.
 * `NDArrayWrapper(filename, subclass, allow_mmap=True)`; the state, a dict
 * applied to `__dict__`, may set `filename` again.
 */
function companionOf(
  target: PickleValue,
  state: PickleValue,
): JoblibCompanion | undefined {
  const made = instanceMaking(
    target,
    (v) => isGlobal(v, COMPANION_WRAPPERS),
    'NDArrayWrapper',
  );
  if (made === undefined || 'unsure' in made) return made;
  let filename: PickleValue | undefined;
  if ('init' in made) {
    if (made.init.length < 2 || made.init.length > 3)
      return { unsure: 'NDArrayWrapper called with unknown arguments' };
    filename = made.init[0];
  }
  const attrs = new Map<string, Attr>();
  const unsure = applyState(attrs, state);
  if (unsure !== undefined) return unsure;
  const set = attrs.get('filename');
  if (set !== undefined && set !== VERSION_DEPENDENT) filename = set;
  if (filename?.k !== 'str')
    return { unsure: 'NDArrayWrapper file name is not a literal string' };
  return { filename: filename.v };
}

/**
 * The instance attributes of a BUILD target that is a `NumpyArrayWrapper`,
 * before the state is applied; undefined when the target is no wrapper;
 * {@link Unsure} when it may be one but the scanner cannot tell what it holds.
 */
function wrapperOrigin(
  target: PickleValue,
): Map<string, Attr> | Unsure | undefined {
  const made = instanceMaking(target, isWrapperClass, 'NumpyArrayWrapper');
  if (made === undefined || 'unsure' in made) return made;
  if ('new' in made) return new Map();
  const args = made.init;
  // NumpyArrayWrapper(subclass, shape, order, dtype, allow_mmap=False,
  // numpy_array_alignment_bytes=16 (joblib >= 1.2; absent before)).
  if (args.length < 4 || args.length > 6)
    return { unsure: 'NumpyArrayWrapper called with unknown arguments' };
  const names = [
    'subclass',
    'shape',
    'order',
    'dtype',
    'allow_mmap',
    'numpy_array_alignment_bytes',
  ];
  const attrs = new Map<string, Attr>([
    ['allow_mmap', { k: 'bool', v: false }],
    ['numpy_array_alignment_bytes', VERSION_DEPENDENT],
  ]);
  args.forEach((a, i) => attrs.set(names[i]!, a));
  return attrs;
}

/**
 * Whether a class `isClass` accepts is the callable or a direct argument of
 * `v` (or of the call that made its callable). Array values in the arguments
 * (calls of the class: instances) are not looked into.
 */
function mentionsClass(
  v: PickleValue,
  isClass: (x: PickleValue | undefined) => boolean,
  depth: number,
): boolean {
  if (v.k !== 'call' || depth > 8) return false;
  if (isClass(v.fn)) return true;
  const direct = (x: PickleValue): boolean =>
    isClass(x) ||
    ((x.k === 'tuple' || x.k === 'list') && x.items.some(isClass)) ||
    (x.k === 'dict' && x.entries.some(([, y]) => isClass(y)));
  if (v.args.k === 'tuple' || v.args.k === 'list') {
    if (v.args.items.some(direct)) return true;
  } else if (direct(v.args)) return true;
  if (v.kwargs !== undefined && direct(v.kwargs)) return true;
  return mentionsClass(v.fn, isClass, depth + 1);
}

/** Applies a BUILD state as pickle's `load_build` does (no `__setstate__`). */
function applyState(
  attrs: Map<string, Attr>,
  state: PickleValue,
): Unsure | undefined {
  let main = state;
  let slots: PickleValue | undefined;
  if (state.k === 'tuple' && state.items.length === 2)
    [main, slots] = state.items as [PickleValue, PickleValue];
  for (const [part, isSlots] of [
    [main, false],
    [slots, true],
  ] as const) {
    if (part === undefined) continue;
    const t = truthy(part);
    if (t === false) continue;
    if (t === undefined || part.k !== 'dict')
      return { unsure: 'NumpyArrayWrapper state is not a dict' };
    for (const [k, v] of part.entries) {
      if (k.k !== 'str') {
        if (isSlots)
          return {
            unsure: 'NumpyArrayWrapper slot state with a non-string key',
          };
        continue; // stored in __dict__ under a key no attribute lookup finds
      }
      if (
        METHOD_NAMES.has(k.v) ||
        k.v === '__setstate__' ||
        (isSlots && k.v.startsWith('__') && k.v.endsWith('__'))
      )
        return { unsure: `NumpyArrayWrapper state sets ${k.v.slice(0, 64)}` };
      attrs.set(k.v, v);
    }
  }
  return undefined;
}

type HookResult = ReturnType<PickleBuildHook>;

/** Bytes joblib reads after the BUILD of a wrapper with these attributes. */
function inlineRead(attrs: Map<string, Attr>): HookResult | Unsure {
  const dtypeAttr = attrs.get('dtype');
  const dtype =
    dtypeAttr === undefined || dtypeAttr === VERSION_DEPENDENT
      ? undefined
      : dtypeInfo(dtypeAttr);
  if (dtype === undefined)
    return { unsure: 'NumpyArrayWrapper dtype not understood' };
  const shape = attrs.get('shape');
  if (
    shape === undefined ||
    shape === VERSION_DEPENDENT ||
    (shape.k !== 'tuple' && shape.k !== 'list')
  )
    return { unsure: 'NumpyArrayWrapper shape is not a tuple or list' };
  // count = prod(np.int64(x) for x in shape): ints (and bools) only; a
  // negative dimension makes joblib fail, but not always before it reads.
  const dims: bigint[] = [];
  for (const d of shape.items) {
    const n = d.k === 'bool' ? (d.v ? 1n : 0n) : intOf(d);
    if (n === undefined || n < 0n)
      return {
        unsure: 'NumpyArrayWrapper shape holds a dimension not understood',
      };
    dims.push(n);
  }
  if (dtype.hasObject) return { pickle: true };
  const aligned = attrs.get('numpy_array_alignment_bytes');
  if (aligned === VERSION_DEPENDENT)
    return {
      unsure: 'NumpyArrayWrapper alignment depends on the joblib version',
    };
  // Past MAX_SAFE_INTEGER the skip runs to the end of the file anyway.
  const bytes = boundedProduct(
    [dtype.itemsize, ...dims],
    BigInt(Number.MAX_SAFE_INTEGER),
  );
  const skip = bytes === undefined ? Number.MAX_SAFE_INTEGER : Number(bytes);
  // getattr(self, "numpy_array_alignment_bytes", None) is not None: one
  // byte holding the padding length, then the padding.
  return { skip, paddingByte: aligned !== undefined && aligned.k !== 'none' };
}

/** What {@link joblibBuildHook} reports where it cannot measure an inline array. */
export interface JoblibUnreadable {
  message: string;
  evidence: Record<string, unknown>;
}

/**
 * Thrown by {@link joblibBuildHook} when it has no `onUnreadable`: the scan
 * of the stream stops, and the engine reports the file as not fully scanned
 * (high) instead of reading array bytes as opcodes.
 */
export class JoblibUnreadableError extends Error {
  constructor(readonly info: JoblibUnreadable) {
    super(`not fully scanned: ${info.message}`);
    this.name = 'JoblibUnreadableError';
  }
}

/**
 * The {@link PickleBuildHook} for joblib arrays. `onWrapper` is called for
 * each wrapper seen (to recognise the joblib format).
 *
 * Fails closed: a BUILD of an object that is, or may be, a wrapper whose
 * inline data size cannot be computed exactly (state not understood, a
 * second BUILD of the same wrapper, an unmodelled way of making it) is
 * passed to `onUnreadable` (to be reported as high `SCAN_INCOMPLETE`; the
 * VM then reads on as if nothing were inline), or without one, throws
 * {@link JoblibUnreadableError}.
 */
export function joblibBuildHook(
  onWrapper?: () => void,
  onUnreadable?: (info: JoblibUnreadable) => void,
  onCompanion?: (companion: JoblibCompanion) => void,
): PickleBuildHook {
  /** Wrappers built so far, with the state of their BUILD and its answer. */
  const built = new WeakMap<
    PickleValue,
    { state: PickleValue; result: HookResult }
  >();
  return (target, state) => {
    const companion = companionOf(target, state);
    if (companion !== undefined) {
      onWrapper?.();
      onCompanion?.(companion);
      return undefined;
    }
    const origin = wrapperOrigin(target);
    if (origin === undefined) return undefined;
    onWrapper?.();
    const seen = built.get(target);
    // The VM asks again when it retries the opcode (window refill).
    if (seen !== undefined && seen.state === state) return seen.result;
    let outcome: HookResult | Unsure;
    if ('unsure' in origin) outcome = origin;
    else if (
      seen !== undefined ||
      (target.k === 'call' && target.states.length > 0)
    )
      // Python BUILDs the array (the wrapper was replaced on the stack) or
      // the wrapper again (fetched from the memo): the scanner cannot tell.
      outcome = { unsure: 'NumpyArrayWrapper built more than once' };
    else {
      const attrs = new Map(origin);
      outcome = applyState(attrs, state) ?? inlineRead(attrs);
    }
    let result: HookResult;
    if (outcome !== undefined && 'unsure' in outcome) {
      const info: JoblibUnreadable = {
        message: `joblib inline array data of unknown size after a NumpyArrayWrapper BUILD (${outcome.unsure})`,
        evidence: { limit: 'joblib-array-size', reason: outcome.unsure },
      };
      if (onUnreadable === undefined) throw new JoblibUnreadableError(info);
      onUnreadable(info);
      result = undefined;
    } else result = outcome;
    built.set(target, { state, result });
    return result;
  };
}
