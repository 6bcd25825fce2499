#!/usr/bin/env python3
"""Generate the fixed benchmark inputs under testdata/bench/ with the REAL Python reference.

Run with the reference venv (made by ../shared/tools/refimpl/setup.sh):

    /work/.venv-ref/bin/python scripts/gen_bench_inputs.py            # writes testdata/bench/
    /work/.venv-ref/bin/python scripts/gen_bench_inputs.py --check    # only prints sizes

Outputs (deterministic for the fixed seed below; hash seed pinned to 0):

* testdata/bench/inputs.json: the benchmark cases. Each case has the session as
  canonical Extended JSON (for humans) and as hex BSON (`bson.encode`, what the Rust
  benches parse, so they do not depend on an Extended JSON reader), the options, and
  the cookie the reference wrote for it (`JWTCookieSession._encrypt_data`). Decode
  cases also carry `expected_bson_hex`: the reference's decoded session
  (`_decrypt_data`, then refcommon's per-key BSON round trip) encoded with
  `bson.encode`, so the Rust side can check it decoded the same session.
* testdata/bench/typical_lines.txt: 100 distinct typical BSON-mode cookies (same shape
  as the `typical` case, fresh ids/tokens/times), one per line, for the
  `beaker-cookie decode --lines` throughput run (scripts/bench-vs-python.sh repeats
  them to 20,000 lines).

The sessions look like what Beaker apps store: `_id` (uuid4 hex), `_creation_time` and
`_accessed_time` (float seconds), a user id, CSRF token (40 hex, as Pyramid makes it),
flash messages, roles, datetimes, nested preferences, a cart, recently viewed ids.
Sizes: small ~350-character cookie, typical ~1 KB, large close to Beaker's 4064 limit.
"""
import argparse
import datetime as dt
import json
import os
import random
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REFIMPL = os.environ.get("BEAKER_REFIMPL") or os.path.join(ROOT, "..", "shared", "tools", "refimpl")
sys.path.insert(0, REFIMPL)

import refcommon  # noqa: E402
import bson  # noqa: E402
from bson.int64 import Int64  # noqa: E402

SEED = 20261122
SIGNING_KEY = "bench-signing-key-2026-b7e1c0d4f9a2"
OLD_KEY_1 = "bench-previous-key-2025-5a61e83c0d27"
OLD_KEY_2 = "bench-oldest-key-2024-0f9b2d71c4e8"
VALIDATE_KEY = "bench-original-validate-key-3c9d01"

# Base time of the sessions: 2026-11-20 09:14:05 UTC
T0 = 1795166045.0
NUM_ORDERS = 16


def uuid_hex(rng):
    return uuid.UUID(int=rng.getrandbits(128), version=4).hex


def token_hex(rng, nbytes):
    return rng.getrandbits(8 * nbytes).to_bytes(nbytes, "big").hex()


def when(offset_s, micro=0):
    return dt.datetime(2026, 11, 20, 9, 14, 5) + dt.timedelta(seconds=offset_s, microseconds=micro)


def base_session(rng):
    created = T0 - rng.randint(60, 86400) + rng.randint(0, 999999) / 1e6
    return {
        "_id": uuid_hex(rng),
        "_creation_time": created,
        "_accessed_time": created + rng.randint(1, 3600) + rng.randint(0, 999999) / 1e6,
    }


def small_session(rng):
    s = base_session(rng)
    s.update({
        "user_id": rng.randint(10000, 99999),
        "csrf_token": token_hex(rng, 20),
    })
    return s


