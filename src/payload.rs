//! The `bsZ` payload: BSON (top-level `_id` first) → zlib level 9 → base85, and the
//! claims → session merge of the reference (formats.md §1.3, §1.4, §1.6, §4).
//!
//! BSON is encoded and decoded by hand rather than with the bson crate's
//! serializer because fidelity to pymongo's C extension demands it: `_id` first
//! at the top level only, undefined/symbol/DBPointer mapped the way pymongo maps
//! them, `$ref`/`$id` documents reordered like `DBRef`, datetimes limited to years
//! 1..9999, strict booleans, and a nesting limit checked with an explicit stack so
//! that no input can overflow ours.

use std::cell::RefCell;

use bson::oid::ObjectId;
use bson::spec::BinarySubtype;
use bson::{
    Binary, Bson, DateTime, Decimal128, Document, JavaScriptCodeWithScope, RawDocumentBuf, Regex,
    Timestamp,
};

use crate::base85;
use crate::codec::Limits;
use crate::doc_build;
use crate::error::{Error, Result};
use crate::inflate::Inflater;
use crate::pyjson;
use crate::zlib9::Deflate9;

/// Python's default recursion limit: pymongo raises `RecursionError` for deeper
/// documents, both when encoding and when decoding. It also caps a configured
/// `max_nesting_depth`, so that no setting lets a decoded document grow deep
/// enough for its (recursive) drop to overflow the stack.
const PY_RECURSION_LIMIT: usize = 1000;

/// Nesting allowed when encoding.
const ENCODE_MAX_DEPTH: usize = PY_RECURSION_LIMIT;

/// Scratch buffers larger than this are not kept between calls.
const KEEP_SCRATCH: usize = 64 * 1024;

/// Per-thread deflate/inflate state and buffers, reused across calls: creating a
/// level-9 deflate state costs far more than encoding a small session.
#[derive(Default)]
struct Scratch {
    deflate9: Option<Box<Deflate9>>,
    inflater: Option<Box<Inflater>>,
    bson: Vec<u8>,
    zlib: Vec<u8>,
}

impl Scratch {
    fn trim(&mut self) {
        for buf in [&mut self.bson, &mut self.zlib] {
            buf.clear();
            if buf.capacity() > KEEP_SCRATCH {
                *buf = Vec::new();
            }
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Runs `f` with this thread's scratch state (a fresh one if it is busy).
fn with_scratch<T>(f: impl FnOnce(&mut Scratch) -> T) -> T {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            let out = f(&mut scratch);
            scratch.trim();
            out
        }
        Err(_) => f(&mut Scratch::default()),
    })
}

// ------------------------------------------------------------------------ encode

/// Top-level keys `JWTCookieSession._encrypt_data` removes before writing a JWT
/// (never for the original format). Skipped while writing, so no copy is made.
pub(crate) const JWT_DROPPED_KEYS: [&str; 3] = ["_expires", "_path", "_domain"];

/// The claims JSON text `{"bsZ":"<base85(zlib(bson))>"}` for a session, without
/// [`JWT_DROPPED_KEYS`].
///
/// # Errors
/// [`Error::NulInKey`] for a key containing NUL, [`Error::NestingTooDeep`] beyond
/// Python's recursion limit.
pub(crate) fn bsz_claims(session: &Document) -> Result<String> {
    with_scratch(|s| {
        s.bson.clear();
        encode_document(session, &mut s.bson, true, &JWT_DROPPED_KEYS)?;
        s.zlib.clear();
        s.deflate9
            .get_or_insert_with(Box::default)
            .compress(&s.bson, &mut s.zlib);
        const PREFIX: &str = r#"{"bsZ":""#;
        const SUFFIX: &str = r#""}"#;
        let mut out =
            String::with_capacity(PREFIX.len() + base85::encoded_len(s.zlib.len()) + SUFFIX.len());
        out.push_str(PREFIX);
        base85::encode_into(&s.zlib, &mut out);
        out.push_str(SUFFIX);
        Ok(out)
    })
}

fn write_i32(out: &mut Vec<u8>, v: i32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Writes a length placeholder and returns its position.
fn begin_len(out: &mut Vec<u8>) -> usize {
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    at
}

/// Patches the length written at `at` to cover `at..out.len()`.
fn end_len(out: &mut [u8], at: usize) -> Result<()> {
    let len = out.len().checked_sub(at).ok_or(Error::NulInKey)?;
    let len = i32::try_from(len).map_err(|_| Error::InvalidBson("document too large".into()))?;
    if let Some(slot) = out.get_mut(at..at + 4) {
        slot.copy_from_slice(&len.to_le_bytes());
    }
    Ok(())
}

fn write_cstr(out: &mut Vec<u8>, s: &str) -> Result<()> {
    if s.as_bytes().contains(&0) {
        return Err(Error::NulInKey);
    }
    out.extend_from_slice(s.as_bytes());
    out.push(0);
    Ok(())
}

fn write_string(out: &mut Vec<u8>, s: &str) -> Result<()> {
    let len =
        i32::try_from(s.len() + 1).map_err(|_| Error::InvalidBson("string too large".into()))?;
    write_i32(out, len);
    out.extend_from_slice(s.as_bytes());
    out.push(0);
    Ok(())
}

/// A container being written, with its remaining elements.
enum Open<'a> {
    Doc {
        iter: bson::document::Iter<'a>,
        /// Top level with `_id` already written first.
        skip_id: bool,
        /// Top-level keys left out (empty below the top level).
        drop: &'a [&'a str],
        len_at: usize,
    },
    Arr {
        iter: std::iter::Enumerate<std::slice::Iter<'a, Bson>>,
        len_at: usize,
    },
    /// Code with scope: its total length is patched once the scope is written.
    ScopeEnd { len_at: usize },
}

/// `bson.encode(doc)`: at the top level a present `_id` is written first.
/// Iterative (explicit stack), so deep documents cannot overflow ours; deeper than
/// [`ENCODE_MAX_DEPTH`] is refused like Python's `RecursionError`.
fn encode_document<'a>(
    doc: &'a Document,
    out: &mut Vec<u8>,
    top: bool,
    drop: &'a [&'a str],
) -> Result<()> {
    let mut stack: Vec<Open<'_>> = Vec::new();
    let mut depth = 1usize;
    let id = if top { doc.get("_id") } else { None };
    stack.push(Open::Doc {
        iter: doc.iter(),
        skip_id: id.is_some(),
        drop,
        len_at: begin_len(out),
    });
    if let Some(id) = id {
        write_element("_id", id, out, &mut stack, &mut depth)?;
    }
    let mut key = String::with_capacity(20);
    while let Some(open) = stack.last_mut() {
        match open {
            Open::Doc {
                iter,
                skip_id,
                drop,
                len_at,
            } => match iter.next() {
                Some((k, _)) if *skip_id && k == "_id" => {}
                Some((k, _)) if drop.contains(&k.as_str()) => {}
                Some((k, v)) => write_element(k, v, out, &mut stack, &mut depth)?,
                None => {
                    let at = *len_at;
                    out.push(0);
                    end_len(out, at)?;
                    stack.pop();
                    depth -= 1;
                }
            },
            Open::Arr { iter, len_at } => match iter.next() {
                Some((i, v)) => {
                    use std::fmt::Write as _;
                    key.clear();
                    let _ = write!(key, "{i}");
                    write_element(&key, v, out, &mut stack, &mut depth)?;
                }
                None => {
                    let at = *len_at;
                    out.push(0);
                    end_len(out, at)?;
                    stack.pop();
                    depth -= 1;
                }
            },
            Open::ScopeEnd { len_at } => {
                let at = *len_at;
                end_len(out, at)?;
                stack.pop();
            }
        }
    }
    Ok(())
}

