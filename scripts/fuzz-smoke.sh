#!/usr/bin/env bash
# Smoke run of every fuzz target (default 20 s each) plus a replay of the saved
# regressions. Installs cargo-fuzz if missing. cargo-fuzz needs nightly features: on a
# stable toolchain they are enabled with RUSTC_BOOTSTRAP=1 (fuzzing builds only).
#   FUZZ_SMOKE_SECONDS=N   seconds per target (default 20)
# Seeds come from testdata/ (fuzz/seeds.py) and the committed corpora fuzz/corpus/*.tar.gz.
# See FUZZING.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
secs=${FUZZ_SMOKE_SECONDS:-20}
start=$(date +%s)
export RUSTC_BOOTSTRAP=1
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 fuzz/seeds.py "$work" >/dev/null
# committed corpora (minimized after the campaigns in FUZZING.md), one tarball each
for tarball in fuzz/corpus/*.tar.gz; do
    [[ -e $tarball ]] && tar -C "$work" -xzf "$tarball"
done

cd fuzz
echo "== build at $(( $(date +%s) - start ))s"
cargo fuzz build
declare -A dict=([jwt_decode]=json [original_decode]=pickle [pickle]=pickle
                 [cookie_header]=cookie_header [ejson]=ejson [inflate]=none) # none: no dictionary
status=0
for t in jwt_decode original_decode pickle cookie_header ejson inflate; do
    mkdir -p "$work/$t"
    corpora=("$work/$t")
    echo "== $t (${secs}s) at $(( $(date +%s) - start ))s"
    dict_arg=()
    [[ -e dicts/${dict[$t]}.dict ]] && dict_arg=(-dict="dicts/${dict[$t]}.dict")
    if ! cargo fuzz run "$t" "${corpora[@]}" -- -max_total_time="$secs" -rss_limit_mb=2048 \
        -timeout=10 "${dict_arg[@]}" -print_final_stats=1 >"$work/$t.log" 2>&1; then
        status=1
        echo "FAILED: $t"; tail -40 "$work/$t.log"
    fi
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/$t.log" | tr '\n' ' '; echo
done

echo "== regressions at $(( $(date +%s) - start ))s"
for f in regressions/*; do
    name=$(basename "$f")
    t=${name%%-*}
    [[ -n ${dict[$t]:-} ]] || continue
    if cargo fuzz run "$t" "$f" -- -rss_limit_mb=2048 -timeout=10 >"$work/replay.log" 2>&1; then
        echo "ok      $name"
    else
        status=1
        echo "FAILED  $name"; grep -E "panicked|ERROR|SUMMARY" "$work/replay.log" | head -5
    fi
done
echo "== fuzz smoke done in $(( $(date +%s) - start ))s (status $status)"
exit $status
