#!/usr/bin/env python3
"""Makes the hostile-input fixtures of tests/hostile_inputs.rs under testdata/hostile/.

Run with the reference venv:  /work/.venv-ref/bin/python scripts/gen_hostile_fixtures.py
(stdlib only; any CPython 3 gives the same files).

* bsz_bomb.zz: zlib.compress(level 9) of a BSON document {"s": "a" * N} whose claims
  {"bsZ": base85(stream)} still fit joserfc's 128 000-character payload segment, so a
  validly signed JWT carries it (it inflates to ~79 MB).
* json_bomb.zz: zlib.compress(level 6, as Beaker's json serializer) of the JSON text
  {"s": "aaa..."}, as large as an original cookie can carry: the whole cookie value
  stays under joserfc's 129 536-byte limit, which the reader checks first (~100 MB).
* exploits.json: pickles made by Python's own pickle.dumps of objects whose
  __reduce__ returns a dangerous callable (os.system, subprocess.Popen, eval, exec),
  in protocols 0, 2 and 4. Each runs a shell command that creates the file named
  MARKER; the generator proves that by loading each one with pickle.loads (with a
  temporary path in place of MARKER) and checking the file appears. The Rust tests
  substitute their own path of the same length (pickle length fields stay right).
"""
import base64
import json
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zlib

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "hostile")
MARKER = "/tmp/H8_MARKER_" + "X" * 49  # 64 characters, replaced by the tests
assert len(MARKER) == 64


def bson_string_doc(n):
    value = b"a" * n + b"\x00"
    elem = b"\x02s\x00" + struct.pack("<i", len(value)) + value
    return struct.pack("<i", 4 + len(elem) + 1) + elem + b"\x00"


def claims_len(stream):
    claims = b'{"bsZ":"' + base64.b85encode(stream) + b'"}'
    return len(base64.urlsafe_b64encode(claims).rstrip(b"="))


def bsz_bomb():
    lo, hi = 1 << 20, 1 << 28
    best = None
    while lo <= hi:  # largest N whose payload segment stays under 127 000 characters
        mid = (lo + hi) // 2
        s = zlib.compress(bson_string_doc(mid), 9)
        if claims_len(s) <= 127_000:
            best, lo = s, mid + 1
        else:
            hi = mid - 1
    return best


def json_bomb():
    lo, hi = 1 << 20, 1 << 28
    best = None
    while lo <= hi:  # largest text whose original cookie (40 hex + b64) stays < 129 000
        mid = (lo + hi) // 2
        s = zlib.compress(b'{"s": "' + b"a" * mid + b'"}', 6)
        if 40 + len(base64.b64encode(s)) <= 129_000:
            best, lo = s, mid + 1
        else:
            hi = mid - 1
    return best


class System:
    def __reduce__(self):
        return (os.system, ("touch " + MARKER,))


class Popen:
    def __reduce__(self):
        return (subprocess.Popen, (["touch", MARKER],))


class Eval:
    def __reduce__(self):
        return (eval, ("open(%r, 'w').close()" % MARKER,))


class Exec:
    def __reduce__(self):
        return (exec, ("open(%r, 'w').close()" % MARKER,))


def exploits():
    out = []
    for cls in (System, Popen, Eval, Exec):
        for proto in (0, 2, 4):
            # a realistic session with the payload in a value
            data = pickle.dumps({"_id": "0" * 32, "user_id": 42, "x": cls()}, proto)
            with tempfile.TemporaryDirectory() as d:
                path = os.path.join(d, "m")
                path = path + "Y" * (64 - len(path))
                live = data.replace(MARKER.encode(), path.encode())
                try:
                    pickle.loads(live)
                except Exception:
                    pass
                for _ in range(50):  # Popen returns before the child has run
                    if os.path.exists(path):
                        break
                    import time

                    time.sleep(0.02)
                assert os.path.exists(path), (cls.__name__, proto)
            out.append({"name": f"{cls.__name__.lower()}-p{proto}", "pickle_b64": base64.b64encode(data).decode()})
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "bsz_bomb.zz"), "wb") as f:
        f.write(bsz_bomb())
    with open(os.path.join(OUT, "json_bomb.zz"), "wb") as f:
        f.write(json_bomb())
    with open(os.path.join(OUT, "exploits.json"), "w") as f:
        json.dump({"marker": MARKER, "python": sys.version.split()[0], "exploits": exploits()}, f, indent=1)
        f.write("\n")
    for name in sorted(os.listdir(OUT)):
        print(name, os.path.getsize(os.path.join(OUT, name)))


if __name__ == "__main__":
    main()
