//! Replays testdata/session/lifecycle.json against the session layer.
//!
//! Every case there was run through the real Beaker `SessionMiddleware` with
//! beaker-session-jwt's `JWTCookieSession` (scripts/gen_session_fixtures.py,
//! scripts/ref_session.py) with a fixed clock and counter ids; here the same
//! request runs through `SessionConfig::load` / `Session::finish` with a
//! `ManualClock` and the same ids, and must give the same session contents (in
//! order), the same `is_new`, the same decision about `Set-Cookie`, the same cookie
//! value (byte for byte) and the same attributes. The header *text* differs on
//! purpose (RFC 6265 rendering: no leading space, `Expires=Wdy, DD Mon YYYY`), so
//! attributes are compared parsed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use beaker_session_jwt::bson::{Binary, Bson, DateTime, Document, spec::BinarySubtype};
use beaker_session_jwt::{BeakerOptions, Codec, ManualClock, Session, SessionConfig};
use serde_json::Value;
use time::OffsetDateTime;

// ------------------------------------------------------------------ fixtures

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/session/lifecycle.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture file")).expect("json")
}

/// Canonical Extended JSON (the subset the fixtures use) to BSON.
fn ejson(v: &Value) -> Bson {
    match v {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(a) => Bson::Array(a.iter().map(ejson).collect()),
        Value::Number(n) => panic!("canonical EJSON has no bare numbers: {n}"),
        Value::Object(o) => {
            let one = |k: &str| o.get(k).and_then(Value::as_str).filter(|_| o.len() == 1);
            if let Some(s) = one("$numberInt") {
                Bson::Int32(s.parse().unwrap())
            } else if let Some(s) = one("$numberLong") {
                Bson::Int64(s.parse().unwrap())
            } else if let Some(s) = one("$numberDouble") {
                Bson::Double(match s {
                    "NaN" => f64::NAN,
                    "Infinity" => f64::INFINITY,
                    "-Infinity" => f64::NEG_INFINITY,
                    _ => s.parse().unwrap(),
                })
            } else if let Some(d) = o.get("$date").filter(|_| o.len() == 1) {
                let ms = d["$numberLong"].as_str().unwrap().parse().unwrap();
                Bson::DateTime(DateTime::from_millis(ms))
            } else if let Some(b) = o.get("$binary").filter(|_| o.len() == 1) {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b["base64"].as_str().unwrap())
                    .unwrap();
                let st = u8::from_str_radix(b["subType"].as_str().unwrap(), 16).unwrap();
                Bson::Binary(Binary {
                    subtype: BinarySubtype::from(st),
                    bytes,
                })
            } else {
                Bson::Document(ejson_doc(v))
            }
        }
    }
}

fn ejson_doc(v: &Value) -> Document {
    let mut d = Document::new();
    for (k, v) in v.as_object().expect("object") {
        d.insert(k.clone(), ejson(v));
    }
    d
}

