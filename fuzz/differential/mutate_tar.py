# SPDX-License-Identifier: Apache-2.0
import os, sys, random
# usage: mutate_tar.py BASES OUT
BD, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
rng = random.Random(9)
# ustar header fields (offset, width)
F = [(0,100),(100,8),(108,8),(116,8),(124,12),(136,12),(148,8),(156,1),(157,100),(257,6),(263,2),(265,32),(297,32),(329,8),(337,8),(345,155)]
def headers(b):
    hs = []
    for off in range(0, len(b) - 511, 512):
        blk = b[off:off+512]
        if blk[257:262] == b'ustar' or blk[156:157] in (b'x', b'L', b'g'):
            hs.append(off)
    return hs
def chk(blk):
    s = sum(blk[:148]) + 8*32 + sum(blk[156:512])
    blk[148:156] = b'%06o\x00 ' % s
def vals(b, p, w):
    cur = bytes(b[p:p+w])
    out = [b'\x00'*w, b' '*w, cur.upper(), cur[::-1]]
    if w in (8, 12):
        try:
            n = int(cur.strip(b'\x00 ') or b'0', 8)
            for v in (n+1, n-1, n+512, n*2, 0, n+1024, n-512):
                if v >= 0: out.append((b'%0*o' % (w-1, v))[:w-1] + b'\x00')
            out.append(b'\x80' + n.to_bytes(w-1, 'big'))  # base-256
            out.append((b'%o' % n).ljust(w, b' '))
            out.append((b' %o' % n).ljust(w, b'\x00'))
        except ValueError: pass
    if w == 1:
        out += [bytes([c]) for c in b'0123456789ALKxgSVD\x00']
    if w == 100:
        for n in [b'pickle', b'./pickle', b'pickle/', b'sys_info', b'PICKLE', b'pickle\x00x', b'a/../pickle', b'/pickle', b'storages']:
            out.append(n.ljust(w, b'\x00'))
    return [v[:w].ljust(w, b'\x00') for v in out]
for base in ['legacy-ustar.tar', 'legacy-gnu.tar', 'legacy-pax.tar']:
    data = bytearray(open(f'{BD}/{base}', 'rb').read())
    stem = base[:-4]; k = 0
    hs = headers(data)
    allf = [(h+o, w) for h in hs for o, w in F]
    for p, w in allf:
        for v in vals(data, p, w):
            for fix in (True, False):
                b = bytearray(data); b[p:p+w] = v
                if fix: chk(memoryview(b)[p - (p % 512):p - (p % 512) + 512])
                open(f'{out}/{stem}-t{k:05d}.tar', 'wb').write(b); k += 1
    for _ in range(800):
        b = bytearray(data)
        for p, w in rng.sample(allf, 2):
            b[p:p+w] = rng.choice(vals(data, p, w))
        for h in hs: chk(memoryview(b)[h:h+512])
        open(f'{out}/{stem}-t{k:05d}.tar', 'wb').write(b); k += 1
    print(base, k)
