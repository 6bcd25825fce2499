//! MongoDB Extended JSON as Python's `bson.json_util` writes and reads it.
//!
//! The reference tools print sessions as *canonical* Extended JSON
//! (`json_util.dumps(session, json_options=CANONICAL_JSON_OPTIONS)`), and read
//! sessions from canonical or relaxed Extended JSON
//! (`json_util.loads(text, json_options=CANONICAL_JSON_OPTIONS.with_options(tz_aware=False))`).
//! This module reproduces both byte for byte, so sessions can be compared with the
//! reference vectors and exchanged with the Python tools:
//!
//! * [`to_canonical_string`] renders a [`Document`] exactly as the Python tools print
//!   it after a BSON round trip: Python `json.dumps` defaults (`", "` and `": "`
//!   separators, non-ASCII as lowercase `\uXXXX` escapes), `$numberInt`,
//!   `$numberLong`, `$numberDouble` with Python `repr` digits, and so on.
//! * [`from_str`] parses canonical, relaxed or legacy Extended JSON text into the
//!   [`Document`] the Python tools would store in BSON.
//!
//! ```
//! use beaker_session_jwt::{bson::doc, ejson};
//!
//! let session = doc! { "user_id": 42, "ratio": 0.5, "big": 1e300 };
//! let text = ejson::to_canonical_string(&session);
//! assert_eq!(
//!     text,
//!     r#"{"user_id": {"$numberInt": "42"}, "ratio": {"$numberDouble": "0.5"}, "big": {"$numberDouble": "1e+300"}}"#
//! );
//! assert_eq!(ejson::from_str(&text)?, session);
//! # Ok::<(), beaker_session_jwt::Error>(())
//! ```

use base64::Engine as _;
use bson::spec::BinarySubtype;
use bson::{Binary, Bson, DateTime, Decimal128, Document, JavaScriptCodeWithScope, Regex};

use crate::error::{Error, Result};
use crate::pyjson;

/// Nesting limit of [`from_str`]: the codec's default
/// ([`DEFAULT_MAX_NESTING_DEPTH`](crate::DEFAULT_MAX_NESTING_DEPTH)), so whatever a
/// codec with default limits decodes can be read back. (Python's own limit is about
/// 1 000 levels; the conversion here recurses, so the cap also bounds stack use.)
pub const MAX_DEPTH: usize = crate::DEFAULT_MAX_NESTING_DEPTH;

/// The millisecond range of Python's `datetime` (years 1 to 9999), outside which
/// `bson` cannot decode a date.
const MIN_DATE_MS: i64 = -62_135_596_800_000;
const MAX_DATE_MS: i64 = 253_402_300_799_999;

// ------------------------------------------------------------------------ writing

/// Renders a document as canonical Extended JSON, byte-identical to
/// `bson.json_util.dumps(doc, json_options=CANONICAL_JSON_OPTIONS)` for the same
/// document decoded by Python's `bson`.
///
/// Python's decoding shows through in a few places: a BSON symbol is a plain string,
/// undefined is `null`, a DBPointer is a DBRef, and a nested document with a string
/// `$ref`, an `$id` and an optional string `$db` is a DBRef, which is written with
/// `$ref`, `$id`, `$db` first (a null `$db` is dropped). Regular expression options
/// are those Python knows (`ilmsux`), in that order.
///
/// # Examples
/// ```
/// use beaker_session_jwt::{bson::{doc, DateTime}, ejson};
///
/// let session = doc! { "when": DateTime::from_millis(-500), "name": "Zoë" };
/// assert_eq!(
///     ejson::to_canonical_string(&session),
///     r#"{"when": {"$date": {"$numberLong": "-500"}}, "name": "Zo\u00eb"}"#
/// );
/// ```
pub fn to_canonical_string(doc: &Document) -> String {
    let mut out = String::with_capacity(256);
    write_canonical(&mut out, doc);
    out
}

/// Appends [`to_canonical_string`]'s text to `out`, so that a caller rendering many
/// documents (the `beaker-cookie decode --lines` loop) can reuse one buffer.
///
/// # Examples
/// ```
/// use beaker_session_jwt::{bson::doc, ejson};
///
/// let mut out = String::from("session: ");
/// ejson::write_canonical(&mut out, &doc! { "n": 1 });
/// assert_eq!(out, r#"session: {"n": {"$numberInt": "1"}}"#);
/// ```
pub fn write_canonical(out: &mut String, doc: &Document) {
    write_doc(out, doc.iter(), false);
}

