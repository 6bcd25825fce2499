#!/usr/bin/env python3
"""Generate testdata/session/lifecycle.json: session lifecycle cases run through the
REAL Beaker SessionMiddleware + beaker-session-jwt JWTCookieSession.

    /work/.venv-ref/bin/python scripts/gen_session_fixtures.py > testdata/session/lifecycle.json

Each case is a request (options as ini strings, Cookie header, a fixed clock for
load and finish, the app's actions); `expected` is what scripts/ref_session.py
observed the reference do. Input cookies are written by the reference's own
encoder (JWTCookieSession._encrypt_data), so the file is self-contained.
tests/session_lifecycle.rs replays every case against the Rust session layer.
"""
import json
import sys
from importlib.metadata import version

import ref_session  # noqa: F401  (patches time, datetime and ids on import)
from ref_session import run_case

from beaker_session_jwt import JWTCookieSession

K_NEW = "fixture-key-new-0123456789"
K_OLD = "fixture-key-old-0123456789"
K_GONE = "fixture-key-gone-0123456789"
KEYS = f"{K_NEW}, {K_OLD}"
VKEY = "fixture-validate-key-0123"
LOAD = 1718000000.5
FINISH = 1718000001.25

SESSION = {
    "_id": "c0ffee00c0ffee00c0ffee00c0ffee00",
    "_creation_time": 1717990000.25,
    "_accessed_time": 1717999000.75,
    "user_id": 42,
    "roles": ["admin", "editor"],
}


def cookie(session=None, keys=K_NEW, **opts):
    s = JWTCookieSession({}, jwt_secret_keys=keys, **opts)
    return s._encrypt_data(dict(SESSION if session is None else session))


def original_cookie(session=None, **opts):
    s = JWTCookieSession({}, jwt_secret_keys=K_NEW, write_original_format=True,
                         original_format_validate_key=VKEY, **opts)
    return s._encrypt_data(dict(SESSION if session is None else session))


def hdr(value, name="beaker.session.id"):
    return f"{name}={value}"


def opts(**kw):
    o = {"session.jwt_secret_keys": KEYS}
    for k, v in kw.items():
        o["session." + k] = v
    return o


TOUCH = [{"op": "touch"}]
SET = {"op": "set", "key": "cart", "value": [{"$numberInt": "3"}, "apple"]}
SAVE = {"op": "save"}

CASES = []


def case(name, cookie_header, actions, options=None, load=LOAD, finish=FINISH, **extra):
    c = {"name": name, "options": options or opts(), "cookie": cookie_header,
         "load_time": load, "finish_time": finish, "actions": actions}
    c.update(extra)
    CASES.append(c)


# --- new sessions: dirty tracking
case("new-untouched", None, [{"op": "none"}])
case("new-touched", None, TOUCH)
case("new-changed-not-saved", None, [SET])
case("new-saved", None, [SET, SAVE])
case("new-saved-only", None, [SAVE])
case("new-deleted", None, [{"op": "delete"}])
case("new-auto", None, [SET], options=opts(auto="true"))
case("new-other-cookies-only", "_ga=GA1.2.3; theme=dark", [SET, SAVE])

# --- existing sessions
good = cookie()
case("existing-untouched", hdr(good), [{"op": "none"}])
case("existing-touched", hdr(good), TOUCH)
case("existing-changed-not-saved", hdr(good), [SET])
case("existing-changed-saved", hdr(good), [SET, SAVE])
case("existing-removed-saved", hdr(good), [{"op": "del", "key": "roles"}, SAVE])
case("existing-among-others-quoted", f'a=1; beaker.session.id="{good}"; b=2', TOUCH)
case("existing-duplicate-last-wins", f"beaker.session.id=garbage; beaker.session.id={good}", TOUCH)
case("existing-save-accessed-time-off", hdr(good), TOUCH, options=opts(save_accessed_time="false"))
case("existing-save-accessed-time-off-saved", hdr(good), [SET, SAVE],
     options=opts(save_accessed_time="false"))
case("existing-auto", hdr(good), [SET], options=opts(auto="true"))
case("existing-custom-key", hdr(good, "sid") + "; beaker.session.id=other", TOUCH,
     options=opts(key="sid"))
