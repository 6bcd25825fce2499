"""Generate testdata/zlib9.json: inputs and madler zlib's zlib.compress(x, 9)
(and, for every fourth input, levels 4..8).

Run with the reference venv (CPython 3.11, zlib 1.2.13):
    /work/.venv-ref/bin/python scripts/gen_zlib9_vectors.py > testdata/zlib9.json
The inputs are deterministic (seeded); the expected outputs come from Python's zlib.
"""
import base64
import json
import random
import zlib

import bson

rng = random.Random(20240601)


def session(n_keys):
    d = {"_id": "%032x" % rng.getrandbits(128)}
    for i in range(n_keys):
        k = rng.choice(["user", "csrf", "flash", "cart", "name", "x", "roles", "t"]) + str(i)
        r = rng.random()
        if r < 0.3:
            d[k] = "".join(rng.choice("abcdef0123456789 éß€") for _ in range(rng.randrange(40)))
        elif r < 0.5:
            d[k] = rng.randrange(-2**31, 2**31)
        elif r < 0.6:
            d[k] = rng.random() * 1e9
        elif r < 0.8:
            d[k] = [rng.randrange(100) for _ in range(rng.randrange(6))]
        else:
            d[k] = {"sku": "SKU-%04d" % rng.randrange(10000), "qty": rng.randrange(9)}
    return bson.encode(d)


def lowent(n, alphabet):
    return bytes(rng.choice(alphabet) for _ in range(n))


inputs = [b"", b"\x00", b"ab", b"abc", b"aaaa", b"\x05\x00\x00\x00\x00"]
for _ in range(120):
    inputs.append(session(rng.randrange(0, 25)))
for _ in range(40):
    inputs.append(lowent(rng.randrange(0, 3000), b"ab"))
    inputs.append(lowent(rng.randrange(0, 3000), b"abcdefgh \x00"))
for _ in range(10):
    inputs.append(bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 3000))))
# several blocks (more than 16 383 symbols), stored blocks, long matches, far matches
inputs.append(bytes(rng.getrandbits(8) for _ in range(40000)))
inputs.append(lowent(30000, b"abcdefghijklmnopqrstuvwxyz0123456789"))
inputs.append(b"x" * 65000)
inputs.append(b"".join(session(20) for _ in range(40))[:65000])
far = bytes(rng.getrandbits(8) for _ in range(5000))
inputs.append(far + lowent(30000, b"ab") + far)

cases = []
for i, x in enumerate(inputs):
    case = {"input": base64.b64encode(x).decode(),
            "zlib9": base64.b64encode(zlib.compress(x, 9)).decode()}
    if i % 4 == 0 and len(x) < 10000:
        # the other deflate_slow levels (6 is Beaker's json serializer)
        case["levels"] = {str(lv): base64.b64encode(zlib.compress(x, lv)).decode()
                          for lv in (4, 5, 6, 7, 8)}
    cases.append(case)
print(json.dumps({"zlib": zlib.ZLIB_RUNTIME_VERSION, "cases": cases}))