/// Renders a document as relaxed Extended JSON, byte-identical to
/// `bson.json_util.dumps(doc, json_options=RELAXED_JSON_OPTIONS)` for the same
/// document decoded by Python's `bson`: like [`to_canonical_string`] except that
/// `Int32`/`Int64` are plain integers, finite doubles plain Python `repr` numbers, and
/// dates from 1970 on ISO-8601 text (`{"$date": "2024-06-01T12:30:45.123Z"}`,
/// milliseconds only when non-zero).
///
/// # Examples
/// ```
/// use beaker_session_jwt::{bson::{doc, DateTime}, ejson};
///
/// let session = doc! { "n": 42_i64, "x": 2.0, "when": DateTime::from_millis(1_500) };
/// assert_eq!(
///     ejson::to_relaxed_string(&session),
///     r#"{"n": 42, "x": 2.0, "when": {"$date": "1970-01-01T00:00:01.500Z"}}"#
/// );
/// ```
pub fn to_relaxed_string(doc: &Document) -> String {
    let mut out = String::with_capacity(256);
    write_doc(&mut out, doc.iter(), true);
    out
}

/// `%Y-%m-%dT%H:%M:%S[.mmm]Z` of a non-negative millisecond timestamp.
fn iso_date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let frac = if millis != 0 {
        format!(".{millis:03}")
    } else {
        String::new()
    };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's
/// algorithm). Shared with the pickle reader.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn write_doc<'a>(
    out: &mut String,
    items: impl Iterator<Item = (&'a String, &'a Bson)>,
    relaxed: bool,
) {
    out.push('{');
    for (i, (k, v)) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        pyjson::write_str(out, k, true);
        out.push_str(": ");
        write_value(out, v, relaxed);
    }
    out.push('}');
}

/// `{"<tag>": <value>}` with the value written by `f`.
fn wrap(out: &mut String, tag: &str, f: impl FnOnce(&mut String)) {
    out.push_str("{\"");
    out.push_str(tag);
    out.push_str("\": ");
    f(out);
    out.push('}');
}

fn write_quoted(out: &mut String, s: &str) {
    pyjson::write_str(out, s, true);
}

/// `"<decimal digits>"`.
fn push_quoted_int(out: &mut String, n: i64) {
    out.push('"');
    pyjson::push_int(out, n);
    out.push('"');
}

/// Recursion follows the document's nesting; documents built by this crate's
/// decoders are depth-capped.
fn write_value(out: &mut String, v: &Bson, relaxed: bool) {
    match v {
        Bson::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item, relaxed);
            }
            out.push(']');
        }
        Bson::Document(d) => write_nested_doc(out, d, relaxed),
        Bson::JavaScriptCodeWithScope(cws) => {
            out.push_str("{\"$code\": ");
            write_quoted(out, &cws.code);
            out.push_str(", \"$scope\": ");
            write_nested_doc(out, &cws.scope, relaxed);
            out.push('}');
        }
        other => write_scalar(out, other, relaxed),
    }
}