case("existing-without-times", hdr(cookie({"user_id": 7})), TOUCH)
case("existing-without-times-saved", hdr(cookie({"user_id": 7})), [SET, SAVE])

# --- delete / invalidate
case("existing-deleted", hdr(good), [{"op": "delete"}])
case("existing-deleted-then-set-saved", hdr(good), [{"op": "delete"}, SET, SAVE])
case("existing-invalidated-not-saved", hdr(good), [{"op": "invalidate"}])
case("existing-invalidated-saved", hdr(good), [{"op": "invalidate"}, SET, SAVE])
case("existing-deleted-attrs", hdr(good), [{"op": "delete"}],
     options=opts(cookie_domain=".example.com", cookie_path="/app", secure="true",
                  httponly="true", samesite="Strict", cookie_expires="3600"))

# --- rotation and migration
old = cookie(keys=K_OLD)
case("old-key-untouched", hdr(old), [{"op": "none"}], rust_reissue_like="old-key-touched")
case("old-key-touched", hdr(old), TOUCH)
case("old-key-saved", hdr(old), [SET, SAVE])
case("unknown-key-rejected", hdr(cookie(keys=K_GONE)), TOUCH)
case("unknown-key-not-invalidated", hdr(cookie(keys=K_GONE)), TOUCH,
     options=opts(invalidate_corrupt=""))
orig = original_cookie()
ro = dict(read_original_format="true", original_format_validate_key=VKEY)
case("original-untouched", hdr(orig), [{"op": "none"}], options=opts(**ro),
     rust_reissue_like="original-touched")
case("original-touched", hdr(orig), TOUCH, options=opts(**ro))
case("original-saved", hdr(orig), [SET, SAVE], options=opts(**ro))
case("original-not-read", hdr(orig), TOUCH)
case("write-original-touched", hdr(good), TOUCH,
     options=opts(write_original_format="true", original_format_validate_key=VKEY),
     rust_compare_value="decode")
json_cookie = cookie(bson_compress_jwt_payload=False)
case("json-mode-touched", hdr(json_cookie), TOUCH, options=opts(bson_compress_jwt_payload="false"))
case("json-mode-new-saved", None, [SET, SAVE], options=opts(bson_compress_jwt_payload="false"))
case("json-mode-reads-bson-cookie", hdr(good), TOUCH, options=opts(bson_compress_jwt_payload="false"))

# --- corrupt cookies
case("corrupt-invalidated", hdr("garbage"), TOUCH)
case("corrupt-invalidated-untouched", hdr("garbage"), [{"op": "none"}])
case("corrupt-invalidated-saved", hdr("garbage"), [SET, SAVE])
case("corrupt-not-invalidated", hdr("garbage"), TOUCH, options=opts(invalidate_corrupt=""))
case("corrupt-invalidate-false-string", hdr("garbage"), TOUCH,
     options=opts(invalidate_corrupt="false"))