def typical_session(rng, json_only=False):
    s = base_session(rng)
    uid = rng.randint(100000, 999999)
    s.update({
        "user_id": uid,
        "tenant_id": Int64(rng.randint(10**12, 10**13)),
        "username": "zoe.mueller%d" % rng.randint(1, 99),
        "display_name": "Zoë Müller",
        "email": "zoe.mueller@example.org",
        "roles": ["editor", "reviewer", "billing:read"],
        "csrf_token": token_hex(rng, 20),
        "auth_time": when(-rng.randint(600, 7200), 123000),
        "mfa_verified": True,
        "locale": "de_DE",
        "timezone": "Europe/Berlin",
        "_flash": ["Your changes have been saved."],
        "preferences": {
            "theme": "dark",
            "page_size": 50,
            "sidebar_collapsed": False,
            "notifications": {"email": True, "sms": False, "digest": "weekly"},
        },
        "cart": [
            {"sku": "BK-%05d" % rng.randint(0, 99999), "qty": 1, "price": 24.9},
            {"sku": "MG-%05d" % rng.randint(0, 99999), "qty": 2, "price": 7.5},
        ],
        "recently_viewed": [rng.randint(1000, 99999) for _ in range(8)],
        "login_ip": "203.0.113.%d" % rng.randint(1, 254),
    })
    if json_only:
        s["tenant_id"] = int(s["tenant_id"])
        s["auth_time"] = s["auth_time"].isoformat()
    return s


def large_session(rng):
    s = typical_session(rng)
    s.update({
        "recently_viewed": [rng.randint(1000, 999999) for _ in range(40)],
        "search_history": [
            "ergonomic keyboard split layout", "usb-c dock dual 4k", "standing desk frame",
            "noise cancelling headphones", "monitor arm vesa 100", "mechanical switches tactile",
        ],
        "oauth_state": token_hex(rng, 24),
        "oidc_nonce": token_hex(rng, 16),
        "feature_flags": {"new_checkout": True, "beta_search": False, "dark_launch_17": True,
                          "ab_bucket": rng.randint(0, 99)},
        "draft_message": {
            "to": ["ops@example.org", "billing@example.org"],
            "subject": "Invoice 2026-%05d disputed" % rng.randint(0, 99999),
            "body": ("Hello,\n\nthe invoice for October lists two licences we cancelled in "
                     "September (see ticket #%d). Could you issue a corrected invoice?\n\n"
                     "Thanks,\nZoë" % rng.randint(10000, 99999)),
            "saved_at": when(-rng.randint(10, 600)),
        },
        "wizard": {"step": 3, "completed": [1, 2], "data": {
            "company": "Müller & Söhne GmbH", "vat_id": "DE%09d" % rng.randint(0, 10**9 - 1),
            "street": "Hauptstraße 12", "city": "Köln", "zip": "50667", "country": "DE"}},
        "api_tokens": [{"id": token_hex(rng, 8), "scopes": ["read", "write"],
                        "created": when(-rng.randint(86400, 86400 * 90))} for _ in range(4)],
        "seen_announcements": [rng.randint(1, 500) for _ in range(12)],
        "upload_ids": [uuid_hex(rng) for _ in range(5)],
        "recent_orders": [{"order_id": token_hex(rng, 6), "total": rng.randint(500, 99999) / 100,
                           "placed": when(-rng.randint(86400, 86400 * 60)),
                           "status": rng.choice(["shipped", "delivered", "processing"])}
                          for _ in range(NUM_ORDERS)],
    })
    return s


def ejson(session):
    """Canonical Extended JSON text (refcommon's rendering, per-key BSON round trip)."""
    normalised, notes = refcommon.normalise(session)
    if notes:
        raise SystemExit("unexpected notes: %r" % notes)
    return refcommon.to_ejson_text(normalised)


def expected_bson_hex(decoded):
    normalised, notes = refcommon.normalise(decoded)
    if notes:
        raise SystemExit("unexpected notes: %r" % notes)
    return bson.encode(normalised).hex()


def make_case(name, session, options, decode_options=None, note=""):
    cookie = refcommon.encode_session(options, dict(session))
    dopts = decode_options or options
    decoded = refcommon.decode_cookie(dopts, cookie)
    case = {
        "name": name,
        "note": note,
        "encode_options": options,
        "decode_options": dopts,
        "session_ejson": ejson(session),
        "session_bson_hex": bson.encode(session).hex(),
        "cookie": cookie,
        "cookie_len": len(cookie),
        "expected_bson_hex": expected_bson_hex(decoded),
    }
    return case


