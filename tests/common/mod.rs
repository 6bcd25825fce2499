//! Shared helpers for the integration tests that read the reference vectors in
//! `testdata/*.json` (see `testdata/VECTORS.md` for the schema).
//!
//! * [`load`] reads a vector file into [`Vector`]s.
//! * [`codec`] builds a [`Codec`] from a vector's `options` map the way an app
//!   would from its ini file (`BeakerOptions::from_pairs` + `Codec::from_options`).
//! * [`ejson_to_bson`] / [`ejson_to_document`] turn the vectors' canonical Extended
//!   JSON into `bson` values. It is written here, independently of the crate's own
//!   `ejson` module, so the tests do not check the crate against itself.
//! * [`signed_token`], [`b85encode`], [`zlib_compress`], [`bsz_claims_for`] craft
//!   validly signed tokens around arbitrary claims or BSON bytes (written here,
//!   independently of the crate's implementations).
//! * [`same_bson`] / [`assert_same_session`] compare by value *and* type
//!   (`Int32` ≠ `Int64` ≠ `Double`), with NaN equal to NaN and `-0.0` ≠ `0.0`;
//!   key order is compared when asked ([`order_significant`]).
//!
//! Use from a test file with `mod common;`. Not every test uses every helper.
#![allow(dead_code)]

use std::path::PathBuf;

use beaker_session_jwt::bson::{
    Binary, Bson, DateTime, Decimal128, Document, JavaScriptCodeWithScope, Regex, Timestamp,
    oid::ObjectId, spec::BinarySubtype,
};
use beaker_session_jwt::{BeakerOptions, Codec};
use serde_json::Value;

/// The reference's error for a vector (`error` in the file).
#[derive(Debug, Clone)]
pub struct PyError {
    /// Exception class name, e.g. `BadSignatureError`.
    pub exception: String,
    /// Module of the class, e.g. `joserfc.errors`.
    pub module: String,
    /// `str(exc)`.
    pub message: String,
}

/// One test vector.
#[derive(Debug, Clone)]
pub struct Vector {
    /// Unique name, `family/case`.
    pub name: String,
    /// Family (see VECTORS.md).
    pub family: String,
    /// `decode`, `encode` or `parse_cookie_header`.
    pub op: String,
    /// Beaker options in file order, as ini strings.
    pub options: Vec<(String, String)>,
    /// Input (decode) or reference output (encode; `None` when it raised).
    pub cookie: Option<String>,
    /// Canonical Extended JSON session: expected (decode) or input (encode).
    pub session: Option<Value>,
    /// The reference's exception, if it raised.
    pub error: Option<PyError>,
    /// Free text for unusual cases.
    pub note: Option<String>,
    /// Encode vectors: `$numberLong` values were `bson.int64.Int64` in Python.
    pub keep_int64: bool,
    /// The whole vector as in the file, for fields not mapped above.
    pub raw: Value,
}

impl Vector {
    /// True if the vector expects an error.
    pub fn expects_error(&self) -> bool {
        self.error.is_some()
    }

    /// The option value, if set.
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A boolean option read with Beaker's `asbool` rules, with a default for an
    /// absent or unparsable value.
    pub fn flag(&self, name: &str, default: bool) -> bool {
        self.option(name)
            .and_then(beaker_session_jwt::config::asbool)
            .unwrap_or(default)
    }
}

/// Path of a file under `testdata/`.
pub fn testdata(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(file)
}

/// Loads every vector of `testdata/<file>`.
pub fn load(file: &str) -> Vec<Vector> {
    let text = std::fs::read_to_string(testdata(file))
        .unwrap_or_else(|e| panic!("cannot read testdata/{file}: {e}"));
    let root: Value = serde_json::from_str(&text).expect("vector file is JSON");
    let vectors = root["vectors"].as_array().expect("vectors array");
    vectors.iter().map(parse_vector).collect()
}

/// Loads the vectors of `file` whose family is one of `families`.
pub fn load_families(file: &str, families: &[&str]) -> Vec<Vector> {
    load(file)
        .into_iter()
        .filter(|v| families.contains(&v.family.as_str()))
        .collect()
}

fn parse_vector(v: &Value) -> Vector {
    let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let options = v
        .get("options")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, val)| {
                    let val = match val {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), val)
                })
                .collect()
        })
        .unwrap_or_default();
    let error = v.get("error").filter(|e| !e.is_null()).map(|e| PyError {
        exception: e["python_exception"].as_str().unwrap_or("").to_owned(),
        module: e["python_exception_module"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        message: e["message"].as_str().unwrap_or("").to_owned(),
    });
    Vector {
        name: s("name").expect("vector name"),
        family: s("family").unwrap_or_default(),
        op: s("op").unwrap_or_default(),
        options,
        cookie: s("cookie"),
        session: v.get("session").filter(|x| !x.is_null()).cloned(),
        error,
        note: s("note"),
        keep_int64: v
            .get("keep_int64")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        raw: v.clone(),
    }
}

