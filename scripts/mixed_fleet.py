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


def asbool(v):
    return v.strip().lower() in ("true", "yes", "on", "y", "t", "1")


def key_label(key):
    """Names a test key in the output without printing it."""
    return "key %s..." % key[:16]


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
        server.kind = kind
        server.options = ini_options(config)
        self.servers.append(server)
        return server

    def replace(self, server, kind, ini):
        """A rolling restart of one server: stop it, start its successor."""
        server.stop()
        self.servers.remove(server)
        return self.start(kind, ini)

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
    def step(self, server, note="", incoming_key=None):
        """GET / on one server: the counter must go up by one, and the cookie come back
        in the format the server's own ini asks for: the original format signed with
        its validate key (old Beaker, or write_original_format), else a JWT signed with
        the first of its jwt_secret_keys. `incoming_key` checks, before the request,
        which key signed the cookie the client sends."""
        if incoming_key is not None:
            held = self.cookie() or ""
            self.check("the client sends a JWT signed with %s" % key_label(incoming_key),
                       jwt_signer(held, [incoming_key]) == 0)
        self.counter += 1
        status, body, set_cookie = self.get(server, "/")
        want = "The current value is: %d" % self.counter
        self.check("%s GET / -> %s%s" % (server.label, want, note), status == 200 and body.strip() == want,
                   "HTTP %d %r" % (status, body[:200]))
        cookie = self.cookie()
        if cookie is None or not set_cookie:
            self.check("%s set a cookie" % server.label, False)
            return
        opts = server.options
        if server.kind == "python-old" or asbool(opts.get("session.write_original_format", "false")):
            vk = opts.get("session.original_format_validate_key") or opts["session.validate_key"]
            self.check("%s wrote the original format" % server.label, original_signed(cookie, vk),
                       cookie[:60])
        else:
            first = jwt_keys(opts)[0]
            signer = jwt_signer(cookie, [first]) if cookie.startswith(JWT_HEADER) else None
            self.check("%s wrote a JWT signed with %s" % (server.label, key_label(first)), signer == 0,
                       cookie[:60])

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
    key1 = jwt_keys(ini_options(os.path.join(FLEET, "migrate-2-jwt.ini")))[0]
    saved = {}

    print("== phase A: only old Python (Beaker CookieSession, original format)")
    py = fleet.start("python-old", "migrate-1-original.ini")
    for _ in range(2):
        fleet.step(py)
    saved["original"] = fleet.cookie()
    fleet.same_session_everywhere([py])  # records the session's _id

    print("== phase B: Rust joins; it reads the original format and writes it for old Python")
    rust = fleet.start("rust", "migrate-1-original.ini")
    for s in (rust, py, rust, py):
        fleet.step(s)
    fleet.same_session_everywhere([py, rust])

    print("== phase C: Python moves to beaker-session-jwt (same ini), still writing the original format")
    py = fleet.replace(py, "python-jwt", "migrate-1-original.ini")
    for s in (py, rust, py, rust):
        fleet.step(s)
    fleet.same_session_everywhere([py, rust])

    print("== phase D: both write JWTs; rolling restart, Rust first")
    rust = fleet.replace(rust, "rust", "migrate-2-jwt.ini")
    for s in (rust, py, rust, py):  # Rust writes JWTs, Python still the original format
        fleet.step(s)
    py = fleet.replace(py, "python-jwt", "migrate-2-jwt.ini")
    for s in (py, rust, py, rust):
        fleet.step(s)
    saved["key1"] = fleet.cookie()
    fleet.same_session_everywhere([py, rust])

    print("== phase E: key rotation, rolling: the new key is first added for verifying only,")
    print("   then listed first (it signs) while the old key still verifies")
    rust = fleet.replace(rust, "rust", "migrate-3a-add-key.ini")
    py = fleet.replace(py, "python-jwt", "migrate-3a-add-key.ini")
    for s in (rust, py):
        fleet.step(s)
    rust = fleet.replace(rust, "rust", "migrate-3-rotate.ini")
    fleet.step(rust, " (an old-key cookie re-issued with the new key)", incoming_key=key1)
    for s in (py, rust):  # Python, not restarted yet, verifies the new key and still signs with the old
        fleet.step(s)
    py = fleet.replace(py, "python-jwt", "migrate-3-rotate.ini")
    for s in (py, rust, py, rust):
        fleet.step(s)
    fleet.same_session_everywhere([py, rust])

    print("== phase F: old key dropped, original format off (rolling)")
    rust = fleet.replace(rust, "rust", "migrate-4-done.ini")
    for s in (py, rust):
        fleet.step(s)
    py = fleet.replace(py, "python-jwt", "migrate-4-done.ini")
    for s in (py, rust, py, rust):
        fleet.step(s)
    fleet.same_session_everywhere([py, rust])
    fleet.check("one session all along", len(fleet.ids_seen) == 1 and fleet.counter == EXPECTED_STEPS,
                "%d ids, counter %d" % (len(fleet.ids_seen), fleet.counter))
    # A client that slept through the rotation: its cookies are refused everywhere, and
    # refusal means a fresh session, never an error page.
    for s in (rust, py):
        fleet.stale_cookie_is_a_new_session(s, saved["key1"], "cookie signed with the dropped key")
        fleet.stale_cookie_is_a_new_session(s, saved["original"], "original-format cookie")
        fleet.stale_cookie_is_a_new_session(s, saved["key1"][:-4] + "AAAA", "tampered cookie")
    fleet.stop_all()


# requests to GET / in run(): 2 + 4 + 4 + 8 + 2 + 1 + 2 + 4 + 2 + 4
EXPECTED_STEPS = 33


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
