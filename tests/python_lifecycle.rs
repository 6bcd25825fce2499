//! Live checks against the Python reference (skipped, with a notice, when it is
//! not installed): the interpreter is `$BEAKER_REF_PYTHON`, else
//! /work/.venv-ref/bin/python if present.
//!
//! * Python's `http.cookies.SimpleCookie` parses every `Set-Cookie` header this
//!   crate writes back to the same name, value and attributes (our header follows
//!   RFC 6265 instead of copying the reference's quirks, so this is the check that
//!   Python-side tooling still understands it).
//! * Cookies cross over in both directions through a real request: the reference's
//!   `SessionMiddleware` + `JWTCookieSession` (scripts/ref_session.py) loads the
//!   session this crate wrote, and this crate loads the session the reference
//!   wrote back.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;

use beaker_session_jwt::bson::{Bson, doc};
use beaker_session_jwt::cookies::{CookieExpires, SameSite};
use beaker_session_jwt::{BeakerOptions, Codec, ManualClock, SessionConfig};
use serde_json::{Value, json};

fn python() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BEAKER_REF_PYTHON") {
        return Some(PathBuf::from(p));
    }
    let default = PathBuf::from("/work/.venv-ref/bin/python");
    default.exists().then_some(default)
}

fn run_python(args: &[&str], input: &Value) -> Option<Value> {
    let Some(py) = python() else {
        eprintln!("NOTICE: reference Python not found (set BEAKER_REF_PYTHON); skipping");
        return None;
    };
    let mut child = Command::new(py)
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/scripts"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().expect("python ran");
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).expect("python printed JSON"))
}

const SIMPLE_COOKIE: &str = r#"
import sys, json, email.utils
from http.cookies import SimpleCookie
out = []
for h in json.load(sys.stdin):
    c = SimpleCookie()
    c.load(h)
    r = {}
    for k, m in c.items():
        e = m["expires"]
        r[k] = {"value": m.value, "domain": m["domain"], "path": m["path"],
                "expires": email.utils.parsedate_to_datetime(e).timestamp() if e else None,
                "samesite": m["samesite"], "httponly": bool(m["httponly"]),
                "secure": bool(m["secure"])}
    out.append(r)
print(json.dumps(out))
"#;

fn codec() -> Codec {
    Codec::builder()
        .secret_keys(["live-key-new-0123456789", "live-key-old-0123456789"])
        .build()
        .unwrap()
}

#[test]
fn simple_cookie_parses_every_header_we_write() {
    let now = 1718000000.5;
    let clock = Arc::new(ManualClock::new(now));
    let configs = [
        SessionConfig::builder(codec()),
        SessionConfig::builder(codec())
            .cookie_expires(CookieExpires::Never)
            .secure(true)
            .httponly(true),
        SessionConfig::builder(codec())
            .cookie_expires(CookieExpires::After(86400))
            .cookie_domain(Some(".example.com".into()))
            .cookie_path("/app")
            .same_site(Some(SameSite::Strict)),
        SessionConfig::builder(codec())
            .key("sid")
            .same_site(Some(SameSite::None))
            .secure(true),
        SessionConfig::builder(codec()).same_site(None),
    ];
    let mut headers = Vec::new();
    let mut intended = Vec::new();
    for builder in configs {
        let config = builder.clock(clock.clone()).build().unwrap();
        for delete in [false, true] {
            let mut s = config.new_session();
            s.insert("user_id", 42);
            s.insert("name", "Zoë; \"quoted\", comma");
            if delete {
                s.delete();
            } else {
                s.save();
            }
            let h = s.finish().unwrap().unwrap();
            let h = h.to_str().unwrap().to_owned();
            intended.push(cookie::Cookie::parse(h.clone()).unwrap().into_owned());
            headers.push(h);
        }
    }
    let Some(parsed) = run_python(&["-c", SIMPLE_COOKIE], &json!(headers)) else {
        return;
    };
    for ((h, c), p) in headers
        .iter()
        .zip(&intended)
        .zip(parsed.as_array().unwrap())
    {
        let m = &p[c.name()];
        assert!(m.is_object(), "SimpleCookie did not parse {h}: {p}");
        assert_eq!(m["value"], c.value(), "{h}");
        assert_eq!(m["path"], c.path().unwrap_or(""), "{h}");
        let domain = m["domain"].as_str().unwrap().trim_start_matches('.');
        assert_eq!(domain, c.domain().unwrap_or(""), "{h}");
        assert_eq!(m["httponly"], c.http_only() == Some(true), "{h}");
        assert_eq!(m["secure"], c.secure() == Some(true), "{h}");
        let samesite = c.same_site().map(|s| s.to_string()).unwrap_or_default();
        assert_eq!(m["samesite"], samesite, "{h}");
        let expires = c.expires_datetime().map(|t| t.unix_timestamp() as f64);
        assert_eq!(m["expires"].as_f64(), expires, "{h}");
    }
    println!("SimpleCookie parsed all {} headers", headers.len());
}

