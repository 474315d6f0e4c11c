# SPDX-License-Identifier: Apache-2.0
# structure-aware: every field of every zip record, set to interesting values; plus random pairs
import os, struct, sys, random
# usage: mutate_zip.py BASES OUT
BD, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
rng = random.Random(5)
LOCAL = [(4,2),(6,2),(8,2),(10,2),(12,2),(14,4),(18,4),(22,4),(26,2),(28,2)]
CENTRAL = [(4,2),(6,2),(8,2),(10,2),(12,2),(14,2),(16,4),(20,4),(24,4),(28,2),(30,2),(32,2),(34,2),(36,2),(38,4),(42,4)]
EOCD = [(4,2),(6,2),(8,2),(10,2),(12,4),(16,4),(20,2)]
def fields(b):
    res = []
    i = 0
    while True:
        j = b.find(b'PK', i)
        if j < 0: break
        sig = b[j:j+4]
        tbl = {b'PK\x03\x04': LOCAL, b'PK\x01\x02': CENTRAL, b'PK\x05\x06': EOCD}.get(sig)
        if tbl: res += [(j+o, w) for o, w in tbl]
        i = j + 1
    return res
def vals(b, p, w):
    cur = int.from_bytes(b[p:p+w], 'little')
    vs = {0, 1, cur+1, cur-1, cur+2, cur*2, (1 << (8*w)) - 1, cur ^ 0x8, cur ^ 0x800, cur+30, cur-30, cur+46, len(b)}
    return [v & ((1 << (8*w)) - 1) for v in vs]
for base in ['stored.npz', 'deflated.npz']:
    data = open(f'{BD}/{base}', 'rb').read()
    stem = base[:-4]
    fs = fields(data)
    k = 0
    for p, w in fs:
        for v in vals(data, p, w):
            b = bytearray(data); b[p:p+w] = v.to_bytes(w, 'little')
            open(f'{out}/{stem}-z{k:05d}.npz', 'wb').write(b); k += 1
    for _ in range(1500):
        b = bytearray(data)
        for p, w in rng.sample(fs, 2):
            v = rng.choice(vals(data, p, w)); b[p:p+w] = v.to_bytes(w, 'little')
        open(f'{out}/{stem}-z{k:05d}.npz', 'wb').write(b); k += 1
    print(base, k)