fn too_deep() -> Error {
    Error::NestingTooDeep {
        limit: ENCODE_MAX_DEPTH,
    }
}

/// Writes one element; containers are opened and pushed onto `stack`.
fn write_element<'a>(
    key: &str,
    value: &'a Bson,
    out: &mut Vec<u8>,
    stack: &mut Vec<Open<'a>>,
    depth: &mut usize,
) -> Result<()> {
    let type_at = out.len();
    out.push(0);
    write_cstr(out, key)?;
    let type_byte: u8 = match value {
        Bson::Double(f) => {
            out.extend_from_slice(&f.to_le_bytes());
            0x01
        }
        Bson::String(s) => {
            write_string(out, s)?;
            0x02
        }
        Bson::Document(d) => {
            *depth += 1;
            if *depth > ENCODE_MAX_DEPTH {
                return Err(too_deep());
            }
            stack.push(Open::Doc {
                iter: d.iter(),
                skip_id: false,
                drop: &[],
                len_at: begin_len(out),
            });
            0x03
        }
        Bson::Array(a) => {
            *depth += 1;
            if *depth > ENCODE_MAX_DEPTH {
                return Err(too_deep());
            }
            stack.push(Open::Arr {
                iter: a.iter().enumerate(),
                len_at: begin_len(out),
            });
            0x04
        }
        Bson::Binary(b) => {
            let subtype = u8::from(b.subtype);
            let len = i32::try_from(b.bytes.len())
                .map_err(|_| Error::InvalidBson("binary too large".into()))?;
            if subtype == 2 {
                // The old binary subtype carries an inner length.
                let outer = len
                    .checked_add(4)
                    .ok_or_else(|| Error::InvalidBson("binary too large".into()))?;
                write_i32(out, outer);
                out.push(subtype);
                write_i32(out, len);
            } else {
                write_i32(out, len);
                out.push(subtype);
            }
            out.extend_from_slice(&b.bytes);
            0x05
        }
        Bson::Undefined => 0x06,
        Bson::ObjectId(oid) => {
            out.extend_from_slice(&oid.bytes());
            0x07
        }
        Bson::Boolean(b) => {
            out.push(u8::from(*b));
            0x08
        }
        Bson::DateTime(dt) => {
            out.extend_from_slice(&dt.timestamp_millis().to_le_bytes());
            0x09
        }
        Bson::Null => 0x0A,
        Bson::RegularExpression(re) => {
            write_cstr(out, re.pattern.as_str())?;
            write_cstr(out, re.options.as_str())?;
            0x0B
        }
        Bson::JavaScriptCode(code) => {
            write_string(out, code)?;
            0x0D
        }
        Bson::Symbol(s) => {
            write_string(out, s)?;
            0x0E
        }
        Bson::JavaScriptCodeWithScope(cws) => {
            *depth += 1;
            if *depth > ENCODE_MAX_DEPTH {
                return Err(too_deep());
            }
            let total_at = begin_len(out);
            write_string(out, &cws.code)?;
            stack.push(Open::ScopeEnd { len_at: total_at });
            stack.push(Open::Doc {
                iter: cws.scope.iter(),
                skip_id: false,
                drop: &[],
                len_at: begin_len(out),
            });
            0x0F
        }
        Bson::Int32(i) => {
            write_i32(out, *i);
            0x10
        }
        Bson::Timestamp(ts) => {
            out.extend_from_slice(&ts.increment.to_le_bytes());
            out.extend_from_slice(&ts.time.to_le_bytes());
            0x11
        }
        Bson::Int64(i) => {
            out.extend_from_slice(&i.to_le_bytes());
            0x12
        }
        Bson::Decimal128(d) => {
            out.extend_from_slice(&d.bytes());
            0x13
        }
        Bson::MaxKey => 0x7F,
        Bson::MinKey => 0xFF,
        // Python never holds one (pymongo decodes it as a DBRef); keep what the
        // caller gave, encoded by the bson crate, whose fields are private.
        other @ Bson::DbPointer(_) => {
            let mut one = Document::new();
            one.insert("x", other.clone());
            let bytes = one
                .to_vec()
                .map_err(|e| Error::InvalidBson(e.to_string()))?;
            // 4-byte length, type, "x\0", value..., final NUL
            let value = bytes
                .get(7..bytes.len().saturating_sub(1))
                .ok_or_else(|| Error::InvalidBson("cannot encode DBPointer".into()))?;
            out.extend_from_slice(value);
            0x0C
        }
    };
    if let Some(t) = out.get_mut(type_at) {
        *t = type_byte;
    }
    Ok(())
}

/// `bson.encode(session)` as pymongo writes it (top-level `_id` first).
///
/// # Errors
/// As [`bsz_claims`].
#[cfg(test)]
pub(crate) fn bson_encode(session: &Document) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    encode_document(session, &mut out, true, &[])?;
    Ok(out)
}

// ------------------------------------------------------------------------ decode

/// The session held by verified claims bytes, as `_decrypt_data` computes it:
/// `bsZ` is always popped; in BSON mode a truthy `bsZ` is decoded and merged over
/// the remaining claims with `dict.update`.
///
/// # Errors
/// [`Error::InvalidClaims`] when the claims are not a JSON object,
/// [`Error::BszNotString`], [`Error::Base85`], [`Error::Zlib`],
/// [`Error::DecompressedTooLarge`], [`Error::InvalidBson`],
/// [`Error::NestingTooDeep`], and pyjson's errors for values a `Document` cannot
/// hold.
pub(crate) fn session_from_claims(
    claims: &[u8],
    bson_mode: bool,
    limits: &Limits,
) -> Result<Document> {
    if let Some(text) = fast_bsz(claims) {
        // Exactly {"bsZ":"<base85 digits>"}: no JSON parser needed.
        if !bson_mode || text.is_empty() {
            return Ok(Document::new());
        }
        return decode_bsz(text, limits);
    }
    // json.loads also stops at Python's recursion limit.
    let depth = limits.max_nesting_depth.min(PY_RECURSION_LIMIT);
    let mut claims = match pyjson::loads(claims, depth) {
        Ok(Bson::Document(d)) => d,
        Ok(_) | Err(Error::InvalidJson(_)) => return Err(Error::InvalidClaims),
        Err(e) => return Err(e),
    };
    let packed = claims.remove("bsZ");
    match packed {
        Some(packed) if bson_mode && truthy(&packed) => {
            let Bson::String(text) = packed else {
                return Err(Error::BszNotString);
            };
            let session = decode_bsz(&text, limits)?;
            if claims.is_empty() {
                return Ok(session);
            }
            // dict.update: replaced keys keep their place, new keys are appended.
            for (k, v) in session {
                claims.insert(k, v);
            }
            Ok(claims)
        }
        _ => Ok(claims),
    }
}