fn ref_case(cookie: Option<&str>, actions: Value) -> Value {
    json!({
        "options": {
            "session.jwt_secret_keys": "live-key-new-0123456789, live-key-old-0123456789",
            "session.cookie_expires": "3600",
            "session.httponly": "true",
        },
        "cookie": cookie,
        "load_time": 1718000100.5,
        "finish_time": 1718000101.75,
        "actions": actions,
    })
}

#[test]
fn cookies_cross_over_in_both_directions() {
    let options = BeakerOptions::from_pairs([
        (
            "session.jwt_secret_keys",
            "live-key-new-0123456789, live-key-old-0123456789",
        ),
        ("session.cookie_expires", "3600"),
        ("session.httponly", "true"),
    ]);
    let clock = Arc::new(ManualClock::new(1718000000.25));
    let config = SessionConfig::builder_from_options(&options)
        .unwrap()
        .clock(clock.clone())
        .build()
        .unwrap();

    // Rust writes a session...
    let mut s = config.new_session();
    s.insert("user_id", 7);
    s.insert("cart", vec![Bson::from("apple"), Bson::from(3)]);
    s.insert("nested", doc! { "a": 1.5, "b": Bson::Null });
    s.save();
    let header = s.finish().unwrap().unwrap();
    let written = s.document().clone();
    let pair = header
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();

    // ...the reference reads it in a request that saves a change...
    let case = ref_case(
        Some(&pair),
        json!([{"op": "set", "key": "seen_by", "value": "python"}, {"op": "save"}]),
    );
    let Some(result) = run_python(&["ref_session.py"], &case) else {
        return;
    };
    assert!(result["error"].is_null(), "{result}");
    assert_eq!(result["is_new"], false, "{result}");
    let after = &result["after_load"];
    assert_eq!(after["_id"], written.get_str("_id").unwrap());
    assert_eq!(after["user_id"], json!({"$numberInt": "7"}));
    assert_eq!(
        after["nested"],
        json!({"a": {"$numberDouble": "1.5"}, "b": null})
    );
    assert_eq!(
        after["_creation_time"],
        json!({"$numberDouble": "1718000000.25"})
    );

    // ...and this crate reads what the reference wrote back.
    let theirs = result["set_cookie"].as_str().unwrap();
    let pair = theirs.trim_start().split(';').next().unwrap();
    clock.set(1718000200.0);
    let back = config.load_cookie_header(Some(pair)).unwrap();
    assert!(back.origin().is_some_and(|o| !o.needs_reissue()));
    assert_eq!(back.get("seen_by"), Some(&Bson::from("python")));
    assert_eq!(back.get("user_id"), Some(&Bson::Int32(7)));
    assert_eq!(back.id(), written.get_str("_id").ok());
    assert_eq!(
        back.get("_creation_time"),
        Some(&Bson::Double(1718000000.25))
    );
}

#[test]
fn old_key_cookie_is_reissued_like_the_reference() {
    // A cookie signed by the old key (position 1), written by the reference.
    let old_only = Codec::builder()
        .secret_keys(["live-key-old-0123456789"])
        .build()
        .unwrap();
    let value = old_only
        .encode(&doc! { "_id": "ab".repeat(16), "_creation_time": 1717000000.0, "_accessed_time": 1717999999.0, "user_id": 9 })
        .unwrap();
    let header = format!("beaker.session.id={value}");
    let Some(reference) = run_python(
        &["ref_session.py"],
        &ref_case(Some(&header), json!([{"op": "touch"}])),
    ) else {
        return;
    };
    let clock = Arc::new(ManualClock::new(1718000100.5));
    let options = BeakerOptions::from_pairs([
        (
            "session.jwt_secret_keys",
            "live-key-new-0123456789, live-key-old-0123456789",
        ),
        ("session.cookie_expires", "3600"),
        ("session.httponly", "true"),
    ]);
    let config = SessionConfig::builder_from_options(&options)
        .unwrap()
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut s = config.load_cookie_header(Some(&header)).unwrap();
    assert_eq!(s.origin().map(|o| o.key_index), Some(Some(1)));
    clock.set(1718000101.75);
    // untouched, but re-issued because of reissue_cookies
    let ours = s.finish().unwrap().expect("re-issued");
    let ours = cookie::Cookie::parse(ours.to_str().unwrap().to_owned()).unwrap();
    let theirs = reference["set_cookie"].as_str().unwrap().trim_start();
    let their_value = theirs.split(';').next().unwrap().split_once('=').unwrap().1;
    // both now verify with the signing key and hold the same session
    let a = config.codec().decode(ours.value()).unwrap();
    let b = config.codec().decode(their_value).unwrap();
    assert_eq!(a.key_index, Some(0));
    assert_eq!(b.key_index, Some(0));
    assert_eq!(
        a.session.iter().collect::<Vec<_>>(),
        b.session.iter().collect::<Vec<_>>()
    );
    assert_eq!(config.metrics().snapshot().reissued, 1);
}

