#!/usr/bin/env python3
"""Generates testdata/pickle/reader_cases.json for src/original/pickle.rs.

Run with the reference venv (pymongo needed for the bson classes):

    /work/.venv-ref/bin/python scripts/gen_pickle_fixtures.py > testdata/pickle/reader_cases.json

Each case is a pickle (base64) and what CPython 3.11's `pickle.loads` makes of it:
either `canon`, a canonical text of the loaded value (see `canon` below; the Rust
tests render a `PyValue` the same way), or `error`, the exception class name and
message. Values come from `pickle.dumps` at protocols 0-5 (Python 3 writer) and
from hand-made byte strings (Python 2 writers, protocol-0 text forms, edge cases).

Hand-made pickles are loaded with an Unpickler whose `find_class` refuses
anything outside the Rust reader's allow-list (raising `ForbiddenGlobal`), so no
pickle that names os.system & co. is ever executed here.

`--writer` (run with PYTHONHASHSEED=0) writes testdata/pickle/writer_cases.json:
random sessions and the bytes `pickle.dumps(session, 2)` gives for them.
`--mutations` writes testdata/pickle/mutation_cases.json: truncated, flipped and
spliced pickles with what CPython makes of them (a differential corpus).

`--canon` reads base64 pickles, one per line, from stdin and prints the canonical
text (or `!ExceptionName`) of each: the Rust writer tests use it to load their
output with the real Python.
"""

import base64
import collections
import datetime
import decimal
import io
import json
import pickle
import pickletools
import sys
import uuid

from bson.binary import Binary
from bson.int64 import Int64
from bson.objectid import ObjectId

ALLOWED = {
    ("datetime", n) for n in ("datetime", "date", "time", "timedelta", "timezone")
} | {
    ("_codecs", "encode"),
    ("collections", "OrderedDict"),
    ("decimal", "Decimal"),
    ("uuid", "UUID"),
    ("copy_reg", "_reconstructor"),
    ("copyreg", "_reconstructor"),
    ("bson.int64", "Int64"),
    ("bson.objectid", "ObjectId"),
    ("bson.binary", "Binary"),
} | {
    (m, n)
    for m in ("__builtin__", "builtins")
    for n in ("bytes", "bytearray", "set", "frozenset", "object", "int")
} | {("__builtin__", "long")}


class ForbiddenGlobal(Exception):
    pass


class SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in ALLOWED:
            raise ForbiddenGlobal(f"{module}.{name}")
        return super().find_class(module, name)


def safe_loads(data):
    return SafeUnpickler(io.BytesIO(data)).load()


def canon(v, path=None):
    """Canonical text of a loaded value; mirrors `repr_into(.., canonical=true)` in Rust."""
    path = path if path is not None else set()
    if isinstance(v, (list, tuple, dict, set, frozenset)):
        if id(v) in path:
            return "[...]"
        path = path | {id(v)}
    c = lambda x: canon(x, path)  # noqa: E731
    if v is None or v is True or v is False:
        return repr(v)
    if isinstance(v, Int64):
        return f"Int64({int(v)})"
    if type(v) is int:
        return str(v)
    if type(v) is float:
        return repr(v)
    if type(v) is str:
        return ascii(v)
    if isinstance(v, Binary):
        return f"Binary({bytes(v)!r}, {v.subtype})"
    if type(v) is bytes:
        return repr(v)
    if type(v) is bytearray:
        return f"bytearray({bytes(v)!r})"
    if type(v) is list:
        return "[" + ", ".join(c(x) for x in v) + "]"
    if type(v) is tuple:
        if len(v) == 1:
            return "(" + c(v[0]) + ",)"
        return "(" + ", ".join(c(x) for x in v) + ")"
    if type(v) is collections.OrderedDict:
        return "OrderedDict({" + ", ".join(f"{c(k)}: {c(x)}" for k, x in v.items()) + "})"
    if type(v) is dict:
        return "{" + ", ".join(f"{c(k)}: {c(x)}" for k, x in v.items()) + "}"
    if type(v) is set:
        return "{" + ", ".join(sorted(c(x) for x in v)) + "}" if v else "set()"
    if type(v) is frozenset:
        return "frozenset({" + ", ".join(sorted(c(x) for x in v)) + "})" if v else "frozenset()"
    if type(v) is uuid.UUID and not hasattr(v, "int"):
        return "<UUID object>"
    if type(v) is ObjectId and not hasattr(v, "_ObjectId__id"):
        return "<ObjectId object>"
    if type(v) in (datetime.datetime, datetime.date, datetime.time, datetime.timedelta,
                   datetime.timezone, decimal.Decimal, uuid.UUID, ObjectId):
        return ascii(v)
    if type(v) is object:
        return "<object object>"
    if callable(v):
        return f"<class '{v.__module__}.{v.__qualname__}'>"
    raise TypeError(f"no canonical form for {type(v)}")