/// Every non-container value. Kept out of the recursion so that each nesting level
/// costs little stack.
#[inline(never)]
fn write_scalar(out: &mut String, v: &Bson, relaxed: bool) {
    match v {
        // Relaxed mode: plain numbers, ISO-8601 dates from the epoch on.
        Bson::Double(x) if relaxed && x.is_finite() => pyjson::push_float_repr(out, *x),
        Bson::Int32(n) if relaxed => pyjson::push_int(out, i64::from(*n)),
        Bson::Int64(n) if relaxed => pyjson::push_int(out, *n),
        Bson::DateTime(dt) if relaxed && dt.timestamp_millis() >= 0 => {
            out.push_str(&format!(
                "{{\"$date\": \"{}\"}}",
                iso_date(dt.timestamp_millis())
            ));
        }
        // Float and integer text never needs escaping: quoted directly.
        Bson::Double(x) => wrap(out, "$numberDouble", |o| {
            o.push('"');
            pyjson::write_float(o, *x);
            o.push('"');
        }),
        Bson::String(s) | Bson::Symbol(s) => write_quoted(out, s),
        Bson::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Bson::Null | Bson::Undefined => out.push_str("null"),
        Bson::RegularExpression(re) => wrap(out, "$regularExpression", |o| {
            o.push_str("{\"pattern\": ");
            write_quoted(o, re.pattern.as_str());
            o.push_str(", \"options\": ");
            write_quoted(o, &python_regex_options(re.options.as_str()));
            o.push('}');
        }),
        Bson::JavaScriptCode(code) => wrap(out, "$code", |o| write_quoted(o, code)),
        Bson::Int32(n) => wrap(out, "$numberInt", |o| push_quoted_int(o, i64::from(*n))),
        Bson::Int64(n) => wrap(out, "$numberLong", |o| push_quoted_int(o, *n)),
        Bson::Timestamp(ts) => {
            out.push_str(&format!(
                "{{\"$timestamp\": {{\"t\": {}, \"i\": {}}}}}",
                ts.time, ts.increment
            ));
        }
        Bson::Binary(b) => wrap(out, "$binary", |o| {
            o.push_str("{\"base64\": ");
            write_quoted(
                o,
                &base64::engine::general_purpose::STANDARD.encode(&b.bytes),
            );
            o.push_str(&format!(", \"subType\": \"{:02x}\"}}", u8::from(b.subtype)));
        }),
        Bson::ObjectId(oid) => wrap(out, "$oid", |o| write_quoted(o, &oid.to_hex())),
        Bson::DateTime(dt) => {
            out.push_str("{\"$date\": {\"$numberLong\": ");
            push_quoted_int(out, dt.timestamp_millis());
            out.push_str("}}");
        }
        Bson::Decimal128(d) => wrap(out, "$numberDecimal", |o| {
            write_quoted(o, &decimal128_to_string(d));
        }),
        Bson::MinKey => out.push_str("{\"$minKey\": 1}"),
        Bson::MaxKey => out.push_str("{\"$maxKey\": 1}"),
        Bson::DbPointer(_) => {
            // Python decodes a DBPointer to DBRef(namespace, oid); the fields are
            // private in `bson`, its own Extended JSON exposes them.
            // `Display` is "DbPointer(<namespace>, <hex id>)".
            let shown = v.to_string();
            let inner = shown
                .strip_prefix("DbPointer(")
                .and_then(|x| x.strip_suffix(')'))
                .unwrap_or_default();
            let (ns, id) = inner.rsplit_once(", ").unwrap_or((inner, ""));
            out.push_str("{\"$ref\": ");
            write_quoted(out, ns);
            out.push_str(", \"$id\": {\"$oid\": ");
            write_quoted(out, id);
            out.push_str("}}");
        }
        // Containers are handled by `write_value`.
        Bson::Array(_) | Bson::Document(_) | Bson::JavaScriptCodeWithScope(_) => {
            write_value(out, v, relaxed)
        }
    }
}

/// A nested document, which Python's `bson` turns into a `DBRef` when it has a string
/// `$ref`, an `$id` and a `$db` that is a string or absent/null.
fn write_nested_doc(out: &mut String, d: &Document, relaxed: bool) {
    if is_dbref(d) {
        let db = match d.get("$db") {
            Some(Bson::String(s) | Bson::Symbol(s)) => Some(s),
            _ => None,
        };
        let head = [
            entry(d, "$ref"),
            entry(d, "$id"),
            db.and_then(|_| entry(d, "$db")),
        ];
        let rest = d
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "$ref" | "$id" | "$db"));
        write_doc(out, head.into_iter().flatten().chain(rest), relaxed);
    } else {
        write_doc(out, d.iter(), relaxed);
    }
}

fn entry<'a>(d: &'a Document, key: &str) -> Option<(&'a String, &'a Bson)> {
    d.iter().find(|(k, _)| k.as_str() == key)
}

fn is_dbref(d: &Document) -> bool {
    matches!(d.get("$ref"), Some(Bson::String(_) | Bson::Symbol(_)))
        && d.contains_key("$id")
        && matches!(
            d.get("$db"),
            None | Some(Bson::String(_) | Bson::Symbol(_) | Bson::Null | Bson::Undefined)
        )
}

/// The options Python's `Regex` keeps (`str_flags_to_int`), in the order
/// `json_util` writes them.
fn python_regex_options(options: &str) -> String {
    "ilmsux".chars().filter(|c| options.contains(*c)).collect()
}

