#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets from the reference vectors in testdata/.

Stdlib only. Usage: python3 fuzz/seeds.py [OUT_DIR]   (default: fuzz/corpus)
Each seed is framed the way its target reads it (see the doc comment at the top of each
fuzz_targets/*.rs): a selector byte, then the body. Files are named by SHA-1 of their
content, like libFuzzer's own corpus files, so reruns do not duplicate seeds.
"""
import base64
import hashlib
import json
import os
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
TESTDATA = os.path.join(HERE, "..", "testdata")
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")


def write(target, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def load(name):
    with open(os.path.join(TESTDATA, name), encoding="utf-8") as f:
        return json.load(f)["vectors"]


def b64url_decode(seg):
    return base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))


def jwt_seeds(cookie):
    # sel 0x04: raw value, key A; 0x14 same with the JSON-mode codec
    write("jwt_decode", b"\x04" + cookie.encode("utf-8", "surrogatepass"))
    write("jwt_decode", b"\x14" + cookie.encode("utf-8", "surrogatepass"))
    parts = cookie.split(".")
    if len(parts) != 3:
        return
    try:
        claims = b64url_decode(parts[1])
    except Exception:
        return
    write("jwt_decode", b"\x05" + claims)  # signed claims, key A, BSON mode
    write("jwt_decode", b"\x15" + claims)  # JSON mode
    try:
        bsz = json.loads(claims).get("bsZ")
        stream = base64.b85decode(bsz)
        bson = zlib.decompress(stream)
    except Exception:
        return
    write("jwt_decode", b"\x07" + stream)  # zlib stream into bsZ
    write("jwt_decode", b"\x06" + bson)  # BSON document
    write("jwt_decode", b"\x26" + bson)  # tight limits


def original_seeds(cookie, serializer):
    # codec index (sel >> 2) % 6: 0 pickle/BSON, 1 pickle/JSON, 2 json/BSON, 3 json/JSON
    base = 0 if serializer == "pickle" else 2
    write("original_decode", bytes([base << 2]) + cookie.encode("utf-8", "surrogatepass"))
    body = cookie.strip('"')[40:]
    try:
        data = base64.b64decode(body)
    except Exception:
        return
    write("original_decode", bytes([(base << 2) | 1]) + data)
    write("original_decode", bytes([((base + 1) << 2) | 1]) + data)
    if serializer == "pickle":
        write("pickle", data)
        write("original_decode", b"\x03" + data)  # AES-GCM encrypted pickle
        write("original_decode", bytes([(4 << 2) | 1]) + data)  # tight limits
    else:
        try:
            write("original_decode", b"\x0a" + zlib.decompress(data))
        except Exception:
            pass


def main():
    for v in load("jwt.json"):
        jwt_seeds(v["cookie"])
        if v.get("session") is not None:
            write("ejson", json.dumps(v["session"], ensure_ascii=False).encode())
    for v in load("encode.json"):
        if v.get("cookie"):
            opts = v["options"]
            if opts.get("write_original_format") == "true":
                original_seeds(v["cookie"], opts.get("original_format_data_serializer", "pickle"))
            else:
                jwt_seeds(v["cookie"])
        write("ejson", json.dumps(v["session"], ensure_ascii=False).encode())
    for v in load("original.json"):
        opts = v["options"]
        ser = opts.get("original_format_data_serializer", opts.get("data_serializer", "pickle"))
        if "encrypt_key" in opts:
            continue
        original_seeds(v["cookie"], ser)
        if v.get("session") is not None:
            write("ejson", json.dumps(v["session"], ensure_ascii=False).encode())
    names = {"beaker.session.id": 0, "s": 1, "session": 2, "my key": 3}
    for v in load("cookie_header.json"):
        sel = names.get(v["key"])
        if sel is None:
            continue
        write("cookie_header", bytes([sel]) + v["header"].encode("latin-1", "replace"))
    # inflate: the streams of testdata/inflate.json (Python's zlib output, mutations,
    # crafted blocks), as raw streams (selector 0, 0); every 7th only, to keep the
    # seed set small
    with open(os.path.join(TESTDATA, "inflate.json"), encoding="utf-8") as f:
        for i, case in enumerate(json.load(f)["cases"]):
            if i % 7 == 0:
                write("inflate", b"\x00\x00" + base64.b64decode(case["z"]))
    for t in sorted(os.listdir(OUT)):
        print(t, len(os.listdir(os.path.join(OUT, t))))


if __name__ == "__main__":
    main()
