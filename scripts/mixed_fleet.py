#!/usr/bin/env python3
"""Mixed-fleet rollout test: the real Python reference and the Rust demo behind one
"load balancer" (one HTTP client with one cookie jar alternating between them), moving
from Beaker's original cookies to JWTs and through a key rotation, with nobody logged out.

    .venv-ref/bin/python scripts/mixed_fleet.py --demo target/debug/examples/demo

The Python processes are scripts/py_fleet_app.py (Beaker's SessionMiddleware with the
real CookieSession or JWTCookieSession), run with this interpreter, which must therefore
be the reference venv's. In every phase both servers read the same ini file from
testdata/fleet/ (see its README). All servers listen on 127.0.0.1 with ephemeral ports;
every wait is bounded; every process is killed at the end.

Each request asserts the counter (`The current value is: N`, N one more than before),
the format of the cookie that came back (original format signed with the validate key,
or a JWT signed with the expected key: checked here with hmac, independently of both
implementations), and at the end of each phase that both servers show the same session
(`_id`, value, creation time, example_date) on /session: the session was never lost.

Prints one line per check and a closing `N passed, N failed` line; exits 1 on failure.
"""
import argparse
import base64
import configparser
import hashlib
import hmac
import http.cookiejar
import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FLEET = os.path.join(ROOT, "testdata", "fleet")
TIMEOUT = 15.0
JWT_HEADER = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9."
COOKIE = "beaker.session.id"


def ini_options(path):
    p = configparser.ConfigParser(interpolation=None)
    p.optionxform = str
    with open(path, encoding="utf-8") as f:
        p.read_file(f)
    return dict(p.items("app:main"))


def jwt_keys(opts):
    return [k.strip() for k in opts.get("session.jwt_secret_keys", "").split(",") if k.strip()]


def jwt_signer(cookie, keys):
    """Index of the key whose HMAC-SHA256 signs this JWT, or None."""
    parts = cookie.split(".")
    if len(parts) != 3:
        return None
    for i, key in enumerate(keys):
        mac = hmac.new(key.encode(), (parts[0] + "." + parts[1]).encode(), hashlib.sha256).digest()
        sig = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
        if hmac.compare_digest(sig, parts[2]):
            return i
    return None


def original_signed(cookie, validate_key):
    """True if the value is Beaker's original signed cookie under this validate key."""
    mac = hmac.new(validate_key.encode(), cookie[40:].encode(), hashlib.sha1).hexdigest()
    return len(cookie) > 40 and hmac.compare_digest(mac, cookie[:40])


def number(v):
    """An int from canonical Extended JSON ({"$numberInt": "3"}) or plain JSON."""
    if isinstance(v, dict) and len(v) == 1:
        (k, x), = v.items()
        if k in ("$numberInt", "$numberLong"):
            return int(x)
    return v if isinstance(v, int) else None


class Server:
    """A child process that prints `listening on http://HOST:PORT` when ready."""

    def __init__(self, label, cmd):
        self.label = label
        self.proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        lines = queue.Queue()
        self.stderr = []

        def pump(stream, sink):
            for line in stream:
                sink(line)

        threading.Thread(target=pump, args=(self.proc.stdout, lines.put), daemon=True).start()
        threading.Thread(target=pump, args=(self.proc.stderr, self.stderr.append), daemon=True).start()
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.2)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            if line.startswith("listening on "):
                self.base = line.split()[-1].rstrip("/")
                if not self.base.startswith("http://127.0.0.1:"):
                    self.stop()
                    raise RuntimeError("%s is not on loopback: %s" % (label, self.base))
                return
        self.stop()
        raise RuntimeError("%s did not start: %s" % (label, "".join(self.stderr)[-2000:]))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            pass


