#!/usr/bin/env python3
"""Time the Python reference on the benchmark inputs, and print the side-by-side table.

Run with the reference venv (../shared/tools/refimpl/setup.sh; here /work/.venv-ref):

    bench_python.py time   [--inputs testdata/bench/inputs.json] [--out py.json] [--quick]
    bench_python.py lines  --file LINES.txt [--output OUT.txt] [--out lines_python.json]
    bench_python.py cli    --binary target/release/beaker-cookie --file LINES.txt
                           [--compare OUT.txt] [--out lines_rust.json]
    bench_python.py report --python py.json [--python py2.json] --criterion-dir target/criterion
                           [--cli-rust cli_rust.json] [--cli-python cli_py.json]

`time` measures the real reference (beaker-session-jwt 1.0.4 with pymongo's C bson, CPython's
zlib and hmac) through refcommon from ../shared/tools/refimpl, on the same cookies and sessions
the criterion bench (benches/codec.rs) uses, and writes per-case medians (ns per call):

* decode/<case>: `JWTCookieSession._decrypt_data(cookie)` on a session object built once with
  the case's options (the object is not rebuilt per call, which favours Python).
* encode/<case>: `_encrypt_data()` of a session object holding the case's session
  (the session is read from the case's Extended JSON; the output is checked byte for byte
  against the cookie stored in inputs.json).
* session/load_and_save_typical: what a request costs the Python session layer:
  `JWTCookieSession({'cookie': header}, ...)` (parse the Cookie header, decode, re-issue),
  one assignment, `save()`, read `request['cookie_out']`.

Each case is calibrated with timeit's autorange (>= 0.2 s per run), then run 7 times; the
median of the 7 per-call times is reported. timeit disables the garbage collector while
timing, which also favours Python.

`lines` is the Python side of the `beaker-cookie decode --lines` throughput run: read the file,
and per line `_decrypt_data` + refcommon's per-key normalisation + `json_util.dumps`
(canonical Extended JSON), written to /dev/null; the wall time of the loop is reported.

`cli` times `beaker-cookie decode --lines` on the same file (whole process, median of runs) and
compares its output with the Python loop's, byte for byte.

`report` reads the criterion estimates (median of each benchmark) and these results and prints
the Markdown tables of BENCHMARKS.md with ratios and the targets of issue 6.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time
import itertools
import timeit

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
REFIMPL = os.environ.get("BEAKER_REFIMPL") or os.path.join(ROOT, "..", "shared", "tools", "refimpl")
DEFAULT_INPUTS = os.path.join(ROOT, "testdata", "bench", "inputs.json")


def _refcommon():
    sys.path.insert(0, REFIMPL)
    import refcommon  # noqa: PLC0415 - only the timing commands need the reference
    return refcommon


def measure(fn, repeat=7, min_time=0.2):
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    # autorange stops at >= 0.2 s; scale up to min_time if asked for more
    runs = timer.repeat(repeat=repeat, number=number)
    per_call = [r / number * 1e9 for r in runs]
    return {"median_ns": statistics.median(per_call), "runs_ns": per_call, "number": number}


def cmd_time(args):
    rc = _refcommon()
    with open(args.inputs, encoding="utf-8") as f:
        inputs = json.load(f)
    cases = {c["name"]: c for c in inputs["cases"]}
    work = []

    for name, case in cases.items():
        sess = rc.jwt_session(case["decode_options"])
        cookie = case["cookie"]
        work.append(("decode/" + name, (lambda s=sess, c=cookie: s._decrypt_data(c))))

    for name in ("bson_small", "bson_typical", "bson_large", "json_typical"):
        case = cases[name]
        sess = rc.jwt_session(case["encode_options"])
        dict.clear(sess)
        dict.update(sess, rc.load_ejson(case["session_ejson"]))
        out = sess._encrypt_data()
        if out != case["cookie"]:
            raise SystemExit(f"encode/{name}: the reference's output differs from inputs.json")
        work.append(("encode/" + name, sess._encrypt_data))

    from beaker_session_jwt import JWTCookieSession
    layer = inputs["session_layer"]
    header = layer["cookie_header"]
    kwargs = dict(layer["options"])

    def load_and_save():
        s = JWTCookieSession({"cookie": header}, **kwargs)
        s["last_path"] = "/account/orders"
        s.save()
        return s.request["cookie_out"]

    probe = load_and_save()
    if "beaker.session.id=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9." not in probe:
        raise SystemExit("session layer did not issue a JWT cookie: %r" % probe[:80])
    work.append(("session/load_and_save_typical", load_and_save))

    # The 100 distinct typical cookies of typical_lines.txt in rotation (as benches/codec.rs
    # varied/), so no single input is repeated.
    lines_path = os.path.join(os.path.dirname(args.inputs), "typical_lines.txt")
    with open(lines_path, encoding="ascii") as f:
        lines = [line for line in f.read().split("\n") if line]
    opts = layer["options"]
    reader = rc.jwt_session(opts)
    writers = []
    for line in lines:
        s = rc.jwt_session(opts)
        dict.clear(s)
        dict.update(s, reader._decrypt_data(line))
        if s._encrypt_data() != line:
            raise SystemExit("varied: the reference does not re-encode a typical_lines cookie")
        writers.append(s)
    next_line = itertools.cycle(lines).__next__
    next_writer = itertools.cycle(writers).__next__
    work.append(("decode/varied_typical_x100", lambda: reader._decrypt_data(next_line())))
    work.append(("encode/varied_typical_x100", lambda: next_writer()._encrypt_data()))

    results = {}
    for key, fn in work:
        if args.only and not any(o in key for o in args.only):
            continue
        fn()  # warm caches
        r = measure(fn, repeat=3 if args.quick else 7)
        results[key] = r
        print("%-40s %10.2f us" % (key, r["median_ns"] / 1000), file=sys.stderr)
    out = {"python": platform.python_version(), "results": results}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


def cmd_lines(args):
    rc = _refcommon()
    with open(args.inputs, encoding="utf-8") as f:
        inputs = json.load(f)
    opts = {"jwt_secret_keys": inputs["keys"]["signing"]}
    sess = rc.jwt_session(opts)
    runs = []
    for _ in range(args.runs):
        with open(args.file, encoding="ascii") as f, \
                open(args.output, "w", encoding="utf-8") as sink:
            t0 = time.perf_counter()
            n = 0
            # the same work as `beaker-cookie decode --lines`: read a line, decode, print
            for line in f:
                session = sess._decrypt_data(line.rstrip("\n"))
                normalised, _notes = rc.normalise(session)
                sink.write(rc.to_ejson_text(normalised) + "\n")
                n += 1
            runs.append(time.perf_counter() - t0)
    elapsed = statistics.median(runs)
    out = {"cookies": n, "seconds": elapsed, "runs_s": runs, "per_second": n / elapsed}
    print("python lines: %d cookies in %.3f s (%.0f/s)" % (n, elapsed, n / elapsed), file=sys.stderr)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f)
        f.write("\n")


def cmd_cli(args):
    """Wall time of `beaker-cookie decode --lines` on the file (process start to exit)."""
    import subprocess  # noqa: PLC0415
    with open(args.inputs, encoding="utf-8") as f:
        inputs = json.load(f)
    # the key goes through the environment, as the CLI recommends for secrets
    env = dict(os.environ, BENCH_JWT_KEYS=inputs["keys"]["signing"])
    cmd = [args.binary, "decode", "--lines", "--set-env", "session.jwt_secret_keys=BENCH_JWT_KEYS"]
    runs = []
    for _ in range(args.runs):
        with open(args.file, "rb") as stdin, open(args.output, "wb") as stdout:
            t0 = time.perf_counter()
            subprocess.run(cmd, stdin=stdin, stdout=stdout, check=True, env=env)
            runs.append(time.perf_counter() - t0)
    with open(args.output, "rb") as f:
        n = sum(1 for _ in f)
    elapsed = statistics.median(runs)
    out = {"cookies": n, "seconds": elapsed, "runs_s": runs, "per_second": n / elapsed}
    if args.compare:
        with open(args.output, "rb") as a, open(args.compare, "rb") as b:
            out["output_identical_to_python"] = a.read() == b.read()
    print("rust lines: %d cookies in %.3f s (%.0f/s)" % (n, elapsed, n / elapsed), file=sys.stderr)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(out, f)
        f.write("\n")


# ---------------------------------------------------------------------------- report

def criterion_median(root, group, bench):
    path = os.path.join(root, group, bench, "new", "estimates.json")
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)["median"]["point_estimate"]
    except (OSError, KeyError, ValueError):
        return None


def us(ns):
    return "n/a" if ns is None else ("%.2f µs" % (ns / 1000))


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt_ratio(r):
    # two decimals, so that a ratio just under a target never prints as the target
    return "n/a" if r is None else "%.2fx" % r


def verdict(ok):
    if ok is None:
        return "not measured"
    return "met" if ok else "**not met**"


# (label, python key, criterion group, criterion bench, target speed-up or None)
ROWS = [
    ("decode small, key 1 of 1", "decode/bson_small", "decode", "bson_small", 10),
    ("decode typical, key 1 of 1", "decode/bson_typical", "decode", "bson_typical", 10),
    ("decode near-4 KB, key 1 of 1", "decode/bson_large", "decode", "bson_large", 7),
    ("decode small, key 1 of 3", "decode/bson_small_key1of3", "decode", "bson_small_key1of3", None),
    ("decode small, key 3 of 3", "decode/bson_small_key3of3", "decode", "bson_small_key3of3", None),
    ("decode typical, key 1 of 3", "decode/bson_typical_key1of3", "decode", "bson_typical_key1of3", None),
    ("decode typical, key 3 of 3", "decode/bson_typical_key3of3", "decode", "bson_typical_key3of3", None),
    ("decode small to a raw view (`decode_raw`)", "decode/bson_small", "decode_raw", "bson_small", None),
    ("decode typical to a raw view", "decode/bson_typical", "decode_raw", "bson_typical", None),
    ("decode near-4 KB to a raw view", "decode/bson_large", "decode_raw", "bson_large", None),
    ("decode typical to a raw view, key 3 of 3", "decode/bson_typical_key3of3", "decode_raw",
     "bson_typical_key3of3", None),
    ("JSON mode decode typical to a raw view", "decode/json_typical", "decode_raw", "json_typical",
     None),
    ("encode small", "encode/bson_small", "encode", "bson_small", 4.5),
    ("encode typical", "encode/bson_typical", "encode", "bson_typical", 4.5),
    ("encode near-4 KB", "encode/bson_large", "encode", "bson_large", 4.5),
    ("JSON mode decode typical", "decode/json_typical", "decode", "json_typical", 8),
    ("JSON mode encode typical", "encode/json_typical", "encode", "json_typical", 8),
    ("original pickle decode typical", "decode/original_pickle_typical", "decode",
     "original_pickle_typical", 2),
    ("original json decode typical", "decode/original_json_typical", "decode",
     "original_json_typical", None),
    ("session layer load+save (typical)", "session/load_and_save_typical", "session",
     "load_and_save_typical", None),
    ("decode typical, 100 distinct cookies in rotation", "decode/varied_typical_x100", "varied",
     "decode_typical_x100", None),
    ("decode typical to a raw view, 100 distinct cookies in rotation",
     "decode/varied_typical_x100", "varied", "decode_raw_typical_x100", None),
    ("encode typical, 100 distinct sessions in rotation", "encode/varied_typical_x100", "varied",
     "encode_typical_x100", None),
]

# (label, criterion group/bench of the operation, floor bench)
FLOOR_ROWS = [
    ("decode small", ("decode", "bson_small"), ("floor", "decode_bson_small")),
    ("decode typical", ("decode", "bson_typical"), ("floor", "decode_bson_typical")),
    ("decode near-4 KB", ("decode", "bson_large"), ("floor", "decode_bson_large")),
    ("decode small, key 3 of 3", ("decode", "bson_small_key3of3"),
     ("floor", "decode_bson_small_key3of3")),
    ("decode typical, key 3 of 3", ("decode", "bson_typical_key3of3"),
     ("floor", "decode_bson_typical_key3of3")),
    ("decode small to a raw view", ("decode_raw", "bson_small"), ("floor", "decode_raw_bson_small")),
    ("decode typical to a raw view", ("decode_raw", "bson_typical"),
     ("floor", "decode_raw_bson_typical")),
    ("decode near-4 KB to a raw view", ("decode_raw", "bson_large"),
     ("floor", "decode_raw_bson_large")),
    ("encode small", ("encode", "bson_small"), ("floor", "encode_bson_small")),
    ("encode typical", ("encode", "bson_typical"), ("floor", "encode_bson_typical")),
    ("encode near-4 KB", ("encode", "bson_large"), ("floor", "encode_bson_large")),
]


def criterion_min(root, group, bench):
    """Per-iteration time of criterion's fastest sample (the least disturbed one)."""
    path = os.path.join(root, group, bench, "new", "sample.json")
    try:
        with open(path, encoding="utf-8") as f:
            sample = json.load(f)
        return min(t / n for t, n in zip(sample["times"], sample["iters"]) if n)
    except (OSError, KeyError, ValueError):
        return None