/// [`session_from_claims`] keeping the session as raw BSON: a `bsZ`-only claims
/// object gives the inflated bytes themselves once [`check_document`] found them
/// equivalent to the document; JSON-mode claims are written as BSON while they are
/// parsed ([`pyjson::loads_to_bson`]); everything else is converted from the document.
///
/// # Errors
/// Those of [`session_from_claims`]; [`Error::NulInKey`] for a document key with
/// NUL (JSON mode only), which BSON cannot hold.
pub(crate) fn session_raw_from_claims(
    claims: &[u8],
    bson_mode: bool,
    limits: &Limits,
) -> Result<RawDocumentBuf> {
    if let Some(text) = fast_bsz(claims)
        && bson_mode
        && !text.is_empty()
    {
        // The inflated bytes become the view, so they get their own buffer.
        let mut bson = Vec::new();
        with_scratch(|s| unpack_bsz(text, limits, &mut s.zlib, &mut s.inflater, &mut bson))?;
        if check_document(&bson, limits.max_nesting_depth)? {
            return RawDocumentBuf::from_bytes(bson).map_err(|_| invalid());
        }
        return to_raw(&decode_document(&bson, limits.max_nesting_depth)?);
    }
    if !bson_mode {
        // JSON mode: the claims minus `bsZ`, written as BSON while they are parsed.
        // What the writer leaves to the document path (duplicate keys, NUL in
        // keys, values BSON cannot hold, UTF-16/32 text) falls through.
        let depth = limits.max_nesting_depth.min(PY_RECURSION_LIMIT);
        // BSON is rarely much longer than the JSON it comes from.
        let mut out = Vec::with_capacity(claims.len() + claims.len() / 4 + 16);
        match pyjson::loads_to_bson(claims, depth, Some("bsZ"), &mut out) {
            Ok(true) => return RawDocumentBuf::from_bytes(out).map_err(|_| invalid()),
            Ok(false) => {}
            Err(Error::InvalidJson(_)) => return Err(Error::InvalidClaims),
            Err(e) => return Err(e),
        }
    }
    to_raw(&session_from_claims(claims, bson_mode, limits)?)
}

/// A document as raw BSON.
///
/// # Errors
/// [`Error::NulInKey`] for a key containing NUL.
pub(crate) fn to_raw(doc: &Document) -> Result<RawDocumentBuf> {
    RawDocumentBuf::try_from(doc).map_err(|_| Error::NulInKey)
}

