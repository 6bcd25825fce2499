#!/usr/bin/env bash
# Browser test on its own: headless Chromium visits the Rust demo (examples/demo.rs)
# three times, the counter must increment, and the session cookie Chromium stored must
# carry the attributes of testdata/fleet/browser.ini. Needs Debian's chromium package
# (as root: apt-get update && apt-get install -y chromium); fails without it.
# The same test runs inside `bash scripts/test.sh` (tests/browser.rs), where it is
# skipped with a notice when chromium is missing unless BEAKER_REQUIRE_BROWSER=1.
set -euo pipefail
cd "$(dirname "$0")/.."
export BEAKER_REQUIRE_BROWSER=1
cargo test --locked --all-features --test browser -- --nocapture