def speed_tables(w, py, rust):
    """The speed-up, extra-key and floor tables for one estimator (median or minimum)."""
    w("| work (BSON mode unless said) | Python reference | Rust | speed-up | target | verdict |")
    w("|---|---:|---:|---:|---:|---|")
    for label, pkey, group, bench, target in ROWS:
        p = py.get(pkey)
        r = rust(group, bench)
        sp = ratio(p, r)
        tgt = "≥ %gx" % target if target else "-"
        ok = None if (target is None or sp is None) else sp >= target
        w("| %s | %s | %s | %s | %s | %s |" % (label, us(p), us(r), fmt_ratio(sp), tgt,
                                                verdict(ok) if target else "-"))
    w("")
    for size in ("small", "typical"):
        k1 = rust("decode", "bson_%s_key1of3" % size)
        k3 = rust("decode", "bson_%s_key3of3" % size)
        f1 = rust("floor", "decode_bson_%s" % size)
        f3 = rust("floor", "decode_bson_%s_key3of3" % size)
        if k1 is not None and k3 is not None:
            per_key = (k3 - k1) / 2
            floor = "" if f1 is None or f3 is None else \
                " (floor: %.3f µs)" % ((f3 - f1) / 2 / 1000)
            sha = rust("blocks", "%s_sha256_signing_input" % size)
            if sha is not None:
                floor += "; one SHA-256 pass over the signing input: %.3f µs" % (sha / 1000)
            w("- each extra key tried, %s cookie ((key 3 of 3 - key 1 of 3) / 2): %.3f µs%s; "
              "target < 0.5 µs: %s" % (size, per_key / 1000, floor, verdict(per_key < 500)))
        else:
            w("- each extra key tried, %s cookie: not measured" % size)
    w("")
    w("| operation | Rust | floor (sum of building blocks) | Rust / floor | target ≤ 1.3x |")
    w("|---|---:|---:|---:|---|")
    for label, (g, b), (fg, fb) in FLOOR_ROWS:
        r = rust(g, b)
        fl = rust(fg, fb)
        rr = ratio(r, fl)
        w("| %s | %s | %s | %s | %s |" % (label, us(r), us(fl), "n/a" if rr is None else "%.2fx" % rr,
                                         verdict(None if rr is None else rr <= 1.3)))