/// The `bsZ` text if `claims` is exactly `{"bsZ":"<base85 digits>"}`.
fn fast_bsz(claims: &[u8]) -> Option<&str> {
    let inner = claims
        .strip_prefix(br#"{"bsZ":""#)?
        .strip_suffix(br#""}"#)?;
    // Without `"`, `\` and control characters the JSON string is the bytes
    // themselves; any other non-digit is then refused by base85 decoding with the
    // error the JSON path would give. (A fold, not `all`: it vectorizes.)
    let plain = inner
        .iter()
        .fold(true, |ok, &b| ok & (b >= 0x20) & (b != b'"') & (b != b'\\'));
    if plain {
        std::str::from_utf8(inner).ok()
    } else {
        None
    }
}

/// Python truthiness of a JSON value.
fn truthy(v: &Bson) -> bool {
    match v {
        Bson::Null | Bson::Undefined => false,
        Bson::Boolean(b) => *b,
        Bson::Int32(i) => *i != 0,
        Bson::Int64(i) => *i != 0,
        Bson::Double(f) => *f != 0.0,
        Bson::String(s) => !s.is_empty(),
        Bson::Array(a) => !a.is_empty(),
        Bson::Document(d) => !d.is_empty(),
        _ => true,
    }
}

/// `bson.decode(zlib.decompress(b85decode(text)))`.
fn decode_bsz(text: &str, limits: &Limits) -> Result<Document> {
    with_scratch(|s| {
        // `zlib` holds the compressed bytes, `bson` the inflated ones.
        unpack_bsz(text, limits, &mut s.zlib, &mut s.inflater, &mut s.bson)?;
        decode_document(&s.bson, limits.max_nesting_depth)
    })
}

/// `zlib.decompress(b85decode(text))` into `out`, through the scratch buffer `zlib`
/// and the thread's inflater.
fn unpack_bsz(
    text: &str,
    limits: &Limits,
    zlib: &mut Vec<u8>,
    inflater: &mut Option<Box<Inflater>>,
    out: &mut Vec<u8>,
) -> Result<()> {
    zlib.clear();
    base85::decode_into(text, zlib)?;
    let inflater = inflater.get_or_insert_with(Box::default);
    inflate(inflater, zlib, out, limits.max_decompressed_size)
}

/// `zlib.compress(data, level)` byte for byte as madler zlib writes it (levels 4..=9),
/// with this thread's reused deflate state. Also used by the original format's
/// json serializer (level 6).
pub(crate) fn zlib_compress(data: &[u8], level: u8) -> Vec<u8> {
    with_scratch(|s| {
        let mut out = Vec::with_capacity(data.len() / 2 + 16);
        s.deflate9
            .get_or_insert_with(Box::default)
            .compress_level(data, level, &mut out);
        out
    })
}

/// `zlib.decompress(data)` with an output cap checked while inflating, with this
/// thread's reused inflate state. Also used by the original format's json serializer.
///
/// # Errors
/// [`Error::Zlib`] for an invalid or truncated stream, [`Error::DecompressedTooLarge`]
/// beyond `cap` bytes.
pub(crate) fn zlib_decompress(data: &[u8], cap: usize) -> Result<Vec<u8>> {
    with_scratch(|s| {
        let inflater = s.inflater.get_or_insert_with(Box::default);
        let mut out = Vec::new();
        inflate(inflater, data, &mut out, cap)?;
        Ok(out)
    })
}

/// `zlib.decompress(data)` into `out` (cleared first) with a cap on the output
/// checked while inflating. Bytes after the end of the stream are ignored, as
/// Python does. The inflater is `crate::inflate` (hand-written for speed on
/// cookie-sized streams; it accepts and rejects what zlib 1.2.13 does).
fn inflate(inflater: &mut Inflater, data: &[u8], out: &mut Vec<u8>, cap: usize) -> Result<()> {
    inflater.inflate(data, out, cap)
}

/// BSON "invalid length or type code", pymongo's generic message.
fn invalid() -> Error {
    Error::InvalidBson("invalid length or type code".into())
}

/// Earliest and latest milliseconds a Python `datetime` can hold (years 1 and 9999).
const MIN_DATETIME_MS: i64 = -62_135_596_800_000;
const MAX_DATETIME_MS: i64 = 253_402_300_799_999;

/// A container being built by [`DocumentSink`].
enum Container {
    Doc,
    Arr,
    /// Code with scope: the code (its scope is the container's entries).
    Scope(String),
}

/// A container the walk enters.
enum Opening<'a> {
    Doc,
    Arr,
    /// Code with scope (its code); the scope document follows.
    Scope(&'a str),
}

/// One scalar element as the walk reads it, borrowed from the input.
enum Scalar<'a> {
    Double(f64),
    Str(&'a str),
    /// Subtype and payload (an old-binary inner length already removed).
    Binary(u8, &'a [u8]),
    Undefined,
    ObjectId([u8; 12]),
    Bool(bool),
    DateTime(i64),
    Null,
    Regex(&'a str, &'a [u8]),
    DbPointer(&'a str, [u8; 12]),
    Code(&'a str),
    Symbol(&'a str),
    Int32(i32),
    Timestamp {
        time: u32,
        increment: u32,
    },
    Int64(i64),
    Decimal128([u8; 16]),
    MinKey,
    MaxKey,
}

/// What a BSON walk reports, in document order. Keys are `None` inside arrays.
trait Sink<'a> {
    fn open(&mut self, key: Option<&'a str>, opening: Opening<'a>);
    fn scalar(&mut self, key: Option<&'a str>, value: Scalar<'a>) -> Result<()>;
    fn close(&mut self);
    /// The name of an array element (pymongo ignores it; only [`CheckSink`] looks).
    #[inline]
    fn array_name(&mut self, _name: &'a [u8]) {}
}

fn read_u32(data: &[u8], pos: usize) -> Result<u32> {
    let bytes = data
        .get(pos..pos.checked_add(4).ok_or_else(invalid)?)
        .ok_or_else(invalid)?;
    let mut b = [0u8; 4];
    b.copy_from_slice(bytes);
    Ok(u32::from_le_bytes(b))
}

fn read_array<const N: usize>(data: &[u8], pos: usize) -> Result<[u8; N]> {
    let bytes = data
        .get(pos..pos.checked_add(N).ok_or_else(invalid)?)
        .ok_or_else(invalid)?;
    let mut b = [0u8; N];
    b.copy_from_slice(bytes);
    Ok(b)
}

fn utf8(bytes: &[u8]) -> Result<&str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s),
        Err(e) => {
            let at = e.valid_up_to();
            let byte = bytes.get(at).copied().unwrap_or(0);
            let reason = if e.error_len().is_none() {
                "unexpected end of data"
            } else if (0x80..0xC0).contains(&byte) || byte >= 0xF8 {
                "invalid start byte"
            } else {
                "invalid continuation byte"
            };
            Err(Error::InvalidBson(format!(
                "'utf-8' codec can't decode byte 0x{byte:02x} in position {at}: {reason}"
            )))
        }
    }
}

/// A length-prefixed, NUL-terminated string (types 0x02, 0x0D, 0x0E, and the
/// namespace of 0x0C) at `pos`, within `avail` bytes. Returns it and its size.
fn read_string(data: &[u8], pos: usize, avail: usize) -> Result<(&str, usize)> {
    if avail < 4 {
        return Err(invalid());
    }
    let len = usize::try_from(read_u32(data, pos)?).map_err(|_| invalid())?;
    if len == 0 || avail < len.saturating_add(4) {
        return Err(invalid());
    }
    let body = data.get(pos + 4..pos + 4 + len).ok_or_else(invalid)?;
    let (text, nul) = body.split_at(len - 1);
    if nul != [0] {
        return Err(invalid());
    }
    Ok((utf8(text)?, 4 + len))
}

/// A NUL-terminated string starting at `pos` and ending before `end`.
fn read_cstr(data: &[u8], pos: usize, end: usize) -> Result<&[u8]> {
    let region = data.get(pos..end).ok_or_else(invalid)?;
    let n = region.iter().position(|&b| b == 0).ok_or_else(invalid)?;
    region.get(..n).ok_or_else(invalid)
}

/// `bson.decode(data)` as pymongo's C extension does it (formats.md §4.2), with a
/// nesting limit (at most [`PY_RECURSION_LIMIT`]) and no recursion.
///
/// Deliberate difference: pymongo lets the last value of a document run into the
/// document's terminator (it reads past the end of its buffer); such crafted
/// documents are refused here with [`Error::InvalidBson`].
pub(crate) fn decode_document(data: &[u8], max_depth: usize) -> Result<Document> {
    doc_build::with_entries(|entries| {
        let mut sink = DocumentSink {
            stack: Vec::with_capacity(8),
            entries,
            done: None,
        };
        walk(data, max_depth, &mut sink)?;
        sink.done.ok_or_else(invalid)
    })
}

/// Checks `data` exactly as [`decode_document`] does, without building anything.
/// `Ok(true)` when the raw bytes read as the same document `decode_document` gives
/// (see [`CheckSink`]); `Ok(false)` when pymongo's type mapping, `DBRef` ordering
/// or duplicate keys make them differ.
pub(crate) fn check_document(data: &[u8], max_depth: usize) -> Result<bool> {
    let mut sink = CheckSink {
        keys: Vec::new(),
        starts: Vec::new(),
        same: true,
    };
    walk(data, max_depth, &mut sink)?;
    Ok(sink.same)
}

/// The BSON reader shared by [`decode_document`] and [`check_document`]: every
/// check and error lives here, the sinks only build or watch.
fn walk<'a, S: Sink<'a>>(data: &'a [u8], max_depth: usize, sink: &mut S) -> Result<()> {
    if data.len() < 5 {
        return Err(Error::InvalidBson(
            "not enough data for a BSON document".into(),
        ));
    }
    let size = i32::from_le_bytes(read_array::<4>(data, 0)?);
    if size < 5 {
        return Err(Error::InvalidBson("invalid message size".into()));
    }
    let size = usize::try_from(size).map_err(|_| invalid())?;
    if data.len() < size {
        return Err(Error::InvalidBson("objsize too large".into()));
    }
    if size != data.len() || data.get(size - 1) != Some(&0) {
        return Err(Error::InvalidBson("bad eoo".into()));
    }
    let max_depth = max_depth.min(PY_RECURSION_LIMIT);
    if max_depth == 0 {
        return Err(Error::NestingTooDeep { limit: max_depth });
    }
    // Open containers: position of the terminating NUL, and whether an array.
    let mut open: Vec<(usize, bool)> = Vec::with_capacity(8);
    open.push((size - 1, false));
    sink.open(None, Opening::Doc);
    let mut pos = 4usize;
    loop {
        let Some(&(end, is_array)) = open.last() else {
            return Err(invalid());
        };
        if pos >= end {
            if pos != end {
                return Err(invalid());
            }
            // Close this container.
            pos += 1;
            open.pop();
            sink.close();
            if open.is_empty() {
                return Ok(());
            }
            continue;
        }
        let type_byte = *data.get(pos).ok_or_else(invalid)?;
        pos += 1;
        let name = read_cstr(data, pos, end)
            .map_err(|_| Error::InvalidBson("field name too large".into()))?;
        pos += name.len() + 1;
        // Array element names are skipped unchecked, as pymongo does.
        let key = if is_array {
            sink.array_name(name);
            None
        } else {
            Some(utf8(name)?)
        };
        let avail = end.checked_sub(pos).ok_or_else(invalid)?;
        let value = match type_byte {
            0x01 => {
                let b = fixed::<8>(data, pos, avail)?;
                pos += 8;
                Scalar::Double(f64::from_le_bytes(b))
            }
            0x02 | 0x0E => {
                let (s, n) = read_string(data, pos, avail)?;
                pos += n;
                if type_byte == 0x02 {
                    Scalar::Str(s)
                } else {
                    Scalar::Symbol(s)
                }
            }
            0x03 | 0x04 => {
                if avail < 4 {
                    return Err(invalid());
                }
                let size = usize::try_from(read_u32(data, pos)?).map_err(|_| invalid())?;
                if size < 5 || avail < size {
                    return Err(invalid());
                }
                let child_end = pos + size - 1;
                if data.get(child_end) != Some(&0) {
                    return Err(invalid());
                }
                if open.len() >= max_depth {
                    return Err(Error::NestingTooDeep { limit: max_depth });
                }
                let array = type_byte == 0x04;
                sink.open(key, if array { Opening::Arr } else { Opening::Doc });
                open.push((child_end, array));
                pos += 4;
                continue;
            }
            0x05 => {
                if avail < 5 {
                    return Err(invalid());
                }
                let len = usize::try_from(read_u32(data, pos)?).map_err(|_| invalid())?;
                if avail - 5 < len {
                    return Err(invalid());
                }
                let subtype = *data.get(pos + 4).ok_or_else(invalid)?;
                let body = data.get(pos + 5..pos + 5 + len).ok_or_else(invalid)?;
                let bytes = if subtype == 2 {
                    // Old binary: an inner length that must match.
                    let inner = read_u32(data, pos + 5).map_err(|_| invalid())?;
                    if len < 4 || usize::try_from(inner).ok() != Some(len - 4) {
                        return Err(invalid());
                    }
                    body.get(4..).ok_or_else(invalid)?
                } else {
                    body
                };
                pos += 5 + len;
                Scalar::Binary(subtype, bytes)
            }
            0x06 => Scalar::Undefined,
            0x0A => Scalar::Null,
            0x07 => {
                let b = fixed::<12>(data, pos, avail)?;
                pos += 12;
                Scalar::ObjectId(b)
            }
            0x08 => {
                let b = fixed::<1>(data, pos, avail)?;
                pos += 1;
                let [byte] = b;
                match byte {
                    0 => Scalar::Bool(false),
                    1 => Scalar::Bool(true),
                    other => {
                        return Err(Error::InvalidBson(format!(
                            "invalid boolean value: {other:x}"
                        )));
                    }
                }
            }
            0x09 => {
                let b = fixed::<8>(data, pos, avail)?;
                pos += 8;
                let ms = i64::from_le_bytes(b);
                if !(MIN_DATETIME_MS..=MAX_DATETIME_MS).contains(&ms) {
                    let year = if ms < MIN_DATETIME_MS { "0" } else { "10000" };
                    return Err(Error::InvalidBson(format!("year {year} is out of range")));
                }
                Scalar::DateTime(ms)
            }
            0x0B => {
                let pattern = read_cstr(data, pos, end)?;
                let pattern = utf8(pattern)?;
                pos += pattern.len() + 1;
                let flags = read_cstr(data, pos, end)?;
                pos += flags.len() + 1;
                Scalar::Regex(pattern, flags)
            }
            0x0C => {
                let (ns, n) = read_string(data, pos, avail)?;
                if avail < n + 12 {
                    return Err(invalid());
                }
                let oid = read_array::<12>(data, pos + n)?;
                pos += n + 12;
                Scalar::DbPointer(ns, oid)
            }
            0x0D => {
                let (s, n) = read_string(data, pos, avail)?;
                pos += n;
                Scalar::Code(s)
            }
            0x0F => {
                if avail < 8 {
                    return Err(invalid());
                }
                let total = usize::try_from(read_u32(data, pos)?).map_err(|_| invalid())?;
                if avail < total {
                    return Err(invalid());
                }
                let (code, n) = read_string(data, pos + 4, avail - 4)?;
                let scope_at = pos + 4 + n;
                let scope_size =
                    usize::try_from(read_u32(data, scope_at)?).map_err(|_| invalid())?;
                if scope_size < 5 || 4 + n + scope_size != total || avail < total {
                    return Err(invalid());
                }
                let scope_end = scope_at + scope_size - 1;
                if data.get(scope_end) != Some(&0) {
                    return Err(invalid());
                }
                if open.len() >= max_depth {
                    return Err(Error::NestingTooDeep { limit: max_depth });
                }
                sink.open(key, Opening::Scope(code));
                open.push((scope_end, false));
                pos = scope_at + 4;
                continue;
            }
            0x10 => {
                let b = fixed::<4>(data, pos, avail)?;
                pos += 4;
                Scalar::Int32(i32::from_le_bytes(b))
            }
            0x11 => {
                let b = fixed::<8>(data, pos, avail)?;
                pos += 8;
                let [i0, i1, i2, i3, t0, t1, t2, t3] = b;
                Scalar::Timestamp {
                    increment: u32::from_le_bytes([i0, i1, i2, i3]),
                    time: u32::from_le_bytes([t0, t1, t2, t3]),
                }
            }
            0x12 => {
                let b = fixed::<8>(data, pos, avail)?;
                pos += 8;
                Scalar::Int64(i64::from_le_bytes(b))
            }
            0x13 => {
                let b = fixed::<16>(data, pos, avail)?;
                pos += 16;
                Scalar::Decimal128(b)
            }
            0xFF => Scalar::MinKey,
            0x7F => Scalar::MaxKey,
            other => {
                let shown = key.unwrap_or("");
                return Err(Error::InvalidBson(format!(
                    "Detected unknown BSON type b'\\x{other:02x}' for fieldname '{shown}'. \
                     Are you using the latest driver version?"
                )));
            }
        };
        sink.scalar(key, value)?;
    }
}

/// A fixed-size value at `pos`, which must fit in the `avail` bytes before the
/// container's terminator.
#[inline]
fn fixed<const N: usize>(data: &[u8], pos: usize, avail: usize) -> Result<[u8; N]> {
    if avail < N {
        return Err(invalid());
    }
    read_array::<N>(data, pos)
}

/// Builds the `Document` pymongo's decoder would give. A container's values are
/// collected until it closes, so each document and array is allocated once at its
/// final size (see [`doc_build`]).
struct DocumentSink<'e> {
    /// Open containers: what they are, their key in the parent (None for the top
    /// level and array elements), and where their values start in `entries`.
    stack: Vec<(Container, Option<Box<str>>, usize)>,
    /// The values of every open container, innermost last (array elements with an
    /// empty key).
    entries: &'e mut Vec<doc_build::Entry>,
    done: Option<Document>,
}

impl DocumentSink<'_> {
    #[inline(always)]
    fn insert(&mut self, key: Option<Box<str>>, value: Bson) {
        self.entries.push((key.unwrap_or_default(), value));
    }
}

impl<'a> Sink<'a> for DocumentSink<'_> {
    #[inline]
    fn open(&mut self, key: Option<&'a str>, opening: Opening<'a>) {
        let container = match opening {
            Opening::Doc => Container::Doc,
            Opening::Arr => Container::Arr,
            Opening::Scope(code) => Container::Scope(code.to_owned()),
        };
        self.stack
            .push((container, key.map(Box::from), self.entries.len()));
    }

    #[inline]
    fn scalar(&mut self, key: Option<&'a str>, value: Scalar<'a>) -> Result<()> {
        let value = match value {
            Scalar::Double(f) => Bson::Double(f),
            // symbol → str, as pymongo
            Scalar::Str(s) | Scalar::Symbol(s) => Bson::String(s.to_owned()),
            Scalar::Binary(subtype, bytes) => Bson::Binary(Binary {
                subtype: BinarySubtype::from(subtype),
                bytes: bytes.to_vec(),
            }),
            // undefined → None, as pymongo
            Scalar::Undefined | Scalar::Null => Bson::Null,
            Scalar::ObjectId(b) => Bson::ObjectId(ObjectId::from_bytes(b)),
            Scalar::Bool(b) => Bson::Boolean(b),
            Scalar::DateTime(ms) => Bson::DateTime(DateTime::from_millis(ms)),
            Scalar::Regex(pattern, flags) => {
                // pymongo keeps only the flags it knows, re-encoded in this order.
                let options: String = "ilmsux"
                    .chars()
                    .filter(|c| u8::try_from(*c).is_ok_and(|b| flags.contains(&b)))
                    .collect();
                let pattern = pattern.to_owned().try_into().map_err(|_| invalid())?;
                let options = options.try_into().map_err(|_| invalid())?;
                Bson::RegularExpression(Regex { pattern, options })
            }
            Scalar::DbPointer(ns, oid) => {
                // DBPointer → DBRef(collection, id), shown as a document.
                let mut d = Document::new();
                d.insert("$ref", ns);
                d.insert("$id", ObjectId::from_bytes(oid));
                Bson::Document(d)
            }
            Scalar::Code(s) => Bson::JavaScriptCode(s.to_owned()),
            Scalar::Int32(i) => Bson::Int32(i),
            Scalar::Timestamp { time, increment } => Bson::Timestamp(Timestamp { time, increment }),
            Scalar::Int64(i) => Bson::Int64(i),
            Scalar::Decimal128(b) => Bson::Decimal128(Decimal128::from_bytes(b)),
            Scalar::MinKey => Bson::MinKey,
            Scalar::MaxKey => Bson::MaxKey,
        };
        self.insert(key.map(Box::from), value);
        Ok(())
    }

    fn close(&mut self) {
        let Some((container, key, start)) = self.stack.pop() else {
            return;
        };
        let start = start.min(self.entries.len());
        // Only a document with a `$ref` key can be a DBRef: checking the keys here
        // spares the hook's hash lookups on every other document.
        let may_be_dbref = matches!(container, Container::Doc)
            && self
                .entries
                .get(start..)
                .is_some_and(|c| c.iter().any(|(k, _)| &**k == "$ref"));
        let children = self.entries.drain(start..);
        let value = match container {
            Container::Doc => {
                let d = doc_build::document_from(children);
                if self.stack.is_empty() {
                    // The top level gets no DBRef treatment.
                    self.done = Some(d);
                    return;
                }
                Bson::Document(if may_be_dbref { dbref_hook(d) } else { d })
            }
            Container::Arr => Bson::Array(children.map(|(_, v)| v).collect()),
            Container::Scope(code) => Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope {
                code,
                scope: doc_build::document_from(children),
            }),
        };
        self.insert(key, value);
    }
}