/// Key order matters (Python dict order), which `Document`'s `==` ignores.
fn ordered(d: &Document) -> Vec<(String, Bson)> {
    d.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

// ------------------------------------------------------------------ headers

#[derive(Debug, PartialEq)]
struct Parsed {
    name: String,
    value: String,
    domain: Option<String>,
    path: Option<String>,
    expires: Option<i64>,
    httponly: bool,
    secure: bool,
    samesite: Option<String>,
}

/// Parses the reference's `Morsel.output(header="")` text.
fn parse_python(header: &str) -> Parsed {
    let mut parts = header.trim_start().split("; ");
    let (name, value) = parts.next().unwrap().split_once('=').unwrap();
    let mut p = Parsed {
        name: name.into(),
        value: value.into(),
        domain: None,
        path: None,
        expires: None,
        httponly: false,
        secure: false,
        samesite: None,
    };
    for attr in parts {
        match attr.split_once('=') {
            Some(("Domain", d)) => p.domain = Some(d.trim_start_matches('.').into()),
            Some(("Path", v)) => p.path = Some(v.into()),
            Some(("SameSite", v)) => p.samesite = Some(v.to_ascii_lowercase()),
            Some(("expires", v)) => {
                let fmt = time::macros::format_description!(
                    "[weekday repr:short], [day]-[month repr:short]-[year] [hour]:[minute]:[second] GMT"
                );
                // the test host's TZ was UTC, so the reference's local time is UTC
                let t = time::PrimitiveDateTime::parse(v, &fmt).unwrap();
                p.expires = Some(t.assume_utc().unix_timestamp());
            }
            None if attr == "HttpOnly" => p.httponly = true,
            None if attr == "Secure" => p.secure = true,
            _ => panic!("unexpected attribute {attr:?} in {header:?}"),
        }
    }
    p
}

fn parse_ours(header: &str) -> Parsed {
    let c = cookie::Cookie::parse(header.to_owned()).expect("our Set-Cookie parses");
    Parsed {
        name: c.name().into(),
        value: c.value().into(),
        domain: c.domain().map(Into::into),
        path: c.path().map(Into::into),
        expires: c.expires_datetime().map(OffsetDateTime::unix_timestamp),
        httponly: c.http_only() == Some(true),
        secure: c.secure() == Some(true),
        samesite: c.same_site().map(|s| s.to_string().to_ascii_lowercase()),
    }
}

// ------------------------------------------------------------------ replay

fn config_for(case: &Value, extra: &[(&str, &str)]) -> (SessionConfig, Arc<ManualClock>) {
    let mut options = BeakerOptions::new();
    for (k, v) in case["options"].as_object().unwrap() {
        options.set(k, v.as_str().unwrap());
    }
    for (k, v) in extra {
        options.set(k, v);
    }
    let clock = Arc::new(ManualClock::new(0.0));
    let n = Arc::new(AtomicU64::new(0));
    let config = SessionConfig::builder_from_options(&options)
        .expect("options")
        .clock(clock.clone())
        .id_generator(Arc::new(move || {
            format!("{:032x}", n.fetch_add(1, Ordering::SeqCst) + 1)
        }))
        .build()
        .expect("config");
    (config, clock)
}

/// Python exception (class, message) → the `Error::kind`s that stand for it here.
fn kinds_for(error: &Value) -> &'static [&'static str] {
    match (
        error["exception"].as_str().unwrap(),
        error["message"].as_str().unwrap(),
    ) {
        ("BadSignatureError", _) => &["bad_signature"],
        ("DecodeError", _) => &[
            "malformed_token",
            "invalid_header",
            "invalid_payload_encoding",
        ],
        ("TypeError", _) => &["invalid_accessed_time"],
        ("BeakerException", "Cookie value is too long to store") => &["cookie_too_long"],
        other => panic!("no mapping for {other:?}"),
    }
}

enum Outcome {
    LoadError(beaker_session_jwt::Error),
    Done {
        session: Option<Box<Session>>,
        is_new: Option<bool>,
        after_load: Option<Document>,
        finish: Result<Option<String>, beaker_session_jwt::Error>,
    },
}

fn run(case: &Value, extra: &[(&str, &str)]) -> Outcome {
    let (config, clock) = config_for(case, extra);
    clock.set(case["load_time"].as_f64().unwrap());
    let session = match config.load_cookie_header(case["cookie"].as_str()) {
        Ok(s) => s,
        Err(e) => return Outcome::LoadError(e),
    };
    let mut session = Box::new(session);
    let actions = case["actions"].as_array().unwrap();
    let touched = actions.iter().any(|a| a["op"] != "none");
    let (mut is_new, mut after_load) = (None, None);
    if touched {
        is_new = Some(session.is_new());
        after_load = Some(session.document().clone());
    }
    apply(&mut session, actions);
    clock.set(case["finish_time"].as_f64().unwrap());
    let finish = session
        .finish()
        .map(|h| h.map(|h| h.to_str().unwrap().to_owned()));
    Outcome::Done {
        session: Some(session),
        is_new,
        after_load,
        finish,
    }
}

