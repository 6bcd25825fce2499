//! Every vector of `testdata/jwt.json` (produced by the Python reference, see
//! `testdata/VECTORS.md`): decode vectors expecting a session must decode to it
//! (type-exact, key order included); vectors expecting an exception must fail with
//! the matching typed error (table in [`accepted`]).
//!
//! Vectors whose expected error comes from the original-format reader (the JWT
//! attempt fell back, §1.6) are checked in their own test, so the JWT part stays
//! meaningful on its own.

mod common;

use beaker_session_jwt::error::SizeLimit;
use beaker_session_jwt::{CookieFormat, Error};
use common::Vector;

/// Does `err` correspond to the reference's exception `py`? One row per
/// exception class (and message where the class is shared by several checks).
fn accepted(py: &common::PyError, err: &Error) -> bool {
    let m = py.message.as_str();
    match py.exception.as_str() {
        "ExceededSizeError" => match err {
            Error::ExceededSize(SizeLimit::Value) => m.contains("Value size"),
            Error::ExceededSize(SizeLimit::Header) => m.contains("Header size"),
            Error::ExceededSize(SizeLimit::Signature) => m.contains("Signature of"),
            Error::ExceededSize(SizeLimit::Payload) => m.contains("Payload size"),
            _ => false,
        },
        "DecodeError" => match err {
            Error::MalformedToken => m.ends_with("Invalid JSON Web Signature"),
            Error::InvalidHeader => m.ends_with("Invalid header"),
            Error::InvalidPayloadEncoding => m.ends_with("Invalid payload"),
            _ => false,
        },
        "MissingAlgorithmError" => matches!(err, Error::MissingAlgorithm),
        "MissingCritHeaderError" => matches!(err, Error::MissingCritHeader),
        "InvalidHeaderValueError" => matches!(err, Error::InvalidHeaderValue),
        "UnsupportedHeaderError" => matches!(err, Error::UnsupportedHeader),
        "UnsupportedAlgorithmError" => match err {
            Error::UnsupportedAlgorithm => m.ends_with("is not supported"),
            Error::AlgorithmNotAllowed => m.ends_with("is not allowed"),
            _ => false,
        },
        "BadSignatureError" => matches!(err, Error::BadSignature),
        "InvalidPayloadError" => matches!(err, Error::InvalidClaims),
        "TypeError" => match err {
            // b85decode of a non-str bsZ
            Error::BszNotString => m.starts_with("argument should be a bytes-like object"),
            // the fallback's b64decode(None) for an empty original value
            Error::EmptyOriginalValue => m.ends_with("not 'NoneType'"),
            // header["alg"] on a JSON list / string header
            Error::HeaderNotObject => m.contains("indices must be integers"),
            // joserfc's crit check on a value it cannot iterate or hash, or a
            // non-string missing name it cannot join into its message
            Error::InvalidHeaderValue => {
                m.ends_with("object is not iterable")
                    || m.starts_with("unhashable type")
                    || m.starts_with("sequence item")
            }
            _ => false,
        },
        "ValueError" => match err {
            Error::Base85(msg) => msg == m,
            Error::EmptySecretKey { .. } => m == "oct key material must not be empty",
            _ => false,
        },
        // zlib.error
        "error" => matches!(err, Error::Zlib) && m.contains("while decompressing data"),
        "InvalidBSON" => matches!(err, Error::InvalidBson(_)),
        "RecursionError" => matches!(err, Error::NestingTooDeep { .. }),
        "BeakerException" => match err {
            Error::BadOriginalSignature => m == "Invalid original format signature",
            Error::NoOriginalValidateKey => m == "No original_format_validate_key specified",
            Error::NoSecretKeys => m == "No jwt_secret_keys specified",
            _ => false,
        },
        _ => false,
    }
}

/// Errors raised by the original-format reader after the JWT attempt fell back.
fn from_original_reader(v: &Vector) -> bool {
    v.flag("read_original_format", false)
        && v.error.as_ref().is_some_and(|e| {
            (e.exception == "BeakerException" && e.message == "Invalid original format signature")
                || (e.exception == "TypeError" && e.message.ends_with("not 'NoneType'"))
        })
}

/// Checks one vector; `Err` describes a mismatch.
fn check(v: &Vector) -> Result<(), String> {
    let cookie = v.cookie.as_deref().ok_or("decode vector without cookie")?;
    let codec = match common::codec(v) {
        Ok(c) => c,
        Err(e) => {
            return match &v.error {
                Some(py) if accepted(py, &e) => Ok(()),
                Some(py) => Err(format!("config error {e:?}, reference {py:?}")),
                None => Err(format!("config error {e:?}, reference decoded")),
            };
        }
    };
    let result = codec.decode(cookie);
    match (&v.error, result) {
        (Some(py), Err(e)) if accepted(py, &e) => Ok(()),
        (Some(py), Err(e)) => Err(format!(
            "error {e:?} ({}), reference {}: {}",
            e.kind(),
            py.exception,
            py.message
        )),
        (Some(py), Ok(d)) => Err(format!(
            "decoded {:?}, reference raised {}: {}",
            d.session, py.exception, py.message
        )),
        (None, res) => {
            let expected = v.session.as_ref().ok_or("no session and no error")?;
            let expected = match common::try_ejson_to_bson(expected) {
                Ok(beaker_session_jwt::bson::Bson::Document(d)) => d,
                Ok(other) => return Err(format!("expected session not a document: {other:?}")),
                // Ints beyond int64 (JSON mode): a Document cannot hold them; the
                // documented behaviour is a typed refusal.
                Err(why) if why.contains("beyond int64") => {
                    return match res {
                        Err(Error::IntegerOutOfRange { .. }) => Ok(()),
                        other => Err(format!("expected IntegerOutOfRange, got {other:?}")),
                    };
                }
                Err(why) => return Err(why),
            };
            let d = res.map_err(|e| format!("error {e:?}, reference decoded"))?;
            if d.format != CookieFormat::Jwt {
                return Err(format!("read as {:?}", d.format));
            }
            // Key order is part of the reference's answer (stored BSON order,
            // claims order in JSON mode), so always compare ordered.
            if !common::same_document(&d.session, &expected, true) {
                return Err(format!(
                    "session differs\n   actual:   {:?}\n   expected: {expected:?}",
                    d.session
                ));
            }
            Ok(())
        }
    }
}