/// `str(Decimal128)`: Python's `Decimal.__str__` (to-scientific-string) of the value
/// `Decimal128.to_decimal()` builds, with every NaN written as `NaN`.
fn decimal128_to_string(d: &Decimal128) -> String {
    let b = d.bytes();
    let mut lo = [0u8; 8];
    let mut hi = [0u8; 8];
    for (i, byte) in b.iter().enumerate() {
        if let Some(slot) = lo.get_mut(i) {
            *slot = *byte;
        } else if let Some(slot) = hi.get_mut(i - 8) {
            *slot = *byte;
        }
    }
    let low = u64::from_le_bytes(lo);
    let high = u64::from_le_bytes(hi);
    let negative = high >> 63 == 1;
    let sign = if negative { "-" } else { "" };
    const NAN: u64 = 0x7C00_0000_0000_0000;
    const INF: u64 = 0x7800_0000_0000_0000;
    const EXP_MASK: u64 = 0x6000_0000_0000_0000;
    if high & NAN == NAN {
        return "NaN".to_owned();
    }
    if high & INF == INF {
        return format!("{sign}Infinity");
    }
    let (exponent, coefficient) = if high & EXP_MASK == EXP_MASK {
        // Non-canonical large coefficient: Python reads it as zero.
        (((high & 0x1FFF_E000_0000_0000) >> 47) as i64 - 6176, 0u128)
    } else {
        (
            ((high & 0x7FFF_8000_0000_0000) >> 49) as i64 - 6176,
            (u128::from(high & 0x0001_FFFF_FFFF_FFFF) << 64) | u128::from(low),
        )
    };
    let digits = coefficient.to_string();
    let ndigits = digits.len() as i64;
    let leftdigits = exponent + ndigits;
    let dotplace = if exponent <= 0 && leftdigits > -6 {
        leftdigits
    } else {
        1
    };
    let mut s = String::from(sign);
    if dotplace <= 0 {
        s.push_str("0.");
        for _ in 0..(-dotplace) {
            s.push('0');
        }
        s.push_str(&digits);
    } else if dotplace >= ndigits {
        s.push_str(&digits);
        for _ in 0..(dotplace - ndigits) {
            s.push('0');
        }
    } else {
        let (a, c) = digits.split_at(usize::try_from(dotplace).unwrap_or(0));
        s.push_str(a);
        s.push('.');
        s.push_str(c);
    }
    if leftdigits != dotplace {
        s.push_str(&format!("E{:+}", leftdigits - dotplace));
    }
    s
}

// ------------------------------------------------------------------------ reading

/// Parses canonical, relaxed or legacy Extended JSON into a document, as
/// `json_util.loads(text, json_options=CANONICAL_JSON_OPTIONS.with_options(tz_aware=False))`
/// followed by a BSON encode does.
///
/// Plain JSON numbers become `Int32` when they fit, else `Int64`, and `Double` when
/// they have a fraction or exponent (`NaN`, `Infinity` and `-Infinity` are accepted).
/// Type wrappers are recognised as `json_util` does (the first `$`-key that names a
/// type decides): `$numberInt`, `$numberLong`, `$numberDouble`, `$numberDecimal`,
/// `$date` (`{"$numberLong": ...}`, ISO-8601 text with `Z` or an offset, or a
/// number), `$binary` (canonical and legacy `$type` forms), `$uuid`, `$oid`,
/// `$regularExpression` and legacy `$regex`/`$options`, `$timestamp`, `$code` and
/// `$scope`, `$minKey`, `$maxKey`, `$symbol` (a string), `$undefined` (null),
/// `$dbPointer` and DBRefs (`$ref`, `$id`, `$db` moved first).
///
/// # Errors
/// [`Error::InvalidJson`] for invalid JSON, a top level that is not a plain object,
/// malformed type wrappers, dates outside years 1 to 9999 and integers beyond int64;
/// [`Error::NestingTooDeep`] beyond [`MAX_DEPTH`] levels; [`Error::IntegerOutOfRange`]
/// and [`Error::LoneSurrogate`] for plain JSON values a document cannot hold.
///
/// # Examples
/// ```
/// use beaker_session_jwt::{bson::{doc, DateTime}, ejson};
///
/// let doc = ejson::from_str(r#"{"n": 5, "big": 3000000000, "d": {"$date": "1970-01-01T00:00:01Z"}}"#)?;
/// assert_eq!(doc, doc! { "n": 5, "big": 3_000_000_000_i64, "d": DateTime::from_millis(1000) });
/// # Ok::<(), beaker_session_jwt::Error>(())
/// ```
pub fn from_str(text: &str) -> Result<Document> {
    match pyjson::loads_str(text, MAX_DEPTH)? {
        // json_util turns such an object into a DBRef, which is not a dict.
        Bson::Document(d)
            if d.keys()
                .find(|k| WRAPPERS.contains(&k.as_str()))
                .map(String::as_str)
                == Some("$ref")
                && is_dbref(&d) =>
        {
            Err(bad("top level is a DBRef, not a document"))
        }
        Bson::Document(d) => match convert_doc(d)? {
            Bson::Document(d) => Ok(d),
            _ => Err(bad("top level is a type wrapper, not a document")),
        },
        _ => Err(bad("top level is not an object")),
    }
}

fn bad(msg: &str) -> Error {
    Error::InvalidJson(format!("extended JSON: {msg}"))
}

fn convert(v: Bson) -> Result<Bson> {
    match v {
        Bson::Document(d) => convert_doc(d),
        Bson::Array(items) => items
            .into_iter()
            .map(convert)
            .collect::<Result<Vec<_>>>()
            .map(Bson::Array),
        other => Ok(other),
    }
}

