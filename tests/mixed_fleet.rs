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

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

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

/// Kills the child process when the test ends, however it ends.
struct Kill(std::process::Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One HTTP/1.1 request over a plain socket; returns the whole response.
fn http_get(addr: &str, path: &str, cookie: Option<&str>) -> String {
    let mut s = TcpStream::connect(addr).expect("connect to the demo");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let cookie = cookie
        .map(|c| format!("Cookie: {c}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{cookie}Connection: close\r\n\r\n"
    )
    .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    out
}

/// The demo with no --config runs on its embedded configuration, says so, counts,
/// and answers a forged cookie with a fresh session and a warning on stderr.
#[test]
fn demo_without_config_says_so_and_counts() {
    let demo = demo_bin::demo_executable();
    let mut child = Command::new(&demo)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the demo");
    let stdout = child.stdout.take().expect("stdout");
    let stderr = child.stderr.take().expect("stderr");
    let _guard = Kill(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("read the address line");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();

    let first = http_get(&addr, "/", None);
    assert!(first.starts_with("HTTP/1.1 200"), "{first}");
    assert!(first.ends_with("The current value is: 1"), "{first}");
    let set_cookie = first
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .expect("a Set-Cookie header");
    assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
    let cookie = set_cookie.split(';').next().expect("name=value");
    let second = http_get(&addr, "/", Some(cookie));
    assert!(second.ends_with("The current value is: 2"), "{second}");
    let cookie2 = second
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .and_then(|c| c.split(';').next())
        .expect("the saved session's cookie");
    let session = http_get(&addr, "/session", Some(cookie2));
    assert!(
        session.contains(r#""value": {"$numberInt": "2"}"#),
        "{session}"
    );
    let forged = format!("{}x", &cookie[..cookie.len() - 1]);
    let third = http_get(&addr, "/", Some(&forged));
    assert!(third.starts_with("HTTP/1.1 200"), "{third}");
    assert!(third.ends_with("The current value is: 1"), "{third}");

    drop(_guard); // ends the demo, so stderr reaches its end
    let mut err = String::new();
    BufReader::new(stderr)
        .read_to_string(&mut err)
        .expect("stderr");
    assert!(
        err.contains("no --config given: running on the embedded default configuration"),
        "{err}"
    );
    assert!(
        err.contains("session cookie rejected") && err.contains("bad_signature"),
        "{err}"
    );
    assert!(
        !err.contains(&forged[20..]),
        "the cookie must not be logged: {err}"
    );
}

/// A configuration error is reported on stderr with exit status 2, not a panic.
#[test]
fn demo_with_a_bad_config_exits_2() {
    let demo = demo_bin::demo_executable();
    let dir = std::env::temp_dir().join(format!("beaker-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ini = dir.join("bad.ini");
    std::fs::write(&ini, "[app:main]\nsession.httponly = true\n").expect("write ini");
    let out = Command::new(&demo)
        .arg("--config")
        .arg(&ini)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .expect("run the demo");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no jwt_secret_keys specified"), "{err}");
}
