//! The `beaker-cookie` CLI contract: stdout, stderr and exit status of the built binary,
//! against the reference vectors and (when available) the reference's own `py_decode.py`.

mod reference;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_beaker-cookie");

fn vectors(file: &str) -> Vec<Value> {
    let path = format!("{}/testdata/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    doc["vectors"].as_array().unwrap().clone()
}

fn vector(file: &str, name: &str) -> Value {
    vectors(file)
        .into_iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no vector {name}"))
}

/// `--set NAME=VALUE` arguments for a vector's options.
fn set_args(options: &Value) -> Vec<String> {
    options
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(k, v)| ["--set".to_owned(), format!("{k}={}", v.as_str().unwrap())])
        .collect()
}

fn run(args: &[String], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // the process may exit before reading its input (usage errors): ignore EPIPE
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Parses one line of canonical Extended JSON keeping key order.
fn json(line: &str) -> Value {
    serde_json::from_str(line.trim_end()).unwrap()
}

#[test]
fn decode_every_valid_jwt_vector_like_the_reference() {
    let mut py = reference::RefBatch::start();
    let mut checked = 0;
    for v in vectors("jwt.json") {
        if !v["error"].is_null()
            || v["note"]
                .as_str()
                .is_some_and(|n| n.contains("no BSON round trip"))
        {
            continue;
        }
        let cookie = v["cookie"].as_str().unwrap();
        let mut a = args(&["decode"]);
        a.extend(set_args(&v["options"]));
        // the cookie on stdin with a trailing newline, which is ignored
        let out = run(&a, &format!("{cookie}\n"));
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            v["name"],
            stderr(&out)
        );
        let text = stdout(&out);
        assert_eq!(text.lines().count(), 1, "one line");
        assert_eq!(json(&text), v["session"], "{}", v["name"]);
        if let Some(py) = py.as_mut() {
            // byte-identical to what py_decode.py prints
            let theirs = py.decode(&v["options"], cookie).unwrap();
            assert_eq!(text.trim_end(), theirs, "{}", v["name"]);
        }
        checked += 1;
    }
    assert!(checked > 80, "only {checked} vectors checked");
}

#[test]
fn encode_reproduces_the_reference_cookie() {
    for name in [
        "encode-jwt-bson/login-0",
        "encode-jwt-json/login",
        "encode-jwt-bson/id-moved-first",
    ] {
        let v = vector("encode.json", name);
        let mut a = args(&["encode"]);
        a.extend(set_args(&v["options"]));
        let out = run(&a, &v["session"].to_string());
        assert_eq!(out.status.code(), Some(0), "{name}: {}", stderr(&out));
        assert_eq!(
            stdout(&out).trim_end(),
            v["cookie"].as_str().unwrap(),
            "{name}"
        );
    }
}

#[test]
fn rejected_cookie_exits_1_without_the_key() {
    let v = vector("jwt.json", "jwt-key-rotation/no-matching-key-one");
    let key = v["options"]["jwt_secret_keys"].as_str().unwrap().to_owned();
    let mut a = args(&["decode"]);
    a.extend(set_args(&v["options"]));
    a.push(v["cookie"].as_str().unwrap().to_owned());
    let out = run(&a, "");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).is_empty());
    let err = stderr(&out);
    assert!(err.contains("bad_signature"), "{err}");
    // the warning about --set names the option, never its value
    assert!(!err.contains(&key), "{err}");
}

#[test]
fn configuration_errors_exit_2() {
    // no keys at all (reference: "No jwt_secret_keys specified")
    let out = run(&args(&["decode", "x.y.z"]), "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no jwt_secret_keys"),
        "{}",
        stderr(&out)
    );
    // an empty key in the list
    let out = run(
        &args(&["decode", "--set", "session.jwt_secret_keys=a,,b", "x"]),
        "",
    );
    assert_eq!(out.status.code(), Some(2));
    // not true/false
    let out = run(
        &args(&[
            "encode",
            "--set",
            "jwt_secret_keys=k",
            "--set",
            "bson_compress_jwt_payload=maybe",
        ]),
        "{}",
    );
    assert_eq!(out.status.code(), Some(2));
    // bad usage
    let out = run(&args(&["decode", "--no-such-flag"]), "");
    assert_eq!(out.status.code(), Some(2));
    // a missing config file
    let out = run(
        &args(&["decode", "--config", "/nonexistent/app.ini", "x"]),
        "",
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn lines_mode_prints_one_line_per_cookie() {
    let good = vector("jwt.json", "jwt-bson/login-0");
    let bad = vector("jwt.json", "jwt-alg/alg-none-empty-sig");
    let input = format!(
        "{}\n{}\nnot-a-cookie\n{}\n",
        good["cookie"].as_str().unwrap(),
        bad["cookie"].as_str().unwrap(),
        good["cookie"].as_str().unwrap()
    );
    let mut a = args(&["decode", "--lines"]);
    a.extend(set_args(&good["options"]));
    let out = run(&a, &input);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out).lines().map(json).collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0], good["session"]);
    assert_eq!(lines[1]["error"], "algorithm_not_allowed");
    assert!(lines[1]["message"].is_string());
    assert_eq!(lines[2]["error"], "malformed_token");
    assert_eq!(lines[3], good["session"]);
}

