#!/usr/bin/env python3
"""Drive the REAL Beaker SessionMiddleware + beaker-session-jwt JWTCookieSession
through one request and print what the reference does, as JSON.

Used by tests/python_lifecycle.rs (live) and scripts/gen_session_fixtures.py
(which writes testdata/session/lifecycle.json). Run with the reference venv:

    /work/.venv-ref/bin/python scripts/ref_session.py < case.json

A case (JSON object on stdin, or a JSON array of cases -> array of results):

    {
      "options":  {"session.jwt_secret_keys": "k2, k1", "session.timeout": "60", ...},
                  # ini-style strings, given to SessionMiddleware as its config dict,
                  # with session_class=JWTCookieSession (as the package README says)
      "cookie":   "<raw Cookie header>" or null (no Cookie header),
      "load_time":   1718000000.5,   # time.time() while the session loads
      "finish_time": 1718000001.25,  # time.time() while the middleware persists
      "actions":  [ ... ]            # what the WSGI app does, in order
    }

Actions: {"op": "none"} (do not touch the session at all), {"op": "touch"}
(read one key), {"op": "set", "key": K, "value": EJSON}, {"op": "del", "key": K},
{"op": "save"}, {"op": "delete"}, {"op": "invalidate"}.

Determinism: time.time() is patched to the case's clock, datetime.now() in
beaker.session likewise (it dates deletion cookies and cookie_expires=seconds),
TZ is UTC (cookie_expires=false renders local time labelled GMT), and session ids
come from a counter: the n-th id of the request is "%032x" % n (n from 1).

Result:

    {"error": null | {"exception": cls, "message": str, "stage": "load"|"app"|"finish"},
     "loaded": bool,           # whether the session was loaded at all
     "is_new": bool | null,
     "after_load": EJSON | null,   # the session dict as the app first sees it
     "final": EJSON | null,        # the session dict after the middleware persisted
     "set_cookie": "<header value>" | null,
     "warnings": [str, ...]}   # beaker's util.warn messages (corrupt cookies)

Session dicts are rendered as MongoDB canonical Extended JSON in dict order
(including `_domain`/`_path`, which live in the dict); None is null.
"""
import json
import os
import sys
import time as time_module
import warnings

os.environ["TZ"] = "UTC"
time_module.tzset()

import logging  # noqa: E402

# SessionMiddleware warns (DeprecationWarning) about the session_class keyword.
warnings.simplefilter("ignore", DeprecationWarning)

logging.getLogger().addHandler(logging.NullHandler())

from datetime import datetime as _real_datetime, timezone  # noqa: E402

import beaker.session  # noqa: E402
import beaker_session_jwt  # noqa: E402
from beaker.middleware import SessionMiddleware  # noqa: E402
from beaker_session_jwt import JWTCookieSession  # noqa: E402
from bson import json_util  # noqa: E402
from bson.json_util import CANONICAL_JSON_OPTIONS  # noqa: E402
from bson.son import SON  # noqa: E402

LOAD_OPTIONS = CANONICAL_JSON_OPTIONS.with_options(tz_aware=False)

_clock = {"now": 0.0}
_ids = {"n": 0}


def _fake_time():
    return _clock["now"]


class _FixedDatetime(_real_datetime):
    @classmethod
    def now(cls, tz=None):
        # an instance of this class, so beaker's isinstance(x, datetime) still holds
        return cls.fromtimestamp(_clock["now"], tz)


def _next_id():
    _ids["n"] += 1
    return "%032x" % _ids["n"]


time_module.time = _fake_time
beaker.session.datetime = _FixedDatetime
beaker.session._session_id = _next_id
beaker_session_jwt._session_id = _next_id


def render(d):
    if d is None:
        return None
    return json.loads(json_util.dumps(SON(list(d.items())), json_options=CANONICAL_JSON_OPTIONS))


def run_case(case):
    _ids["n"] = 0
    _clock["now"] = case["load_time"]
    result = {"error": None, "loaded": False, "is_new": None, "after_load": None,
              "final": None, "set_cookie": None, "warnings": []}
    mw = SessionMiddleware(None, dict(case.get("options", {})), session_class=JWTCookieSession)
    environ = {}
    if case.get("cookie") is not None:
        environ["HTTP_COOKIE"] = case["cookie"]
    stage = {"s": "load"}
    headers_out = []

    def app(env, start_response):
        sess = env["beaker.session"]
        for action in case.get("actions", []):
            op = action["op"]
            if op == "none":
                continue
            if not result["loaded"]:
                stage["s"] = "load"
                sess._session()  # lazy load, exactly what any attribute access does
                result["loaded"] = True
                result["is_new"] = sess.is_new
                result["after_load"] = render(dict(sess._session()))
            stage["s"] = "app"
            if op == "touch":
                sess.get("_id")
            elif op == "set":
                value = json_util.loads(json.dumps({"v": action["value"]}), json_options=LOAD_OPTIONS)["v"]
                sess[action["key"]] = value
            elif op == "del":
                del sess[action["key"]]
            elif op == "save":
                sess.save()
            elif op == "delete":
                sess.delete()
            elif op == "invalidate":
                sess.invalidate()
            else:
                raise SystemExit("unknown op %r" % op)
        _clock["now"] = case["finish_time"]
        stage["s"] = "finish"
        start_response("200 OK", [])
        if result["loaded"]:
            result["final"] = render(dict(sess._session()))
        return [b""]

    def start_response(status, headers, exc_info=None):
        headers_out.extend(headers)

    mw.wrap_app = mw.app = app
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            mw(environ, start_response)
        except Exception as exc:  # noqa: BLE001
            result["error"] = {"exception": type(exc).__name__, "message": str(exc), "stage": stage["s"]}
        result["warnings"] = [str(w.message) for w in caught
                              if "Invalidating corrupt session" in str(w.message)]
    cookies = [v for (k, v) in headers_out if k.lower() == "set-cookie"]
    result["set_cookie"] = cookies[-1] if cookies else None
    return result


def main():
    data = json.load(sys.stdin)
    if isinstance(data, list):
        out = [run_case(c) for c in data]
    else:
        out = run_case(data)
    sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
