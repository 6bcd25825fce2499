#!/usr/bin/env python3
"""Browser test of the Rust demo: headless Chromium visits it several times, the counter
must increment, and the session cookie the browser stored must carry the attributes the
configuration asks for (SameSite, HttpOnly, Path, Secure, expiry).

Standard library only: Chromium is driven through the DevTools protocol over a websocket
(a minimal RFC 6455 client below). Everything runs on loopback; every wait is bounded;
both child processes are killed at the end.

    python3 scripts/browser_cdp.py --demo target/debug/examples/demo \
        --config testdata/fleet/browser.ini [--chromium chromium] [--visits 3]

Prints one line per check and a closing `N passed, N failed` line; exits 1 on failure.
"""
import argparse
import base64
import configparser
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

TIMEOUT = 20.0  # seconds for any single wait

TRUE = {"true", "yes", "on", "y", "t", "1"}
FALSE = {"false", "no", "off", "n", "f", "0"}


def asbool(v):
    s = v.strip().lower()
    if s in TRUE:
        return True
    if s in FALSE:
        return False
    raise ValueError("not a boolean: %r" % v)


def session_option(opts, name, default=None):
    """Beaker's lookup: beaker.session.NAME / session.NAME win over bare NAME."""
    for k in ("beaker.session." + name, "session." + name, name):
        if k in opts:
            return opts[k]
    return default


def expectations(config, section):
    p = configparser.ConfigParser(interpolation=None)
    p.optionxform = str
    with open(config, encoding="utf-8") as f:
        p.read_file(f)
    opts = dict(p.items(section))
    exp = {
        "name": session_option(opts, "key", "beaker.session.id"),
        "path": session_option(opts, "cookie_path", "/"),
        "httpOnly": asbool(session_option(opts, "httponly", "false")),
        "secure": asbool(session_option(opts, "secure", "false")),
        "sameSite": session_option(opts, "samesite", "Lax"),
    }
    # cookie_expires: Beaker tries asbool first (true = browser-session cookie,
    # false = 2038-01-19), then seconds from now
    raw = session_option(opts, "cookie_expires", "true")
    try:
        b = asbool(raw)
        exp["expires"] = "session" if b else 0x7FFFFFFF
    except ValueError:
        exp["expires"] = ("in", int(raw.strip()))
    return exp