/// Builds the codec for a vector's options, exactly as an app would from its ini
/// file: `BeakerOptions::from_pairs` then `Codec::from_options`.
pub fn codec(v: &Vector) -> beaker_session_jwt::Result<Codec> {
    let options =
        BeakerOptions::from_pairs(v.options.iter().map(|(k, val)| (k.as_str(), val.as_str())));
    Codec::from_options(&options)
}

/// A codec from a JSON object of option strings (the bench inputs' and the
/// reference batch's `*_options`).
pub fn codec_from_json_options(options: &Value) -> Codec {
    let pairs = options
        .as_object()
        .expect("options object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string option").to_owned()));
    Codec::from_options(&BeakerOptions::from_pairs(pairs)).expect("valid options")
}

/// Whether key order is part of what a vector pins down: the `id-not-first-*` and
/// `key-order-*` cases (VECTORS.md), and every BSON-mode vector, whose session is
/// the BSON document in stored order. (The JWT tests of this crate compare order
/// everywhere, since the reference's dict order is part of its answer.)
pub fn order_significant(v: &Vector) -> bool {
    let case = v.name.rsplit('/').next().unwrap_or("");
    case.starts_with("id-not-first")
        || case.starts_with("key-order")
        || v.flag("bson_compress_jwt_payload", true)
}

// ------------------------------------------------------------------ Extended JSON

/// Converts canonical Extended JSON (as `bson.json_util` writes with
/// `CANONICAL_JSON_OPTIONS`) into a `Bson` value. Plain JSON numbers (relaxed
/// form) are accepted too: integers as Int32/Int64 by size, others as Double.
///
/// # Panics
/// On malformed Extended JSON or values outside `Bson`'s range (huge
/// `$numberLong`); use [`try_ejson_to_bson`] to check first.
pub fn ejson_to_bson(v: &Value) -> Bson {
    try_ejson_to_bson(v).unwrap_or_else(|e| panic!("bad Extended JSON {v}: {e}"))
}

/// Converts a canonical Extended JSON object into a `Document`.
///
/// # Panics
/// As [`ejson_to_bson`], and if the value is not an object.
pub fn ejson_to_document(v: &Value) -> Document {
    match ejson_to_bson(v) {
        Bson::Document(d) => d,
        other => panic!("Extended JSON session is not a document: {other:?}"),
    }
}

/// Like [`ejson_to_bson`], reporting problems as `Err`.
pub fn try_ejson_to_bson(v: &Value) -> Result<Bson, String> {
    Ok(match v {
        Value::Null => Bson::Null,
        Value::Bool(b) => Bson::Boolean(*b),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                match i32::try_from(i) {
                    Ok(i) => Bson::Int32(i),
                    Err(_) => Bson::Int64(i),
                }
            } else {
                Bson::Double(n.as_f64().ok_or("number out of range")?)
            }
        }
        Value::String(s) => Bson::String(s.clone()),
        Value::Array(items) => Bson::Array(
            items
                .iter()
                .map(try_ejson_to_bson)
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => {
            if let Some(special) = special_ejson(m)? {
                return Ok(special);
            }
            let mut d = Document::new();
            for (k, val) in m {
                d.insert(k.clone(), try_ejson_to_bson(val)?);
            }
            Bson::Document(d)
        }
    })
}

fn str_field<'a>(m: &'a serde_json::Map<String, Value>, k: &str) -> Result<&'a str, String> {
    m.get(k)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing string {k}"))
}

fn parse_double(s: &str) -> Result<f64, String> {
    match s {
        "NaN" => Ok(f64::NAN),
        "Infinity" => Ok(f64::INFINITY),
        "-Infinity" => Ok(f64::NEG_INFINITY),
        _ => s.parse().map_err(|e| format!("bad $numberDouble {s}: {e}")),
    }
}

fn b64_decode(s: &str) -> Result<Vec<u8>, String> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| format!("bad base64: {e}"))
}

fn hex12(s: &str) -> Result<[u8; 12], String> {
    let oid = ObjectId::parse_str(s).map_err(|e| format!("bad $oid: {e}"))?;
    Ok(oid.bytes())
}

