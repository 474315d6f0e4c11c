# SPDX-License-Identifier: Apache-2.0
"""Writes the base files of the differential fuzz into OUT: each carries a
payload that runs `touch "$PWN"` when its real loader reads it."""
import io, os, pickle, struct, sys, tarfile
import numpy as np
import joblib


class Evil:
    def __reduce__(self):
        return (os.system, ('touch "$PWN"',))


out = sys.argv[1]
os.makedirs(out, exist_ok=True)
arr = np.array([Evil(), 1], dtype=object)
# npz: numpy.load -> zipfile -> object array -> pickle
np.savez(f'{out}/stored.npz', a=np.arange(10), b=arr)
np.savez_compressed(f'{out}/deflated.npz', a=np.arange(10), b=arr)
np.savez(f'{out}/stored-multi.npz', **{f'a{i}': np.arange(i + 1) for i in range(4)}, z=arr)
np.save(f'{out}/obj.npy', arr, allow_pickle=True)
# joblib, plain and compressed, with and without inline arrays
obj = {'w': np.arange(4, dtype=np.float32), 'evil': Evil()}
objarr = [np.arange(64, dtype=np.float64), Evil(), np.zeros((3, 3), dtype=np.int32)]
joblib.dump(obj, f'{out}/jl.raw')
joblib.dump(objarr, f'{out}/jlarr.raw')
for c in ['zlib', 'gzip', 'bz2', 'lzma', 'xz']:
    joblib.dump(obj, f'{out}/jl.{c}', compress=(c, 3))
    joblib.dump(objarr, f'{out}/jlarr.{c}', compress=(c, 1))
# raw pickles, every protocol
for p in range(0, 6):
    with open(f'{out}/p{p}.pkl', 'wb') as f:
        pickle.dump([1, Evil(), 'x' * 40], f, protocol=p)
# legacy torch tar (members sys_info, pickle, storages, tensors)
def legacy_tar(fmt, name):
    with tarfile.open(f'{out}/{name}', 'w', format=fmt) as t:
        for n, data in [('sys_info', pickle.dumps({'protocol_version': 1001}, 2)),
                        ('pickle', pickle.dumps([Evil()], 2)),
                        ('storages', pickle.dumps(0, 2)), ('tensors', pickle.dumps(0, 2))]:
            ti = tarfile.TarInfo(n)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
legacy_tar(tarfile.USTAR_FORMAT, 'legacy-ustar.tar')
legacy_tar(tarfile.GNU_FORMAT, 'legacy-gnu.tar')
legacy_tar(tarfile.PAX_FORMAT, 'legacy-pax.tar')
# legacy torch stacked file: five pickles, then raw storages
for proto in (2, 4):
    parts = [0x1950a86a20f9469cfc6c, 1001, {'protocol_version': 1001, 'little_endian': True},
             {'w': [1.0, 2.0], 'x': Evil()}, ['0', '1']]
    raw = struct.pack('<q', 4) + b'\0' * 4 + struct.pack('<q', 2) + b'\0' * 2
    with open(f'{out}/legstack{proto}.pt', 'wb') as f:
        f.write(b''.join(pickle.dumps(x, proto) for x in parts) + raw)
