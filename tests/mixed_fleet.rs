//! The promise of the crate, end to end: a fleet moves from Python to Rust with
//! nobody logged out.
//!
//! `scripts/mixed_fleet.py` runs the real Python reference (Beaker's
//! `SessionMiddleware` with `CookieSession`, then `JWTCookieSession`, served by
//! `scripts/py_fleet_app.py` on loopback) and the Rust demo (`examples/demo.rs`) on
//! the same ini files (`testdata/fleet/`), and one HTTP client with one cookie jar
//! alternates between them through the rollout: original format read by Rust, written
//! by Rust for old Python, both on JWT, a staged key rotation, the old key dropped,
//! each change as a rolling restart (one server on the new ini while the other still
//! runs the previous one). Every step asserts the counter and the cookie's format and
//! signing key (checked with HMAC in the script); every phase asserts that both
//! servers show the same session; at the end, stale and tampered cookies must give a
//! fresh session on both sides, never an error.
//!
//! Needs the reference venv (see `tests/reference`): skipped with a notice when it
//! is missing, failed under `BEAKER_REQUIRE_REF=1`.

mod demo_bin;
mod reference;

use std::path::Path;
use std::process::Command;

#[test]
fn rollout_from_python_to_rust_logs_nobody_out() {
    let Some(python) = reference::python() else {
        return;
    };
    let demo = demo_bin::demo_executable();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mixed_fleet.py");
    let out = Command::new(python)
        .arg(script)
        .arg("--demo")
        .arg(&demo)
        .output()
        .expect("run scripts/mixed_fleet.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "mixed fleet failed: {}",
        last_line(&stdout)
    );
    // the script's own closing line: all its checks ran and passed
    let summary = last_line(&stdout);
    assert!(summary.ends_with(" passed, 0 failed"), "{summary}");
    let passed: usize = summary
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(passed >= 90, "too few checks ran: {summary}");
}

fn last_line(s: &str) -> &str {
    s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("")
}
