// SPDX-License-Identifier: Apache-2.0
/**
 * joblib's inline arrays: `joblib.dump` pickles a `NumpyArrayWrapper` and
 * then writes the array bytes straight into the file (or, for object arrays,
 * a nested pickle). `NumpyUnpickler.load_build` reads them right after the
 * wrapper's `BUILD`. This hook tells the pickle VM how many bytes to skip so
 * that it resumes where joblib's unpickler does (threats.md §1.1).
 */
import type { PickleBuildHook, PickleValue } from '../pickle/vm.js';
import { boundedProduct } from '../bounded-product.js';

const WRAPPERS = new Set([
  'joblib.numpy_pickle.NumpyArrayWrapper',
  'sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper',
]);

function dictGet(v: PickleValue, key: string): PickleValue | undefined {
  if (v.k !== 'dict') return undefined;
  for (const [k, val] of v.entries)
    if (k.k === 'str' && k.v === key) return val;
  return undefined;
}

function intOf(v: PickleValue | undefined): bigint | undefined {
  return v?.k === 'int' ? v.v : undefined;
}

/** Item size and object-ness of a symbolic `numpy.dtype(...)` value. */
export function dtypeInfo(
  v: PickleValue | undefined,
): { itemsize: number; hasObject: boolean } | undefined {
  if (
    v?.k !== 'call' ||
    v.fn.k !== 'global' ||
    !/^numpy(\._core|\.core)?(\.multiarray)?$/.test(v.fn.module) ||
    v.fn.name !== 'dtype'
  ) {
    return undefined;
  }
  const first = v.args.k === 'tuple' ? v.args.items[0] : undefined;
  const descr = first?.k === 'str' ? first.v : undefined;
  const state = v.states[0];
  let itemsize: number | undefined;
  let hasObject = descr !== undefined && descr.startsWith('O');
  if (state?.k === 'tuple') {
    const elsize = intOf(state.items[5]);
    if (elsize !== undefined && elsize > 0n && elsize < 1n << 32n)
      itemsize = Number(elsize);
    const flags = intOf(state.items[7]);
    // NPY_ITEM_HASOBJECT: structured dtypes with an object field at any depth.
    if (flags !== undefined && (flags & 1n) === 1n) hasObject = true;
  }
  if (itemsize === undefined && descr !== undefined) {
    const m = /^([a-zA-Z])(\d+)$/.exec(descr);
    if (m !== null) {
      const n = Number(m[2]);
      itemsize = m[1] === 'U' ? n * 4 : n;
    } else if (descr === 'b1' || descr === '?') itemsize = 1;
  }
  if (hasObject) return { itemsize: itemsize ?? 8, hasObject };
  return itemsize === undefined ? undefined : { itemsize, hasObject };
}

/**
 * The {@link PickleBuildHook} for joblib arrays. `onWrapper` is called for
 * each wrapper seen (to recognise the joblib format).
 */
export function joblibBuildHook(onWrapper?: () => void): PickleBuildHook {
  return (target, state) => {
    if (target.k !== 'call' || target.fn.k !== 'global') return undefined;
    if (!WRAPPERS.has(`${target.fn.module}.${target.fn.name}`))
      return undefined;
    onWrapper?.();
    const dtype = dtypeInfo(dictGet(state, 'dtype'));
    const shape = dictGet(state, 'shape');
    if (dtype === undefined || shape?.k !== 'tuple') return undefined;
    if (dtype.hasObject) return { pickle: true };
    const dims: bigint[] = [];
    for (const d of shape.items) {
      const n = intOf(d);
      if (n === undefined || n < 0n) return undefined;
      dims.push(n);
    }
    // Past MAX_SAFE_INTEGER the skip runs to the end of the file anyway.
    const bytes = boundedProduct(
      [dtype.itemsize, ...dims],
      BigInt(Number.MAX_SAFE_INTEGER),
    );
    const skip = bytes === undefined ? Number.MAX_SAFE_INTEGER : Number(bytes);
    const aligned = dictGet(state, 'numpy_array_alignment_bytes');
    return { skip, paddingByte: aligned !== undefined && aligned.k !== 'none' };
  };
}