def cmd_report(args):
    # Several Python runs (before and after criterion) are pooled.
    pooled = {}
    for path in args.python:
        with open(path, encoding="utf-8") as f:
            for key, r in json.load(f)["results"].items():
                pooled.setdefault(key, []).extend(r["runs_ns"])
    crit = args.criterion_dir
    lines = []
    w = lines.append
    w("#### Medians")
    w("")
    w("Python: median of all runs; Rust: criterion's median estimate.")
    w("")
    speed_tables(w, {k: statistics.median(v) for k, v in pooled.items()},
                 lambda g, b: criterion_median(crit, g, b))
    w("")
    w("#### Least-disturbed samples (minimum)")
    w("")
    w("The same runs, each side's fastest sample (Python: fastest timeit run; Rust: fastest "
      "criterion sample). On a shared, loaded machine these are the most reproducible numbers.")
    w("")
    speed_tables(w, {k: min(v) for k, v in pooled.items()},
                 lambda g, b: criterion_min(crit, g, b))
    blocks = [("b64url_decode", "base64url decode of the payload segment"),
              ("hmac_sha256", "HMAC-SHA256 of the signing input (one key)"),
              ("sha256_signing_input", "one SHA-256 pass over the signing input"),
              ("b85_decode", "base85 decode"),
              ("inflate", "inflate (reused state)"),
              ("bson_from_reader", "bson::Document::from_reader"),
              ("bson_to_vec", "bson::Document::to_vec"),
              ("deflate9", "deflate level 9 with zlib-rs (reused state)"),
              ("b85_encode", "base85 encode"),
              ("b64url_encode", "base64url encode of the claims")]
    if any(criterion_median(crit, "blocks", "typical_" + b) is not None for b, _ in blocks):
        w("")
        w("#### Building blocks (medians)")
        w("")
        w("| building block (`blocks/` group) | small | typical | near-4 KB |")
        w("|---|---:|---:|---:|")
        for b, label in blocks:
            w("| %s | %s |" % (label, " | ".join(
                us(criterion_median(crit, "blocks", "%s_%s" % (size, b)))
                for size in ("small", "typical", "large"))))
    if args.cli_rust and args.cli_python:
        w("")
        w("#### `beaker-cookie decode --lines`")
        with open(args.cli_rust, encoding="utf-8") as f:
            cr = json.load(f)
        with open(args.cli_python, encoding="utf-8") as f:
            cp = json.load(f)
        sp = ratio(cr.get("per_second"), cp.get("per_second"))
        w("")
        w("| `decode --lines`, %d typical cookies | Python loop | beaker-cookie | speed-up | target |"
          % cp["cookies"])
        w("|---|---:|---:|---:|---|")
        w("| cookies per second (wall time) | %.0f/s (%.3f s) | %s | %s | ≥ 10x: %s |" % (
            cp["per_second"], cp["seconds"],
            ("%.0f/s (%.3f s)" % (cr["per_second"], cr["seconds"])) if cr.get("per_second") else "n/a",
            fmt_ratio(sp), verdict(None if sp is None else sp >= 10)))
        if "output_identical_to_python" in cr:
            w("")
            w("Output of `beaker-cookie decode --lines` byte-identical to the Python loop's: %s." %
              ("yes" if cr["output_identical_to_python"] else "**no**"))
    print("\n".join(lines))


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("time", help="time the reference per case")
    t.add_argument("--inputs", default=DEFAULT_INPUTS)
    t.add_argument("--out", default="bench_python.json")
    t.add_argument("--quick", action="store_true", help="3 runs instead of 7")
    t.add_argument("--only", action="append", help="substring filter on case keys (repeatable)")
    ln = sub.add_parser("lines", help="the Python side of the decode --lines run")
    ln.add_argument("--inputs", default=DEFAULT_INPUTS)
    ln.add_argument("--file", required=True)
    ln.add_argument("--output", default=os.devnull, help="where the Extended JSON lines go")
    ln.add_argument("--runs", type=int, default=3)
    ln.add_argument("--out", default="bench_python_lines.json")
    cl = sub.add_parser("cli", help="time `beaker-cookie decode --lines` on the same file")
    cl.add_argument("--inputs", default=DEFAULT_INPUTS)
    cl.add_argument("--binary", required=True)
    cl.add_argument("--file", required=True)
    cl.add_argument("--output", default=os.devnull)
    cl.add_argument("--compare", help="the Python output to compare with, byte for byte")
    cl.add_argument("--runs", type=int, default=5)
    cl.add_argument("--out", default="bench_cli.json")
    r = sub.add_parser("report", help="print the side-by-side tables")
    r.add_argument("--python", required=True, action="append",
                   help="results of `time` (repeatable: runs are pooled)")
    r.add_argument("--criterion-dir", required=True)
    r.add_argument("--cli-rust")
    r.add_argument("--cli-python")
    args = p.parse_args()
    return {"time": cmd_time, "lines": cmd_lines, "cli": cmd_cli, "report": cmd_report}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
