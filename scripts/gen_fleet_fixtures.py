#!/usr/bin/env python3
"""Writes testdata/fleet/cookies.json: session cookies made by the real Python reference
for tests/middleware.rs (the tower layer in memory).

    .venv-ref/bin/python scripts/gen_fleet_fixtures.py > testdata/fleet/cookies.json

Each cookie holds the session of the reference's test app after N visits
(value = N, example_date = datetime(2023, 5, 5)), saved by the real session class:
  jwt_new_key   JWTCookieSession, jwt_secret_keys = NEW           (current key and format)
  jwt_old_key   JWTCookieSession, jwt_secret_keys = OLD           (to be re-issued with NEW)
  original      Beaker CookieSession, validate_key = VALIDATE       (pickle; to be re-issued as JWT)
The test config is jwt_secret_keys = "NEW, OLD" with read_original_format on.
"""
import datetime
import json

from beaker.session import CookieSession
from beaker_session_jwt import JWTCookieSession

NEW = "layer-test-new-key-0123456789abcdef"
OLD = "layer-test-old-key-fedcba9876543210"
VALIDATE = "layer-test-validate-key-5a1e"


def make(cls, value, **options):
    req = {"cookie": None}
    s = cls(req, **options)
    s["value"] = value
    s["example_date"] = datetime.datetime(2023, 5, 5)
    s.save()
    # cookie_out is Morsel.output(header=""): " beaker.session.id=VALUE; Path=/; ..."
    name_value = req["cookie_out"].strip().split(";")[0]
    name, _, cookie = name_value.partition("=")
    assert name == "beaker.session.id"
    return {"cookie": cookie, "_id": s["_id"], "value": value}


fixtures = {
    "comment": "made by scripts/gen_fleet_fixtures.py with beaker 1.14.1 and beaker-session-jwt 1.0.4",
    "options": {
        "session.jwt_secret_keys": "%s, %s" % (NEW, OLD),
        "session.read_original_format": "true",
        "session.original_format_validate_key": VALIDATE,
    },
    "new_key": NEW,
    "old_key": OLD,
    "validate_key": VALIDATE,
    "jwt_new_key": make(JWTCookieSession, 41, jwt_secret_keys=NEW),
    "jwt_old_key": make(JWTCookieSession, 7, jwt_secret_keys=OLD),
    "original": make(CookieSession, 12, validate_key=VALIDATE),
}
print(json.dumps(fixtures, indent=2))