/// The same request through `SessionConfig::load_lazy`, which loads on first
/// access exactly like Beaker's `SessionObject`.
fn run_lazy(case: &Value, extra: &[(&str, &str)]) -> Outcome {
    let (config, clock) = config_for(case, extra);
    clock.set(case["load_time"].as_f64().unwrap());
    let mut headers = http::HeaderMap::new();
    if let Some(c) = case["cookie"].as_str() {
        headers.insert(http::header::COOKIE, c.parse().unwrap());
    }
    let mut lazy = config.load_lazy(&headers);
    let actions = case["actions"].as_array().unwrap();
    let (mut is_new, mut after_load) = (None, None);
    if actions.iter().any(|a| a["op"] != "none") {
        let session = match lazy.get() {
            Ok(s) => s,
            Err(e) => return Outcome::LoadError(e),
        };
        is_new = Some(session.is_new());
        after_load = Some(session.document().clone());
        apply(session, actions);
    }
    clock.set(case["finish_time"].as_f64().unwrap());
    let finish = lazy
        .finish()
        .map(|h| h.map(|h| h.to_str().unwrap().to_owned()));
    Outcome::Done {
        session: lazy.into_session().map(Box::new),
        is_new,
        after_load,
        finish,
    }
}

fn apply(session: &mut Session, actions: &[Value]) {
    for a in actions {
        match a["op"].as_str().unwrap() {
            "none" => {}
            "touch" => session.touch(),
            "set" => {
                session.insert(a["key"].as_str().unwrap(), ejson(&a["value"]));
            }
            "del" => {
                session.remove(a["key"].as_str().unwrap());
            }
            "save" => session.save(),
            "delete" => session.delete(),
            "invalidate" => session.invalidate(),
            op => panic!("unknown op {op}"),
        }
    }
}

fn decode_value(case: &Value, value: &str) -> Document {
    let mut options = BeakerOptions::new();
    for (k, v) in case["options"].as_object().unwrap() {
        options.set(k, v.as_str().unwrap());
    }
    options.set("session.read_original_format", "true");
    Codec::from_options(&options)
        .unwrap()
        .decode(value)
        .expect("cookie decodes")
        .session
}

/// Compares one run with the reference's result; returns a description of the
/// first difference.
fn check(case: &Value, expected: &Value, outcome: Outcome) -> Result<(), String> {
    RUNS.fetch_add(1, Ordering::Relaxed);
    let name = case["name"].as_str().unwrap();
    let exp_err = &expected["error"];
    match outcome {
        Outcome::LoadError(e) => {
            if exp_err.is_null() || exp_err["stage"] != "load" {
                return Err(format!("{name}: load failed with {e} ({})", e.kind()));
            }
            if !kinds_for(exp_err).contains(&e.kind()) {
                return Err(format!("{name}: error kind {} for {exp_err}", e.kind()));
            }
            Ok(())
        }
        Outcome::Done {
            session,
            is_new,
            after_load,
            finish,
        } => {
            if exp_err["stage"] == "load" {
                return Err(format!("{name}: loaded, reference failed: {exp_err}"));
            }
            if expected["loaded"] == true {
                if is_new != expected["is_new"].as_bool() {
                    return Err(format!("{name}: is_new {is_new:?}"));
                }
                let want = ejson_doc(&expected["after_load"]);
                let got = after_load.unwrap();
                if ordered(&got) != ordered(&want) {
                    return Err(format!("{name}: after load\n got {got}\nwant {want}"));
                }
                let want_warn = !expected["warnings"].as_array().unwrap().is_empty();
                let warning = session.as_ref().and_then(|s| s.warning().cloned());
                if warning.is_some() != want_warn {
                    return Err(format!("{name}: warning {warning:?}"));
                }
            }
            let header = match finish {
                Err(e) => {
                    if exp_err["stage"] != "finish" || !kinds_for(exp_err).contains(&e.kind()) {
                        return Err(format!("{name}: finish failed with {e}, want {exp_err}"));
                    }
                    return Ok(());
                }
                Ok(h) => h,
            };
            if !exp_err.is_null() {
                return Err(format!("{name}: succeeded, reference failed: {exp_err}"));
            }
            if expected["loaded"] == true {
                let want = ejson_doc(&expected["final"]);
                let got = session
                    .as_ref()
                    .map(|s| s.document().clone())
                    .unwrap_or_default();
                if ordered(&got) != ordered(&want) {
                    return Err(format!("{name}: final\n got {got}\nwant {want}"));
                }
            }
            match (header, expected["set_cookie"].as_str()) {
                (None, None) => Ok(()),
                (Some(h), None) => Err(format!("{name}: wrote {h}, reference wrote nothing")),
                (None, Some(w)) => Err(format!("{name}: wrote nothing, reference wrote {w}")),
                (Some(h), Some(w)) => {
                    let (mut got, mut want) = (parse_ours(&h), parse_python(w));
                    if case["rust_compare_value"] == "decode" {
                        let (g, w) = (
                            decode_value(case, &got.value),
                            decode_value(case, &want.value),
                        );
                        if ordered(&g) != ordered(&w) {
                            return Err(format!("{name}: cookie decodes to\n{g}\nwant\n{w}"));
                        }
                        got.value.clear();
                        want.value.clear();
                    }
                    if got.value == want.value {
                        IDENTICAL.fetch_add(1, Ordering::Relaxed);
                    } else {
                        // Same session bytes, different deflate stream: zlib-rs and madler
                        // zlib may pick different matches. Anything else is a failure.
                        same_bson_payload(&got.value, &want.value)
                            .map_err(|e| format!("{name}: {e}"))?;
                        DEFLATE_ONLY.fetch_add(1, Ordering::Relaxed);
                        got.value.clear();
                        want.value.clear();
                    }
                    if got != want {
                        return Err(format!(
                            "{name}: Set-Cookie\n got {got:?}\nwant {want:?}\n ours {h}\n theirs {w}"
                        ));
                    }
                    Ok(())
                }
            }
        }
    }
}