/// Siblings compared for duplicate keys; a bigger container is simply reported as
/// "not the same" (the caller then takes the `Document` path), which keeps the
/// check linear for hostile inputs.
const CHECK_MAX_SIBLINGS: usize = 64;

/// Watches a walk for what makes the raw bytes read differently from the
/// `Document` [`decode_document`] builds: pymongo's mapping of legacy types
/// (undefined, symbol, DBPointer), regex flag filtering, old binary, `DBRef`
/// reordering (any `$ref` key), duplicate keys (the `Document` keeps the last
/// value, a raw lookup finds the first) and array element names that are not
/// UTF-8 (pymongo skips them, a raw reader refuses them).
struct CheckSink<'a> {
    /// Keys of the open documents, innermost last.
    keys: Vec<&'a str>,
    /// Where each open container's keys start in `keys`.
    starts: Vec<usize>,
    same: bool,
}

impl<'a> CheckSink<'a> {
    fn key(&mut self, key: Option<&'a str>) {
        let Some(key) = key else { return };
        if !self.same {
            return;
        }
        let start = self.starts.last().copied().unwrap_or(0);
        let siblings = self.keys.get(start..).unwrap_or_default();
        if key == "$ref" || siblings.len() >= CHECK_MAX_SIBLINGS || siblings.contains(&key) {
            self.same = false;
        } else {
            self.keys.push(key);
        }
    }
}