case("empty-cookie-value", hdr(""), TOUCH)
case("tampered", hdr(good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")), TOUCH)

# --- timeout
case("timeout-fresh", hdr(good), TOUCH, options=opts(timeout="3600"))
case("timeout-expired", hdr(good), TOUCH, options=opts(timeout="60"))
case("timeout-expired-saved", hdr(good), [SET, SAVE], options=opts(timeout="60"))
case("timeout-exact-boundary", hdr(good), TOUCH,
     options=opts(timeout=str(int(LOAD - SESSION["_accessed_time"]))), load=LOAD,
     note="now - accessed = 999.75 > 999: expired")
case("timeout-just-fresh", hdr(good), TOUCH,
     options=opts(timeout=str(int(LOAD - SESSION["_accessed_time"]) + 1)), load=LOAD,
     note="now - accessed = 999.75 > 1000 is false: kept")
case("timeout-no-accessed-time", hdr(cookie({"user_id": 7})), TOUCH, options=opts(timeout="1"))
case("timeout-accessed-time-not-number",
     hdr(cookie({"_id": "ab" * 16, "_accessed_time": "yesterday"})), TOUCH,
     options=opts(timeout="60"))
case("timeout-zero", hdr(good), TOUCH, options=opts(timeout="0"))

# --- cookie attributes
case("attrs-expires-false", None, [SET, SAVE], options=opts(cookie_expires="false"))
case("attrs-expires-zero-is-false", None, [SET, SAVE], options=opts(cookie_expires="0"))
case("attrs-expires-one-is-true", None, [SET, SAVE], options=opts(cookie_expires="1"))
case("attrs-expires-seconds", None, [SET, SAVE], options=opts(cookie_expires="86400"))
case("attrs-domain-path-flags", None, [SET, SAVE],
     options=opts(cookie_domain="example.com", cookie_path="/app", secure="true",
                  httponly="yes"))
case("attrs-samesite-none", None, [SET, SAVE], options=opts(samesite="None"))
case("attrs-samesite-none-secure", None, [SET, SAVE], options=opts(samesite="None", secure="on"))
case("attrs-samesite-strict", None, [SET, SAVE], options=opts(samesite="Strict"))
case("attrs-samesite-lowercase", None, [SET, SAVE], options=opts(samesite="lax"))
case("attrs-samesite-empty", None, [SET, SAVE], options=opts(samesite=""))
orig_domain = original_cookie(dict(SESSION, _domain="old.example.com", _path="/old"))
case("original-cookie-domain-path", hdr(orig_domain), TOUCH, options=opts(**ro))

# --- more types, keys and Beaker-era leftovers
typed = [
    {"op": "set", "key": "when", "value": {"$date": {"$numberLong": "1717000000123"}}},
    {"op": "set", "key": "blob", "value": {"$binary": {"base64": "iVBORw==", "subType": "00"}}},
    {"op": "set", "key": "big", "value": {"$numberLong": "9007199254740993"}},
    {"op": "set", "key": "pi", "value": {"$numberDouble": "3.141592653589793"}},
    {"op": "set", "key": "nested", "value": {"_id": "inner", "list": [None, True, {"$numberDouble": "-0.0"}]}},
]
case("bson-types-saved", hdr(good), typed + [SAVE])
case("bson-types-new-saved", None, typed + [SAVE])
three = f"{K_NEW}, {K_OLD}, {K_GONE}"
case("third-of-three-keys-touched", hdr(cookie(keys=K_GONE)), TOUCH,
     options=dict(opts(), **{"session.jwt_secret_keys": three}))
case("third-of-three-keys-untouched", hdr(cookie(keys=K_GONE)), [{"op": "none"}],
     options=dict(opts(), **{"session.jwt_secret_keys": three}),
     rust_reissue_like="third-of-three-keys-touched")
orig_expires = original_cookie(dict(SESSION, _expires=True))
case("original-with-beaker-expires-key", hdr(orig_expires), TOUCH, options=opts(**ro))
case("original-with-beaker-expires-key-saved", hdr(orig_expires), [SET, SAVE], options=opts(**ro))
case("deleted-cookie-expires-false", hdr(good), [{"op": "delete"}], options=opts(cookie_expires="false"))
case("auto-and-save-accessed-time-off", hdr(good), TOUCH,
     options=opts(auto="true", save_accessed_time="false"))
case("new-invalidated-saved", None, [{"op": "invalidate"}, SET, SAVE])
case("save-then-delete", hdr(good), [SET, SAVE, {"op": "delete"}])
case("delete-then-invalidate-saved", hdr(good), [{"op": "delete"}, {"op": "invalidate"}, SAVE])

# --- size limit
# letters from a seeded generator: they do not compress away
_rng = __import__("random").Random(20240601)
big = {"op": "set", "key": "blob",
       "value": "".join(_rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(4000))}
case("too-long-on-save", None, [big, SAVE])
case("too-long-unsaved-new", None, [big])
case("too-long-existing-discarded", hdr(good), [big])


def main():
    out = {
        "generated_by": "scripts/gen_session_fixtures.py (runs scripts/ref_session.py's run_case)",
        "reference": {"beaker": version("beaker"), "beaker-session-jwt": version("beaker-session-jwt"),
                      "python": sys.version.split()[0]},
        "id_scheme": "the n-th session id of a request is '%032x' % n, n from 1",
        "cases": [],
    }
    for c in CASES:
        c = dict(c)
        c["expected"] = run_case(c)
        out["cases"].append(c)
    json.dump(out, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
