# SPDX-License-Identifier: Apache-2.0
import os, random, sys, struct
# usage: mutate.py BASES OUT N SEED: N random mutants of every base file.
BD, out, N = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1)
os.makedirs(out, exist_ok=True)
INTERESTING = [0, 1, 2, 0x7f, 0x80, 0xff, 0xffff, 0xffffffff, 0x10000, 512, 513, 4096]
def mutate(b):
    b = bytearray(b)
    for _ in range(rng.choice([1, 1, 1, 2, 3])):
        op = rng.randrange(7)
        n = len(b)
        if n == 0: break
        if op == 0:
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(n)] = rng.randrange(256)
        elif op == 1:
            p = rng.randrange(n); w = rng.choice([1, 2, 4]); v = rng.choice(INTERESTING + [rng.randrange(1 << (8*w))]) & ((1 << (8*w)) - 1)
            b[p:p+w] = v.to_bytes(w, rng.choice(['little', 'big']))
        elif op == 2:
            p = rng.randrange(n + 1); b[p:p] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        elif op == 3:
            p = rng.randrange(n); del b[p:p+rng.randint(1, 64)]
        elif op == 4:
            s = rng.randrange(n); e = min(n, s + rng.randint(1, 600)); p = rng.randrange(n + 1); b[p:p] = b[s:e]
        elif op == 5:
            del b[rng.randrange(n):]
        else:
            p = rng.randrange(n); b[p] ^= 1 << rng.randrange(8)
    return bytes(b)
bases = sorted(os.listdir(BD))
for base in bases:
    data = open(f'{BD}/{base}', 'rb').read()
    stem, ext = os.path.splitext(base)
    for i in range(N):
        open(f'{out}/{stem}-{i:05d}{ext}', 'wb').write(mutate(data))