impl<'a> Sink<'a> for CheckSink<'a> {
    fn open(&mut self, key: Option<&'a str>, _opening: Opening<'a>) {
        self.key(key);
        self.starts.push(self.keys.len());
    }

    fn scalar(&mut self, key: Option<&'a str>, value: Scalar<'a>) -> Result<()> {
        self.key(key);
        if matches!(
            value,
            Scalar::Undefined
                | Scalar::Symbol(_)
                | Scalar::DbPointer(..)
                | Scalar::Regex(..)
                | Scalar::Binary(2, _)
        ) {
            self.same = false;
        }
        Ok(())
    }

    fn close(&mut self) {
        if let Some(start) = self.starts.pop() {
            self.keys.truncate(start);
        }
    }

    /// A raw lookup reads array element names as UTF-8 (pymongo ignores them).
    fn array_name(&mut self, name: &'a [u8]) {
        if !name.is_ascii() && std::str::from_utf8(name).is_err() {
            self.same = false;
        }
    }
}

/// pymongo's `_dbref_hook`: a sub-document with `$ref` (a string) and `$id` (and
/// `$db` absent, null or a string) becomes a `DBRef`, whose document form is
/// `$ref`, `$id`, `$db` (unless null), then the other keys in order.
fn dbref_hook(d: Document) -> Document {
    let ok = matches!(d.get("$ref"), Some(Bson::String(_)))
        && d.contains_key("$id")
        && matches!(
            d.get("$db"),
            None | Some(Bson::Null) | Some(Bson::String(_))
        );
    let in_order = {
        let mut keys = d.keys();
        keys.next().map(String::as_str) == Some("$ref")
            && keys.next().map(String::as_str) == Some("$id")
            && !matches!(d.get("$db"), Some(Bson::Null))
            && (!d.contains_key("$db") || keys.next().map(String::as_str) == Some("$db"))
    };
    if !ok || in_order {
        return d;
    }
    let mut d = d;
    let mut out = Document::new();
    for name in ["$ref", "$id", "$db"] {
        match d.remove(name) {
            Some(Bson::Null) if name == "$db" => {}
            Some(v) => {
                out.insert(name, v);
            }
            None => {}
        }
    }
    for (k, v) in d {
        out.insert(k, v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn id_goes_first_at_top_level_only() {
        let d = doc! { "a": 1, "_id": "x", "n": { "b": 2, "_id": 3 } };
        let bytes = bson_encode(&d).unwrap();
        let back = decode_document(&bytes, 10).unwrap();
        let keys: Vec<_> = back.keys().cloned().collect();
        assert_eq!(keys, ["_id", "a", "n"]);
        let inner: Vec<_> = back.get_document("n").unwrap().keys().cloned().collect();
        assert_eq!(inner, ["b", "_id"]);
    }

    // Bytes from pymongo 4.20: bson.encode({"a": 1, "b": [True, None], "c": 2**40, "d": 1.5})
    #[test]
    fn encode_matches_pymongo() {
        let d = doc! { "a": 1, "b": [true, Bson::Null], "c": 1_i64 << 40, "d": 1.5 };
        assert_eq!(
            bson_encode(&d).unwrap(),
            b"1\x00\x00\x00\x10a\x00\x01\x00\x00\x00\x04b\x00\x0c\x00\x00\x00\x080\x00\x01\n1\x00\x00\x12c\x00\x00\x00\x00\x00\x00\x01\x00\x00\x01d\x00\x00\x00\x00\x00\x00\x00\xf8?\x00"
        );
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // pymongo 4.20: bson.encode({'r': Regex('a.b', 'im'), 'c': Code('f()'),
    // 'cs': Code('g()', {'x': 1}), 't': Timestamp(5, 7), 'dec': Decimal128('1.5'),
    // 'mn': MinKey(), 'mx': MaxKey(), 'b2': Binary(b'xy', 2),
    // 'b4': Binary(b'0123456789abcdef', 4), 'o': ObjectId('6a29a464871f947134b99452'),
    // 'dt': datetime(2024,6,1,12,30,45,123000), 'i': Int64(7), '_id': 1}).hex()
    const PY_TYPES: &str = "b5000000105f696400010000000b7200612e6200696d000d630004000000662829000f6373001800000004000000672829000c0000001078000100000000117400070000000500000013646563000f000000000000000000000000003e30ff6d6e007f6d780005623200060000000202000000787905623400100000000430313233343536373839616263646566076f006a29a464871f947134b994520964740083e9c7d38f010000126900070000000000000000";

    #[test]
    fn bson_types_match_pymongo_both_ways() {
        let bytes = unhex(PY_TYPES);
        let d = decode_document(&bytes, 10).unwrap();
        let keys: Vec<_> = d.keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "_id", "r", "c", "cs", "t", "dec", "mn", "mx", "b2", "b4", "o", "dt", "i"
            ]
        );
        assert_eq!(d.get_i64("i").unwrap(), 7);
        assert_eq!(
            d.get_datetime("dt").unwrap().timestamp_millis(),
            1_717_245_045_123
        );
        match d.get("b2") {
            Some(Bson::Binary(b)) => {
                assert_eq!(b.subtype, BinarySubtype::BinaryOld);
                assert_eq!(b.bytes, b"xy");
            }
            other => panic!("{other:?}"),
        }
        // re-encoding gives pymongo's bytes again
        assert_eq!(bson_encode(&d).unwrap(), bytes);
    }

    // Raw BSON with undefined, symbol, DBPointer and a duplicate key; pymongo decodes it
    // as {"u": None, "s": "hi", "p": DBRef("coll", ObjectId(...)), "x": 2}.
    #[test]
    fn legacy_types_decode_like_pymongo() {
        let bytes = unhex(
            "380000000675000e7300030000006869000c700005000000636f6c6c006a29a464871f947134b99452107800010000001078000200000000",
        );
        let d = decode_document(&bytes, 10).unwrap();
        let oid = ObjectId::parse_str("6a29a464871f947134b99452").unwrap();
        let expected = doc! {
            "u": Bson::Null,
            "s": "hi",
            "p": { "$ref": "coll", "$id": oid },
            "x": 2,
        };
        assert_eq!(d, expected);
        let keys: Vec<_> = d.keys().cloned().collect();
        assert_eq!(keys, ["u", "s", "p", "x"]);
    }

    #[test]
    fn datetime_range_is_pythons() {
        let dt = |ms: i64| {
            let mut body = vec![0x09, b'x', 0];
            body.extend_from_slice(&ms.to_le_bytes());
            let mut d = u32::try_from(body.len() + 5)
                .unwrap()
                .to_le_bytes()
                .to_vec();
            d.extend_from_slice(&body);
            d.push(0);
            decode_document(&d, 10)
        };
        assert!(dt(MIN_DATETIME_MS).is_ok());
        assert!(dt(MAX_DATETIME_MS).is_ok());
        assert!(matches!(
            dt(MIN_DATETIME_MS - 1),
            Err(Error::InvalidBson(_))
        ));
        assert!(matches!(
            dt(MAX_DATETIME_MS + 1),
            Err(Error::InvalidBson(_))
        ));
    }

    #[test]
    fn nul_in_key_is_refused() {
        assert!(matches!(
            bsz_claims(&doc! { "a\0b": 1 }),
            Err(Error::NulInKey)
        ));
    }

    #[test]
    fn round_trip_through_claims() {
        let d = doc! { "_id": "abc", "n": 1, "s": "é", "l": [1, "x", { "k": false }] };
        let claims = bsz_claims(&d).unwrap();
        assert!(claims.starts_with(r#"{"bsZ":""#));
        let back = session_from_claims(claims.as_bytes(), true, &limits()).unwrap();
        assert_eq!(back, d);
        // JSON mode drops bsZ
        let back = session_from_claims(claims.as_bytes(), false, &limits()).unwrap();
        assert!(back.is_empty());
    }

    #[test]
    fn fast_bsz_path_agrees_with_the_json_path() {
        // The same JSON string value written with every character \u-escaped takes
        // the JSON parser; both must give the same session or the same error.
        let good = bsz_claims(&doc! { "a": 1, "s": "x" }).unwrap();
        let digits = good
            .strip_prefix(r#"{"bsZ":""#)
            .and_then(|s| s.strip_suffix(r#""}"#))
            .unwrap()
            .to_owned();
        let variants = [
            digits.clone(),
            String::new(),
            format!("{digits} "),
            format!("{}.{}", &digits[..7], &digits[7..]),
            format!("{}\u{7f}", &digits[..10]),
            format!("{}é", &digits[..10]),
            format!("{}'", &digits[..12]),
        ];
        for text in variants {
            let fast = format!(r#"{{"bsZ":"{text}"}}"#);
            let escaped: String = text.encode_utf16().map(|u| format!("\\u{u:04x}")).collect();
            let slow = format!(r#"{{"bsZ":"{escaped}"}}"#);
            for bson_mode in [true, false] {
                let a = session_from_claims(fast.as_bytes(), bson_mode, &limits());
                let b = session_from_claims(slow.as_bytes(), bson_mode, &limits());
                assert_eq!(
                    format!("{a:?}"),
                    format!("{b:?}"),
                    "{text:?} bson {bson_mode}"
                );
            }
        }
        // A raw control character is invalid JSON: never taken as base85 digits.
        let raw_tab = format!("{{\"bsZ\":\"{}\t\"}}", &digits[..10]);
        assert!(matches!(
            session_from_claims(raw_tab.as_bytes(), true, &limits()),
            Err(Error::InvalidClaims)
        ));
    }

    #[test]
    fn decode_errors_are_typed() {
        let l = limits();
        assert!(matches!(
            decode_document(b"\x05\x00\x00\x00", 10),
            Err(Error::InvalidBson(_))
        ));
        // bool byte 2
        assert!(matches!(
            decode_document(b"\x09\x00\x00\x00\x08x\x00\x02\x00", 10),
            Err(Error::InvalidBson(m)) if m == "invalid boolean value: 2"
        ));
        // trailing byte after the document
        assert!(matches!(
            decode_document(b"\x05\x00\x00\x00\x00\x00", 10),
            Err(Error::InvalidBson(m)) if m == "bad eoo"
        ));
        assert!(matches!(
            decode_document(b"\x06\x00\x00\x00\x00", 10),
            Err(Error::InvalidBson(m)) if m == "objsize too large"
        ));
        assert!(matches!(
            session_from_claims(br#"{"bsZ":5}"#, true, &l),
            Err(Error::BszNotString)
        ));
        assert!(matches!(
            session_from_claims(br#"{"bsZ":"0000"}"#, true, &l),
            Err(Error::Zlib)
        ));
        assert!(matches!(
            session_from_claims(br#"[1]"#, true, &l),
            Err(Error::InvalidClaims)
        ));
        for falsy in ["\"\"", "0", "0.0", "null", "false", "[]", "{}"] {
            let c = format!(r#"{{"a":1,"bsZ":{falsy}}}"#);
            assert_eq!(
                session_from_claims(c.as_bytes(), true, &l).unwrap(),
                doc! { "a": 1 }
            );
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_recursion() {
        // 100 000 nested documents {"a": {"a": ...}}: document k (0 = outermost)
        // is 5 + 8 * (n - k) bytes long.
        let n = 100_000u32;
        let mut doc = Vec::with_capacity(8 * n as usize + 5);
        for k in 0..n {
            doc.extend_from_slice(&(5 + 8 * (n - k)).to_le_bytes());
            doc.extend_from_slice(b"\x03a\x00");
        }
        doc.extend_from_slice(b"\x05\x00\x00\x00\x00");
        doc.extend(std::iter::repeat_n(0u8, n as usize));
        assert!(matches!(
            decode_document(&doc, 200),
            Err(Error::NestingTooDeep { limit: 200 })
        ));
    }

    #[test]
    fn encode_depth_is_capped_like_pythons_recursion_limit() {
        fn nested(levels: usize) -> Document {
            let mut d = doc! { "leaf": 1 };
            for _ in 1..levels {
                d = doc! { "a": d };
            }
            d
        }
        assert!(bson_encode(&nested(ENCODE_MAX_DEPTH)).is_ok());
        assert!(matches!(
            bsz_claims(&nested(ENCODE_MAX_DEPTH + 1)),
            Err(Error::NestingTooDeep { .. })
        ));
    }

    #[test]
    fn depth_limit_is_capped_at_pythons_recursion_limit() {
        let n = 5000u32;
        let mut doc = Vec::new();
        for k in 0..n {
            doc.extend_from_slice(&(5 + 8 * (n - k)).to_le_bytes());
            doc.extend_from_slice(b"\x03a\x00");
        }
        doc.extend_from_slice(b"\x05\x00\x00\x00\x00");
        doc.extend(std::iter::repeat_n(0u8, n as usize));
        assert!(matches!(
            decode_document(&doc, usize::MAX),
            Err(Error::NestingTooDeep {
                limit: PY_RECURSION_LIMIT
            })
        ));
    }

    #[test]
    fn depth_limit_is_exact() {
        let d = doc! { "a": { "b": [ 1 ] } }; // depth 3
        let bytes = bson_encode(&d).unwrap();
        assert!(decode_document(&bytes, 3).is_ok());
        assert!(matches!(
            decode_document(&bytes, 2),
            Err(Error::NestingTooDeep { limit: 2 })
        ));
    }

    // Regression: caps below 256 made `clamp` panic (found by the any-input proptest).
    #[test]
    fn inflate_cap_below_256_is_exact() {
        let mut d = Inflater::default();
        for len in [0usize, 1, 5, 255, 256, 300] {
            let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
            std::io::Write::write_all(&mut z, &vec![0u8; len]).unwrap();
            let stream = z.finish().unwrap();
            for cap in [0usize, 1, len.saturating_sub(1), len, len + 1, 255, 256] {
                let mut out = Vec::new();
                let r = inflate(&mut d, &stream, &mut out, cap);
                if len > cap {
                    assert!(
                        matches!(r, Err(Error::DecompressedTooLarge { .. })),
                        "{len} {cap}"
                    );
                } else {
                    assert!(r.is_ok(), "{len} {cap}: {r:?}");
                    assert_eq!(out.len(), len);
                }
            }
        }
    }

    #[test]
    fn inflate_cap_is_checked_while_inflating() {
        let d = doc! { "big": "x".repeat(100_000) };
        let claims = bsz_claims(&d).unwrap();
        let small = Limits {
            max_decompressed_size: 10_000,
            ..Limits::default()
        };
        assert!(matches!(
            session_from_claims(claims.as_bytes(), true, &small),
            Err(Error::DecompressedTooLarge { limit: 10_000 })
        ));
        assert_eq!(
            session_from_claims(claims.as_bytes(), true, &limits()).unwrap(),
            d
        );
    }

    // A stream that inflates past the cap and only then fails its Adler-32: the
    // cap is reported, as a capped `zlib.decompressobj().decompress(data, cap + 1)`
    // returns cap + 1 bytes before Python ever reaches the check (found as a false
    // alarm of the inflate fuzz target, whose reference did not cap).
    #[test]
    fn cap_is_reported_before_a_bad_check_further_on() {
        let mut z = zlib_compress(&vec![0u8; 3 << 20], 9);
        if let Some(last) = z.last_mut() {
            *last ^= 1;
        }
        assert!(matches!(
            zlib_decompress(&z, 1 << 20),
            Err(Error::DecompressedTooLarge { limit }) if limit == 1 << 20
        ));
        assert!(matches!(zlib_decompress(&z, 4 << 20), Err(Error::Zlib)));
    }

    #[test]
    fn dbref_documents_are_reordered_like_pymongo() {
        let d = doc! { "r": { "$id": 1, "x": 2, "$ref": "c", "$db": Bson::Null } };
        let back = decode_document(&bson_encode(&d).unwrap(), 10).unwrap();
        assert_eq!(
            back.get_document("r").unwrap(),
            &doc! { "$ref": "c", "$id": 1, "x": 2 }
        );
        let keys: Vec<_> = back.get_document("r").unwrap().keys().cloned().collect();
        assert_eq!(keys, ["$ref", "$id", "x"]);
    }
}