static DEFLATE_ONLY: AtomicU64 = AtomicU64::new(0);
static IDENTICAL: AtomicU64 = AtomicU64::new(0);
static RUNS: AtomicU64 = AtomicU64::new(0);

/// Python's `base64.b85decode` for well-formed input (the reference's own output).
fn b85decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] =
        b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~";
    let mut digits: Vec<u8> = s
        .bytes()
        .map(|c| ALPHABET.iter().position(|&a| a == c).unwrap() as u8)
        .collect();
    let pad = (5 - digits.len() % 5) % 5;
    digits.extend(std::iter::repeat_n(84, pad));
    let mut out = Vec::new();
    for chunk in digits.chunks(5) {
        let n = chunk.iter().fold(0u64, |acc, &d| acc * 85 + u64::from(d));
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
    out.truncate(out.len() - pad);
    out
}

/// The BSON bytes inside a BSON-mode cookie value.
fn bson_payload(value: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    use std::io::Read;
    let mut parts = value.split('.');
    let header = parts.next().ok_or("no header")?;
    let claims = parts.next().ok_or("no claims")?;
    if header != "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9" {
        return Err(format!("header segment {header}"));
    }
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(claims)
        .map_err(|e| e.to_string())?;
    let claims: Value = serde_json::from_slice(&claims).map_err(|e| e.to_string())?;
    let bsz = claims["bsZ"].as_str().ok_or("no bsZ")?;
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(&b85decode(bsz)[..])
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

fn same_bson_payload(ours: &str, theirs: &str) -> Result<(), String> {
    let (o, t) = (bson_payload(ours)?, bson_payload(theirs)?);
    if o != t {
        return Err(format!(
            "cookie values differ in their BSON bytes\n ours {ours}\n theirs {theirs}"
        ));
    }
    Ok(())
}

#[test]
fn every_lifecycle_case_matches_the_reference() {
    let data = fixture();
    let cases = data["cases"].as_array().unwrap();
    let by_name = |n: &str| {
        cases
            .iter()
            .find(|c| c["name"] == n)
            .unwrap_or_else(|| panic!("no case {n}"))
    };
    let mut failures = Vec::new();
    let mut passed = 0;
    for case in cases {
        let expected = &case["expected"];
        let mut ok = true;
        for (mode, runner) in [
            ("", run as fn(&Value, &[(&str, &str)]) -> Outcome),
            ("lazy: ", run_lazy),
        ] {
            let result = if let Some(like) = case["rust_reissue_like"].as_str() {
                // The reference loads lazily, so an untouched session writes nothing.
                // With reissue_cookies off this crate does the same; with it on (the
                // default) the old-key/original cookie is written back exactly as the
                // reference writes it when the app touches the session.
                check(
                    case,
                    expected,
                    runner(case, &[("session.reissue_cookies", "false")]),
                )
                .and_then(|()| {
                    // only the header: the session was not touched
                    let mut like = by_name(like)["expected"].clone();
                    like["loaded"] = Value::Bool(false);
                    check(case, &like, runner(case, &[])).map_err(|e| format!("reissue: {e}"))
                })
            } else {
                check(case, expected, runner(case, &[]))
            };
            if let Err(e) = result {
                ok = false;
                failures.push(format!("{mode}{e}"));
            }
        }
        passed += usize::from(ok);
    }
    println!(
        "{} cases ({} runs, eager and lazy), {passed} cases passed; Set-Cookie values: {} byte-identical, {} with identical BSON but a different deflate stream",
        cases.len(),
        RUNS.load(Ordering::Relaxed),
        IDENTICAL.load(Ordering::Relaxed),
        DEFLATE_ONLY.load(Ordering::Relaxed),
    );
    assert!(
        failures.is_empty(),
        "{} failing:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn metrics_count_rotation_and_migration() {
    let data = fixture();
    let case = data["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "original-touched")
        .unwrap()
        .clone();
    let (config, clock) = config_for(&case, &[]);
    clock.set(case["load_time"].as_f64().unwrap());
    let orig = case["cookie"].as_str().unwrap();
    let old = data["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "old-key-touched")
        .unwrap()["cookie"]
        .as_str()
        .unwrap();
    for header in [orig, old, old, "beaker.session.id=garbage", ""] {
        let mut s = config.load_cookie_header(Some(header)).unwrap();
        s.finish().unwrap();
    }
    let m = config.metrics().snapshot();
    assert_eq!(m.original, 1);
    assert_eq!(m.jwt, 2);
    assert_eq!(m.by_key, vec![0, 2]);
    // with read_original_format a non-JWT is tried as an original cookie
    assert_eq!(m.rejected.get("bad_original_signature"), Some(&1));
    assert_eq!(m.rejected_total(), 1);
    assert_eq!(m.invalidated, 1);
    assert_eq!(m.no_cookie, 1);
    // untouched sessions re-issued because of reissue_cookies
    assert_eq!(m.reissued, 3);
    assert!(!m.old_keys_unused());
    assert!(!m.original_format_unused());
}

mod any_input {
    use super::*;
    use proptest::prelude::*;

    fn config(invalidate: bool) -> SessionConfig {
        let codec = Codec::builder()
            .secret_keys(["fixture-key-new-0123456789"])
            .build()
            .unwrap();
        SessionConfig::builder(codec)
            .invalidate_corrupt(invalidate)
            .timeout(Some(60))
            .build()
            .unwrap()
    }

    proptest! {
        /// Any Cookie header: with invalidate_corrupt a session always comes out and
        /// finishing it succeeds; without, the result is Ok or a typed error. Never a panic.
        #[test]
        fn any_header_loads_or_fails_cleanly(
            prefix in "[ -~\u{a0}-\u{ff}]{0,40}",
            value in "[ -~]{0,200}",
            jwtish in proptest::bool::ANY,
        ) {
            let value = if jwtish { format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.{value}") } else { value };
            let header = format!("{prefix}; beaker.session.id={value}");
            let mut s = config(true).load_cookie_header(Some(&header)).unwrap();
            s.insert("k", "v");
            s.save();
            prop_assert!(s.finish().unwrap().is_some());
            let _ = config(false).load_cookie_header(Some(&header)).map(|mut s| s.finish());
        }
    }
}
