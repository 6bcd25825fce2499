#!/usr/bin/env python3
"""The Python half of the mixed fleet: the reference's own test app behind Beaker's
SessionMiddleware, served with the stdlib's wsgiref on loopback.

Run it with the reference venv's interpreter (it imports beaker, beaker_session_jwt, bson):

    .venv-ref/bin/python scripts/py_fleet_app.py --config testdata/fleet/migrate.ini \
        --impl jwt --listen 127.0.0.1:0

It prints one line `listening on http://127.0.0.1:PORT` once the socket is bound, then
serves until it is killed, its stdin closes, or --max-seconds pass.

--impl picks the code a Python process of the fleet runs, with the same ini file:
  jwt            beaker-session-jwt: SessionMiddleware(app, config, session_class=JWTCookieSession)
  beaker-cookie  "old Python" before the migration: plain Beaker, SessionMiddleware(app, config)
                 with session.type = cookie in the ini (CookieSession, signed with
                 session.validate_key; it ignores the jwt options)

The app is the one of beaker-session-jwt's test.py (derived from Beaker's
test_cookie_only.py): GET / increments session['value'], sets session['example_date'] to
datetime(2023, 5, 5) (BSON and pickle carry it, JSON cannot), saves, and answers
`The current value is: N`. GET /session answers the session as canonical Extended JSON
(bson.json_util, as the reference tools print sessions), the rendering the Rust demo's
/session uses.
"""
import argparse
import configparser
import datetime
import os
import stat
import sys
import threading
import time
from wsgiref.simple_server import WSGIRequestHandler, make_server

from beaker.middleware import SessionMiddleware
from bson import json_util

try:
    from beaker_session_jwt import JWTCookieSession
except ImportError:  # only --impl beaker-cookie can run without it
    JWTCookieSession = None


def simple_app(environ, start_response):
    session = environ["beaker.session"]
    path = environ.get("PATH_INFO", "/")
    if path == "/session":
        # reading the session touches it: SessionMiddleware re-issues the cookie, as the
        # Rust layer does
        body = json_util.dumps(dict(session.items()), json_options=json_util.CANONICAL_JSON_OPTIONS)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body.encode("utf-8")]
    if path != "/":
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    if "value" not in session:
        session["value"] = 0
    session["value"] += 1
    session["example_date"] = datetime.datetime(2023, 5, 5)
    session.save()
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
    return [("The current value is: %d" % session["value"]).encode("utf-8")]


def read_ini(path, section):
    """The section's options as PasteDeploy gives them to an app (%(here)s works)."""
    parser = configparser.ConfigParser(
        defaults={"here": os.path.dirname(os.path.abspath(path))},
        interpolation=configparser.BasicInterpolation(),
    )
    parser.optionxform = str  # option names are case-sensitive in Beaker
    with open(path, encoding="utf-8") as f:
        parser.read_file(f)
    return {k: v for k, v in parser.items(section) if k != "here"}


def build_app(config, impl):
    if impl == "jwt":
        if JWTCookieSession is None:
            sys.exit("beaker_session_jwt is not installed")
        # beaker-session-jwt's README: SessionMiddleware(app, config, session_class=...)
        return SessionMiddleware(simple_app, config, session_class=JWTCookieSession)
    # Plain Beaker picks CookieSession from the ini's session.type, as old deployments do.
    if config.get("session.type", config.get("beaker.session.type")) != "cookie":
        sys.exit("--impl beaker-cookie needs session.type = cookie in the ini")
    return SessionMiddleware(simple_app, config)


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - stdlib signature
        if os.environ.get("PY_FLEET_APP_LOG"):
            super().log_message(format, *args)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="ini file shared with the Rust demo")
    ap.add_argument("--section", default="app:main")
    ap.add_argument("--impl", choices=["jwt", "beaker-cookie"], default="jwt")
    ap.add_argument("--listen", default="127.0.0.1:0", help="loopback address (port 0: pick one)")
    ap.add_argument("--max-seconds", type=float, default=300.0, help="exit after this long")
    args = ap.parse_args()

    host, _, port = args.listen.rpartition(":")
    if host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        sys.exit("--listen must be a loopback address")
    app = build_app(read_ini(args.config, args.section), args.impl)
    server = make_server(host.strip("[]"), int(port), app, handler_class=QuietHandler)
    print("listening on http://%s:%d" % (host, server.server_port), flush=True)

    # Bounded life: stop when the parent closes our stdin or the time is up.
    def watchdog():
        deadline = time.monotonic() + args.max_seconds
        if stat.S_ISFIFO(os.fstat(0).st_mode):
            threading.Thread(target=lambda: (sys.stdin.read(), server.shutdown()), daemon=True).start()
        while time.monotonic() < deadline:
            time.sleep(0.2)
        server.shutdown()

    threading.Thread(target=watchdog, daemon=True).start()
    server.serve_forever(poll_interval=0.1)


if __name__ == "__main__":
    main()
