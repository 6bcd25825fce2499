#!/usr/bin/env python3
"""Batch driver of the real Python reference, for the interop tests.

Reads JSON lines from stdin, one request per line, and answers one JSON line each:

  {"op": "decode", "options": {...}, "cookie": "..."}
      -> {"ok": "<canonical Extended JSON of the session, as py_decode.py prints it>"}
  {"op": "encode", "options": {...}, "session": "<Extended JSON text>", "keep_int64": false}
      -> {"ok": "<cookie value, as py_encode.py prints it>"}
  failures -> {"error": {"python_exception": ..., "message": ...}}

It imports refcommon from the reference tool directory (env BEAKER_REFIMPL, default
../shared/tools/refimpl next to the crate), so it runs exactly the code of
py_decode.py / py_encode.py, but in one process for many cookies.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REFIMPL = os.environ.get("BEAKER_REFIMPL") or os.path.join(HERE, "..", "..", "shared", "tools", "refimpl")
sys.path.insert(0, REFIMPL)

import refcommon  # noqa: E402


def handle(req):
    opts = req.get("options", {})
    if req["op"] == "decode":
        session = refcommon.decode_cookie(opts, req["cookie"])
        normalised, _notes = refcommon.normalise(session)
        return refcommon.to_ejson_text(normalised)
    if req["op"] == "encode":
        data = refcommon.load_ejson(req["session"])
        if not req.get("keep_int64"):
            data = refcommon.plain_ints_for_pickle(opts, data)
        return refcommon.encode_session(opts, data)
    raise ValueError("unknown op")


def main():
    refcommon.pin_hash_seed()
    out = sys.stdout
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            answer = {"ok": handle(json.loads(line))}
        except Exception as exc:  # noqa: BLE001 - report what the reference raised
            answer = {"error": refcommon.error_obj(exc)}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