fn run(select: impl Fn(&Vector) -> bool) -> (usize, Vec<String>) {
    let vectors = common::load("jwt.json");
    let mut count = 0;
    let mut failures = Vec::new();
    for v in vectors.iter().filter(|v| select(v)) {
        assert_eq!(v.op, "decode", "{}", v.name);
        count += 1;
        if let Err(why) = check(v) {
            failures.push(format!("{}: {why}", v.name));
        }
    }
    (count, failures)
}

#[test]
fn jwt_vectors() {
    let (count, failures) = run(|v| !from_original_reader(v));
    assert!(count > 150, "only {count} vectors");
    assert!(
        failures.is_empty(),
        "{} of {count} jwt vectors fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn jwt_vectors_falling_back_to_original() {
    let (count, failures) = run(from_original_reader);
    assert!(count >= 20, "only {count} vectors");
    assert!(
        failures.is_empty(),
        "{} of {count} fallback vectors fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_vector_is_covered() {
    let all = common::load("jwt.json").len();
    let (a, _) = run(|v| !from_original_reader(v));
    let (b, _) = run(from_original_reader);
    assert_eq!(a + b, all);
}

/// `testdata/bson_decode.json` (scripts/gen_bson_decode_vectors.py): 1 280 BSON
/// byte strings — valid documents of every type plus seeded random mutations —
/// with what pymongo's C `bson.decode` gave. Each is wrapped in a validly signed
/// token as `bsZ` and decoded: the session must equal pymongo's document (order
/// included), and pymongo's `InvalidBSON` must be our `Error::InvalidBson`.
#[test]
fn bson_payloads_decode_like_pymongo() {
    use base64::Engine as _;
    let text = std::fs::read_to_string(common::testdata("bson_decode.json")).expect("fixture");
    let root: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let cases = root["cases"].as_array().expect("cases");
    assert!(cases.len() > 1000);
    let key = "bson-differential-key-0123456789";
    let codec = beaker_session_jwt::Codec::builder()
        .secret_keys([key])
        .build()
        .expect("valid configuration");
    let b64 = base64::engine::general_purpose::STANDARD;
    let (mut ok, mut errors, mut failures) = (0, 0, Vec::new());
    for (i, case) in cases.iter().enumerate() {
        let bytes = b64
            .decode(case["bson"].as_str().expect("bson"))
            .expect("base64");
        let token = common::signed_token(common::bsz_claims_for(&bytes).as_bytes(), key.as_bytes());
        let got = codec.decode(&token);
        match (&case["error"], got) {
            (serde_json::Value::Null, Ok(d)) => {
                let expected = common::ejson_to_document(&case["session"]);
                if common::same_document(&d.session, &expected, true) {
                    ok += 1;
                } else {
                    failures.push(format!(
                        "case {i}: {:?}\n   expected {expected:?}",
                        d.session
                    ));
                }
            }
            (serde_json::Value::Null, Err(e)) => failures.push(format!(
                "case {i}: error {e:?}, pymongo decoded {}",
                case["session"]
            )),
            (err, Err(Error::InvalidBson(_))) if err["python_exception"] == "InvalidBSON" => {
                errors += 1
            }
            (err, got) => failures.push(format!("case {i}: {got:?}, pymongo raised {err}")),
        }
    }
    println!("bson differential: {ok} decoded alike, {errors} refused alike");
    assert!(
        failures.is_empty(),
        "{} of {} BSON payloads differ from pymongo:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// `testdata/jws_headers.json` (scripts/gen_jws_header_vectors.py): 1 500 tokens
/// with randomly composed headers (every registered field with values of every
/// JSON type, unknown fields, `crit`/`b64` combinations, non-object headers), some
/// with broken payload or signature encodings, and joserfc's verdict on each.
/// Our decoder must return the claims or the matching typed error.
#[test]
fn random_headers_are_judged_like_joserfc() {
    let text = std::fs::read_to_string(common::testdata("jws_headers.json")).expect("fixture");
    let root: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let key = root["key"].as_str().expect("key");
    let cases = root["cases"].as_array().expect("cases");
    assert!(cases.len() >= 1500);
    let codec = beaker_session_jwt::Codec::builder()
        .secret_keys([key])
        .build()
        .expect("valid configuration");
    let mut failures = Vec::new();
    for case in cases {
        let token = case["token"].as_str().expect("token");
        let got = codec.decode(token);
        let ok = match (&case["error"], &got) {
            (serde_json::Value::Null, Ok(d)) => common::same_document(
                &d.session,
                &common::ejson_to_document(&case["claims"]),
                true,
            ),
            (serde_json::Value::Null, Err(_)) => false,
            (err, Err(e)) => {
                let py = common::PyError {
                    exception: err["python_exception"].as_str().unwrap_or("").to_owned(),
                    module: String::new(),
                    message: err["message"].as_str().unwrap_or("").to_owned(),
                };
                accepted(&py, e)
            }
            (_, Ok(_)) => false,
        };
        if !ok {
            failures.push(format!(
                "header {}: ours {got:?}, joserfc {}",
                case["header"], case["error"]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} headers judged differently:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
