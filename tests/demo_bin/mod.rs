//! Builds `examples/demo.rs` for the tests that run it as a server (mixed fleet,
//! browser) and gives the path of its executable.
//!
//! `cargo test` builds examples but does not tell a test where they are, and
//! `cargo test --test NAME` does not build them at all; so this asks cargo to build
//! the demo with the same features the test was compiled with (a no-op when
//! `cargo test --all-features` already did) and reads the executable's path from
//! cargo's JSON messages, which also honours `CARGO_TARGET_DIR`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The features this test binary was built with, plus `axum`, which the demo requires.
fn features() -> String {
    let mut f = vec!["axum"];
    if cfg!(feature = "cli") {
        f.push("cli");
    }
    if cfg!(feature = "tower") {
        f.push("tower");
    }
    f.join(",")
}

/// Builds the demo (if needed) and returns its executable.
///
/// # Panics
/// When cargo fails or reports no executable: the test cannot run without it.
pub fn demo_executable() -> PathBuf {
    // once per test binary: its tests may run in parallel
    static DEMO: OnceLock<PathBuf> = OnceLock::new();
    DEMO.get_or_init(build_demo).clone()
}

fn build_demo() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(manifest)
        .args([
            "build",
            "--locked",
            "--example",
            "demo",
            "--message-format=json",
            "--features",
        ])
        .arg(features())
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build --example demo");
    assert!(out.status.success(), "cargo build --example demo failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "demo")
        .filter_map(|m| m["executable"].as_str().map(PathBuf::from))
        .next_back()
        .expect("cargo reported the demo executable")
}