/// The type-wrapper keys `json_util` knows; the first one present decides.
const WRAPPERS: [&str; 18] = [
    "$oid",
    "$ref",
    "$date",
    "$regex",
    "$minKey",
    "$maxKey",
    "$binary",
    "$code",
    "$uuid",
    "$undefined",
    "$numberLong",
    "$timestamp",
    "$numberDecimal",
    "$dbPointer",
    "$regularExpression",
    "$symbol",
    "$numberInt",
    "$numberDouble",
];

/// `json_util.object_hook`, applied innermost first like `json.loads` does.
fn convert_doc(d: Document) -> Result<Bson> {
    let mut out = Document::new();
    for (k, v) in d {
        out.insert(k, convert(v)?);
    }
    object_hook(out)
}

/// The conversion of one document whose values are already converted. Kept out of
/// the recursion so that each nesting level costs little stack.
#[inline(never)]
fn object_hook(out: Document) -> Result<Bson> {
    let Some(tag) = out.keys().find(|k| WRAPPERS.contains(&k.as_str())).cloned() else {
        return Ok(Bson::Document(out));
    };
    let single = out.len() == 1;
    let only = |what: &str| -> Result<()> {
        if single {
            Ok(())
        } else {
            Err(bad(&format!("bad {what}, extra field(s)")))
        }
    };
    let value = out.get(&tag).cloned().unwrap_or(Bson::Null);
    match tag.as_str() {
        "$oid" => {
            only("$oid")?;
            match value {
                Bson::String(s) if s.len() == 24 => bson::oid::ObjectId::parse_str(&s)
                    .map(Bson::ObjectId)
                    .map_err(|_| bad("invalid $oid")),
                _ => Err(bad("invalid $oid")),
            }
        }
        "$ref" => Ok(Bson::Document(dbref_order(out))),
        "$date" => {
            only("$date")?;
            let ms = match value {
                Bson::String(s) => parse_iso_date(&s)?,
                Bson::Int32(n) => i64::from(n),
                Bson::Int64(n) => n,
                Bson::Double(x) if x.is_finite() && x.abs() < 9.2e18 => x.trunc() as i64,
                Bson::Boolean(b) => i64::from(b),
                Bson::DateTime(dt) => dt.timestamp_millis(),
                _ => return Err(bad("invalid $date")),
            };
            if !(MIN_DATE_MS..=MAX_DATE_MS).contains(&ms) {
                return Err(bad("$date out of range"));
            }
            Ok(Bson::DateTime(DateTime::from_millis(ms)))
        }
        "$regex" => {
            let Bson::String(pattern) = value else {
                // The $regex query operator: the document stays as it is.
                return Ok(Bson::Document(out));
            };
            let options = match out.get("$options") {
                Some(Bson::String(s)) => s.clone(),
                None => String::new(),
                Some(_) => return Err(bad("invalid $options")),
            };
            make_regex(pattern, &options)
        }
        "$minKey" | "$maxKey" => {
            if value != Bson::Int32(1) {
                return Err(bad("$minKey/$maxKey value must be 1"));
            }
            only(&tag)?;
            Ok(if tag == "$minKey" {
                Bson::MinKey
            } else {
                Bson::MaxKey
            })
        }
        "$binary" => parse_binary(&out, value),
        "$code" => {
            if out.keys().any(|k| k != "$code" && k != "$scope") {
                return Err(bad("bad $code, extra field(s)"));
            }
            let Bson::String(code) = value else {
                return Err(bad("$code must be a string"));
            };
            match out.get("$scope") {
                None | Some(Bson::Null) => Ok(Bson::JavaScriptCode(code)),
                Some(Bson::Document(scope)) => {
                    Ok(Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope {
                        code,
                        scope: scope.clone(),
                    }))
                }
                Some(_) => Err(bad("$scope must be a document")),
            }
        }
        "$uuid" => {
            only("$uuid")?;
            let Bson::String(s) = value else {
                return Err(bad("$uuid must be a string"));
            };
            Ok(Bson::Binary(Binary {
                subtype: BinarySubtype::Uuid,
                bytes: parse_uuid(&s)?,
            }))
        }
        "$undefined" => Ok(Bson::Null),
        "$numberLong" => {
            only("$numberLong")?;
            let n = match value {
                Bson::String(s) => parse_py_int(&s).ok_or_else(|| bad("invalid $numberLong"))?,
                Bson::Int32(n) => i64::from(n),
                Bson::Int64(n) => n,
                Bson::Boolean(b) => i64::from(b),
                Bson::Double(x) if x.is_finite() && x.abs() < 9.2e18 => x.trunc() as i64,
                _ => return Err(bad("invalid $numberLong")),
            };
            Ok(Bson::Int64(n))
        }
        "$timestamp" => {
            only("$timestamp")?;
            let Bson::Document(ts) = value else {
                return Err(bad("$timestamp value must be a document"));
            };
            if ts.len() != 2 {
                return Err(bad("$timestamp must include exactly t and i"));
            }
            let part = |name: &str| -> Result<u32> {
                match ts.get(name) {
                    Some(Bson::Int32(n)) => u32::try_from(*n).ok(),
                    Some(Bson::Int64(n)) => u32::try_from(*n).ok(),
                    _ => None,
                }
                .ok_or_else(|| bad("invalid $timestamp"))
            };
            Ok(Bson::Timestamp(bson::Timestamp {
                time: part("t")?,
                increment: part("i")?,
            }))
        }
        "$numberDecimal" => {
            only("$numberDecimal")?;
            let Bson::String(s) = value else {
                return Err(bad("$numberDecimal must be a string"));
            };
            s.trim()
                .parse::<Decimal128>()
                .map(Bson::Decimal128)
                .map_err(|_| bad("invalid $numberDecimal"))
        }
        "$dbPointer" => {
            only("$dbPointer")?;
            // The inner document was already converted; it must be a DBRef with an
            // ObjectId `$id` and nothing else. Python returns a DBRef (a document).
            match value {
                Bson::Document(inner)
                    if inner.len() == 2
                        && matches!(inner.get("$ref"), Some(Bson::String(_)))
                        && matches!(inner.get("$id"), Some(Bson::ObjectId(_))) =>
                {
                    Ok(Bson::Document(inner))
                }
                _ => Err(bad("bad $dbPointer")),
            }
        }
        "$regularExpression" => {
            only("$regularExpression")?;
            let Bson::Document(re) = value else {
                return Err(bad("bad $regularExpression"));
            };
            match (re.len(), re.get("pattern"), re.get("options")) {
                (2, Some(Bson::String(p)), Some(Bson::String(o))) => make_regex(p.clone(), o),
                _ => Err(bad("bad $regularExpression")),
            }
        }
        "$symbol" => {
            only("$symbol")?;
            match value {
                Bson::String(s) => Ok(Bson::String(s)),
                _ => Err(bad("$symbol must be a string")),
            }
        }
        "$numberInt" => {
            only("$numberInt")?;
            let Bson::String(s) = value else {
                return Err(bad("$numberInt must be a string"));
            };
            let n = parse_py_int(&s).ok_or_else(|| bad("invalid $numberInt"))?;
            Ok(match i32::try_from(n) {
                Ok(small) => Bson::Int32(small),
                Err(_) => Bson::Int64(n),
            })
        }
        "$numberDouble" => {
            only("$numberDouble")?;
            let Bson::String(s) = value else {
                return Err(bad("$numberDouble must be a string"));
            };
            parse_py_float(&s)
                .map(Bson::Double)
                .ok_or_else(|| bad("invalid $numberDouble"))
        }
        _ => Ok(Bson::Document(out)),
    }
}