/// The single-key (or `$ref`-style) special forms of canonical Extended JSON.
fn special_ejson(m: &serde_json::Map<String, Value>) -> Result<Option<Bson>, String> {
    let Some((key, val)) = m.iter().next() else {
        return Ok(None);
    };
    if m.len() != 1 && key != "$code" {
        return Ok(None);
    }
    Ok(Some(match key.as_str() {
        "$numberInt" => Bson::Int32(
            val.as_str()
                .ok_or("$numberInt")?
                .parse()
                .map_err(|e| format!("{e}"))?,
        ),
        "$numberLong" => Bson::Int64(
            val.as_str()
                .ok_or("$numberLong")?
                .parse()
                .map_err(|e| format!("$numberLong beyond int64: {e}"))?,
        ),
        "$numberDouble" => Bson::Double(parse_double(val.as_str().ok_or("$numberDouble")?)?),
        "$numberDecimal" => Bson::Decimal128(
            val.as_str()
                .ok_or("$numberDecimal")?
                .parse::<Decimal128>()
                .map_err(|e| format!("bad $numberDecimal: {e}"))?,
        ),
        "$oid" => Bson::ObjectId(ObjectId::from_bytes(hex12(val.as_str().ok_or("$oid")?)?)),
        "$symbol" => Bson::Symbol(val.as_str().ok_or("$symbol")?.to_owned()),
        "$date" => {
            let ms = match val {
                Value::Object(inner) => str_field(inner, "$numberLong")?
                    .parse::<i64>()
                    .map_err(|e| format!("{e}"))?,
                Value::Number(n) => n.as_i64().ok_or("$date")?,
                _ => return Err("unsupported $date form".into()),
            };
            Bson::DateTime(DateTime::from_millis(ms))
        }
        "$binary" => {
            let inner = val.as_object().ok_or("$binary")?;
            let bytes = b64_decode(str_field(inner, "base64")?)?;
            let st = u8::from_str_radix(str_field(inner, "subType")?, 16)
                .map_err(|e| format!("bad subType: {e}"))?;
            Bson::Binary(Binary {
                subtype: BinarySubtype::from(st),
                bytes,
            })
        }
        "$uuid" => {
            let hex: String = val
                .as_str()
                .ok_or("$uuid")?
                .chars()
                .filter(|c| *c != '-')
                .collect();
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .map_err(|e| format!("bad $uuid: {e}"))?;
            Bson::Binary(Binary {
                subtype: BinarySubtype::Uuid,
                bytes,
            })
        }
        "$regularExpression" => {
            let inner = val.as_object().ok_or("$regularExpression")?;
            let pattern = str_field(inner, "pattern")?.to_owned();
            let options = str_field(inner, "options")?.to_owned();
            Bson::RegularExpression(Regex {
                pattern: pattern.try_into().map_err(|e| format!("{e}"))?,
                options: options.try_into().map_err(|e| format!("{e}"))?,
            })
        }
        "$timestamp" => {
            let inner = val.as_object().ok_or("$timestamp")?;
            let num = |k: &str| {
                inner
                    .get(k)
                    .and_then(Value::as_u64)
                    .and_then(|x| u32::try_from(x).ok())
                    .ok_or_else(|| format!("bad $timestamp.{k}"))
            };
            Bson::Timestamp(Timestamp {
                time: num("t")?,
                increment: num("i")?,
            })
        }
        "$code" => {
            let code = val.as_str().ok_or("$code")?.to_owned();
            match (m.len(), m.get("$scope")) {
                (1, None) => Bson::JavaScriptCode(code),
                (2, Some(scope)) => match try_ejson_to_bson(scope)? {
                    Bson::Document(scope) => {
                        Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope { code, scope })
                    }
                    _ => return Err("$scope is not a document".into()),
                },
                _ => return Ok(None),
            }
        }
        "$minKey" => Bson::MinKey,
        "$maxKey" => Bson::MaxKey,
        "$undefined" => Bson::Undefined,
        _ => return Ok(None),
    }))
}

// ------------------------------------------------------------------ comparison

/// Equality by value and type. Doubles compare bit-for-bit except that every NaN
/// equals every NaN (so `-0.0` ≠ `0.0`). Documents compare key order too when
/// `ordered` is set (at every level), otherwise as maps.
pub fn same_bson(a: &Bson, b: &Bson, ordered: bool) -> bool {
    match (a, b) {
        (Bson::Double(x), Bson::Double(y)) => {
            (x.is_nan() && y.is_nan()) || x.to_bits() == y.to_bits()
        }
        (Bson::Document(x), Bson::Document(y)) => same_document(x, y, ordered),
        (Bson::Array(x), Bson::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same_bson(p, q, ordered))
        }
        (Bson::JavaScriptCodeWithScope(x), Bson::JavaScriptCodeWithScope(y)) => {
            x.code == y.code && same_document(&x.scope, &y.scope, ordered)
        }
        _ => a == b,
    }
}

/// [`same_bson`] for documents.
pub fn same_document(a: &Document, b: &Document, ordered: bool) -> bool {
    if a.len() != b.len() {
        return false;
    }
    if ordered && !a.keys().eq(b.keys()) {
        return false;
    }
    a.iter()
        .all(|(k, v)| b.get(k).is_some_and(|w| same_bson(v, w, ordered)))
}