def main():
    refcommon.pin_hash_seed()
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(ROOT, "testdata", "bench"))
    p.add_argument("--check", action="store_true", help="print sizes, write nothing")
    args = p.parse_args()

    rng = random.Random(SEED)
    bson_k1 = {"jwt_secret_keys": SIGNING_KEY}
    ring_first = {"jwt_secret_keys": ", ".join([SIGNING_KEY, OLD_KEY_1, OLD_KEY_2])}
    ring_third = {"jwt_secret_keys": ", ".join([OLD_KEY_1, OLD_KEY_2, SIGNING_KEY])}
    json_k1 = {"jwt_secret_keys": SIGNING_KEY, "bson_compress_jwt_payload": "false"}
    orig_common = {"jwt_secret_keys": SIGNING_KEY, "read_original_format": "true",
                   "original_format_validate_key": VALIDATE_KEY}

    small = small_session(rng)
    typical = typical_session(rng)
    large = large_session(rng)
    typical_json = typical_session(rng, json_only=True)
    # Original-format sessions are what Beaker's CookieSession stored: _domain/_path included,
    # plain ints (no bson Int64).
    typical_orig = refcommon.plain_ints(typical_session(rng))
    typical_orig.update({"_domain": None, "_path": "/"})
    typical_orig_json = typical_session(rng, json_only=True)
    typical_orig_json.update({"_domain": None, "_path": "/"})

    cases = [
        make_case("bson_small", small, bson_k1),
        make_case("bson_typical", typical, bson_k1),
        make_case("bson_large", large, bson_k1),
        make_case("bson_small_key1of3", small, ring_first, ring_first,
                  note="signed with the first of three keys"),
        make_case("bson_small_key3of3", small, bson_k1, ring_third,
                  note="signed with the key that is third in the decoding ring"),
        make_case("bson_typical_key1of3", typical, ring_first, ring_first,
                  note="signed with the first of three keys"),
        make_case("bson_typical_key3of3", typical, bson_k1, ring_third,
                  note="signed with the key that is third in the decoding ring"),
        make_case("json_typical", typical_json, json_k1),
        make_case("original_pickle_typical", typical_orig,
                  dict(orig_common, write_original_format="true",
                       original_format_data_serializer="pickle"),
                  dict(orig_common, original_format_data_serializer="pickle"),
                  note="written by write_original_format (pickle protocol 2), read back in BSON mode"),
        make_case("original_json_typical", typical_orig_json,
                  dict(orig_common, write_original_format="true",
                       original_format_data_serializer="json"),
                  dict(orig_common, original_format_data_serializer="json"),
                  note="written by write_original_format (zlib json), read back in BSON mode"),
    ]
    by_name = {c["name"]: c for c in cases}
    # The session layer's request: a Cookie header carrying the typical cookie among others.
    header = ("_ga=GA1.2.1462810347.1795000000; theme=dark; beaker.session.id=%s; "
              "csrftoken=%s" % (by_name["bson_typical"]["cookie"], token_hex(rng, 16)))

    lines = []
    for _ in range(100):
        s = typical_session(rng)
        lines.append(refcommon.encode_session(bson_k1, s))

    for c in cases:
        print("%-26s cookie %5d chars, bson %5d bytes" % (
            c["name"], c["cookie_len"], len(c["session_bson_hex"]) // 2))
    print("typical_lines: %d cookies, %d..%d chars" % (
        len(lines), min(map(len, lines)), max(map(len, lines))))
    if args.check:
        return 0

    from importlib.metadata import version
    out = {
        "generator": "scripts/gen_bench_inputs.py (run with /work/.venv-ref/bin/python)",
        "seed": SEED,
        "reference": {p: version(p) for p in ("beaker", "beaker-session-jwt", "joserfc", "pymongo")},
        "python": sys.version.split()[0],
        "keys": {"signing": SIGNING_KEY, "old_1": OLD_KEY_1, "old_2": OLD_KEY_2,
                 "original_validate": VALIDATE_KEY},
        "session_layer": {"cookie_header": header, "cookie_name": "beaker.session.id",
                          "options": bson_k1},
        "cases": cases,
    }
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "inputs.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(args.out, "typical_lines.txt"), "w", encoding="ascii") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