/// `DBRef(...).as_doc()` when the document qualifies, else the document unchanged.
fn dbref_order(d: Document) -> Document {
    if !is_dbref(&d) {
        return d;
    }
    let mut out = Document::new();
    let mut rest = Document::new();
    let mut db = None;
    for (k, v) in d {
        match k.as_str() {
            "$ref" | "$id" => {
                out.insert(k, v);
            }
            "$db" => db = Some(v),
            _ => {
                rest.insert(k, v);
            }
        }
    }
    // `$ref` before `$id` whatever the input order.
    if out.keys().next().map(String::as_str) == Some("$id")
        && let Some(id) = out.remove("$id")
    {
        out.insert("$id", id);
    }
    if let Some(v @ (Bson::String(_) | Bson::Symbol(_))) = db {
        out.insert("$db", v);
    }
    out.extend(rest);
    out
}

fn make_regex(pattern: String, options: &str) -> Result<Bson> {
    let options = python_regex_options(options);
    Ok(Bson::RegularExpression(Regex {
        pattern: pattern
            .try_into()
            .map_err(|_| bad("regex pattern contains NUL"))?,
        options: options.try_into().map_err(|_| bad("regex options"))?,
    }))
}

fn parse_binary(doc: &Document, value: Bson) -> Result<Bson> {
    let (b64, subtype) = if let Some(t) = doc.get("$type") {
        // Legacy {"$binary": "<b64>", "$type": "<hex>" or int}.
        let subtype = match t {
            Bson::Int32(n) => u32::try_from(*n).ok(),
            Bson::Int64(n) => u32::try_from(*n).ok(),
            Bson::String(s) => {
                let v = u32::from_str_radix(s, 16).ok();
                match v {
                    // mongoexport writes e.g. "ffffff80" for 0x80.
                    Some(v) if v >= 0xFFFF_FF80 => {
                        s.get(6..).and_then(|x| u32::from_str_radix(x, 16).ok())
                    }
                    other => other,
                }
            }
            _ => None,
        };
        let Bson::String(b64) = value else {
            return Err(bad("legacy $binary must be a string"));
        };
        (b64, subtype)
    } else {
        let Bson::Document(inner) = value else {
            return Err(bad("bad $binary"));
        };
        let (Some(Bson::String(b64)), Some(Bson::String(st))) =
            (inner.get("base64"), inner.get("subType"))
        else {
            return Err(bad("bad $binary"));
        };
        if inner.len() != 2 || st.is_empty() || st.len() > 2 {
            return Err(bad("bad $binary"));
        }
        (b64.clone(), u32::from_str_radix(st, 16).ok())
    };
    let subtype = subtype
        .and_then(|s| u8::try_from(s).ok())
        .ok_or_else(|| bad("invalid $binary subtype"))?;
    // Python's b64decode skips characters outside the alphabet.
    let clean: String = b64
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '='))
        .collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let bytes = engine
        .decode(clean.as_bytes())
        .map_err(|_| bad("invalid base64 in $binary"))?;
    Ok(Bson::Binary(Binary {
        subtype: BinarySubtype::from(subtype),
        bytes,
    }))
}

