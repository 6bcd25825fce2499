//! Helpers shared by the original-format tests: vector loading, codecs from vector
//! options, comparison of decoded sessions with canonical Extended JSON, Extended
//! JSON to BSON, and a driver of the real Python reference (Beaker,
//! beaker-session-jwt) for the interop checks.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use beaker_session_jwt::bson::{
    Binary, Bson, DateTime, Document, oid::ObjectId, spec::BinarySubtype,
};
use beaker_session_jwt::{BeakerOptions, Codec, Error};
use serde_json::Value;

const UNUSED_JWT_KEY: &str = "jwt-key-not-used-by-original-cookies";

/// The `vectors` array of testdata/FILE.
pub fn vectors(file: &str) -> Vec<Value> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(file);
    let text = std::fs::read_to_string(&path).expect("read vector file");
    let file: Value = serde_json::from_str(&text).expect("vectors parse");
    file["vectors"].as_array().expect("vectors array").clone()
}

/// True for vectors whose expected outcome is plain Beaker `CookieSession`'s.
pub fn uses_plain_beaker(options: &Value) -> bool {
    options.get("validate_key").is_some()
}

/// A codec from a vector's options (plus `extra` pairs, which win). Plain Beaker
/// option sets get the `jwt_secret_keys` and `read_original_format=true` that a
/// JWTCookieSession needs.
pub fn codec_for(options: &Value, extra: &[(&str, &str)]) -> Result<Codec, Error> {
    let mut pairs: Vec<(String, String)> = options
        .as_object()
        .expect("options object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string option").to_owned()))
        .collect();
    if uses_plain_beaker(options) {
        pairs.push(("jwt_secret_keys".into(), UNUSED_JWT_KEY.into()));
        pairs.push(("read_original_format".into(), "true".into()));
    }
    pairs.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    Codec::from_options(&BeakerOptions::from_pairs(pairs))
}