class WebSocket:
    """Just enough of RFC 6455 for the DevTools protocol (text frames, client masking)."""

    def __init__(self, url):
        assert url.startswith("ws://")
        hostport, _, path = url[5:].partition("/")
        host, _, port = hostport.rpartition(":")
        if host not in ("127.0.0.1", "localhost"):
            raise RuntimeError("refusing non-loopback DevTools address " + host)
        self.sock = socket.create_connection((host, int(port)), timeout=TIMEOUT)
        key = base64.b64encode(os.urandom(16)).decode()
        req = (
            "GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, hostport, key)
        )
        self.sock.sendall(req.encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise RuntimeError("websocket handshake: connection closed")
            head += chunk
        head, _, self.buf = head.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise RuntimeError("websocket handshake refused: %r" % head[:200])

    def _read(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("websocket closed")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def send(self, text, opcode=1):
        data = text.encode() if isinstance(text, str) else text
        mask = os.urandom(4)
        n = len(data)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(head + mask + masked)

    def recv(self):
        message = b""
        while True:
            b0, b1 = self._read(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                (n,) = struct.unpack("!H", self._read(2))
            elif n == 127:
                (n,) = struct.unpack("!Q", self._read(8))
            mask = self._read(4) if b1 & 0x80 else None
            payload = self._read(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 9:  # ping
                self.send(payload, opcode=10)
                continue
            if opcode == 8:
                raise RuntimeError("websocket closed by browser")
            message += payload
            if b0 & 0x80:
                return message.decode()

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class DevTools:
    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.events = []

    def call(self, method, **params):
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)
        raise RuntimeError("no answer to " + method)

    def wait_event(self, method):
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            for i, e in enumerate(self.events):
                if e["method"] == method:
                    return self.events.pop(i)
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
        raise RuntimeError("no event " + method)

    def visit(self, url):
        self.events.clear()
        self.call("Page.navigate", url=url)
        self.wait_event("Page.loadEventFired")
        res = self.call("Runtime.evaluate", expression="document.body.innerText", returnByValue=True)
        return res["result"].get("value", "")


def start_demo(demo, config):
    proc = subprocess.Popen(
        [demo, "--config", config, "--listen", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=sys.stderr,
        text=True,
    )
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("listening on "):
            return proc, line.split()[-1].rstrip("/")
    proc.kill()
    raise RuntimeError("demo did not report its address")


def start_chromium(chromium, profile):
    cmd = [
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
        "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-extensions",
        "--disable-dev-shm-usage", "--user-data-dir=" + profile,
        "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", "about:blank",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    port_file = os.path.join(profile, "DevToolsActivePort")
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if os.path.exists(port_file):
            lines = open(port_file).read().split()
            if lines:
                return proc, int(lines[0])
        if proc.poll() is not None:
            raise RuntimeError("chromium exited with %s" % proc.returncode)
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("chromium did not open its DevTools port")


def page_ws_url(port):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=TIMEOUT) as r:
            targets = json.load(r)
        pages = [t for t in targets if t.get("type") == "page"]
        if pages:
            return pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.1)
    raise RuntimeError("no page target")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--demo", required=True, help="the built demo binary")
    ap.add_argument("--config", required=True, help="ini file the demo runs on")
    ap.add_argument("--section", default="app:main")
    ap.add_argument("--chromium", default=shutil.which("chromium") or "chromium")
    ap.add_argument("--visits", type=int, default=3)
    args = ap.parse_args()

    exp = expectations(args.config, args.section)
    passed, failed = [], []

    def check(name, ok, detail=""):
        (passed if ok else failed).append(name)
        print("%s %s%s" % ("ok  " if ok else "FAIL", name, (": " + detail) if detail else ""), flush=True)

    profile = tempfile.mkdtemp(prefix="beaker-browser-")
    demo = chrome = ws = None
    started = time.monotonic()
    try:
        demo, base = start_demo(args.demo, args.config)
        chrome, port = start_chromium(args.chromium, profile)
        ws = WebSocket(page_ws_url(port))
        dt = DevTools(ws)
        dt.call("Page.enable")
        dt.call("Network.enable")
        for n in range(1, args.visits + 1):
            text = dt.visit(base + "/").strip()
            check("visit %d shows the counter" % n, text == "The current value is: %d" % n, repr(text))
        # what page scripts see: nothing, when the cookie is HttpOnly
        js = dt.call("Runtime.evaluate", expression="document.cookie", returnByValue=True)
        visible = exp["name"] in js["result"].get("value", "")
        check("document.cookie %s the session cookie" % ("hides" if exp["httpOnly"] else "shows"),
              visible != exp["httpOnly"])
        session_page = dt.visit(base + "/session")
        try:
            shown = json.loads(session_page)
        except ValueError:
            shown = {}
        value = shown.get("value")
        if isinstance(value, dict):  # canonical Extended JSON: {"$numberInt": "3"}
            value = int(value.get("$numberInt", value.get("$numberLong", -1)))
        check("/session shows value %d" % args.visits, value == args.visits, session_page[:200])

        cookies = dt.call("Network.getCookies", urls=[base + "/"])["cookies"]
        ours = [c for c in cookies if c["name"] == exp["name"]]
        check("browser stored one %s cookie" % exp["name"], len(ours) == 1, "%d found" % len(ours))
        if ours:
            c = ours[0]
            check("Path is %s" % exp["path"], c["path"] == exp["path"], c["path"])
            check("HttpOnly is %s" % exp["httpOnly"], c["httpOnly"] == exp["httpOnly"])
            check("Secure is %s" % exp["secure"], c["secure"] == exp["secure"])
            # an absent attribute is reported without the field
            check("SameSite is %s" % exp["sameSite"], c.get("sameSite") == exp["sameSite"], str(c.get("sameSite")))
            check("host-only cookie for 127.0.0.1", c["domain"] == "127.0.0.1", c["domain"])
            if exp["expires"] == "session":
                check("browser-session cookie (no expiry)", c["session"] and c["expires"] == -1, str(c["expires"]))
            elif isinstance(exp["expires"], tuple):
                want = time.time() + exp["expires"][1]
                check("expires in %ds" % exp["expires"][1], not c["session"] and abs(c["expires"] - want) < 120,
                      "off by %.0fs" % (c["expires"] - want))
            else:
                check("expires at 2038-01-19", abs(c["expires"] - exp["expires"]) < 86400, str(c["expires"]))
            check("value is an HS256 JWT", c["value"].startswith("eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9."))
    except Exception as e:  # any harness failure is a test failure, with its reason
        check("browser run completed", False, "%s: %s" % (type(e).__name__, e))
    finally:
        if ws:
            ws.close()
        for p in (chrome, demo):
            if p and p.poll() is None:
                p.kill()
                p.wait(timeout=TIMEOUT)
        shutil.rmtree(profile, ignore_errors=True)
    print("browser run took %.1fs" % (time.monotonic() - started))
    print("%d passed, %d failed" % (len(passed), len(failed)))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
