//! Browser test: headless Chromium (Debian's `chromium` package) visits the Rust demo
//! several times; the counter must increment, and the cookie the browser stored must
//! have the attributes of `testdata/fleet/browser.ini` (SameSite, HttpOnly, Secure,
//! Path, expiry). The driver, `scripts/browser_cdp.py`, speaks the DevTools protocol
//! with Python's standard library only.
//!
//! Skipped with a notice when no Chromium is installed (set `CHROMIUM` to its path);
//! fails instead under `BEAKER_REQUIRE_BROWSER=1`, as in CI (`scripts/browser-test.sh`).

mod demo_bin;

use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    let explicit = std::env::var_os("CHROMIUM").map(PathBuf::from);
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .flat_map(|d| ["chromium", "chromium-browser"].map(|n| d.join(n)))
            .find(|p| p.is_file())
    });
    let found = explicit.or(on_path);
    if found.is_none() {
        if std::env::var("BEAKER_REQUIRE_BROWSER").is_ok_and(|v| v == "1") {
            panic!("BEAKER_REQUIRE_BROWSER=1 but no chromium found (apt-get install chromium)");
        }
        eprintln!(
            "NOTICE: chromium not found; skipping the browser test (apt-get install chromium)"
        );
    }
    found
}

#[test]
fn chromium_keeps_the_session_and_stores_the_configured_cookie() {
    let Some(chromium) = chromium() else {
        return;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let demo = demo_bin::demo_executable();
    let python = std::env::var_os("PYTHON").unwrap_or_else(|| "python3".into());
    let out = Command::new(python)
        .arg(root.join("scripts/browser_cdp.py"))
        .arg("--demo")
        .arg(&demo)
        .arg("--config")
        .arg(root.join("testdata/fleet/browser.ini"))
        .arg("--chromium")
        .arg(&chromium)
        .arg("--visits")
        .arg("3")
        .output()
        .expect("run scripts/browser_cdp.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    let summary = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    assert!(out.status.success(), "browser test failed: {summary}");
    assert!(summary.ends_with(" passed, 0 failed"), "{summary}");
}
