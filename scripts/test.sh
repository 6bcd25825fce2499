#!/usr/bin/env bash
# The whole test suite: unit, integration, vector, property, CLI and doc tests, plus
# the interop tests against the real Python reference (a pinned venv from PyPI is
# made on first use by ../shared/tools/refimpl/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export BEAKER_REFIMPL="${BEAKER_REFIMPL:-$root/../shared/tools/refimpl}"
if [[ -z "${BEAKER_REF_PYTHON:-}" ]]; then
    bash "$BEAKER_REFIMPL/setup.sh" "$root/.venv-ref" >/dev/null
    export BEAKER_REF_PYTHON="$root/.venv-ref/bin/python"
fi
export BEAKER_REQUIRE_REF="${BEAKER_REQUIRE_REF:-1}"
cargo test --locked --all-features "$@"
