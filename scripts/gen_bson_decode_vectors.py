"""Generate testdata/bson_decode.json: BSON byte strings (valid documents of every
type and seeded random mutations of them) with what pymongo's C `bson.decode`
returns for each: the document as canonical Extended JSON, or the exception.

Run with the reference venv (pymongo 4.20, C extension):
    /work/.venv-ref/bin/python scripts/gen_bson_decode_vectors.py > testdata/bson_decode.json
"""
import base64
import datetime
import json
import random

import bson
from bson import (Binary, Code, DBRef, Decimal128, Int64, MaxKey, MinKey, ObjectId,
                  Regex, Timestamp, json_util)

assert bson.has_c()
rng = random.Random(20240601)
OPTS = json_util.CANONICAL_JSON_OPTIONS

seeds = [
    {},
    {"a": 1},
    {"_id": "x" * 32, "n": 2**40, "f": 1.5, "t": True, "z": None, "s": "é😀"},
    {"l": [1, "two", [3.0], {"four": 4}], "d": {"e": {"f": {}}}},
    {"b0": b"\x00\x01", "b2": Binary(b"xy", 2), "b4": Binary(b"0123456789abcdef", 4),
     "b80": Binary(b"u", 0x80)},
    {"dt": datetime.datetime(2024, 6, 1, 12, 30, 45, 123000),
     "old": datetime.datetime(1, 1, 1), "o": ObjectId("6a29a464871f947134b99452")},
    {"r": Regex("a.b", "imsx"), "c": Code("f()"), "cs": Code("g()", {"x": 1}),
     "ts": Timestamp(5, 7), "dec": Decimal128("1.5"), "mn": MinKey(), "mx": MaxKey(),
     "i64": Int64(7)},
    {"ref": DBRef("coll", 5, "db", extra=1), "fake": {"$id": 1, "$ref": 2}},
]
raw_seeds = [bson.encode(s) for s in seeds]


def element(t, name, payload):
    return bytes([t]) + name + b"\x00" + payload


def doc(body):
    return (len(body) + 5).to_bytes(4, "little") + body + b"\x00"


oid = bytes.fromhex("6a29a464871f947134b99452")
s32 = lambda v: v.to_bytes(4, "little", signed=True)
raw_seeds += [
    doc(element(0x06, b"u", b"")),                                   # undefined
    doc(element(0x0E, b"s", s32(3) + b"hi\x00")),                     # symbol
    doc(element(0x0C, b"p", s32(5) + b"coll\x00" + oid)),             # DBPointer
    doc(element(0x10, b"x", s32(1)) + element(0x10, b"x", s32(2))),   # duplicate key
    doc(element(0x08, b"b", b"\x02")),                                # bad bool
    doc(element(0x09, b"d", (-62135596800001).to_bytes(8, "little", signed=True))),
    doc(element(0x02, b"\xff", s32(1) + b"\x00")),                    # bad UTF-8 key
    doc(element(0x02, b"k", s32(2) + b"\xff\x00")),                   # bad UTF-8 value
    doc(element(0x0B, b"r", b"p\x00zyxsmi\x00")),                     # unsorted flags
    doc(element(0x05, b"b", s32(3) + b"\x02" + s32(3))),              # bad old binary
    doc(element(0x03, b"d", doc(element(0x02, b"$ref", s32(2) + b"c\x00")
                                + element(0x10, b"$id", s32(1))
                                + element(0x0A, b"$db", b"")))),
]


def mutate(data):
    data = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0 and data:
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    elif kind == 1 and data:
        data[rng.randrange(len(data))] = rng.choice([0, 1, 2, 0x7F, 0x80, 0xFF, 0x13, 0x14])
    elif kind == 2:
        data = data[: rng.randrange(len(data) + 1)]
    elif kind == 3:
        data += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4)))
    else:
        # adjust the top-level length to the new size after a truncation
        cut = rng.randrange(5, len(data) + 1) if len(data) > 5 else len(data)
        data = data[:cut]
        if len(data) >= 4:
            data[0:4] = len(data).to_bytes(4, "little")
    return bytes(data)


inputs = list(raw_seeds)
for _ in range(1500):
    x = rng.choice(raw_seeds)
    for _ in range(rng.randrange(1, 3)):
        x = mutate(x)
    inputs.append(x)

cases = []
seen = set()
for x in inputs:
    if x in seen:
        continue
    seen.add(x)
    try:
        d = bson.decode(x)
        out = {"session": json.loads(json_util.dumps(d, json_options=OPTS)), "error": None}
    except Exception as e:  # noqa: BLE001 - we record every failure
        out = {"session": None, "error": {"python_exception": type(e).__name__, "message": str(e)}}
    cases.append({"bson": base64.b64encode(x).decode(), **out})
print(json.dumps({"pymongo": bson.__version__ if hasattr(bson, "__version__") else "4.20",
                  "cases": cases}))