/// Compares one canonical Extended JSON value (as `bson.json_util` writes it) with a
/// decoded value, by type and value. Doubles compare bit-exactly (so `-0.0` differs
/// from `0.0`); NaN equals NaN. Key order is compared too.
pub fn compare(expected: &Value, got: &Bson, path: &str) -> Result<(), String> {
    let mismatch = || Err(format!("{path}: expected {expected}, got {got:?}"));
    if let Value::Object(map) = expected {
        if map.len() == 1 {
            let (k, v) = map.iter().next().expect("one entry");
            let text = v.as_str();
            match (k.as_str(), got) {
                ("$numberInt", Bson::Int32(n)) => {
                    return if text == Some(&n.to_string()) {
                        Ok(())
                    } else {
                        mismatch()
                    };
                }
                ("$numberLong", Bson::Int64(n)) => {
                    return if text == Some(&n.to_string()) {
                        Ok(())
                    } else {
                        mismatch()
                    };
                }
                ("$numberDouble", Bson::Double(x)) => {
                    let want = match text {
                        Some("NaN") => f64::NAN,
                        Some("Infinity") => f64::INFINITY,
                        Some("-Infinity") => f64::NEG_INFINITY,
                        Some(s) => s.parse().map_err(|_| format!("{path}: bad double {s}"))?,
                        None => return mismatch(),
                    };
                    let same = (want.is_nan() && x.is_nan()) || want.to_bits() == x.to_bits();
                    return if same { Ok(()) } else { mismatch() };
                }
                ("$date", Bson::DateTime(dt)) => {
                    let ms = v["$numberLong"].as_str();
                    return if ms == Some(&dt.timestamp_millis().to_string()) {
                        Ok(())
                    } else {
                        mismatch()
                    };
                }
                ("$binary", Bson::Binary(b)) => {
                    use base64::Engine as _;
                    let data = base64::engine::general_purpose::STANDARD
                        .decode(v["base64"].as_str().unwrap_or_default())
                        .map_err(|e| format!("{path}: {e}"))?;
                    let subtype = u8::from_str_radix(v["subType"].as_str().unwrap_or("zz"), 16)
                        .map_err(|e| format!("{path}: {e}"))?;
                    return if b.bytes == data && u8::from(b.subtype) == subtype {
                        Ok(())
                    } else {
                        mismatch()
                    };
                }
                ("$oid", Bson::ObjectId(oid)) => {
                    return if text == Some(&oid.to_hex()) {
                        Ok(())
                    } else {
                        mismatch()
                    };
                }
                (
                    "$numberInt" | "$numberLong" | "$numberDouble" | "$date" | "$binary" | "$oid",
                    _,
                ) => {
                    return mismatch();
                }
                _ => {}
            }
        }
        let Bson::Document(doc) = got else {
            return mismatch();
        };
        return compare_doc(map, doc, path);
    }
    match (expected, got) {
        (Value::Null, Bson::Null) => Ok(()),
        (Value::Bool(a), Bson::Boolean(b)) if a == b => Ok(()),
        (Value::String(a), Bson::String(b)) if a == b => Ok(()),
        (Value::Array(a), Bson::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                compare(x, y, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        _ => mismatch(),
    }
}

pub fn compare_doc(
    expected: &serde_json::Map<String, Value>,
    got: &Document,
    path: &str,
) -> Result<(), String> {
    let want_keys: Vec<&String> = expected.keys().collect();
    let got_keys: Vec<&String> = got.keys().collect();
    if want_keys != got_keys {
        return Err(format!("{path}: keys {want_keys:?} != {got_keys:?}"));
    }
    for (k, v) in expected {
        let g = got.get(k).expect("key present");
        compare(v, g, &format!("{path}.{k}"))?;
    }
    Ok(())
}

/// Which of our errors stand for the exception the reference raised. Python's
/// messages are not compared (they hold Python reprs); the kind is.
pub fn error_matches(python_exception: &str, message: &str, err: &Error) -> bool {
    match python_exception {
        // beaker-session-jwt: "Invalid original format signature"; CookieSession: "Invalid signature"
        "BeakerException" => matches!(err, Error::BadOriginalSignature),
        // read_original_format=false: the JWT reader's DecodeError escapes
        "DecodeError" => matches!(err, Error::MalformedToken),
        // binascii.Error from base64.b64decode
        "Error" => matches!(err, Error::OriginalBase64(_)),
        "UnpicklingError" | "EOFError" => {
            matches!(err, Error::Pickle(_) | Error::ForbiddenGlobal { .. })
        }
        // Python 2 byte strings / datetime states that are not ASCII
        "UnicodeDecodeError" => matches!(err, Error::NonAsciiPy2String),
        // bson.encode / json.dumps refusing a value after reading
        // list.pop(key, None) for original_format_remove_keys on a non-dict
        "TypeError" if message.starts_with("pop expected") => {
            matches!(err, Error::OriginalNotADict)
        }
        "InvalidDocument" | "TypeError" => matches!(err, Error::Unconvertible { .. }),
        "OverflowError" => {
            matches!(
                err,
                Error::Unconvertible { .. } | Error::IntegerOutOfRange { .. }
            )
        }
        "ValueError" if message.starts_with("cannot encode native uuid.UUID") => {
            matches!(err, Error::Unconvertible { .. })
        }
        // the error log's f-string calls loaded.keys() on a non-dict
        "AttributeError" => matches!(err, Error::OriginalNotADict),
        // zlib.error
        "error" => matches!(err, Error::Zlib),
        // cryptography.exceptions.InvalidTag
        "InvalidTag" => matches!(err, Error::Decrypt),
        _ => false,
    }
}

/// Canonical (or relaxed) Extended JSON as the vectors hold it → BSON, for the
/// types the original-format vectors use.
pub fn ejson_to_bson(v: &Value) -> Bson {
    match v {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::String(s) => Bson::String(s.clone()),
        Value::Number(n) => match n.as_i64() {
            Some(i) => i32::try_from(i).map_or(Bson::Int64(i), Bson::Int32),
            None => Bson::Double(n.as_f64().expect("number")),
        },
        Value::Array(a) => Bson::Array(a.iter().map(ejson_to_bson).collect()),
        Value::Object(map) => {
            if map.len() == 1 {
                let (k, x) = map.iter().next().expect("one entry");
                let s = x.as_str().unwrap_or_default();
                match k.as_str() {
                    "$numberInt" => return Bson::Int32(s.parse().expect("int32")),
                    "$numberLong" => return Bson::Int64(s.parse().expect("int64")),
                    "$numberDouble" => {
                        return Bson::Double(match s {
                            "NaN" => f64::NAN,
                            "Infinity" => f64::INFINITY,
                            "-Infinity" => f64::NEG_INFINITY,
                            _ => s.parse().expect("double"),
                        });
                    }
                    "$date" => {
                        let ms = x["$numberLong"].as_str().expect("$date.$numberLong");
                        return Bson::DateTime(DateTime::from_millis(ms.parse().expect("ms")));
                    }
                    "$binary" => {
                        let bytes = base64::engine::general_purpose::STANDARD
                            .decode(x["base64"].as_str().expect("base64"))
                            .expect("base64 data");
                        let st = u8::from_str_radix(x["subType"].as_str().expect("subType"), 16)
                            .expect("hex subtype");
                        return Bson::Binary(Binary {
                            subtype: BinarySubtype::from(st),
                            bytes,
                        });
                    }
                    "$oid" => return Bson::ObjectId(ObjectId::parse_str(s).expect("oid")),
                    _ => {}
                }
            }
            Bson::Document(ejson_doc(map))
        }
    }
}

/// An Extended JSON object → `Document`, keeping key order.
pub fn ejson_doc(map: &serde_json::Map<String, Value>) -> Document {
    map.iter()
        .map(|(k, v)| (k.clone(), ejson_to_bson(v)))
        .collect()
}

// ------------------------------------------------------------------ the Python reference

/// The reference's interpreter: `$BEAKER_REF_PYTHON`, else /work/.venv-ref/bin/python,
/// when that file exists. `None` (with a printed notice) when there is none, unless
/// `BEAKER_REQUIRE_REF=1` (CI), which makes its absence a failure.
pub fn python() -> Option<PathBuf> {
    let found = std::env::var_os("BEAKER_REF_PYTHON").map_or_else(
        || PathBuf::from("/work/.venv-ref/bin/python"),
        PathBuf::from,
    );
    let found = Some(found).filter(|p| p.exists());
    if found.is_none() {
        assert!(
            std::env::var("BEAKER_REQUIRE_REF").map_or(true, |v| v != "1"),
            "BEAKER_REQUIRE_REF=1 but no reference Python (set BEAKER_REF_PYTHON)"
        );
        eprintln!(
            "NOTICE: reference Python not found (set BEAKER_REF_PYTHON or create \
             /work/.venv-ref with ../shared/tools/refimpl/setup.sh): skipping the Python checks"
        );
    }
    found
}

/// The reference tool directory: `$BEAKER_REFIMPL`, else ../shared/tools/refimpl.
pub fn refimpl_dir() -> PathBuf {
    std::env::var_os("BEAKER_REFIMPL")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/tools/refimpl"))
}

/// Runs jobs in one Python process with the real reference code (refcommon of the
/// tool directory, as py_decode.py / py_encode.py use it). Each job is an object:
/// * `{"kind": "decode", "options", "cookie"}` → canonical Extended JSON text of the
///   session as py_decode.py prints it (JWTCookieSession, or CookieSession when the
///   options carry `validate_key`);
/// * `{"kind": "repr", "options", "cookie"}` → `repr()` of the dict plain Beaker
///   `CookieSession` loads (options with `validate_key`), `Int64` turned into `int`;
/// * `{"kind": "encode", "options", "session", "keep_int64"}` → the cookie
///   JWTCookieSession writes for an Extended JSON session (as py_encode.py).
///
/// Answers `Ok(text)` or `Err("ExceptionClass: message")`; `None` without Python.
pub fn run_python(jobs: &[Value]) -> Option<Vec<Result<String, String>>> {
    let python = python()?;
    let mut child = Command::new(python)
        .arg("-c")
        .arg(PY_DRIVER)
        .env("BEAKER_REFIMPL", refimpl_dir())
        // set iteration order, as the reference scripts pin it
        .env("PYTHONHASHSEED", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the reference Python");
    let input = serde_json::to_vec(jobs).expect("jobs serialize");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&input)
        .expect("write jobs");
    let output = child.wait_with_output().expect("reference Python runs");
    assert!(output.status.success(), "reference Python failed");
    let answers: Vec<Value> = serde_json::from_slice(&output.stdout).expect("answers are JSON");
    assert_eq!(answers.len(), jobs.len());
    Some(
        answers
            .into_iter()
            .map(|a| match a.get("ok") {
                Some(Value::String(s)) => Ok(s.clone()),
                _ => Err(a["error"].as_str().unwrap_or("?").to_owned()),
            })
            .collect(),
    )
}

const PY_DRIVER: &str = r#"
import json, os, sys
sys.path.insert(0, os.environ["BEAKER_REFIMPL"])
import refcommon

def run(job):
    opts = job["options"]
    if job["kind"] == "decode":
        session = refcommon.decode_cookie(opts, job["cookie"])
        normalised, _notes = refcommon.normalise(session)
        return refcommon.to_ejson_text(normalised)
    if job["kind"] == "repr":
        assert refcommon.uses_beaker_cookie_session(opts)
        return repr(refcommon.plain_ints(refcommon.decode_cookie(opts, job["cookie"])))
    if job["kind"] == "encode":
        data = refcommon.load_ejson(job["session"])
        if not job.get("keep_int64"):
            data = refcommon.plain_ints_for_pickle(opts, data)
        return refcommon.encode_session(opts, data)
    raise ValueError("unknown job kind")

out = []
for job in json.load(sys.stdin):
    try:
        out.append({"ok": run(job)})
    except Exception as exc:
        out.append({"error": f"{type(exc).__name__}: {exc}"})
json.dump(out, sys.stdout)
"#;
