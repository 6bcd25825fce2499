//! Drives the real Python reference (beaker-session-jwt, Beaker, pymongo) from tests.
//!
//! The interpreter is `$BEAKER_REF_PYTHON`, else `/work/.venv-ref/bin/python` or
//! `.venv-ref/bin/python` in the crate when present (made by
//! `../shared/tools/refimpl/setup.sh`). The reference tool directory is
//! `$BEAKER_REFIMPL`, else `../shared/tools/refimpl`. When no interpreter is found the
//! tests that need it print a notice and pass vacuously — unless
//! `BEAKER_REQUIRE_REF=1` (set by `.ci/run`), in which case they fail.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::{Value, json};

/// The reference's Python interpreter, if there is one.
pub fn python() -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        std::env::var_os("BEAKER_REF_PYTHON").map(PathBuf::from),
        Some(manifest.join(".venv-ref/bin/python")),
        Some(PathBuf::from("/work/.venv-ref/bin/python")),
    ];
    let found = candidates.into_iter().flatten().find(|p| p.exists());
    if found.is_none() {
        if std::env::var("BEAKER_REQUIRE_REF").is_ok_and(|v| v == "1") {
            panic!("BEAKER_REQUIRE_REF=1 but no reference Python found (set BEAKER_REF_PYTHON)");
        }
        eprintln!(
            "NOTICE: reference Python not found; skipping interop checks \
             (run ../shared/tools/refimpl/setup.sh and set BEAKER_REF_PYTHON)"
        );
    }
    found
}

/// The reference tool directory (`py_decode.py`, `refcommon.py`, ...).
pub fn refimpl_dir() -> PathBuf {
    std::env::var_os("BEAKER_REFIMPL")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/refimpl"))
}

/// One long-running `scripts/ref_batch.py` process.
pub struct RefBatch {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl RefBatch {
    /// Starts the batch driver, or `None` when the reference is unavailable.
    pub fn start() -> Option<RefBatch> {
        let python = python()?;
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/ref_batch.py");
        let mut child = Command::new(python)
            .arg(script)
            .env("BEAKER_REFIMPL", refimpl_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start scripts/ref_batch.py");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Some(RefBatch {
            child,
            stdin,
            stdout,
        })
    }

    fn ask(&mut self, request: Value) -> Result<String, Value> {
        writeln!(self.stdin, "{request}").expect("write to reference");
        self.stdin.flush().expect("flush");
        let mut line = String::new();
        self.stdout
            .read_line(&mut line)
            .expect("read from reference");
        let answer: Value = serde_json::from_str(&line).expect("reference answer is JSON");
        match answer.get("ok") {
            Some(Value::String(s)) => Ok(s.clone()),
            _ => Err(answer["error"].clone()),
        }
    }

    /// The reference's decode of `cookie`, as the canonical Extended JSON text
    /// `py_decode.py` prints, or its exception (`{"python_exception", "message"}`).
    pub fn decode(&mut self, options: &Value, cookie: &str) -> Result<String, Value> {
        self.ask(json!({"op": "decode", "options": options, "cookie": cookie}))
    }

    /// The reference's cookie for an Extended JSON session, as `py_encode.py` prints it.
    pub fn encode(
        &mut self,
        options: &Value,
        session: &str,
        keep_int64: bool,
    ) -> Result<String, Value> {
        self.ask(json!({"op": "encode", "options": options, "session": session, "keep_int64": keep_int64}))
    }
}

impl Drop for RefBatch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