class Fleet:
    def __init__(self, demo, python):
        self.demo = demo
        self.python = python
        self.servers = []
        self.jar = http.cookiejar.CookieJar()
        self.client = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.counter = 0
        self.session_id = None
        self.ids_seen = set()
        self.passed = []
        self.failed = []

    # -------------------------------------------------------------- bookkeeping
    def check(self, name, ok, detail=""):
        (self.passed if ok else self.failed).append(name)
        print("%s %s%s" % ("ok  " if ok else "FAIL", name, (": " + detail) if detail else ""), flush=True)
        return ok

    def start(self, kind, ini):
        config = os.path.join(FLEET, ini)
        if kind == "rust":
            cmd = [self.demo, "--config", config, "--listen", "127.0.0.1:0"]
        else:
            impl = {"python-old": "beaker-cookie", "python-jwt": "jwt"}[kind]
            cmd = [self.python, "-W", "ignore::DeprecationWarning", os.path.join(HERE, "py_fleet_app.py"),
                   "--config", config, "--impl", impl, "--listen", "127.0.0.1:0", "--max-seconds", "120"]
        server = Server("%s(%s)" % (kind, ini), cmd)
        self.servers.append(server)
        return server

    def stop_all(self):
        for s in self.servers:
            s.stop()
        self.servers = []

    def cookie(self, jar=None):
        for c in (jar or self.jar):
            if c.name == COOKIE:
                return c.value
        return None

    def get(self, server, path, client=None):
        try:
            with (client or self.client).open(server.base + path, timeout=TIMEOUT) as r:
                return r.status, r.read().decode("utf-8", "replace"), r.headers.get_all("Set-Cookie") or []
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode("utf-8", "replace"), []

    # -------------------------------------------------------------- the checks
    def step(self, server, expect_format, opts, note="", incoming_signer=None):
        """GET / on one server; the counter must go up by one and the cookie come back
        in the expected format: 'original' or ('jwt', key index)."""
        if incoming_signer is not None:
            signer = jwt_signer(self.cookie() or "", jwt_keys(opts))
            self.check("the client holds a cookie signed with jwt_secret_keys[%d]" % incoming_signer,
                       signer == incoming_signer, "signer %r" % signer)
        self.counter += 1
        status, body, set_cookie = self.get(server, "/")
        want = "The current value is: %d" % self.counter
        self.check("%s GET / -> %s%s" % (server.label, want, note), status == 200 and body.strip() == want,
                   "HTTP %d %r" % (status, body[:200]))
        cookie = self.cookie()
        if cookie is None or not set_cookie:
            self.check("%s set a cookie" % server.label, False)
            return
        if expect_format == "original":
            vk = opts["session.original_format_validate_key"]
            self.check("%s wrote the original format" % server.label, original_signed(cookie, vk),
                       cookie[:60])
        else:
            keys = jwt_keys(opts)
            signer = jwt_signer(cookie, keys) if cookie.startswith(JWT_HEADER) else None
            self.check("%s wrote a JWT signed with jwt_secret_keys[%d]" % (server.label, expect_format[1]),
                       signer == expect_format[1], "signer %r" % signer)

    def same_session_everywhere(self, servers):
        """/session on every server shows the one session, with the counter, and the
        servers render it identically (canonical Extended JSON, as the reference's
        tools print sessions), apart from `_accessed_time`, which every request renews."""
        views = []
        for s in servers:
            status, body, _ = self.get(s, "/session")
            try:
                view = json.loads(body)
            except ValueError:
                view = {}
            views.append(view)
            sid = view.get("_id")
            if sid is not None:
                self.ids_seen.add(sid)
            if self.session_id is None:
                self.session_id = sid
            value = number(view.get("value"))
            self.check("%s /session: same _id, value %d" % (s.label, self.counter),
                       status == 200 and sid == self.session_id and value == self.counter,
                       "HTTP %d _id=%s value=%r" % (status, sid, value))
        rest = [{k: v for k, v in view.items() if k != "_accessed_time"} for view in views]
        self.check("servers show the same session (keys, order, types, values)",
                   all(json.dumps(r) == json.dumps(rest[0]) for r in rest) and "example_date" in rest[0],
                   " vs ".join(json.dumps(r) for r in rest))

    def stale_cookie_is_a_new_session(self, server, cookie, what):
        """A cookie the configuration no longer accepts: a fresh session, not an error."""
        jar = http.cookiejar.CookieJar()
        client = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        jar.set_cookie(http.cookiejar.Cookie(
            0, COOKIE, cookie, None, False, "127.0.0.1", False, False, "/", True, False, None, True,
            None, None, {}))
        status, body, _ = self.get(server, "/", client)
        self.check("%s: %s -> new session" % (server.label, what),
                   status == 200 and body.strip() == "The current value is: 1", "HTTP %d %r" % (status, body[:120]))
        new = self.cookie(jar)
        self.check("%s: the new session has a new cookie" % server.label, new is not None and new != cookie)


