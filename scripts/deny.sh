#!/usr/bin/env bash
# cargo deny (deny.toml): bans, licenses and sources always; advisories when the
# RustSec database can be fetched (it lives on GitHub, which this project's machines
# and CI cannot reach: then the step says so loudly instead of failing).
# Installs cargo-deny if missing (about 2 minutes of compiling on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deny >/dev/null 2>&1 || cargo install cargo-deny --locked
cargo deny --all-features check bans licenses sources
if cargo deny fetch db >/dev/null 2>&1; then
    cargo deny --all-features check --disable-fetch advisories
else
    echo "cargo deny: WARNING: advisory database unreachable; advisories NOT checked" >&2
fi