def outcome(data, loader):
    try:
        v = loader(data)
    except Exception as e:  # noqa: BLE001 - every exception is an outcome
        return {"error": type(e).__name__, "message": str(e)[:200]}
    return {"canon": canon(v)}


def values():
    shared = [1, 2]
    rec = []
    rec.append(rec)
    recd = {}
    recd["self"] = recd
    utc = datetime.timezone.utc
    plus1 = datetime.timezone(datetime.timedelta(hours=1))
    minus5 = datetime.timezone(datetime.timedelta(hours=-5), "EST")
    odd = datetime.timezone(datetime.timedelta(seconds=3661, microseconds=7))
    session = {
        "_id": "3f2a9c1e8b7d4e6fa0b1c2d3e4f50617",
        "_creation_time": 1718000000.123456,
        "_accessed_time": 1718000321.5,
        "_domain": None,
        "_path": "/",
        "user_id": 42,
        "roles": ["admin", "editor"],
        "csrf": "c0ffee",
        "last_login": datetime.datetime(2024, 6, 1, 12, 30, 45, 123456),
        "avatar": b"\x89PNG",
        "pair": (1, "a"),
        "flags": {"beta": True},
    }
    return [
        ("session", session),
        ("none", None), ("true", True), ("false", False),
        ("ints", [0, 1, 255, 256, 65535, 65536, -1, -255, -256, 2**31 - 1, -2**31, 2**31,
                  -2**31 - 1, 2**32, -2**32, -2**39, 2**63 - 1, -2**63]),
        ("bigints", [2**63, -2**63 - 1, 2**64, 2**100, -2**100, 10**50, -10**50, 2**127, 2**128]),
        ("floats", [0.0, -0.0, 1.5, 1e300, 5e-324, 0.1, 1e16, 1e-5, 123456789.125, -2.5e-300]),
        ("special-floats", [float("nan"), float("inf"), float("-inf")]),
        ("strs", ["", "a", "é", "ß€", "\U0001F600", "it's", 'say "hi"', "both '\"", "back\\slash",
                  "\x00\x01\x7f\x80\xff", "tab\tnl\ncr\r", "\u2028\u05e9\u0627", "x" * 300]),
        ("lone-surrogates", ["\ud800", "a\udcffb", "\ud83d\ude00"]),
        ("bytes", [b"", b"a", b"\x00\xff", b"'", b"\"'", bytes(range(256)), b"z" * 300]),
        ("bytearray", bytearray(b"ab\x00")),
        ("empty-bytearray", bytearray()),
        ("nested", {"a": [1, [2, [3, {"b": (4, 5)}]]], "c": {"d": {"e": {}}}}),
        ("tuples", [(), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4), ((),)]),
        ("non-str-keys", {1: "int", 2.5: "float", True: "bool", None: "none", (1, 2): "tuple",
                          b"k": "bytes", frozenset([1]): "fs", 2**70: "big"}),
        ("equal-keys", {1: "a", "1": "b"}),
        ("ordereddict", collections.OrderedDict([("z", 1), ("a", [2]), ("m", {"x": 3})])),
        ("empty-ordereddict", collections.OrderedDict()),
        ("sets", [set(), {1, 2, 3}, {"a", "b"}, frozenset(), frozenset({(1, 2), "x"})]),
        ("datetimes", [datetime.datetime(2024, 6, 1, 12, 30, 45, 123456),
                       datetime.datetime(1, 1, 1), datetime.datetime(9999, 12, 31, 23, 59, 59, 999999),
                       datetime.datetime(1969, 12, 31, 23, 59, 59, 500000),
                       datetime.datetime(2024, 1, 2, 3, 4, tzinfo=utc),
                       datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=plus1),
                       datetime.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=minus5),
                       datetime.datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=odd),
                       datetime.datetime(2024, 11, 3, 1, 30, fold=1)]),
        ("dates-times", [datetime.date(2024, 1, 2), datetime.date(1, 1, 1), datetime.time(0, 0),
                         datetime.time(1, 2, 3), datetime.time(23, 59, 59, 999999, tzinfo=plus1),
                         datetime.time(5, 6, fold=1)]),
        ("timedeltas", [datetime.timedelta(0), datetime.timedelta(1, 2, 3),
                        datetime.timedelta(seconds=-1), datetime.timedelta(days=-999999999),
                        datetime.timedelta(days=999999999, seconds=86399, microseconds=999999)]),
        ("timezones", [utc, plus1, minus5, odd]),
        ("decimals", [decimal.Decimal("12.50"), decimal.Decimal("-0"), decimal.Decimal("1E+2"),
                      decimal.Decimal("NaN"), decimal.Decimal("-Infinity"), decimal.Decimal("1e-7"),
                      decimal.Decimal("0.000001"), decimal.Decimal("123456789012345678901234567890"),
                      decimal.Decimal("sNaN12")]),
        ("uuids", [uuid.UUID(int=0), uuid.UUID("12345678-1234-5678-1234-567812345678"),
                   uuid.UUID(int=2**128 - 1)]),
        ("int64", [Int64(0), Int64(5), Int64(-2**63), Int64(2**63 - 1)]),
        ("objectid", ObjectId("e317f589210aeb45394b4b1c")),
        ("binary", [Binary(b"ab", 0), Binary(b"\x00" * 16, 4), Binary(b"", 5), Binary(b"x", 128)]),
        ("shared", [shared, shared, {"s": shared}]),
        ("recursive-list", rec),
        ("recursive-dict", recd),
        ("deep-50", _deep(50)),
        ("classes", [datetime.datetime, collections.OrderedDict, set, Int64]),
        ("object", object()),
    ]


