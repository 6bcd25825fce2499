"""Generate testdata/jws_headers.json: validly signed (or deliberately broken)
compact tokens with randomly composed headers, and what joserfc 1.8's
`jwt.decode(token, OctKey.import_key(KEY), algorithms=["HS256"])` does with them:
the claims, or the exception class and message.

Run with the reference venv:
    /work/.venv-ref/bin/python scripts/gen_jws_header_vectors.py > testdata/jws_headers.json
"""
import base64
import hashlib
import hmac
import json
import random
import warnings

from joserfc import jwt
from joserfc.jwk import OctKey

warnings.simplefilter("ignore")
KEY = "header-fuzz-key-0123456789"
rng = random.Random(20240601)


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


VALUES = [None, True, False, 0, 1, -1, 2.5, "", "x", "HS256", "none", "b64", "alg",
          "http://a", "https://b", "ftp://c", [], ["b64"], ["alg"], ["exp"], ["kid"],
          [1], [None], [[]], {}, {"k": 1}]
FIELDS = ["alg", "typ", "kid", "cty", "jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256",
          "crit", "b64", "foo", "exp", "a"]
ALGS = ["HS256", "HS384", "HS512", "RS256", "none", "None", "hs256", "", "EdDSA", "ES256K"]


def header():
    r = rng.random()
    if r < 0.05:
        return rng.choice(['["alg"]', '"alg"', '"xyz"', "5", "null", "true", '["b64","alg"]',
                           '"b64 alg"', "[]", "{}"])
    h = {}
    if rng.random() < 0.9:
        h["alg"] = rng.choice(ALGS) if rng.random() < 0.8 else rng.choice(VALUES)
    for _ in range(rng.randrange(0, 4)):
        f = rng.choice(FIELDS)
        h[f] = rng.choice(VALUES)
    if rng.random() < 0.15:
        h["b64"] = False
        if rng.random() < 0.7:
            h["crit"] = ["b64"]
    items = list(h.items())
    rng.shuffle(items)
    return json.dumps(dict(items), separators=(",", ":"))


cases = []
for _ in range(1500):
    hdr = header().encode()
    claims = b'{"a":1}'
    h64 = b64(hdr)
    raw = False
    try:
        obj = json.loads(hdr)
        raw = isinstance(obj, dict) and obj.get("b64") is False
    except ValueError:
        pass
    p64 = claims.decode() if raw and rng.random() < 0.8 else b64(claims)
    if rng.random() < 0.05:
        p64 += rng.choice(["=", "+", "A", "%"])
    signing_input = f"{h64}.{p64}".encode()
    sig = b64(hmac.new(KEY.encode(), signing_input, hashlib.sha256).digest())
    if rng.random() < 0.1:
        sig = sig[:-1] + ("A" if sig[-1] != "A" else "Q")
    token = f"{h64}.{p64}.{sig}"
    try:
        t = jwt.decode(token, OctKey.import_key(KEY), algorithms=["HS256"])
        out = {"claims": t.claims, "error": None}
    except Exception as e:  # noqa: BLE001 - every outcome is recorded
        out = {"claims": None,
               "error": {"python_exception": type(e).__name__, "message": str(e)}}
    cases.append({"header": hdr.decode(), "token": token, **out})
print(json.dumps({"key": KEY, "joserfc": "1.8.0", "cases": cases}))