const HEADER_PROBE: &str = r#"
import sys, json, warnings, logging
warnings.simplefilter("ignore")
logging.disable(logging.CRITICAL)
from beaker_session_jwt import JWTCookieSession
seen = []
JWTCookieSession._decrypt_data = lambda self, value: seen.append(value) or {}
out = []
for key, header in json.load(sys.stdin):
    seen.clear()
    JWTCookieSession({"cookie": header}, key=key, jwt_secret_keys="probe-key-0123456789")
    out.append(seen[0] if seen else None)
print(json.dumps(out))
"#;

/// Differential test of the Cookie header parser: thousands of generated headers
/// (separators, quotes, Python-only whitespace, near-miss names) through the real
/// JWTCookieSession constructor and through `find_session_cookie`.
#[test]
fn cookie_header_parser_agrees_with_the_reference_on_generated_headers() {
    const PIECES: &[&str] = &[
        "beaker.session.id",
        "sid",
        "a:b",
        "my key",
        "Path",
        "=",
        ";",
        "; ",
        "\"",
        " ",
        "\t",
        "\n",
        "\u{0b}",
        "\u{1c}",
        "\u{1f}",
        "\u{85}",
        "\u{a0}",
        "\u{2003}",
        "\u{3000}",
        "\u{200b}",
        "\u{feff}",
        ",",
        "x",
        "eyJ.a.b",
        "é",
        "\0",
    ];
    const KEYS: &[&str] = &["beaker.session.id", "sid", "a:b", "my key", "Path"];
    // xorshift: deterministic, no dependency
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n as u64) as usize
    };
    const WS: &[&str] = &[
        "", "", " ", "\t", "\u{a0}", "\u{1c}", "\u{2003}", "\u{200b}",
    ];
    const SEPS: &[&str] = &[";", "; ", ";\t", ";;", " ; "];
    let mut cases = Vec::new();
    for _ in 0..3000 {
        let mut header = String::new();
        let mut used = KEYS[next(KEYS.len())];
        for i in 0..next(5) {
            if i > 0 {
                header.push_str(SEPS[next(SEPS.len())]);
            }
            if next(6) == 0 {
                // junk segment
                for _ in 0..next(6) {
                    header.push_str(PIECES[next(PIECES.len())]);
                }
                continue;
            }
            header.push_str(WS[next(WS.len())]);
            let name = KEYS[next(KEYS.len())];
            if next(2) == 0 {
                used = name;
            }
            header.push_str(name);
            header.push_str(WS[next(WS.len())]);
            if next(8) != 0 {
                header.push('=');
            }
            header.push_str(WS[next(WS.len())]);
            for _ in 0..next(5) {
                header.push_str(PIECES[next(PIECES.len())]);
            }
            header.push_str(WS[next(WS.len())]);
        }
        cases.push((used.to_owned(), header));
    }
    let Some(reference) = run_python(&["-c", HEADER_PROBE], &json!(cases)) else {
        return;
    };
    let reference = reference.as_array().unwrap();
    let mut mismatches = Vec::new();
    let mut found = 0;
    for ((key, header), want) in cases.iter().zip(reference) {
        let got = beaker_session_jwt::cookies::find_session_cookie(header, key);
        found += usize::from(got.is_some());
        if got.as_deref() != want.as_str() {
            mismatches.push(format!(
                "key {key:?} header {header:?}: got {got:?}, want {want}"
            ));
        }
    }
    println!(
        "{} generated headers, {found} with a session cookie, {} mismatches",
        cases.len(),
        mismatches.len()
    );
    assert!(
        mismatches.is_empty(),
        "{}",
        mismatches[..mismatches.len().min(20)].join("\n")
    );
}