/// `uuid.UUID(text)`: hex digits with optional braces, `urn:uuid:` prefix and hyphens.
fn parse_uuid(s: &str) -> Result<Vec<u8>> {
    let t = s.replace("urn:", "").replace("uuid:", "");
    let t = t.trim_matches(|c| c == '{' || c == '}').replace('-', "");
    if t.len() != 32 || !t.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad("invalid $uuid"));
    }
    (0..16)
        .map(|i| {
            t.get(2 * i..2 * i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad("invalid $uuid"))
        })
        .collect()
}

/// Python `int(text)` for base 10, limited to int64: surrounding whitespace, a sign,
/// and single underscores between digits are allowed.
fn parse_py_int(s: &str) -> Option<i64> {
    let t = s.trim();
    let (neg, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, t.get(1..)?),
        Some(b'+') => (false, t.get(1..)?),
        _ => (false, t),
    };
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
        || !digits.chars().all(|c| c.is_ascii_digit() || c == '_')
    {
        return None;
    }
    let clean: String = digits.chars().filter(|c| *c != '_').collect();
    let v: i128 = clean.parse().ok()?;
    i64::try_from(if neg { -v } else { v }).ok()
}

/// Python `float(text)`: surrounding whitespace, `nan`, `inf`, `infinity` in any case.
fn parse_py_float(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.contains('_') {
        return None;
    }
    t.parse::<f64>().ok()
}

/// `json_util._parse_canonical_datetime` for text: an ISO-8601 date and time with
/// optional fraction and `Z`, `+HH:MM`, `+HHMM` or `+HH` offset; milliseconds since
/// the epoch (microseconds truncated as Python does).
fn parse_iso_date(s: &str) -> Result<i64> {
    let inv = || bad("time data does not match ISO-8601 datetime format");
    let chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    let at = |back: usize| n.checked_sub(back).and_then(|i| chars.get(i)).copied();
    let sign_at = |back: usize| matches!(at(back), Some('+' | '-'));
    if n == 0 {
        return Err(inv());
    }
    let (body_len, offset): (usize, &[char]) = if at(1) == Some('Z') {
        (n - 1, &[])
    } else if n >= 6 && sign_at(6) && at(3) == Some(':') {
        (n - 6, chars.get(n - 6..).unwrap_or_default())
    } else if n >= 5 && sign_at(5) {
        (n - 5, chars.get(n - 5..).unwrap_or_default())
    } else if n >= 3 && sign_at(3) {
        (n - 3, chars.get(n - 3..).unwrap_or_default())
    } else {
        (n, &[])
    };
    let body: String = chars.get(..body_len).unwrap_or_default().iter().collect();
    let (main, micros) = match body.rfind('.') {
        Some(dot) => {
            let frac: f64 = body.get(dot..).and_then(parse_py_float).ok_or_else(inv)?;
            // int(float(".123456") * 1000000), as Python computes it.
            let us = (frac * 1_000_000.0).trunc();
            if !(0.0..1_000_000.0).contains(&us) {
                return Err(inv());
            }
            (body.get(..dot).unwrap_or_default().to_owned(), us as i64)
        }
        None => (body, 0),
    };
    let secs = parse_strptime(&main).ok_or_else(inv)?;
    let off_secs = match offset {
        [] => 0,
        [sign, rest @ ..] => {
            let digits: String = rest.iter().filter(|c| **c != ':').collect();
            let num = |r: std::ops::Range<usize>| -> Option<i64> {
                digits.get(r).and_then(|x| x.parse::<i64>().ok())
            };
            let v = match rest.len() {
                5 | 4 => num(0..2).zip(num(2..4)).map(|(h, m)| h * 3600 + m * 60),
                2 => num(0..2).map(|h| h * 3600),
                _ => None,
            }
            .ok_or_else(inv)?;
            if *sign == '-' { -v } else { v }
        }
    };
    (secs - off_secs)
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(micros / 1000))
        .ok_or_else(inv)
}

