#!/usr/bin/env bash
# Demo of the main job with the `beaker-cookie` CLI: decode a session cookie written by
# the Python reference (beaker-session-jwt 1.0.4), re-encode it byte-identically, then
# rotate keys: a cookie signed with the old key still decodes, and the new cookie is
# signed with the new key. Options come from an ini file, as a Python app reads them.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --locked --features cli --bin beaker-cookie
bin=target/debug/beaker-cookie
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A cookie the real Python package wrote (testdata/encode.json, vector encode-jwt-bson/login-0).
python3 - "$work" <<'PY'
import json, sys
v = next(v for v in json.load(open("testdata/encode.json"))["vectors"] if v["name"] == "encode-jwt-bson/login-0")
open(sys.argv[1] + "/python-cookie", "w").write(v["cookie"])
keys = [k.strip() for k in v["options"]["jwt_secret_keys"].split(",")]
open(sys.argv[1] + "/old.ini", "w").write(
    "[app:main]\nuse = egg:myapp\nsqlalchemy.url = sqlite:///app.db\n"
    f"session.jwt_secret_keys = {keys[0]}\n")
open(sys.argv[1] + "/rotated.ini", "w").write(
    "[app:main]\nuse = egg:myapp\n"
    f"session.jwt_secret_keys = brand-new-key-0f1e2d3c4b5a6978, {keys[0]}\n")
PY

cookie=$(cat "$work/python-cookie")
echo "== 1. a cookie written by Python's beaker-session-jwt (${#cookie} chars):"
echo "$cookie"
echo
echo "== 2. decoded in Rust: beaker-cookie decode --config old.ini"
"$bin" decode --config "$work/old.ini" "$cookie" | tee "$work/session.json"
echo
echo "== 3. re-encoded in Rust: beaker-cookie encode --config old.ini < session.json"
again=$("$bin" encode --config "$work/old.ini" < "$work/session.json")
echo "$again"
if [[ "$again" == "$cookie" ]]; then
    echo "-> byte-identical to the Python cookie"
else
    echo "-> differs from the Python cookie (unexpected)"; exit 1
fi
echo
echo "== 4. key rotation: rotated.ini lists a new key first and keeps the old one"
"$bin" decode --config "$work/rotated.ini" "$cookie" > "$work/rotated.json"
cmp -s "$work/session.json" "$work/rotated.json" && echo "-> the old-key cookie still decodes to the same session"
fresh=$("$bin" encode --config "$work/rotated.ini" < "$work/session.json")
echo "-> re-issued with the new key: ${fresh:0:60}..."
if "$bin" decode --config "$work/old.ini" "$fresh" >/dev/null 2>"$work/err"; then
    echo "-> unexpected: the old config accepted a cookie signed with the new key"; exit 1
else
    echo "-> the old-only config rejects it: $(cat "$work/err")"
fi