/// Asserts that `actual` is the session the vector's Extended JSON describes.
///
/// # Panics
/// With a readable diff when they differ.
pub fn assert_same_session(name: &str, actual: &Document, expected_ejson: &Value, ordered: bool) {
    let expected = ejson_to_document(expected_ejson);
    assert!(
        same_document(actual, &expected, ordered),
        "{name}: session differs (ordered={ordered})\n  actual:   {actual:?}\n  expected: {expected:?}"
    );
}

/// Renders a `bson::Document` for messages.
pub fn show(d: &Document) -> String {
    format!("{d:?}")
}

// ------------------------------------------------------------------ crafting tokens

/// The header segment beaker-session-jwt always writes.
pub const HEADER_SEGMENT: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9";

/// A compact HS256 token with the standard header around arbitrary claims bytes,
/// signed with `key` (HMAC-SHA256, b64url without padding).
pub fn signed_token(claims: &[u8], key: &[u8]) -> String {
    use base64::Engine as _;
    use hmac::Mac as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let input = format!("{HEADER_SEGMENT}.{}", b64.encode(claims));
    let mut mac =
        <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(key).expect("any key length");
    mac.update(input.as_bytes());
    format!("{input}.{}", b64.encode(mac.finalize().into_bytes()))
}

/// Python's `base64.b85encode` (RFC 1924 alphabet, partial final group of r bytes
/// → r+1 digits).
pub fn b85encode(data: &[u8]) -> String {
    const A: &[u8] =
        b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~";
    let mut out = String::new();
    for chunk in data.chunks(4) {
        let mut g = [0u8; 4];
        g[..chunk.len()].copy_from_slice(chunk);
        let mut v = u32::from_be_bytes(g);
        let mut d = [0u8; 5];
        for x in d.iter_mut().rev() {
            *x = A[(v % 85) as usize];
            v /= 85;
        }
        out.extend(d[..chunk.len() + 1].iter().map(|&c| char::from(c)));
    }
    out
}

/// A zlib stream of `data` (any valid stream is read the same; level 6 here).
pub fn zlib_compress(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    z.write_all(data).expect("in memory");
    z.finish().expect("in memory")
}

/// Claims `{"bsZ":"<b85(zlib(bson))>"}` for raw BSON bytes.
pub fn bsz_claims_for(bson_bytes: &[u8]) -> String {
    format!(r#"{{"bsZ":"{}"}}"#, b85encode(&zlib_compress(bson_bytes)))
}

/// Whether `d` holds a key containing NUL at any depth (BSON cannot hold it).
pub fn has_nul_key(d: &Document) -> bool {
    fn in_bson(b: &Bson) -> bool {
        match b {
            Bson::Document(d) => has_nul_key(d),
            Bson::Array(a) => a.iter().any(in_bson),
            _ => false,
        }
    }
    d.iter().any(|(k, v)| k.contains('\0') || in_bson(v))
}

/// Checks that `Codec::decode_raw` agrees with `Codec::decode` on `value`: the same
/// error, or the same format and key index and a raw session that reads as the
/// decoded document: the same number of elements, every key looked up gives the
/// document's value, and the whole converts to the document (order included).
/// The one documented difference: a JSON-mode or original session with a NUL in a
/// key, which BSON cannot hold, is `Error::NulInKey`.
pub fn check_raw_view(codec: &Codec, value: &str) -> Result<(), String> {
    use beaker_session_jwt::Error;
    match (codec.decode(value), codec.decode_raw(value)) {
        (Err(a), Err(b)) if format!("{a:?}") == format!("{b:?}") => Ok(()),
        (Ok(d), Err(Error::NulInKey)) if has_nul_key(&d.session) => Ok(()),
        (Ok(d), Ok(r)) => {
            if (d.format, d.key_index) != (r.format, r.key_index) {
                return Err(format!("decode {d:?} vs decode_raw {r:?}"));
            }
            let doc = r.to_document().map_err(|e| format!("to_document: {e:?}"))?;
            if !same_document(&doc, &d.session, true) {
                return Err(format!("view {doc:?} vs session {:?}", d.session));
            }
            if r.session.iter().count() != d.session.len() {
                return Err(format!("view has other elements than {:?}", d.session));
            }
            for (k, v) in &d.session {
                let got = r.session.get(k).ok().flatten().map(Bson::try_from);
                match got {
                    Some(Ok(g)) if same_bson(&g, v, true) => {}
                    other => return Err(format!("view[{k:?}] = {other:?}, session has {v:?}")),
                }
            }
            Ok(())
        }
        (a, b) => Err(format!("decode {a:?} vs decode_raw {b:?}")),
    }
}