/// `datetime.strptime(text, "%Y-%m-%dT%H:%M:%S")` as seconds since the epoch (UTC).
fn parse_strptime(s: &str) -> Option<i64> {
    let (date, time) = s.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let mut t = time.splitn(3, ':');
    let field = |x: Option<&str>, max_len: usize| -> Option<i64> {
        let x = x?;
        if x.is_empty() || x.len() > max_len || !x.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        x.parse().ok()
    };
    let (y, m, day) = (
        field(d.next(), 4)?,
        field(d.next(), 2)?,
        field(d.next(), 2)?,
    );
    let (hh, mm, ss) = (
        field(t.next(), 2)?,
        field(t.next(), 2)?,
        field(t.next(), 2)?,
    );
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mdays = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if y < 1 || day < 1 || day > mdays || hh > 23 || mm > 59 || ss > 59 {
        return None;
    }
    Some(days_from_civil(y, m, day) * 86_400 + hh * 3600 + mm * 60 + ss)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
/// Shared with the pickle reader.
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_capped_without_stack_overflow() {
        for (open, close) in [("[", "]"), ("{\"a\": ", "}"), ("{\"$scope\": ", "}")] {
            let nested = |n: usize| format!("{{\"x\": {}1{}}}", open.repeat(n), close.repeat(n));
            assert!(from_str(&nested(MAX_DEPTH - 1)).is_ok() || open.contains("$scope"));
            assert!(matches!(
                from_str(&nested(MAX_DEPTH)),
                Err(Error::NestingTooDeep { .. })
            ));
            assert!(matches!(
                from_str(&nested(100_000)),
                Err(Error::NestingTooDeep { .. })
            ));
        }
        // Rendering the deepest accepted document works too.
        let deep = from_str(&format!(
            "{{\"x\": {}1{}}}",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        ))
        .expect("within the cap");
        assert!(to_canonical_string(&deep).len() > 2 * MAX_DEPTH);
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn wrapper_text() -> impl Strategy<Value = String> {
            let key = prop::sample::select(
                WRAPPERS
                    .iter()
                    .copied()
                    .chain([
                        "$scope", "$options", "$type", "$id", "$db", "t", "i", "base64", "subType",
                    ])
                    .collect::<Vec<_>>(),
            );
            let scalar = prop_oneof![
                Just("1".to_owned()),
                Just("-1".to_owned()),
                Just("1.5".to_owned()),
                Just("\"\"".to_owned()),
                Just("\"00\"".to_owned()),
                Just("\"1970-01-01T00:00:00Z\"".to_owned()),
                Just("\"5f2b3c4d5e6f708192a3b4c5\"".to_owned()),
                Just("null".to_owned()),
                Just("true".to_owned()),
                "[a-zA-Z0-9+/=:.-]{0,12}".prop_map(|s| format!("\"{s}\"")),
            ];
            scalar.prop_recursive(3, 24, 3, move |inner| {
                prop::collection::vec((key.clone(), inner), 0..3).prop_map(|kv| {
                    let items: Vec<String> = kv
                        .into_iter()
                        .map(|(k, v)| format!("\"{k}\": {v}"))
                        .collect();
                    format!("{{{}}}", items.join(", "))
                })
            })
        }

        proptest! {
            #[test]
            fn from_str_is_total(text in ".{0,40}") {
                let _ = from_str(&text);
            }

            #[test]
            fn wrappers_give_a_document_or_an_error(v in wrapper_text()) {
                if let Ok(doc) = from_str(&format!("{{\"k\": {v}}}")) {
                    // Whatever was accepted renders and reads back to the same text.
                    let text = to_canonical_string(&doc);
                    let again = from_str(&text).map(|d| to_canonical_string(&d));
                    prop_assert_eq!(again.ok(), Some(text));
                    let _ = to_relaxed_string(&doc);
                }
            }
        }
    }

    #[test]
    fn days_from_civil_matches_known_epochs() {
        // Python: calendar.timegm((1, 1, 1, 0, 0, 0)) == -62135596800
        assert_eq!(days_from_civil(1, 1, 1) * 86_400, -62_135_596_800);
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        // Python: calendar.timegm((9999, 12, 31, 0, 0, 0)) == 253402214400
        assert_eq!(days_from_civil(9999, 12, 31) * 86_400, 253_402_214_400);
    }
}