def run(fleet):
    o1 = ini_options(os.path.join(FLEET, "migrate-1-original.ini"))
    o2 = ini_options(os.path.join(FLEET, "migrate-2-jwt.ini"))
    o3 = ini_options(os.path.join(FLEET, "migrate-3-rotate.ini"))
    o4 = ini_options(os.path.join(FLEET, "migrate-4-done.ini"))
    saved = {}

    print("== phase A: only old Python (Beaker CookieSession, original format)")
    old = fleet.start("python-old", "migrate-1-original.ini")
    for _ in range(2):
        fleet.step(old, "original", o1)
    saved["original"] = fleet.cookie()
    fleet.same_session_everywhere([old])  # records the session's _id

    print("== phase B: Rust joins; it reads the original format and writes it for old Python")
    rust = fleet.start("rust", "migrate-1-original.ini")
    for s in (rust, old, rust, old):
        fleet.step(s, "original", o1)
    fleet.same_session_everywhere([old, rust])
    fleet.stop_all()

    print("== phase C: Python moves to beaker-session-jwt, still writing the original format")
    new = fleet.start("python-jwt", "migrate-1-original.ini")
    rust = fleet.start("rust", "migrate-1-original.ini")
    for s in (new, rust, new, rust):
        fleet.step(s, "original", o1)
    fleet.same_session_everywhere([new, rust])
    fleet.stop_all()

    print("== phase D: both write JWTs (key 1); the original cookie is read and re-issued")
    rust = fleet.start("rust", "migrate-2-jwt.ini")
    new = fleet.start("python-jwt", "migrate-2-jwt.ini")
    for s in (rust, new, rust, new):
        fleet.step(s, ("jwt", 0), o2)
    saved["key1"] = fleet.cookie()
    fleet.same_session_everywhere([new, rust])
    fleet.stop_all()

    print("== phase E: key rotation: key 2 signs, key 1 still verifies")
    rust = fleet.start("rust", "migrate-3-rotate.ini")
    new = fleet.start("python-jwt", "migrate-3-rotate.ini")
    fleet.step(rust, ("jwt", 0), o3, " (old-key cookie re-issued with the new key)", incoming_signer=1)
    for s in (new, rust, new):
        fleet.step(s, ("jwt", 0), o3)
    fleet.same_session_everywhere([new, rust])
    fleet.stop_all()

    print("== phase F: old key dropped, original format off")
    rust = fleet.start("rust", "migrate-4-done.ini")
    new = fleet.start("python-jwt", "migrate-4-done.ini")
    for s in (new, rust, new, rust):
        fleet.step(s, ("jwt", 0), o4)
    fleet.same_session_everywhere([new, rust])
    fleet.check("one session all along", len(fleet.ids_seen) == 1 and fleet.counter == 22,
                "%d ids, counter %d" % (len(fleet.ids_seen), fleet.counter))
    # A client that slept through the rotation: its cookies are refused everywhere, and
    # refusal means a fresh session, never an error page.
    for s in (rust, new):
        fleet.stale_cookie_is_a_new_session(s, saved["key1"], "cookie signed with the dropped key")
        fleet.stale_cookie_is_a_new_session(s, saved["original"], "original-format cookie")
        fleet.stale_cookie_is_a_new_session(s, saved["key1"][:-4] + "AAAA", "tampered cookie")
    fleet.stop_all()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", required=True, help="the built Rust demo (target/debug/examples/demo)")
    ap.add_argument("--python", default=sys.executable, help="the reference venv's interpreter")
    args = ap.parse_args()
    fleet = Fleet(os.path.abspath(args.demo), args.python)
    started = time.monotonic()
    try:
        run(fleet)
    except Exception as e:  # a harness failure is a test failure, with its reason
        fleet.check("fleet run completed", False, "%s: %s" % (type(e).__name__, e))
    finally:
        fleet.stop_all()
    print("mixed fleet took %.1fs" % (time.monotonic() - started))
    print("%d passed, %d failed" % (len(fleet.passed), len(fleet.failed)))
    sys.exit(1 if fleet.failed else 0)


if __name__ == "__main__":
    main()