#[test]
fn lines_mode_accepts_crlf_and_an_unterminated_last_line() {
    // The reused line buffer strips what `BufRead::lines` stripped (`\n`, `\r\n`)
    // plus one `\r`, so Windows line endings and a missing final newline still
    // give the vector's session on every line.
    let good = vector("jwt.json", "jwt-bson/login-0");
    let cookie = good["cookie"].as_str().unwrap();
    let input = format!("{cookie}\r\n{cookie}\n{cookie}\r\r\n\n{cookie}\r");
    let mut a = args(&["decode", "--lines"]);
    a.extend(set_args(&good["options"]));
    let out = run(&a, &input);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out).lines().map(json).collect();
    assert_eq!(lines.len(), 5);
    for i in [0, 1, 2, 4] {
        assert_eq!(lines[i], good["session"], "line {i}");
    }
    assert_eq!(lines[3]["error"], "malformed_token");
}

#[test]
fn config_file_section_and_unknown_option_warning() {
    let v = vector("jwt.json", "jwt-key-rotation/signing-key-third");
    let dir = std::env::temp_dir().join(format!("beaker-cookie-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ini = dir.join("development.ini");
    std::fs::write(
        &ini,
        format!(
            "[app:main]\nuse = egg:myapp\nsqlalchemy.url = sqlite://\nsession.type = cookie\n\
             session.jwt_secret_keys = {}\nsession.bogus_option = 1\n\n[app:other]\nsession.jwt_secret_keys = wrong\n",
            v["options"]["jwt_secret_keys"].as_str().unwrap()
        ),
    )
    .unwrap();
    let cookie = v["cookie"].as_str().unwrap().to_owned();
    let out = run(
        &args(&["decode", "--config", ini.to_str().unwrap(), &cookie]),
        "",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&stdout(&out)), v["session"]);
    let err = stderr(&out);
    assert!(
        err.contains("bogus_option"),
        "unknown options are named: {err}"
    );
    assert!(
        !err.contains("sqlalchemy"),
        "unrelated keys are ignored silently: {err}"
    );
    let out = run(
        &args(&[
            "decode",
            "--config",
            ini.to_str().unwrap(),
            "--section",
            "app:other",
            &cookie,
        ]),
        "",
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "the other section's key does not verify"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn secrets_from_env_and_file_and_the_warning_for_set() {
    let v = vector("jwt.json", "jwt-bson/login-0");
    let keys = v["options"]["jwt_secret_keys"].as_str().unwrap();
    let cookie = v["cookie"].as_str().unwrap().to_owned();

    let out = Command::new(BIN)
        .args([
            "decode",
            "--set-env",
            "session.jwt_secret_keys=APP_KEYS",
            &cookie,
        ])
        .env("APP_KEYS", keys)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).is_empty(), "no warning for --set-env");
    assert_eq!(json(&stdout(&out)), v["session"]);

    let path = std::env::temp_dir().join(format!("beaker-cookie-key-{}", std::process::id()));
    std::fs::write(&path, format!("{keys}\n")).unwrap();
    let out = run(
        &args(&[
            "decode",
            "--set-file",
            &format!("jwt_secret_keys={}", path.display()),
            &cookie,
        ]),
        "",
    );
    std::fs::remove_file(&path).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&stdout(&out)), v["session"]);

    let out = run(
        &args(&[
            "decode",
            "--set",
            &format!("jwt_secret_keys={keys}"),
            &cookie,
        ]),
        "",
    );
    assert_eq!(out.status.code(), Some(0));
    let err = stderr(&out);
    assert!(err.contains("visible to other local users"), "{err}");
    assert!(!err.contains(keys), "{err}");
}

#[test]
fn extract_and_decode_from_header_follow_the_reference_parser() {
    for v in vectors("cookie_header.json") {
        let header = v["header"].as_str().unwrap();
        let key = v["key"].as_str().unwrap_or("beaker.session.id");
        let out = run(&args(&["extract", "--key", key]), header);
        match v["value"].as_str() {
            Some(value) => {
                assert_eq!(out.status.code(), Some(0), "{}", v["name"]);
                assert_eq!(stdout(&out), format!("{value}\n"), "{}", v["name"]);
            }
            None => assert_eq!(out.status.code(), Some(1), "{}", v["name"]),
        }
    }
    let v = vector("jwt.json", "jwt-bson/login-0");
    let header = format!(
        "theme=dark; bad\"cookie=1; beaker.session.id=\"{}\"; x=y",
        v["cookie"].as_str().unwrap()
    );
    let mut a = args(&["decode", "--from-header"]);
    a.extend(set_args(&v["options"]));
    let out = run(&a, &header);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(json(&stdout(&out)), v["session"]);
    let out = run(&a, "theme=dark");
    assert_eq!(out.status.code(), Some(1));
}
