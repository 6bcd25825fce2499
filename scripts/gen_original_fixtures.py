#!/usr/bin/env python3
"""Generate the unit-test fixtures of src/original/ with the real Python reference.

Run with the reference venv (CPython 3.11, Beaker 1.14.1):
    /work/.venv-ref/bin/python scripts/gen_original_fixtures.py
Writes testdata/original/lax_base64.json (base64.b64decode outcomes),
testdata/original/signed_values.json (beaker SignedCookie.value_encode) and
testdata/original/encrypted.json (Beaker CookieSession._encrypt_data with
encrypt_key, for both cipher backends). Deterministic: seeded RNG, and
os.urandom is replaced by the seeded generator while encrypting.
"""
import base64
import json
import os
import random
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "testdata" / "original"


def lax_cases(rng):
    hand = [
        "", "QQ==", "QQ", "Q", "QUI=", "QUJD", "QUJDRA==", "QUJDRA", "QUJDR",
        "QQ=x=", "QUJD=QUJD", "QQ==QUJD", "Q=Q==", "=QQ==", "==QUJD", "QUJD====",
        "QU=I=", "QU==I", "Q U J D", "QU\nJD", "QU\r\nJD\t", "-_-_", "QUJD-_",
        "QUJ+", "QUJ/", "QU*JD", "!!!!", "====", "QQ=", "QUI", "QUI==", "QUI=junk",
        "QQ==\n", "Q===", "QUJDR===", "QUJDRUY=", "QUJDRUZH", "Y29va2ll", "Y29va2ll=",
        "/w==", "//8=", "+/+/", "QQ!=!=", "QQ=!=", "A", "AB", "ABC", "ABCD", "ABCDE",
        "\u00e9", "QUJD\u00e9", "QU\u00a0JD",
    ]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    noise = alphabet + "====" + "-_ \n.*%\"'\\" + alphabet
    cases = list(hand)
    for _ in range(300):
        n = rng.randrange(0, 24)
        cases.append("".join(rng.choice(noise) for _ in range(n)))
    for _ in range(60):
        data = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 40)))
        cases.append(base64.b64encode(data).decode())
    out = []
    for s in cases:
        try:
            out.append({"input": s, "output_hex": base64.b64decode(s).hex(), "error": None})
        except Exception as exc:  # binascii.Error or ValueError
            out.append({"input": s, "output_hex": None, "error": str(exc)})
    return out


def signed_cases(rng):
    from beaker.session import SignedCookie
    out = []
    for key, payload in [
        ("legacy-validate-a95ebc7b300c338fa11c826a", "gAJ9cQAu"),
        ("legacy-validate-a95ebc7b300c338fa11c826a", ""),
        ("ancienne-cl\u00e9-85c9bb395d", "eJyrrgUAAXUA+Q=="),
        ("k", "donn\u00e9es \u2714"),
    ]:
        _, signed = SignedCookie(key).value_encode(payload)
        out.append({"key": key, "payload": payload, "signed": signed})
    return out


def encrypted_cases(rng):
    from beaker.session import CookieSession
    seeded = random.Random(20240601)
    real_urandom = os.urandom
    os.urandom = lambda n: bytes(seeded.randrange(256) for _ in range(n))
    out = []
    try:
        for crypto_type in ("cryptography", "pycryptodome"):
            for serializer in ("pickle", "json"):
                for bits in (128, 48, 8):
                    opts = dict(validate_key="legacy-validate-a95ebc7b300c338fa11c826a",
                                encrypt_key="encrypt-3d7c469777f1f424e443aaf8bd7a1e76",
                                data_serializer=serializer, crypto_type=crypto_type,
                                encrypt_nonce_bits=bits)
                    req = {"cookie": ""}
                    sess = CookieSession(req, **opts)
                    session = {"user_id": 42, "name": "J\u00fcrgen", "roles": ["a", "b"]}
                    body = sess._encrypt_data(session)
                    plaintext = sess.serializer.dumps(session)
                    out.append({"options": {k: str(v) for k, v in opts.items()},
                                "body": body, "plaintext_hex": plaintext.hex(),
                                "session": session})
    finally:
        os.urandom = real_urandom
    return out


def main():
    rng = random.Random(20240601)
    OUT.mkdir(parents=True, exist_ok=True)
    for name, cases in [("lax_base64.json", lax_cases(rng)),
                        ("signed_values.json", signed_cases(rng)),
                        ("encrypted.json", encrypted_cases(rng))]:
        (OUT / name).write_text(json.dumps(cases, indent=1, ensure_ascii=True) + "\n")
        print(f"{name}: {len(cases)} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
