#!/usr/bin/env bash
# Time the Rust codec and the Python reference on the same fixed inputs, in one sitting,
# and print the side-by-side tables of BENCHMARKS.md (medians, ratios, issue-6 targets).
#
#   scripts/bench-vs-python.sh            # full run (~8-10 minutes on 2 cores)
#   QUICK=1 scripts/bench-vs-python.sh    # shorter measurement times, for a smoke test
#
# Environment:
#   REF_PYTHON   Python of the reference venv (default: ../.venv-ref/bin/python next to the
#                crate, the venv made by ../shared/tools/refimpl/setup.sh ../.venv-ref)
#   BEAKER_REFIMPL  the refimpl directory (default ../shared/tools/refimpl)
#   OUT          output directory (default target/bench-vs-python)
#
# Steps: machine description; Python reference per case (scripts/bench_python.py time),
# before and after the Rust side;
# criterion (benches/codec.rs: decode/, encode/, session/, floor/, blocks/ groups) under `nice`;
# `beaker-cookie decode --lines` on 20,000 typical cookies against the Python loop doing the
# same work (outputs compared byte for byte); the report (scripts/bench_python.py report).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${REF_PYTHON:-$ROOT/../.venv-ref/bin/python}"
if [ ! -x "$PY" ]; then
    echo "reference venv not found at $PY: run ../shared/tools/refimpl/setup.sh ../.venv-ref" >&2
    echo "or set REF_PYTHON" >&2
    exit 2
fi
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${OUT:-$TARGET_DIR/bench-vs-python}"
mkdir -p "$OUT"
# criterion writes here instead of the shared target/criterion (others may run the bench too)
export CRITERION_HOME="$OUT/criterion"

if [ -n "${QUICK:-}" ]; then
    CRIT_ARGS=(--warm-up-time 0.5 --measurement-time 1 --sample-size 20)
    PY_ARGS=(--quick)
    RUNS=1
else
    CRIT_ARGS=(--warm-up-time 1 --measurement-time 3 --sample-size 50)
    PY_ARGS=()
    RUNS=3
fi

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') ($(nproc) cores)"
    echo "memory: $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
    echo "kernel: $(uname -sr)"
    echo "os: $(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME")"
    echo "rustc: $(rustc -V)"
    echo "python: $("$PY" -c 'import sys, zlib; print(sys.version.split()[0], "zlib", zlib.ZLIB_RUNTIME_VERSION)')"
    echo "reference: $("$PY" -c 'from importlib.metadata import version as v; import bson; print("beaker-session-jwt", v("beaker-session-jwt"), "beaker", v("beaker"), "joserfc", v("joserfc"), "pymongo", v("pymongo"), "bson C extension:", bson.has_c())')"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$OUT/machine.txt"
cat "$OUT/machine.txt" >&2

# The Python reference is timed before and after the Rust side; the report pools both
# (median of all runs), so a burst of load on the machine weighs less on either side.
echo "== Python reference (1/2)" >&2
nice "$PY" scripts/bench_python.py time "${PY_ARGS[@]}" --out "$OUT/python1.json"

echo "== Rust (criterion)" >&2
nice cargo bench --bench codec -- "${CRIT_ARGS[@]}" '^(decode|decode_raw|encode|session|floor|blocks|varied)/' \
    2>&1 | tee "$OUT/criterion.txt" | grep -E '^check|^SKIP|time:' >&2

echo "== Python reference (2/2)" >&2
nice "$PY" scripts/bench_python.py time "${PY_ARGS[@]}" --out "$OUT/python2.json"

echo "== beaker-cookie decode --lines vs the Python loop" >&2
nice cargo build --release --features cli --bin beaker-cookie 2>&1 | tail -1 >&2
LINES="$OUT/lines.txt"
: > "$LINES"
for _ in $(seq 200); do cat testdata/bench/typical_lines.txt >> "$LINES"; done
nice "$PY" scripts/bench_python.py lines --file "$LINES" --runs "$RUNS" \
    --output "$OUT/lines_python.out" --out "$OUT/lines_python.json"
nice "$PY" scripts/bench_python.py cli --binary "$TARGET_DIR/release/beaker-cookie" \
    --file "$LINES" --runs $((RUNS + 2)) --output "$OUT/lines_rust.out" \
    --compare "$OUT/lines_python.out" --out "$OUT/lines_rust.json"

echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/machine.txt"
{
    echo '```text'
    cat "$OUT/machine.txt"
    echo '```'
    echo
    "$PY" scripts/bench_python.py report --python "$OUT/python1.json" --python "$OUT/python2.json" \
        --criterion-dir "$CRITERION_HOME" \
        --cli-rust "$OUT/lines_rust.json" --cli-python "$OUT/lines_python.json"
} > "$OUT/report.md"
cat "$OUT/report.md"
