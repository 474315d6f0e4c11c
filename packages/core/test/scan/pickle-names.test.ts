// SPDX-License-Identifier: Apache-2.0
// Name normalisation before policy: Python 2 aliases, module equivalences,
// dotted names through module aliases, dunder paths (threats.md §1.7).
import { describe, expect, it } from 'vitest';
import { normaliseGlobal } from '../../src/scan/pickle/names.js';
import { defaultScanPolicy, judgeGlobal } from '../../src/scan/policy.js';

const canon = (m: string, n: string): string => normaliseGlobal(m, n).canonical;
const verdict = (m: string, n: string): string =>
  judgeGlobal(defaultScanPolicy(), normaliseGlobal(m, n)).kind;

describe('normaliseGlobal', () => {
  it.each([
    ['__builtin__', 'eval', 'builtins.eval'],
    ['__builtin__', 'xrange', 'builtins.range'],
    ['__builtin__', 'reduce', 'functools.reduce'],
    ['commands', 'getoutput', 'subprocess.getoutput'],
    ['cPickle', 'loads', 'pickle.loads'],
    ['copy_reg', '_reconstructor', 'copyreg._reconstructor'],
    ['urllib', 'urlopen', 'urllib.request.urlopen'],
    ['urllib2', 'urlopen', 'urllib.request.urlopen'],
    ['posix', 'system', 'os.system'],
    ['nt', 'system', 'os.system'],
    ['posixpath', 'join', 'os.path.join'],
    ['_operator', 'attrgetter', 'operator.attrgetter'],
    ['_pickle', 'loads', 'pickle.loads'],
    ['_io', 'FileIO', 'io.FileIO'],
    ['argparse', '_os.system', 'os.system'],
    ['tempfile', '_os.execv', 'os.execv'],
    ['pathlib', 'os.system', 'os.system'],
    ['os', 'path.join', 'os.path.join'],
    ['collections', 'OrderedDict', 'collections.OrderedDict'],
    ['torch._utils', '_rebuild_tensor_v2', 'torch._utils._rebuild_tensor_v2'],
  ])('%s.%s -> %s', (m, n, expected) => {
    expect(canon(m, n)).toBe(expected);
  });

  it('finds dunder attributes anywhere after the module', () => {
    expect(normaliseGlobal('numpy', '__builtins__.eval').dunder).toBe(
      '__builtins__',
    );
    expect(
      normaliseGlobal('torch._utils', '_rebuild_tensor_v2.__globals__').dunder,
    ).toBe('__globals__');
    expect(normaliseGlobal('__main__', 'Net').dunder).toBeUndefined();
    expect(
      normaliseGlobal('numpy.random._pickle', '__randomstate_ctor').dunder,
    ).toBeUndefined();
  });
});

describe('default policy verdicts', () => {
  it.each([
    ['collections', 'OrderedDict', 'allowed'],
    ['torch._utils', '_rebuild_tensor_v2', 'allowed'],
    ['torch', 'FloatStorage', 'allowed'],
    ['numpy.core.multiarray', '_reconstruct', 'allowed'],
    ['__builtin__', 'set', 'allowed'],
    ['_codecs', 'encode', 'allowed'],
    ['joblib.numpy_pickle', 'NumpyArrayWrapper', 'allowed'],
    ['sklearn.externals.joblib.numpy_pickle', 'NumpyArrayWrapper', 'allowed'],
    ['torch.nn.modules.linear', 'Linear', 'allowed'],
    ['builtins', 'eval', 'denied'],
    ['builtins', 'print', 'denied'],
    ['os', 'system', 'denied'],
    ['asyncio.unix_events', 'x', 'denied'],
    ['somepkg', '_subprocess.Popen', 'denied'],
    ['functools', 'partial', 'wrapper'],
    ['collections', 'defaultdict', 'wrapper'],
    ['pickle', 'loads', 'trampoline'],
    ['cPickle', 'loads', 'trampoline'],
    ['torch.storage', '_load_from_bytes', 'trampoline'],
    ['base64', 'b64decode', 'staging'],
    ['numpy', '__builtins__.eval', 'dunder'],
    ['mypkg.models', 'Net', 'unknown'],
    ['mypkg.types', 'Config', 'unknown'],
  ])('%s.%s is %s', (m, n, expected) => {
    expect(verdict(m, n)).toBe(expected);
  });
});