def _deep(n):
    v = []
    for _ in range(n):
        v = [v]
    return v


def raw_cases():
    """Hand-made pickles: (name, bytes)."""
    dt1900 = b"\x07\x6c\x01\x01\x00\x00\x00\x00\x00\x00"  # 1900-01-01, ASCII-only state
    return [
        # Python 2 str / unicode / int / long forms
        ("py2-short-binstring", b"\x80\x02U\x05helloq\x01."),
        ("py2-short-binstring-non-ascii", b"\x80\x02U\x05caf\xc3\xa9."),
        ("py2-binstring", b"\x80\x02T\x03\x00\x00\x00abc."),
        ("py2-binstring-latin1", b"\x80\x02T\x02\x00\x00\x00\xe9a."),
        ("py2-string-p0", b"S'abc'\np0\n."),
        ("py2-string-escapes", b"S'a\\'b\\\\c\\n\\x41\\101\\q'\n."),
        ("py2-string-dq", b'S"x\'y"\n.'),
        ("py2-string-unquoted", b"Sabc\n."),
        ("py2-string-nonascii-escape", b"S'\\xe9'\n."),
        ("py2-string-bad-x", b"S'\\x4'\n."),
        ("py2-unicode-p0", b"V\\u00e9t\\U0001f600\\\\u0041\n."),
        ("py2-unicode-truncated-escape", b"V\\u00e\n."),
        ("py2-int-text", b"I1099511627776\n."),
        ("py2-int-bool", b"(I00\nI01\nI0\nI1\nI+1\nI010\nI0x10\nI1_0\nI-5\nl."),
        ("py2-int-huge", b"I99999999999999999999999\n."),
        ("py2-int-bad", b"Iabc\n."),
        ("py2-long-text", b"(L123L\nL-99999999999999999999999L\nL0x10L\nL5\nl."),
        ("py2-long-leading-zero", b"L007L\n."),
        ("py2-long1", b"\x80\x02\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01."),
        ("py2-long1-empty", b"\x80\x02\x8a\x00."),
        ("py2-long4", b"\x80\x02\x8b\x02\x00\x00\x00\xff\x7f."),
        ("float-text", b"(F1.5\nF-0.0\nFinf\nF-Infinity\nFnan\nF1e-310\nl."),
        ("float-text-overflow", b"F1e500\n."),
        ("float-text-space", b"F 1.5\n."),
        ("py2-datetime-ascii-state", b"\x80\x02cdatetime\ndatetime\nU\x0a" + dt1900 + b"\x85R."),
        ("py2-datetime-nonascii-state", b"\x80\x02cdatetime\ndatetime\nU\x0a\x07\xe8\x06\x01\x0c\x1e-\x01\xe2@\x85R."),
        ("py2-date-ascii", b"\x80\x02cdatetime\ndate\nU\x04\x07\x6c\x01\x01\x85R."),
        ("py2-set", b"\x80\x02c__builtin__\nset\n]q\x01(U\x01aU\x01be\x85Rq\x02."),
        ("py2-frozenset", b"\x80\x02c__builtin__\nfrozenset\n]q\x01K\x01a\x85R."),
        ("py2-ordereddict", b"\x80\x02ccollections\nOrderedDict\n](](U\x01aK\x01e](U\x01bK\x02ee\x85R."),
        ("py2-decimal", b"\x80\x02cdecimal\nDecimal\nU\x0512.50\x85R."),
        ("py2-uuid-reconstructor", b"ccopy_reg\n_reconstructor\n(cuuid\nUUID\nc__builtin__\nobject\nNtR(dVint\nL5L\nsb."),
        ("py2-int64-reconstructor", b"ccopy_reg\n_reconstructor\n(cbson.int64\nInt64\nc__builtin__\nlong\nI7\ntR."),
        ("py2-binary-reconstructor", b"ccopy_reg\n_reconstructor\n(cbson.binary\nBinary\nc__builtin__\nbytes\nc_codecs\nencode\n(Vab\nVlatin1\ntRtR(dV_Binary__subtype\nI5\nsb."),
        ("py2-objectid-ascii", b"\x80\x02cbson.objectid\nObjectId\n)\x81U\x0cabcdefghijklb."),
        ("py2-objectid-dict-state", b"\x80\x02cbson.objectid\nObjectId\n)\x81}U\x0d_ObjectId__idU\x0cabcdefghijklsb."),
        ("py2-memo-from-1", b"\x80\x02}q\x01(U\x01aq\x02]q\x03(h\x02h\x02eU\x01bh\x03u."),
        ("py2-dict-p0", b"(dp0\nS'a'\np1\nI1\nsS'b'\np2\n(lp3\nI2\naI3\nas."),
        ("py2-tuple-p0", b"(I1\nI2\ntp0\n."),
        ("py2-dict-op", b"(S'a'\nI1\nS'b'\nI2\nd."),
        ("py2-dict-odd", b"(S'a'\nd."),
        # Python 3 forms written by other protocols / by hand
        ("p3-binbytes", b"\x80\x03B\x03\x00\x00\x00abc."),
        ("p4-binbytes8", b"\x80\x04\x8e\x02\x00\x00\x00\x00\x00\x00\x00ab."),
        ("p4-binunicode8", b"\x80\x04\x8d\x02\x00\x00\x00\x00\x00\x00\x00ab."),
        ("p4-short-binunicode-bad-utf8", b"\x80\x04\x8c\x02\xc3\x28."),
        ("p4-binunicode-overlong", b"\x80\x04\x8c\x02\xc0\xaf."),
        ("p4-binunicode-surrogatepass", b"\x80\x04\x8c\x03\xed\xa0\x80."),
        ("p5-bytearray8", b"\x80\x05\x96\x02\x00\x00\x00\x00\x00\x00\x00ab."),
        ("p5-next-buffer", b"\x80\x05\x97."),
        ("p4-frame-too-long", b"\x80\x04\x95\xff\x00\x00\x00\x00\x00\x00\x00N."),
        ("p4-frame", b"\x80\x04\x95\x01\x00\x00\x00\x00\x00\x00\x00N."),
        ("p4-stack-global", b"\x80\x04\x8c\x08datetime\x8c\x04date\x93C\x04\x07\xe8\x01\x02\x85R."),
        ("p4-stack-global-not-str", b"\x80\x04K\x01K\x02\x93."),
        ("p4-memoize-get", b"\x80\x04]\x94K\x01a\x8c\x01x\x94h\x00h\x01\x87."),
        ("p4-empty-set-additems", b"\x80\x04\x8f(K\x01K\x02K\x01\x90."),
        ("p4-frozenset-op", b"\x80\x04(K\x01K\x01\x91."),
        ("p4-additems-unhashable", b"\x80\x04\x8f(]\x90."),
        ("p4-newobj-ex", b"\x80\x04\x8c\x04uuid\x8c\x04UUID\x93)}\x92}X\x03\x00\x00\x00intK\x05sb."),
        ("p4-newobj-ex-kwargs", b"\x80\x04cbson.binary\nBinary\n)}X\x01\x00\x00\x00xK\x01s\x92."),
        ("p3-builtin-name-not-mapped", b"\x80\x03c__builtin__\nset\n)R."),
        ("p2-builtins-name", b"\x80\x02cbuiltins\nset\n)R."),
        # dict semantics
        ("dict-equal-keys", b"\x80\x02}(K\x01U\x01aG?\xf0\x00\x00\x00\x00\x00\x00U\x01b\x88U\x01cu."),
        ("dict-unhashable-key", b"\x80\x02}(]K\x01u."),
        ("dict-tuple-with-list-key", b"\x80\x02}(]\x85K\x01u."),
        ("setitem-on-list", b"\x80\x02]K\x00K\x01s."),
        ("append-on-dict", b"\x80\x02}K\x01a."),
        ("setitems-empty-on-int", b"\x80\x02K\x01(u."),
        ("appends-empty-on-int", b"\x80\x02K\x01(e."),
        ("setitems-odd", b"\x80\x02}(K\x01u."),
        ("dict-nan-keys", b"\x80\x02}(G\x7f\xf8\x00\x00\x00\x00\x00\x00K\x01G\x7f\xf8\x00\x00\x00\x00\x00\x00K\x02u."),
        ("dict-same-nan-key", b"\x80\x02}(G\x7f\xf8\x00\x00\x00\x00\x00\x00q\x00K\x01h\x00K\x02u."),
        ("dict-bigint-float-key", b"\x80\x02}(\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01U\x01aGD\x00\x00\x00\x00\x00\x00\x00U\x01bu."),
        ("dict-minus-zero-key", b"\x80\x02}(K\x00U\x01aG\x80\x00\x00\x00\x00\x00\x00\x00U\x01bu."),
        ("mutation-after-memo", b"\x80\x02]q\x00(]q\x01h\x01e\x8c\x01x\x94h\x01K\x07a."),
        # stack / mark machinery
        ("pop", b"\x80\x02K\x01K\x020."),
        ("pop-mark", b"\x80\x02K\x01(K\x02K\x031."),
        ("pop-empty-mark", b"\x80\x02K\x01(0."),
        ("dup", b"\x80\x02]2\x86."),
        ("stop-below-mark", b"K\x01(."),
        ("tuple1-below-mark", b"(\x85."),
        ("empty", b""),
        ("no-stop", b"\x80\x02K\x01"),
        ("stop-empty-stack", b"."),
        ("truncated-binunicode", b"\x80\x02X\x05\x00\x00\x00ab"),
        ("huge-binunicode-length", b"\x80\x02X\xff\xff\xff\xffab."),
        ("huge-binunicode8-length", b"\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xffab."),
        ("huge-long4-length", b"\x80\x02\x8b\xff\xff\xff\x7f\x00."),
        ("negative-long4-length", b"\x80\x02\x8b\xff\xff\xff\xff\x00."),
        ("negative-binstring-length", b"\x80\x02T\xff\xff\xff\xffa."),
        ("huge-binbytes8-length", b"\x80\x04\x8e\xff\xff\xff\xff\xff\xff\xff\x7fa."),
        ("memo-missing", b"\x80\x02h\x05."),
        ("long-binget-missing", b"\x80\x02j\xff\xff\xff\xff."),
        ("put-empty-stack", b"\x80\x02q\x00."),
        ("long-binput-huge-index", b"\x80\x02K\x01r\xff\xff\xff\xffj\xff\xff\xff\xff."),
        ("text-put-get", b"K\x05p12\ng12\n\x86."),
        ("text-put-negative", b"K\x05p-1\n."),
        ("text-get-missing", b"g7\n."),
        ("protocol-6", b"\x80\x06N."),
        ("protocol-5", b"\x80\x05N."),
        ("unknown-opcode", b"\x80\x02\xff."),
        ("unknown-opcode-space", b"\x80\x02 ."),
        ("no-mark", b"\x80\x02K\x01t."),
        ("reduce-args-not-tuple", b"\x80\x02c__builtin__\nset\n]R."),
        ("reduce-not-callable", b"\x80\x02K\x01)R."),
        ("newobj-not-type", b"\x80\x02c_codecs\nencode\n)\x81."),
        ("newobj-args-not-tuple", b"\x80\x02cuuid\nUUID\n]\x81."),
        ("build-on-list-none", b"\x80\x02]Nb."),
        ("build-on-list-dict", b"\x80\x02]}b."),
        ("build-on-ordereddict", b"\x80\x02ccollections\nOrderedDict\n)R}U\x01xK\x01sb."),
        # calls of allow-listed globals
        ("codecs-utf8-refused", b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x05\x00\x00\x00utf-8\x86R."),
        ("codecs-latin-1-alias", b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x07\x00\x00\x00latin-1\x86R."),
        ("codecs-non-latin1-char", b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00\xe2\x82\xacX\x06\x00\x00\x00latin1\x86R."),
        ("bytes-from-list", b"\x80\x02c__builtin__\nbytes\n](K\x01K\x02e\x85R."),
        ("bytes-int-refused", b"\x80\x02c__builtin__\nbytes\nK\x05\x85R."),
        ("set-from-tuple", b"\x80\x02c__builtin__\nset\nK\x01K\x02K\x01\x87\x85R."),
        ("set-unhashable", b"\x80\x02c__builtin__\nset\n]]a\x85R."),
        ("decimal-int", b"\x80\x02cdecimal\nDecimal\nK\x07\x85R."),
        ("decimal-spaces-underscores", b"\x80\x02cdecimal\nDecimal\nX\x08\x00\x00\x00 1_000.5\x85R."),
        ("decimal-bad", b"\x80\x02cdecimal\nDecimal\nX\x03\x00\x00\x00abc\x85R."),
        ("uuid-from-hex", b"\x80\x02cuuid\nUUID\nX&\x00\x00\x00{12345678-1234-5678-1234-567812345678}\x85R."),
        ("datetime-int-args", b"\x80\x02cdatetime\ndatetime\n(M\xe8\x07K\x02K\x1dK\x17K;K;J?B\x0f\x00tR."),
        ("datetime-bad-day", b"\x80\x02cdatetime\ndatetime\nM\xe8\x07K\x02K\x1e\x87R."),
        ("datetime-year0", b"\x80\x02cdatetime\ndate\nK\x00K\x01K\x01\x87R."),
        ("datetime-bad-tz", b"\x80\x02cdatetime\ndatetime\nC\x0a\x07\xe8\x01\x02\x03\x04\x05\x00\x00\x06K\x01\x86R."),
        ("timedelta-normalise", b"\x80\x02cdatetime\ntimedelta\nK\x00J\xff\xff\xff\xffJ\xc0\xbd\xf0\xff\x87R."),
        ("timedelta-overflow", b"\x80\x02cdatetime\ntimedelta\nJ\x00\xca\x9a;\x85R."),
        ("timezone-24h", b"\x80\x02cdatetime\ntimezone\ncdatetime\ntimedelta\nK\x01\x85R\x85R."),
        ("int64-call", b"\x80\x02cbson.int64\nInt64\nK\x05\x85R."),
        ("int64-newobj-empty", b"\x80\x02cbson.int64\nInt64\n)\x81."),
        ("binary-bad-subtype", b"\x80\x02cbson.binary\nBinary\nC\x01aM\x00\x01\x86\x81."),
        ("binary-str-data", b"\x80\x02cbson.binary\nBinary\nX\x01\x00\x00\x00aK\x00\x86\x81."),
        ("objectid-from-hex", b"\x80\x02cbson.objectid\nObjectId\nX\x18\x00\x00\x00e317f589210aeb45394b4b1c\x85R."),
        ("object-call", b"\x80\x02c__builtin__\nobject\n)R."),
        ("reconstructor-object", b"ccopy_reg\n_reconstructor\n(c__builtin__\nobject\nc__builtin__\nobject\nNtR."),
        # refused outright
        ("forbidden-os-system", b"cos\nsystem\n(S'echo hi'\ntR."),
        ("forbidden-posix-system", b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00idq\x00\x85R."),
        ("forbidden-builtins-eval", b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x041+1\x85R."),
        ("forbidden-builtin-eval-py2", b"\x80\x02c__builtin__\neval\nU\x031+1\x85R."),
        ("forbidden-subprocess", b"\x80\x02csubprocess\nPopen\n]\x85R."),
        ("forbidden-getattr", b"\x80\x02c__builtin__\ngetattr\n."),
        ("forbidden-datetime-dotted", b"\x80\x04\x8c\x08datetime\x8c\x0cdatetime.now\x93."),
        ("forbidden-long-name", b"\x80\x02c" + b"m" * 300 + b"\n" + b"n" * 300 + b"\n."),
        ("forbidden-bad-utf8-name", b"\x80\x02c\xff\nx\n."),
        ("inst", b"(S'x'\nios\nsystem\n."),
        ("inst-allowed-class", b"(i__builtin__\nset\n."),
        ("obj", b"(cos\nsystem\nS'x'\no."),
        ("ext1", b"\x80\x02\x82\x01."),
        ("ext2", b"\x80\x02\x83\x01\x00."),
        ("ext4", b"\x80\x02\x84\x01\x00\x00\x00."),
        ("persid", b"Pabc\n."),
        ("binpersid", b"\x80\x02K\x01Q."),
    ]


# Where the Rust reader deliberately differs from pickle.loads (documented in pickle.rs).
DEVIATIONS = {
    "raw/codecs-utf8-refused": {"rust_error": "pickle", "why": "_codecs.encode only with latin1"},
    "raw/bytes-int-refused": {"rust_error": "pickle", "why": "bytes(n) would allocate n bytes"},
    "raw/long-binput-huge-index": {"rust_canon": "1", "why": "the memo is a map, no MemoryError"},
    "raw/inst-allowed-class": {"rust_error": "pickle", "why": "INST is refused even for allowed classes"},
}


def cases():
    out = []
    for name, v in values():
        for proto in range(6):
            data = pickle.dumps(v, proto)
            case = {"name": f"{name}/p{proto}", "pickle": base64.b64encode(data).decode()}
            case.update(outcome(data, pickle.loads))
            out.append(case)
    for name, data in raw_cases():
        case = {"name": f"raw/{name}", "pickle": base64.b64encode(data).decode()}
        case.update(outcome(data, safe_loads))
        case.update(DEVIATIONS.get(case["name"], {}))
        out.append(case)
    return out


def has_frame(data):
    """SafeUnpickler reads from a file, where CPython buffers per FRAME; pickle.loads
    reads bytes and ignores frame boundaries. Mutated frames would show the file
    behaviour, so those pickles are left out."""
    try:
        for op, _, _ in pickletools.genops(data):
            if op.name == "FRAME":
                return True
    except Exception:  # noqa: BLE001 - genops stops at the first bad opcode
        pass
    return b"\x95" in data[:3]


def mutation_cases(seed=20240601, per_case=30, max_len=600):
    """Truncations, byte flips and splices of the cases above, with what pickle.loads
    (via SafeUnpickler, memory-capped) makes of them: a differential test corpus."""
    import random
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    rng = random.Random(seed)
    base = [base64.b64decode(c["pickle"]) for c in cases()]
    base = [b for b in base if len(b) <= max_len]
    seen = set()
    out = []
    for i, data in enumerate(base):
        for j in range(per_case):
            d = bytearray(data)
            kind = rng.randrange(4)
            if kind == 0 and len(d) > 1:
                d = d[: rng.randrange(1, len(d))] + b"."
            elif kind == 1 and d:
                d[rng.randrange(len(d))] = rng.randrange(256)
            elif kind == 2 and d:
                k = rng.randrange(len(d))
                d[k] ^= 1 << rng.randrange(8)
            else:
                other = rng.choice(base)
                a, b = rng.randrange(len(d) + 1), rng.randrange(len(other) + 1)
                d = d[:a] + other[b:]
            d = bytes(d)
            if d in seen or has_frame(d):
                continue
            seen.add(d)
            case = {"name": f"mut/{i}/{j}", "pickle": base64.b64encode(d).decode()}
            try:
                case.update(outcome(d, safe_loads))
            except Exception:  # noqa: BLE001 - no canonical form (e.g. a broken object)
                continue
            out.append(case)
    return out


def writer_cases(seed=1234, count=200):
    """Random sessions as the reference's py_encode.py builds them (Extended JSON
    parsed by bson.json_util, $numberLong as plain ints) and what
    pickle.dumps(session, 2) writes: the Rust writer must be byte-identical."""
    import random

    sys.path.insert(0, "/work/shared/tools/refimpl")
    import refcommon
    from bson import json_util
    from bson.json_util import CANONICAL_JSON_OPTIONS

    rng = random.Random(seed)
    pieces = ["", "a", "/", "\xe9", "\xdf\u20ac", "\U0001F600", "key", "_id", "user", "x" * 40,
              "latin1", "_Binary__subtype", "\x00", "\n", "\xff"]

    def rstr():
        return "".join(rng.choice(pieces) for _ in range(rng.randrange(4)))

    def rbytes(n):
        return bytes(rng.randrange(256) for _ in range(n))

    def val(d, big):
        k = rng.randrange(14 if d < 3 else 9)
        if k == 0:
            return rstr()
        if k == 1:
            return rng.choice([0, 1, 255, 256, 65535, 65536, -1, -256, 2**31 - 1, -2**31, 2**31,
                               2**40, -2**39, 2**63 - 1, -2**63, rng.randrange(-10**6, 10**6)])
        if k == 2:
            return rng.choice([0.0, -0.0, 1.5, 1e300, float("nan"), float("inf"), 0.1, rng.random()])
        if k == 3:
            return rng.choice([True, False, None])
        if k == 4:
            return rbytes(rng.randrange(0, 6))
        if k == 5:
            return datetime.datetime(rng.randrange(1, 10000), rng.randrange(1, 13), rng.randrange(1, 29),
                                     rng.randrange(24), rng.randrange(60), rng.randrange(60),
                                     rng.randrange(1000) * 1000)
        if k == 6:
            return ObjectId(rbytes(12))
        if k == 7:
            return Binary(rbytes(rng.randrange(0, 5)), rng.choice([1, 2, 3, 4, 5, 128]))
        if k == 8:
            return rstr() or "k"
        if k in (9, 10, 11):
            n = 1001 if big and d == 0 else rng.randrange(4)
            return [val(d + 1, False) for _ in range(n)]
        return {rstr(): val(d + 1, False) for _ in range(rng.randrange(4))}

    out = []
    for i in range(count):
        big = i in (7, 8)
        n = 1000 if i == 9 else 1001 if i == 10 else rng.randrange(0, 12)
        sess = {}
        for _ in range(n):
            key = rstr() if rng.random() < 0.5 else f"k{rng.randrange(2000)}"
            sess[key] = val(0, big)
        text = json_util.dumps(sess, json_options=CANONICAL_JSON_OPTIONS)
        data = refcommon.plain_ints(refcommon.load_ejson(text))
        out.append({"session": json.loads(text),
                    "pickle": base64.b64encode(pickle.dumps(data, 2)).decode()})
    return out


def canon_stdin():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            print(canon(pickle.loads(base64.b64decode(line))))
        except Exception as e:  # noqa: BLE001
            print("!" + type(e).__name__)
        sys.stdout.flush()


if __name__ == "__main__":
    if sys.argv[1:] == ["--canon"]:
        canon_stdin()
    elif sys.argv[1:] == ["--writer"]:
        json.dump({"generator": "PYTHONHASHSEED=0 scripts/gen_pickle_fixtures.py --writer",
                   "python": sys.version.split()[0], "cases": writer_cases()}, sys.stdout, indent=0)
        sys.stdout.write("\n")
    elif sys.argv[1:] == ["--mutations"]:
        json.dump({"generator": "scripts/gen_pickle_fixtures.py --mutations",
                   "python": sys.version.split()[0], "cases": mutation_cases()}, sys.stdout, indent=0)
        sys.stdout.write("\n")
    else:
        json.dump({"generator": "scripts/gen_pickle_fixtures.py", "python": sys.version.split()[0],
                   "cases": cases()}, sys.stdout, indent=1)
        sys.stdout.write("\n")
