//! Python's `json` module, as the reference uses it: `json.loads` (NaN/Infinity,
//! unbounded ints, duplicate keys, UTF-16/32 detection) and `json.dumps` rendering
//! (Python float repr, raw UTF-8 or `\uXXXX` escapes). One scanner feeds either a
//! `Bson` builder or, for `decode_raw`, a writer of BSON bytes ([`loads_to_bson`]).
//!
//! Hand-written rather than serde_json because fidelity to CPython 3.11's `json`
//! demands it: serde_json rejects `NaN`/`Infinity`, has no encoding detection,
//! keeps the last duplicate key at its last position and renders floats differently.

use std::borrow::Cow;

use bson::{Bson, Document};

use crate::doc_build;
use crate::error::{Error, Result};

// ------------------------------------------------------------------------ loads

/// `json.loads(bytes)`: any JSON value; integers beyond int64 are
/// [`Error::IntegerOutOfRange`] naming the top-level key; depth capped.
///
/// Errors: [`Error::InvalidJson`] for everything `json.loads` rejects (bad encoding,
/// syntax, integers longer than 4300 digits), [`Error::NestingTooDeep`] for more than
/// `max_depth` nested arrays/objects, and — only when the text is otherwise valid —
/// [`Error::IntegerOutOfRange`] or [`Error::LoneSurrogate`] for values Python holds but
/// a `Bson` cannot.
pub(crate) fn loads(bytes: &[u8], max_depth: usize) -> Result<Bson> {
    let text = decode_text(bytes)?;
    let (s, utf8) = match &text {
        Text::Utf8(t) => (t.as_bytes(), Some(*t)),
        Text::Generalized(b) => (&b[..], None),
    };
    doc_build::with_entries(|entries| {
        let mut sink = DocSink::new(entries);
        Parser::new(s, utf8, max_depth).run(&mut sink)?;
        sink.finish()
    })
}

/// `json.loads(str)`: like [`loads`] on text that is already decoded (no encoding
/// detection, so a leading U+FEFF is an error as in Python).
pub(crate) fn loads_str(text: &str, max_depth: usize) -> Result<Bson> {
    doc_build::with_entries(|entries| {
        let mut sink = DocSink::new(entries);
        Parser::new(text.as_bytes(), Some(text), max_depth).run(&mut sink)?;
        sink.finish()
    })
}

/// Decoded JSON text: plain UTF-8 (the usual case, kept as `&str` so strings are
/// sliced out without validating them again), or generalized UTF-8 with surrogates.
enum Text<'a> {
    Utf8(&'a str),
    Generalized(Cow<'a, [u8]>),
}

/// Python's `json.detect_encoding`, then `bytes.decode(encoding, "surrogatepass")`.
///
/// The result is "generalized UTF-8" (WTF-8-like): valid UTF-8 except that surrogate
/// code points may appear as 3-byte sequences, because Python's decoders (with
/// `surrogatepass`) produce them and `json.loads` keeps them in strings.
fn decode_text(b: &[u8]) -> Result<Text<'_>> {
    const BOM_UTF8: &[u8] = b"\xEF\xBB\xBF";
    let owned = |r: Result<Vec<u8>>| r.map(|v| Text::Generalized(Cow::Owned(v)));
    if b.starts_with(b"\x00\x00\xFE\xFF") {
        return owned(decode_utf32(b.get(4..).unwrap_or_default(), true));
    }
    if b.starts_with(b"\xFF\xFE\x00\x00") {
        return owned(decode_utf32(b.get(4..).unwrap_or_default(), false));
    }
    if b.starts_with(b"\xFE\xFF") {
        return owned(decode_utf16(b.get(2..).unwrap_or_default(), true));
    }
    if b.starts_with(b"\xFF\xFE") {
        return owned(decode_utf16(b.get(2..).unwrap_or_default(), false));
    }
    if let Some(rest) = b.strip_prefix(BOM_UTF8) {
        return check_utf8_surrogatepass(rest);
    }
    match b {
        [0, b1, _, _, ..] => {
            // 00 XX -- -- utf-16-be, 00 00 -- -- utf-32-be
            if *b1 != 0 {
                owned(decode_utf16(b, true))
            } else {
                owned(decode_utf32(b, true))
            }
        }
        [_, 0, b2, b3, ..] => {
            if *b2 != 0 || *b3 != 0 {
                owned(decode_utf16(b, false))
            } else {
                owned(decode_utf32(b, false))
            }
        }
        [0, _] => owned(decode_utf16(b, true)),
        [_, 0] => owned(decode_utf16(b, false)),
        _ => check_utf8_surrogatepass(b),
    }
}

/// Strict UTF-8, except that encoded surrogates (`ED A0..BF 80..BF`) are allowed
/// (Python's `surrogatepass`).
fn check_utf8_surrogatepass(b: &[u8]) -> Result<Text<'_>> {
    if let Ok(text) = std::str::from_utf8(b) {
        return Ok(Text::Utf8(text));
    }
    let bad = || Error::InvalidJson("invalid UTF-8".into());
    let mut rest = b;
    loop {
        match std::str::from_utf8(rest) {
            Ok(_) => return Ok(Text::Generalized(Cow::Borrowed(b))),
            Err(e) => {
                let after = rest.get(e.valid_up_to()..).ok_or_else(bad)?;
                match after {
                    [0xED, 0xA0..=0xBF, 0x80..=0xBF, tail @ ..] => rest = tail,
                    _ => return Err(bad()),
                }
            }
        }
    }
}

/// Appends a code point (surrogates included) in generalized UTF-8.
fn push_cp(out: &mut Vec<u8>, cp: u32) {
    // Each cast below takes bits that fit in a byte by construction.
    if cp < 0x80 {
        out.push(cp as u8);
    } else if cp < 0x800 {
        out.push(0xC0 | (cp >> 6) as u8);
        out.push(0x80 | (cp & 0x3F) as u8);
    } else if cp < 0x10000 {
        out.push(0xE0 | (cp >> 12) as u8);
        out.push(0x80 | ((cp >> 6) & 0x3F) as u8);
        out.push(0x80 | (cp & 0x3F) as u8);
    } else {
        out.push(0xF0 | ((cp >> 18) & 0x07) as u8);
        out.push(0x80 | ((cp >> 12) & 0x3F) as u8);
        out.push(0x80 | ((cp >> 6) & 0x3F) as u8);
        out.push(0x80 | (cp & 0x3F) as u8);
    }
}

/// Python's UTF-16 decoder with `surrogatepass`: pairs combine, lone surrogates pass.
fn decode_utf16(b: &[u8], big_endian: bool) -> Result<Vec<u8>> {
    if !b.len().is_multiple_of(2) {
        return Err(Error::InvalidJson("UTF-16: truncated data".into()));
    }
    let units = b.chunks_exact(2).map(|c| match c {
        [x, y] if big_endian => u16::from_be_bytes([*x, *y]),
        [x, y] => u16::from_le_bytes([*x, *y]),
        _ => 0,
    });
    let mut out = Vec::with_capacity(b.len());
    for r in char::decode_utf16(units) {
        match r {
            Ok(c) => push_cp(&mut out, u32::from(c)),
            Err(e) => push_cp(&mut out, u32::from(e.unpaired_surrogate())),
        }
    }
    Ok(out)
}

/// Python's UTF-32 decoder with `surrogatepass`: surrogates pass one by one (never
/// combined), code points above U+10FFFF are errors.
fn decode_utf32(b: &[u8], big_endian: bool) -> Result<Vec<u8>> {
    if !b.len().is_multiple_of(4) {
        return Err(Error::InvalidJson("UTF-32: truncated data".into()));
    }
    let mut out = Vec::with_capacity(b.len());
    for c in b.chunks_exact(4) {
        let cp = match c {
            [w, x, y, z] if big_endian => u32::from_be_bytes([*w, *x, *y, *z]),
            [w, x, y, z] => u32::from_le_bytes([*w, *x, *y, *z]),
            _ => 0,
        };
        if cp > 0x10FFFF {
            return Err(Error::InvalidJson("UTF-32: code point not in range".into()));
        }
        push_cp(&mut out, cp);
    }
    Ok(out)
}

/// The maximum number of digits CPython 3.11 converts to an int
/// (`sys.get_int_max_str_digits()`); longer ones raise `ValueError`.
const INT_MAX_STR_DIGITS: usize = 4300;

/// The scanner: tokens, numbers, strings and the structure of the text. What it
/// reads goes to a [`Sink`], which builds a `Bson` ([`DocSink`]) or BSON bytes
/// ([`BsonSink`]).
struct Parser<'a> {
    s: &'a [u8],
    /// `s` as text when it is plain UTF-8 (no surrogates).
    utf8: Option<&'a str>,
    pos: usize,
    max_depth: usize,
    /// Open arrays/objects with content (empty ones never open).
    depth: usize,
}

/// A scalar as the scanner reads it; strings borrow from the text when they can.
enum Scalar<'a> {
    Str(Cow<'a, str>),
    /// A string with a lone surrogate: Python holds it, a `Bson` cannot.
    LoneSurrogate,
    Int(i64),
    /// An integer beyond int64: Python holds it, a `Bson` cannot.
    OutOfRange,
    Double(f64),
    Bool(bool),
    Null,
}

/// An object key, or its lossy copy when it holds a lone surrogate.
type Key<'a> = std::result::Result<Cow<'a, str>, String>;

/// Where the scanner's values go, in text order. A value is a scalar, an empty
/// container, or a `begin_*` … `end_*` run; object members are announced by keys.
trait Sink<'a> {
    /// The innermost open container: `Some(true)` for an array, `Some(false)` for
    /// an object, `None` at the top level.
    fn innermost(&self) -> Option<bool>;
    fn scalar(&mut self, value: Scalar<'a>) -> Result<()>;
    fn empty_object(&mut self) -> Result<()>;
    fn empty_array(&mut self) -> Result<()>;
    /// An object with members opens; `key` is its first key.
    fn begin_object(&mut self, key: Key<'a>) -> Result<()>;
    fn begin_array(&mut self) -> Result<()>;
    /// The next key of the innermost object.
    fn key(&mut self, key: Key<'a>) -> Result<()>;
    fn end_object(&mut self) -> Result<()>;
    fn end_array(&mut self) -> Result<()>;
}

/// One open container of [`DocSink`].
/// Each holds where its values start in [`DocSink::entries`].
enum Frame {
    Array(usize),
    /// Also the key whose value is being parsed.
    Object(usize, String),
}

/// Builds the `Bson` value `json.loads` returns. A container's values are
/// collected until it closes, so each document and array is allocated once at its
/// final size (see [`doc_build`]).
struct DocSink<'e> {
    stack: Vec<Frame>,
    /// The values of every open container, innermost last (array elements with an
    /// empty key).
    entries: &'e mut Vec<doc_build::Entry>,
    done: Option<Bson>,
    /// Whether a value Python accepts but `Bson` cannot hold was replaced by a
    /// placeholder ([`OUT_OF_RANGE`] or [`LONE_SURROGATE`]). Reported only if the text
    /// parses and the placeholder survives duplicate keys, as Python returns a value.
    placeholders: bool,
    /// A key with a lone surrogate (keys always survive), reported like placeholders.
    key_error: Option<Error>,
}

/// Placeholder for an integer beyond int64 (JSON never produces MaxKey).
const OUT_OF_RANGE: Bson = Bson::MaxKey;
/// Placeholder for a string with a lone surrogate (JSON never produces MinKey).
const LONE_SURROGATE: Bson = Bson::MinKey;

/// The first placeholder left in `value`, as the error it stands for.
fn find_placeholder(value: &Bson, key: Option<&str>) -> Option<Error> {
    let mut todo = vec![value];
    while let Some(v) = todo.pop() {
        match v {
            Bson::MaxKey => {
                return Some(Error::IntegerOutOfRange {
                    key: key.map(str::to_owned),
                });
            }
            Bson::MinKey => {
                return Some(Error::LoneSurrogate {
                    key: key.map(str::to_owned),
                });
            }
            Bson::Array(items) => todo.extend(items.iter().rev()),
            Bson::Document(d) => {
                let start = todo.len();
                todo.extend(d.values());
                if let Some(tail) = todo.get_mut(start..) {
                    tail.reverse();
                }
            }
            _ => {}
        }
    }
    None
}

impl<'e> DocSink<'e> {
    fn new(entries: &'e mut Vec<doc_build::Entry>) -> Self {
        DocSink {
            stack: Vec::new(),
            entries,
            done: None,
            placeholders: false,
            key_error: None,
        }
    }

    /// Attaches a finished value to its container (or keeps it as the result).
    /// Python dict semantics for duplicate keys (first position, last value) come
    /// from [`doc_build::document_from`].
    #[inline(always)]
    fn attach(&mut self, value: Bson) {
        match self.stack.last_mut() {
            None => self.done = Some(value),
            Some(Frame::Array(_)) => self.entries.push((Box::default(), value)),
            Some(Frame::Object(_, key)) => {
                let key = std::mem::take(key).into_boxed_str();
                self.entries.push((key, value));
            }
        }
    }

    fn key_text(&mut self, key: Key<'_>) -> String {
        match key {
            Ok(k) => k.into_owned(),
            Err(lossy) => {
                if self.key_error.is_none() {
                    // The top-level key under which the key sits (`""` once a
                    // top-level member is attached), as the error names it.
                    let top = match self.stack.first() {
                        Some(Frame::Object(_, key)) => Some(key.clone()),
                        _ => None,
                    };
                    self.key_error = Some(Error::LoneSurrogate { key: top });
                }
                lossy
            }
        }
    }

    /// The parsed value, or the error for a placeholder or key that survived.
    fn finish(mut self) -> Result<Bson> {
        let value = self
            .done
            .take()
            .ok_or_else(|| Error::InvalidJson("internal parser state".into()))?;
        if self.placeholders {
            let found = match &value {
                Bson::Document(d) => d.iter().find_map(|(k, v)| find_placeholder(v, Some(k))),
                other => find_placeholder(other, None),
            };
            if let Some(e) = found {
                return Err(e);
            }
        }
        match self.key_error.take() {
            Some(e) => Err(e),
            None => Ok(value),
        }
    }
}

impl<'a> Sink<'a> for DocSink<'_> {
    #[inline]
    fn innermost(&self) -> Option<bool> {
        self.stack.last().map(|f| matches!(f, Frame::Array(_)))
    }

    #[inline]
    fn scalar(&mut self, value: Scalar<'a>) -> Result<()> {
        let value = match value {
            Scalar::Str(s) => Bson::String(s.into_owned()),
            Scalar::Int(n) => match i32::try_from(n) {
                Ok(small) => Bson::Int32(small),
                Err(_) => Bson::Int64(n),
            },
            Scalar::Double(x) => Bson::Double(x),
            Scalar::Bool(b) => Bson::Boolean(b),
            Scalar::Null => Bson::Null,
            Scalar::LoneSurrogate => {
                self.placeholders = true;
                LONE_SURROGATE
            }
            Scalar::OutOfRange => {
                self.placeholders = true;
                OUT_OF_RANGE
            }
        };
        self.attach(value);
        Ok(())
    }

    #[inline]
    fn empty_object(&mut self) -> Result<()> {
        self.attach(Bson::Document(Document::new()));
        Ok(())
    }

    #[inline]
    fn empty_array(&mut self) -> Result<()> {
        self.attach(Bson::Array(Vec::new()));
        Ok(())
    }

    #[inline]
    fn begin_object(&mut self, key: Key<'a>) -> Result<()> {
        let key = self.key_text(key);
        self.stack.push(Frame::Object(self.entries.len(), key));
        Ok(())
    }

    #[inline]
    fn begin_array(&mut self) -> Result<()> {
        self.stack.push(Frame::Array(self.entries.len()));
        Ok(())
    }

    #[inline]
    fn key(&mut self, key: Key<'a>) -> Result<()> {
        let k = self.key_text(key);
        if let Some(Frame::Object(_, key)) = self.stack.last_mut() {
            *key = k;
        }
        Ok(())
    }

    #[inline]
    fn end_object(&mut self) -> Result<()> {
        match self.stack.pop() {
            Some(Frame::Object(start, _)) => {
                let entries = self.entries.drain(start.min(self.entries.len())..);
                let doc = doc_build::document_from(entries);
                self.attach(Bson::Document(doc));
            }
            _ => return err("internal parser state"),
        }
        Ok(())
    }

    #[inline]
    fn end_array(&mut self) -> Result<()> {
        match self.stack.pop() {
            Some(Frame::Array(start)) => {
                let entries = self.entries.drain(start.min(self.entries.len())..);
                let items = entries.map(|(_, v)| v).collect();
                self.attach(Bson::Array(items));
            }
            _ => return err("internal parser state"),
        }
        Ok(())
    }
}

/// `json.loads(bytes)` of a JSON object written straight into `out` as a BSON
/// document, leaving out the top-level key `skip_key` (`dict.pop`), for a caller
/// that would otherwise convert [`loads`]' `Document` with `RawDocumentBuf`.
///
/// `Ok(true)`: `out` holds exactly that conversion (same order, same types).
/// `Ok(false)`: the text is one the writer leaves to [`loads`] (not plain UTF-8, not
/// an object, a duplicate key, a key with NUL, a value `Bson` cannot hold); `out`
/// is then unspecified. Errors are those [`loads`] returns for the text.
pub(crate) fn loads_to_bson(
    bytes: &[u8],
    max_depth: usize,
    skip_key: Option<&str>,
    out: &mut Vec<u8>,
) -> Result<bool> {
    let Text::Utf8(text) = decode_text(bytes)? else {
        return Ok(false);
    };
    let mut parser = Parser::new(text.as_bytes(), Some(text), max_depth);
    parser.skip_ws();
    if parser.peek() != Some(b'{') {
        return Ok(false);
    }
    let mut sink = BsonSink {
        out,
        // Typical sessions: a few levels, a few dozen keys.
        stack: Vec::with_capacity(8),
        keys: Vec::with_capacity(64),
        type_at: 0,
        skip_key,
        drop_from: None,
        fallback: false,
    };
    match parser.run(&mut sink) {
        Ok(()) => Ok(!sink.fallback),
        Err(_) if sink.fallback => Ok(false),
        Err(e) => Err(e),
    }
}

/// One open container of [`BsonSink`].
struct Open {
    /// Where the container's length prefix is in the output.
    start: usize,
    /// The next element name of an array; `None` for an object.
    index: Option<usize>,
    /// Where the container's keys start in [`BsonSink::keys`].
    keys_from: usize,
    /// One bit per key hash seen (top six bits): most keys need no scan of `keys`.
    bloom: u64,
}

/// Writes BSON as `RawDocumentBuf::try_from(&Document)` would for the `Document`
/// [`DocSink`] builds; gives up ([`BsonSink::bail`]) where the two could differ.
struct BsonSink<'o, 'k> {
    out: &'o mut Vec<u8>,
    stack: Vec<Open>,
    /// The keys of the open objects (hash, start in `out`, length), to spot
    /// duplicates, whose dict semantics the byte stream cannot follow.
    keys: Vec<(u64, usize, usize)>,
    /// Where the type byte of the element whose value comes next is.
    type_at: usize,
    skip_key: Option<&'k str>,
    /// The start of a skipped top-level member, dropped once its value is written.
    drop_from: Option<usize>,
    /// Set by [`BsonSink::bail`]: the error that stopped the scan means "use loads".
    fallback: bool,
}

/// A cheap hash of a key, so that duplicate checks rarely compare bytes: its
/// length and at most two overlapping words from its ends (unaligned loads, no
/// loop; the middle of long keys is left to the byte comparison).
fn key_hash(k: &[u8]) -> u64 {
    const MUL: u64 = 0x517c_c1b7_2722_0a95;
    let mix = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(MUL);
    let n = k.len();
    let word8 = |at: usize| {
        k.get(at..at + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map_or(0, u64::from_le_bytes)
    };
    let word4 = |at: usize| {
        k.get(at..at + 4)
            .and_then(|w| <[u8; 4]>::try_from(w).ok())
            .map_or(0, |w| u64::from(u32::from_le_bytes(w)))
    };
    let byte = |at: usize| k.get(at).copied().map_or(0, u64::from);
    let (a, b) = if n >= 8 {
        (word8(0), word8(n - 8))
    } else if n >= 4 {
        (word4(0), word4(n - 4))
    } else if n > 0 {
        ((byte(0) << 16) | (byte(n / 2) << 8) | byte(n - 1), 0)
    } else {
        (0, 0)
    };
    mix(mix((n as u64).wrapping_mul(MUL), a), b)
}

impl BsonSink<'_, '_> {
    /// Stops the scan; the caller falls back to [`loads`].
    fn bail(&mut self) -> Result<()> {
        self.fallback = true;
        Err(Error::InvalidJson(String::new()))
    }

    /// Starts the element a value of BSON type `ty` fills: array elements get their
    /// name here, object members got theirs with the key.
    #[inline]
    fn element(&mut self, ty: u8) {
        match self.stack.last_mut() {
            Some(Open { index: Some(i), .. }) => {
                self.out.push(ty);
                if *i < 10 {
                    // Single-digit index; the cast cannot truncate.
                    self.out.push(b'0' + *i as u8);
                } else {
                    self.out
                        .extend_from_slice(itoa::Buffer::new().format(*i).as_bytes());
                }
                self.out.push(0);
                *i += 1;
            }
            Some(_) => {
                if let Some(b) = self.out.get_mut(self.type_at) {
                    *b = ty;
                }
            }
            None => {}
        }
    }

    /// A value ended: a skipped top-level member is dropped.
    #[inline]
    fn value_done(&mut self) {
        if self.stack.len() == 1
            && let Some(at) = self.drop_from.take()
        {
            self.out.truncate(at);
        }
    }

    /// Opens a document or array (its length is patched at the end).
    #[inline]
    fn open(&mut self, index: Option<usize>) {
        self.stack.push(Open {
            start: self.out.len(),
            index,
            keys_from: self.keys.len(),
            bloom: 0,
        });
        self.out.extend_from_slice(&[0; 4]);
    }

    fn close(&mut self) -> Result<()> {
        let Some(open) = self.stack.pop() else {
            return self.bail();
        };
        self.out.push(0);
        let Ok(len) = i32::try_from(self.out.len().saturating_sub(open.start)) else {
            return self.bail();
        };
        if let Some(slot) = self.out.get_mut(open.start..open.start + 4) {
            slot.copy_from_slice(&len.to_le_bytes());
        }
        self.keys.truncate(open.keys_from);
        self.value_done();
        Ok(())
    }
}

impl<'a> Sink<'a> for BsonSink<'_, '_> {
    #[inline]
    fn innermost(&self) -> Option<bool> {
        self.stack.last().map(|o| o.index.is_some())
    }

    #[inline]
    fn scalar(&mut self, value: Scalar<'a>) -> Result<()> {
        if self.stack.is_empty() {
            return self.bail();
        }
        match value {
            Scalar::Str(s) => {
                let Ok(len) = i32::try_from(s.len() + 1) else {
                    return self.bail();
                };
                self.element(0x02);
                self.out.extend_from_slice(&len.to_le_bytes());
                self.out.extend_from_slice(s.as_bytes());
                self.out.push(0);
            }
            Scalar::Int(n) => match i32::try_from(n) {
                Ok(small) => {
                    self.element(0x10);
                    self.out.extend_from_slice(&small.to_le_bytes());
                }
                Err(_) => {
                    self.element(0x12);
                    self.out.extend_from_slice(&n.to_le_bytes());
                }
            },
            Scalar::Double(x) => {
                self.element(0x01);
                self.out.extend_from_slice(&x.to_le_bytes());
            }
            Scalar::Bool(b) => {
                self.element(0x08);
                self.out.push(u8::from(b));
            }
            Scalar::Null => self.element(0x0A),
            Scalar::LoneSurrogate | Scalar::OutOfRange => return self.bail(),
        }
        self.value_done();
        Ok(())
    }

    fn empty_object(&mut self) -> Result<()> {
        self.element(0x03);
        self.out.extend_from_slice(&[5, 0, 0, 0, 0]);
        self.value_done();
        Ok(())
    }

    fn empty_array(&mut self) -> Result<()> {
        if self.stack.is_empty() {
            return self.bail();
        }
        self.element(0x04);
        self.out.extend_from_slice(&[5, 0, 0, 0, 0]);
        self.value_done();
        Ok(())
    }

    #[inline]
    fn begin_object(&mut self, key: Key<'a>) -> Result<()> {
        self.element(0x03);
        self.open(None);
        self.key(key)
    }

    fn begin_array(&mut self) -> Result<()> {
        if self.stack.is_empty() {
            return self.bail();
        }
        self.element(0x04);
        self.open(Some(0));
        Ok(())
    }

    #[inline]
    fn key(&mut self, key: Key<'a>) -> Result<()> {
        let Ok(key) = key else {
            return self.bail();
        };
        let k = key.as_bytes();
        if self.stack.len() == 1 && self.skip_key == Some(&*key) {
            // Every occurrence goes (dict.pop), so it needs no duplicate check.
            self.drop_from = Some(self.out.len());
        } else {
            // BSON cannot hold NUL, unless a later duplicate or `skip_key` drops it.
            // Only an escape can give one: raw control bytes stop the scan, so a
            // key borrowed from the text has none.
            if matches!(key, Cow::Owned(_)) && k.contains(&0) {
                return self.bail();
            }
            let hash = key_hash(k);
            let Some(open) = self.stack.last_mut() else {
                return self.bail();
            };
            let bit = 1u64 << (hash >> 58);
            if open.bloom & bit != 0 {
                let out = &*self.out;
                let from = open.keys_from;
                let seen = self
                    .keys
                    .get(from..)
                    .unwrap_or_default()
                    .iter()
                    .any(|&(h, at, len)| {
                        h == hash && out.get(at..at.saturating_add(len)) == Some(k)
                    });
                if seen {
                    return self.bail();
                }
            }
            open.bloom |= bit;
            self.keys.push((hash, self.out.len() + 1, k.len()));
        }
        self.type_at = self.out.len();
        self.out.push(0);
        self.out.extend_from_slice(k);
        self.out.push(0);
        Ok(())
    }

    fn end_object(&mut self) -> Result<()> {
        self.close()
    }

    fn end_array(&mut self) -> Result<()> {
        self.close()
    }
}

fn err<T>(msg: &str) -> Result<T> {
    Err(Error::InvalidJson(msg.to_owned()))
}

impl<'a> Parser<'a> {
    fn new(s: &'a [u8], utf8: Option<&'a str>, max_depth: usize) -> Self {
        Parser {
            s,
            utf8,
            pos: 0,
            max_depth,
            depth: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Scans one JSON value (the whole text) into `sink`.
    fn run<S: Sink<'a>>(&mut self, sink: &mut S) -> Result<()> {
        self.skip_ws();
        loop {
            // One value; containers with content open and loop.
            match self.peek() {
                Some(b'{') => {
                    self.enter()?;
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        sink.empty_object()?;
                    } else {
                        self.parse_key(sink, true)?;
                        self.depth += 1;
                        continue;
                    }
                }
                Some(b'[') => {
                    self.enter()?;
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        sink.empty_array()?;
                    } else {
                        sink.begin_array()?;
                        self.depth += 1;
                        continue;
                    }
                }
                _ => {
                    self.parse_scalar(sink)?;
                }
            }
            // After a value: the next one, or containers closing.
            loop {
                match sink.innermost() {
                    None => {
                        self.skip_ws();
                        if self.pos != self.s.len() {
                            return err("Extra data");
                        }
                        return Ok(());
                    }
                    Some(true) => {
                        self.skip_ws();
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_ws();
                                break;
                            }
                            Some(b']') => {
                                self.pos += 1;
                                self.depth = self.depth.saturating_sub(1);
                                sink.end_array()?;
                            }
                            _ => return err("Expecting ',' delimiter"),
                        }
                    }
                    Some(false) => {
                        self.skip_ws();
                        match self.peek() {
                            Some(b',') => {
                                self.pos += 1;
                                self.skip_ws();
                                self.parse_key(sink, false)?;
                                break;
                            }
                            Some(b'}') => {
                                self.pos += 1;
                                self.depth = self.depth.saturating_sub(1);
                                sink.end_object()?;
                            }
                            _ => return err("Expecting ',' delimiter"),
                        }
                    }
                }
            }
        }
    }

    /// Python enters a recursion level for every array/object, empty ones included.
    fn enter(&self) -> Result<()> {
        if self.depth >= self.max_depth {
            return Err(Error::NestingTooDeep {
                limit: self.max_depth,
            });
        }
        Ok(())
    }

    /// A key (handed to the sink: the first of an object opens it), the colon and
    /// the whitespace after it.
    #[inline(always)]
    fn parse_key<S: Sink<'a>>(&mut self, sink: &mut S, first: bool) -> Result<()> {
        if self.peek() != Some(b'"') {
            return err("Expecting property name enclosed in double quotes");
        }
        self.pos += 1;
        // A sink error here wins over a missing colon: harmless, as both stop the
        // scan and the colon error is what loads reports when BsonSink gives up.
        self.parse_string_with(|k| {
            if first {
                sink.begin_object(k)
            } else {
                sink.key(k)
            }
        })?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return err("Expecting ':' delimiter");
        }
        self.pos += 1;
        self.skip_ws();
        Ok(())
    }

    fn starts_with(&self, lit: &[u8]) -> bool {
        self.s.get(self.pos..).is_some_and(|r| r.starts_with(lit))
    }

    /// A literal token, or "Expecting value".
    fn literal(&mut self, text: &[u8]) -> Result<()> {
        if self.starts_with(text) {
            self.pos += text.len();
            Ok(())
        } else {
            err("Expecting value")
        }
    }

    /// A scalar, handed to `sink` where it is read (so that no `Scalar` is built in
    /// memory and copied: that copy stalled store forwarding).
    #[inline(always)]
    fn parse_scalar<S: Sink<'a>>(&mut self, sink: &mut S) -> Result<()> {
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                self.parse_string_with(|s| match s {
                    Ok(s) => sink.scalar(Scalar::Str(s)),
                    Err(_) => sink.scalar(Scalar::LoneSurrogate),
                })
            }
            Some(b'n') => {
                self.literal(b"null")?;
                sink.scalar(Scalar::Null)
            }
            Some(b't') => {
                self.literal(b"true")?;
                sink.scalar(Scalar::Bool(true))
            }
            Some(b'f') => {
                self.literal(b"false")?;
                sink.scalar(Scalar::Bool(false))
            }
            Some(b'N') => {
                self.literal(b"NaN")?;
                sink.scalar(Scalar::Double(f64::NAN))
            }
            Some(b'I') => {
                self.literal(b"Infinity")?;
                sink.scalar(Scalar::Double(f64::INFINITY))
            }
            Some(b'-')
                if self
                    .s
                    .get(self.pos + 1..)
                    .is_some_and(|r| r.starts_with(b"Infinity")) =>
            {
                self.pos += 9;
                sink.scalar(Scalar::Double(f64::NEG_INFINITY))
            }
            _ => self.parse_number(sink),
        }
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    /// CPython's `_match_number_unicode`: `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`,
    /// backing off a `.` or exponent that is not followed by digits.
    #[inline(always)]
    fn parse_number<S: Sink<'a>>(&mut self, sink: &mut S) -> Result<()> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        // The integer part, accumulated as a negative number so that i64::MIN fits;
        // `None` once it leaves the int64 range.
        let mut acc: Option<i64> = Some(0);
        match self.peek() {
            Some(b'1'..=b'9') => {
                while let Some(c @ b'0'..=b'9') = self.peek() {
                    acc = acc
                        .and_then(|a| a.checked_mul(10))
                        .and_then(|a| a.checked_sub(i64::from(c - b'0')));
                    self.pos += 1;
                }
            }
            Some(b'0') => self.pos += 1,
            _ => {
                self.pos = start;
                return err("Expecting value");
            }
        }
        let int_end = self.pos;
        let mut is_float = false;
        if self.peek() == Some(b'.') && matches!(self.s.get(self.pos + 1), Some(b'0'..=b'9')) {
            is_float = true;
            self.pos += 2;
            self.digits();
        }
        if let Some(b'e' | b'E') = self.peek() {
            let e_start = self.pos;
            self.pos += 1;
            if let Some(b'-' | b'+') = self.peek() {
                self.pos += 1;
            }
            let d_start = self.pos;
            self.digits();
            if self.pos > d_start {
                is_float = true;
            } else {
                self.pos = e_start;
            }
        }
        if is_float {
            let text = self.s.get(start..self.pos).unwrap_or_default();
            // The matched text is ASCII by construction.
            let text = std::str::from_utf8(text).unwrap_or_default();
            // Rust's parser is correctly rounded like Python's float(); overflow → inf.
            return match text.parse::<f64>() {
                Ok(x) => sink.scalar(Scalar::Double(x)),
                Err(_) => err("invalid number"),
            };
        }
        let ndigits = int_end.saturating_sub(start + usize::from(negative));
        if ndigits > INT_MAX_STR_DIGITS {
            return err("Exceeds the limit (4300 digits) for integer string conversion");
        }
        let value = if negative {
            acc
        } else {
            acc.and_then(i64::checked_neg)
        };
        match value {
            Some(n) => sink.scalar(Scalar::Int(n)),
            None => sink.scalar(Scalar::OutOfRange),
        }
    }

    fn hex4(&self, at: usize) -> Result<u32> {
        let h = self
            .s
            .get(at..at + 4)
            .ok_or_else(|| Error::InvalidJson("Invalid \\uXXXX escape".into()))?;
        let mut v = 0u32;
        for &c in h {
            let d = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => return err("Invalid \\uXXXX escape"),
            };
            v = (v << 4) | u32::from(d);
        }
        Ok(v)
    }

    /// The rest of a string after its opening quote (CPython's `scanstring`, strict),
    /// handed to `f` (like scalars to their sink, so that it is not copied through
    /// memory); an `Err` key is a lossy copy of a string holding a lone surrogate.
    #[inline(always)]
    fn parse_string_with<R>(&mut self, f: impl FnOnce(Key<'a>) -> Result<R>) -> Result<R> {
        let start = self.pos;
        // Fast path: no escapes.
        let rest = self.s.get(start..).unwrap_or_default();
        self.pos = start + string_stop(rest);
        match self.peek() {
            None => return err("Unterminated string"),
            Some(b'"') => {
                let end = self.pos;
                self.pos += 1;
                // Quotes are ASCII, so the slice of plain UTF-8 text is a whole `str`.
                if let Some(text) = self.utf8.and_then(|t| t.get(start..end)) {
                    return f(Ok(Cow::Borrowed(text)));
                }
                return f(finish_string(rest.get(..end - start).unwrap_or_default()));
            }
            Some(b'\\') => {}
            Some(_) => return err("Invalid control character"),
        }
        let s = self.parse_escaped(start)?;
        f(s)
    }

    /// The rest of a string from its first backslash at `self.pos` (`start`: after
    /// the opening quote); kept out of line, as most strings have no escapes.
    #[inline(never)]
    fn parse_escaped(&mut self, start: usize) -> Result<Key<'a>> {
        let mut buf: Vec<u8> = self.s.get(start..self.pos).unwrap_or_default().to_vec();
        loop {
            match self.peek() {
                None => return err("Unterminated string"),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(finish_string(&buf));
                }
                Some(0..=0x1F) => return err("Invalid control character"),
                Some(b'\\') => {
                    let esc = self.s.get(self.pos + 1).copied();
                    self.pos += 2;
                    let c = match esc {
                        None => return err("Unterminated string"),
                        Some(b'"') => b'"',
                        Some(b'\\') => b'\\',
                        Some(b'/') => b'/',
                        Some(b'b') => 0x08,
                        Some(b'f') => 0x0C,
                        Some(b'n') => b'\n',
                        Some(b'r') => b'\r',
                        Some(b't') => b'\t',
                        Some(b'u') => {
                            let mut cp = self.hex4(self.pos)?;
                            self.pos += 4;
                            // A high surrogate escape joins a following low one.
                            if (0xD800..0xDC00).contains(&cp) && self.starts_with(b"\\u") {
                                let c2 = self.hex4(self.pos + 2)?;
                                if (0xDC00..0xE000).contains(&c2) {
                                    cp = 0x10000 + ((cp - 0xD800) << 10) + (c2 - 0xDC00);
                                    self.pos += 6;
                                }
                            }
                            push_cp(&mut buf, cp);
                            continue;
                        }
                        Some(_) => return err("Invalid \\escape"),
                    };
                    buf.push(c);
                }
                Some(c) => {
                    buf.push(c);
                    self.pos += 1;
                }
            }
        }
    }
}

/// Bytes 0x01 repeated: with [`HIGH`], the classic "has a zero byte" word test.
const LOW: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The index of the first `"`, `\\` or control character in `b` (its length if
/// none), eight bytes at a time. In each test below the lowest flagged byte is
/// exact (borrows only run upwards), so the lowest of all is the first match.
fn string_stop(b: &[u8]) -> usize {
    let mut chunks = b.chunks_exact(8);
    let mut at = 0;
    for c in &mut chunks {
        let Ok(w) = <[u8; 8]>::try_from(c) else {
            break;
        };
        let w = u64::from_le_bytes(w);
        let quote = w ^ (LOW * u64::from(b'"'));
        let backslash = w ^ (LOW * u64::from(b'\\'));
        let found = (quote.wrapping_sub(LOW) & !quote)
            | (backslash.wrapping_sub(LOW) & !backslash)
            | (w.wrapping_sub(LOW * 0x20) & !w);
        let found = found & HIGH;
        if found != 0 {
            // At most 7: the byte index of the lowest flagged high bit.
            return at + (found.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    let tail = b.get(at..).unwrap_or_default();
    at + tail
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .unwrap_or(tail.len())
}

/// Converts generalized UTF-8 to a `String`; only surrogates can fail here.
fn finish_string(raw: &[u8]) -> Key<'static> {
    match std::str::from_utf8(raw) {
        Ok(s) => Ok(Cow::Owned(s.to_owned())),
        Err(_) => Err(String::from_utf8_lossy(raw).into_owned()),
    }
}

// ------------------------------------------------------------------------ dumps

/// `json.dumps(claims, ensure_ascii=False, separators=(",", ":"))` of a JSON-mode
/// session without the top-level keys `JWTCookieSession` removes
/// ([`JWT_DROPPED_KEYS`](crate::payload::JWT_DROPPED_KEYS)), with joserfc's
/// top-level `exp`/`iat`/`nbf` datetime conversion.
pub(crate) fn dumps_claims(session: &Document) -> Result<String> {
    // Typical sessions render to under 1 KB; growing from less costs a copy each time.
    let mut out = String::with_capacity(1024);
    out.push('{');
    let kept = session
        .iter()
        .filter(|(k, _)| !crate::payload::JWT_DROPPED_KEYS.contains(&k.as_str()));
    for (i, (k, v)) in kept.enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_str(&mut out, k, false);
        out.push(':');
        match v {
            // joserfc: calendar.timegm(value.utctimetuple()) = floor(ms / 1000).
            Bson::DateTime(dt) if matches!(k.as_str(), "exp" | "iat" | "nbf") => {
                push_int(&mut out, dt.timestamp_millis().div_euclid(1000));
            }
            _ => write_value(&mut out, v, Style::COMPACT_RAW).map_err(|t| unser(k, t))?,
        }
    }
    out.push('}');
    Ok(out)
}

/// `json.dumps(session)` with Python's defaults (`", "`, `": "`, `ensure_ascii=True`),
/// as the original format's json serializer writes it.
pub(crate) fn dumps_default(session: &Document) -> Result<String> {
    let mut out = String::with_capacity(128);
    out.push('{');
    for (i, (k, v)) in session.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        write_str(&mut out, k, true);
        out.push_str(": ");
        write_value(&mut out, v, Style::DEFAULT).map_err(|t| unser(k, t))?;
    }
    out.push('}');
    Ok(out)
}

fn unser(key: &str, type_name: &'static str) -> Error {
    Error::Unserializable {
        key: Some(key.to_owned()),
        type_name: type_name.to_owned(),
    }
}

/// Separators and `ensure_ascii` of one `json.dumps` call.
#[derive(Clone, Copy)]
struct Style {
    /// `", "` instead of `","`, and `": "` instead of `":"`.
    spaced: bool,
    /// `\uXXXX`-escape everything outside printable ASCII.
    ascii: bool,
}

impl Style {
    /// `separators=(",", ":"), ensure_ascii=False`.
    const COMPACT_RAW: Style = Style {
        spaced: false,
        ascii: false,
    };
    /// Python's defaults.
    const DEFAULT: Style = Style {
        spaced: true,
        ascii: true,
    };
}

/// Renders one value; `Err` carries the Python type name `json.dumps` would reject.
///
/// Recursion depth follows the document's nesting, which our own decoders cap.
fn write_value(out: &mut String, v: &Bson, style: Style) -> std::result::Result<(), &'static str> {
    let comma = if style.spaced { ", " } else { "," };
    match v {
        Bson::Double(x) => write_float(out, *x),
        // Python decodes BSON symbols to str and undefined to None; `bson.code.Code`
        // is a str subclass, so json.dumps writes just the code text (scope dropped).
        Bson::String(s) | Bson::Symbol(s) | Bson::JavaScriptCode(s) => {
            write_str(out, s, style.ascii)
        }
        Bson::JavaScriptCodeWithScope(cws) => write_str(out, &cws.code, style.ascii),
        Bson::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Bson::Null | Bson::Undefined => out.push_str("null"),
        Bson::Int32(n) => push_int(out, i64::from(*n)),
        Bson::Int64(n) => push_int(out, *n),
        Bson::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(comma);
                }
                write_value(out, item, style)?;
            }
            out.push(']');
        }
        Bson::Document(d) => {
            out.push('{');
            for (i, (k, item)) in d.iter().enumerate() {
                if i > 0 {
                    out.push_str(comma);
                }
                write_str(out, k, style.ascii);
                out.push_str(if style.spaced { ": " } else { ":" });
                write_value(out, item, style)?;
            }
            out.push('}');
        }
        other => return Err(python_type_name(other)),
    }
    Ok(())
}

/// The Python type `bson.decode` produces for a BSON value that JSON cannot hold.
pub(crate) fn python_type_name(v: &Bson) -> &'static str {
    match v {
        Bson::DateTime(_) => "datetime",
        Bson::Binary(b) if b.subtype == bson::spec::BinarySubtype::Generic => "bytes",
        Bson::Binary(_) => "Binary",
        Bson::ObjectId(_) => "ObjectId",
        Bson::Decimal128(_) => "Decimal128",
        Bson::RegularExpression(_) => "Regex",
        Bson::Timestamp(_) => "Timestamp",
        Bson::MinKey => "MinKey",
        Bson::MaxKey => "MaxKey",
        Bson::DbPointer(_) => "DBRef",
        _ => "object",
    }
}

/// Appends decimal digits without a temporary allocation.
pub(crate) fn push_int(out: &mut String, n: i64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Python's `float.__repr__` (shortest round-trip digits, `repr` layout), with
/// `json`'s `NaN`/`Infinity`/`-Infinity` tokens.
pub(crate) fn write_float(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("NaN");
    } else if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
    } else {
        push_float_repr(out, x);
    }
}

/// `float.__repr__` of a finite float: the shortest digits that round-trip, ties
/// between equally short candidates broken to even as CPython's dtoa does (Ryū does
/// the same: 123456789.126953125 prints as 123456789.12695312), in `repr`'s layout.
pub(crate) fn push_float_repr(out: &mut String, x: f64) {
    if x == 0.0 {
        out.push_str(if x.is_sign_negative() { "-0.0" } else { "0.0" });
        return;
    }
    let mut ryu_buf = ryu::Buffer::new();
    let text = ryu_buf.format_finite(x.abs());
    if x.is_sign_negative() {
        out.push('-');
    }
    // Ryū's fixed notation is repr's (`123.0`, `0.5`, `0.001`) except for values in
    // [1e-5, 1e-4), which repr writes with an exponent; exponents are spelt differently.
    if !text.contains('e') && !text.starts_with("0.0000") {
        out.push_str(text);
        return;
    }
    let (digits, decpt) = shortest_digits(text);
    let digits = digits.as_str();
    let nd = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if -4 < decpt && decpt <= 16 {
        if decpt <= 0 {
            out.push_str("0.");
            push_zeros(out, -decpt);
            out.push_str(digits);
        } else if decpt >= nd {
            out.push_str(digits);
            push_zeros(out, decpt - nd);
            out.push_str(".0");
        } else {
            let (a, b) = digits.split_at(usize::try_from(decpt).unwrap_or(0));
            out.push_str(a);
            out.push('.');
            out.push_str(b);
        }
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        let exp = decpt - 1;
        out.push_str(if exp < 0 { "e-" } else { "e+" });
        if exp.unsigned_abs() < 10 {
            out.push('0');
        }
        out.push_str(itoa::Buffer::new().format(exp.unsigned_abs()));
    }
}

/// Up to 17 significant decimal digits of a float (Ryū never needs more).
struct Digits {
    buf: [u8; 24],
    len: usize,
}

impl Digits {
    fn as_str(&self) -> &str {
        // Only ASCII digits are ever stored.
        std::str::from_utf8(self.buf.get(..self.len).unwrap_or_default()).unwrap_or("0")
    }
}

/// The significant digits (no leading or trailing zeros) of Ryū's text for a
/// positive finite float, and the decimal point position: value = 0.DIGITS × 10^decpt.
fn shortest_digits(text: &str) -> (Digits, i32) {
    let (mantissa, exp) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut d = Digits {
        buf: [b'0'; 24],
        len: 0,
    };
    let mut int_len: i32 = 0;
    let mut seen_point = false;
    let mut leading_zeros: i32 = 0;
    for b in mantissa.bytes() {
        match b {
            b'.' => seen_point = true,
            b'0'..=b'9' => {
                if !seen_point {
                    int_len += 1;
                }
                if d.len == 0 && b == b'0' {
                    leading_zeros += 1;
                } else if let Some(slot) = d.buf.get_mut(d.len) {
                    *slot = b;
                    d.len += 1;
                }
            }
            _ => {}
        }
    }
    while d.len > 1 && d.buf.get(d.len - 1) == Some(&b'0') {
        d.len -= 1;
    }
    if d.len == 0 {
        d.len = 1;
    }
    (d, int_len - leading_zeros + exp)
}

fn push_zeros(out: &mut String, n: i32) {
    for _ in 0..n {
        out.push('0');
    }
}

/// What `encode_basestring` does with each ASCII byte: 0 = copy, `u` = `\u00XX`,
/// anything else = a backslash and that character.
#[rustfmt::skip]
const ESCAPES: [u8; 128] = [
    b'u', b'u', b'u', b'u', b'u', b'u', b'u', b'u',
    b'b', b't', b'n', b'u', b'f', b'r', b'u', b'u',
    b'u', b'u', b'u', b'u', b'u', b'u', b'u', b'u',
    b'u', b'u', b'u', b'u', b'u', b'u', b'u', b'u',
    0, 0, b'"', 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, b'\\', 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
];

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `\uXXXX` (lowercase hex, as Python writes it).
fn push_u_escape(out: &mut String, unit: u16) {
    out.push_str("\\u");
    for shift in [12, 8, 4, 0] {
        let nibble = usize::from((unit >> shift) & 0xF);
        out.push(char::from(HEX.get(nibble).copied().unwrap_or(b'0')));
    }
}

/// A JSON string literal as Python's encoder writes it: with `ascii`,
/// `encode_basestring_ascii` (everything outside U+0020..U+007E escaped, astral
/// characters as surrogate pairs, lowercase hex); without, `encode_basestring`
/// (only `"`, `\` and controls below U+0020 escaped).
pub(crate) fn write_str(out: &mut String, s: &str, ascii: bool) {
    out.reserve(s.len() + 2);
    out.push('"');
    let bytes = s.as_bytes();
    let mut run_start = 0;
    let mut i = 0;
    // Scan bytes: every byte that needs an escape is ASCII or (with `ascii`) the lead
    // byte of a non-ASCII character, so runs between them are whole characters.
    while let Some(&b) = bytes.get(i) {
        let esc = match ESCAPES.get(usize::from(b)) {
            // DEL is outside U+0020..U+007E: escaped by the ASCII encoder only.
            Some(_) if b == 0x7F && ascii => b'u',
            Some(&e) => e,
            None if ascii => b'u',
            None => 0,
        };
        if esc == 0 {
            i += 1;
            continue;
        }
        out.push_str(s.get(run_start..i).unwrap_or_default());
        if b < 0x80 {
            if esc == b'u' {
                push_u_escape(out, u16::from(b));
            } else {
                out.push('\\');
                out.push(char::from(esc));
            }
            i += 1;
        } else {
            let c = s
                .get(i..)
                .and_then(|r| r.chars().next())
                .unwrap_or('\u{FFFD}');
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                push_u_escape(out, *u);
            }
            i += c.len_utf8().max(1);
        }
        run_start = i;
    }
    out.push_str(s.get(run_start..).unwrap_or_default());
    out.push('"');
}

#[cfg(test)]
mod tests {
    //! Checked against fixtures produced by the real CPython 3.11 `json` module
    //! (`scripts/gen_json_fixtures.py`).
    use super::*;
    use serde_json::Value;

    fn fixture(name: &str) -> Vec<Value> {
        let path = format!("{}/testdata/pyjson/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).expect("fixture present");
        let v: Value = serde_json::from_str(&text).expect("fixture is JSON");
        v["cases"].as_array().expect("cases").clone()
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len() / 2)
            .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
            .collect()
    }

    /// The fixture's tagged form of a parsed value.
    fn tagged(v: &Bson) -> Value {
        match v {
            Bson::Boolean(b) => serde_json::json!({ "bool": b }),
            Bson::Null => serde_json::json!({ "null": null }),
            Bson::Int32(n) => serde_json::json!({ "int": n.to_string() }),
            Bson::Int64(n) => serde_json::json!({ "int": n.to_string() }),
            Bson::Double(x) => {
                serde_json::json!({ "float": format!("{:016x}", x.to_bits()) })
            }
            Bson::String(s) => serde_json::json!({ "str": s }),
            Bson::Array(items) => {
                serde_json::json!({ "list": items.iter().map(tagged).collect::<Vec<_>>() })
            }
            Bson::Document(d) => serde_json::json!({
                "dict": d.iter().map(|(k, v)| serde_json::json!([k, tagged(v)])).collect::<Vec<_>>()
            }),
            other => serde_json::json!({ "unexpected": format!("{other:?}") }),
        }
    }

    fn loads_matches(expect: &Value, got: &Result<Bson>) -> bool {
        if let Some(value) = expect.get("value") {
            return matches!(got, Ok(v) if tagged(v) == *value);
        }
        let key = expect.get("key").map(|k| k.as_str().map(str::to_owned));
        match (expect["error"].as_str(), got) {
            (Some("invalid_json"), Err(Error::InvalidJson(_))) => true,
            (Some("integer_out_of_range"), Err(Error::IntegerOutOfRange { key: k })) => {
                key.is_none_or(|want| want == *k)
            }
            (Some("lone_surrogate"), Err(Error::LoneSurrogate { key: k })) => {
                key.is_none_or(|want| want == *k)
            }
            _ => false,
        }
    }

    /// What `loads_to_bson` must write when it takes the fast path: `loads`'
    /// document minus `skip` converted by `RawDocumentBuf` (bytes, so array element
    /// names count too); its errors must be `loads`' own.
    fn check_loads_to_bson(input: &[u8], skip: Option<&str>) -> std::result::Result<bool, String> {
        let mut out = Vec::new();
        let fast = loads_to_bson(input, 6, skip, &mut out);
        let slow = loads(input, 6);
        match (fast, slow) {
            (Ok(false), _) => Ok(false),
            (Ok(true), Ok(Bson::Document(mut d))) => {
                if let Some(k) = skip {
                    d.remove(k);
                }
                let want = bson::RawDocumentBuf::try_from(&d).map_err(|e| format!("{e}"))?;
                if want.as_bytes() == out.as_slice() {
                    Ok(true)
                } else {
                    Err(format!(
                        "wrote {out:?}, RawDocumentBuf {:?}",
                        want.as_bytes()
                    ))
                }
            }
            (Err(a), Err(b)) if format!("{a:?}") == format!("{b:?}") => Ok(false),
            (a, b) => Err(format!("loads_to_bson {a:?}, loads {b:?}")),
        }
    }

    #[test]
    fn loads_to_bson_matches_loads_on_cpython_cases() {
        let cases = fixture("loads.json");
        let mut fast = 0;
        for case in &cases {
            let input = unhex(case["input_hex"].as_str().expect("hex"));
            for skip in [None, Some("a")] {
                match check_loads_to_bson(&input, skip) {
                    Ok(taken) => fast += usize::from(taken),
                    Err(e) => panic!("{}: {e}", case["name"]),
                }
            }
        }
        // Dozens of them (objects without duplicates etc.) take the fast path.
        assert!(fast > 40, "{fast}");
    }

    #[test]
    fn typical_session_takes_the_fast_path() {
        let claims = br#"{"_id":"f6040d403b5f45ae94432b32c77dc60a","_creation_time":1795092602.995901,"user_id":103353,"tenant_id":9585270087363,"display_name":"Zo\u00eb M\u00fcller","roles":["editor","reviewer","billing:read"],"mfa_verified":true,"x":null,"preferences":{"theme":"dark","page_size":50,"notifications":{"email":true,"digest":"weekly"}},"cart":[{"sku":"BK-91844","qty":1,"price":24.9},{"sku":"MG-83323","qty":2,"price":7.5}],"recently_viewed":[1,2,3,4,5,6,7,8,9,10,11,12],"e":{},"l":[],"bsZ":""}"#;
        assert_eq!(check_loads_to_bson(claims, Some("bsZ")), Ok(true));
        assert_eq!(check_loads_to_bson(claims, None), Ok(true));
    }

    #[test]
    fn loads_matches_cpython() {
        let cases = fixture("loads.json");
        let mut failures = Vec::new();
        for case in &cases {
            let input = unhex(case["input_hex"].as_str().expect("hex"));
            let got = loads(&input, 200);
            if !loads_matches(&case["expect"], &got) {
                failures.push(format!(
                    "{}: expected {} got {:?}",
                    case["name"], case["expect"], got
                ));
            }
        }
        assert!(cases.len() > 500);
        assert!(
            failures.is_empty(),
            "{} of {} failed:\n{}",
            failures.len(),
            cases.len(),
            failures.join("\n")
        );
    }

    fn dumps_matches(expect: &Value, got: &Result<String>) -> bool {
        if let Some(text) = expect.get("ok") {
            return matches!(got, Ok(s) if Some(s.as_str()) == text.as_str());
        }
        match got {
            Err(Error::Unserializable { key, type_name }) => {
                Some(type_name.as_str()) == expect["error"].as_str()
                    && key.as_deref() == expect["key"].as_str()
            }
            _ => false,
        }
    }

    #[test]
    fn dumps_match_cpython() {
        let cases = fixture("dumps.json");
        let mut failures = Vec::new();
        for case in &cases {
            let session = crate::ejson::from_str(case["session"].as_str().expect("session"))
                .expect("fixture session parses");
            let claims = dumps_claims(&session);
            if !dumps_matches(&case["claims"], &claims) {
                failures.push(format!(
                    "{} claims: expected {} got {:?}",
                    case["name"], case["claims"], claims
                ));
            }
            let default = dumps_default(&session);
            if !dumps_matches(&case["default"], &default) {
                failures.push(format!(
                    "{} default: expected {} got {:?}",
                    case["name"], case["default"], default
                ));
            }
        }
        assert!(cases.len() > 500);
        assert!(
            failures.is_empty(),
            "{} of {} failed:\n{}",
            failures.len(),
            2 * cases.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        for open in [&b"["[..], b"{\"a\":", b"[{\"k\":"] {
            let text: Vec<u8> = open
                .iter()
                .copied()
                .cycle()
                .take(open.len() * 100_000)
                .collect();
            assert!(matches!(
                loads(&text, 200),
                Err(Error::NestingTooDeep { limit: 200 })
            ));
        }
    }

    #[test]
    fn deepest_accepted_document_renders() {
        let text = format!("{}1{}", "{\"a\": [".repeat(100), "]}".repeat(100));
        let Ok(Bson::Document(doc)) = loads(text.as_bytes(), 200) else {
            panic!("200 levels are within the limit");
        };
        assert_eq!(dumps_default(&doc).ok().as_deref(), Some(text.as_str()));
        assert!(dumps_claims(&doc).is_ok());
    }

    #[test]
    fn depth_limit_counts_every_container() {
        // 200 nested arrays (empty innermost included) pass with a limit of 200, 201 do not.
        let ok = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(loads(ok.as_bytes(), 200).is_ok());
        let deep = format!("{}{}", "[".repeat(201), "]".repeat(201));
        assert!(matches!(
            loads(deep.as_bytes(), 200),
            Err(Error::NestingTooDeep { limit: 200 })
        ));
    }

    /// Rough timing, for `cargo test --release --lib pyjson::tests::timing -- --ignored --nocapture`.
    #[test]
    #[ignore = "timing, not a check"]
    fn timing() {
        let claims = r#"{"_id":"f6040d403b5f45ae94432b32c77dc60a","_creation_time":1795092602.995901,"_accessed_time":1795094195.633582,"user_id":103353,"tenant_id":9585270087363,"username":"zoe.mueller44","display_name":"Zoë Müller","email":"zoe.mueller@example.org","roles":["editor","reviewer","billing:read"],"csrf_token":"bf79107e0ab9cd3a1bbe009c34b3179ee1e29208","auth_time":"2026-11-20T08:35:07.123000","mfa_verified":true,"locale":"de_DE","timezone":"Europe/Berlin","_flash":["Your changes have been saved."],"preferences":{"theme":"dark","page_size":50,"sidebar_collapsed":false,"notifications":{"email":true,"sms":false,"digest":"weekly"}},"cart":[{"sku":"BK-91844","qty":1,"price":24.9},{"sku":"MG-83323","qty":2,"price":7.5}],"recently_viewed":[14136,37870,89066,42916,88216,42554,60084,38546],"login_ip":"203.0.113.78"}"#.as_bytes();
        let doc = match loads(claims, 200) {
            Ok(Bson::Document(d)) => d,
            other => panic!("{other:?}"),
        };
        let n = 200_000;
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(loads(std::hint::black_box(claims), 200).ok());
        }
        let l = t.elapsed().as_nanos() / n;
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(dumps_claims(std::hint::black_box(&doc)).ok());
        }
        let d = t.elapsed().as_nanos() / n;
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(
                serde_json::from_slice::<serde_json::Value>(std::hint::black_box(claims)).ok(),
            );
        }
        let sj = t.elapsed().as_nanos() / n;
        let t = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(std::hint::black_box(&doc).to_vec().ok());
        }
        let bs = t.elapsed().as_nanos() / n;
        println!(
            "{} bytes: loads {l} ns, dumps_claims {d} ns (serde_json Value {sj} ns, bson::to_vec {bs} ns)",
            claims.len()
        );
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn json_value() -> impl Strategy<Value = Bson> {
            let leaf = prop_oneof![
                any::<i32>().prop_map(Bson::Int32),
                any::<i64>().prop_map(Bson::Int64),
                any::<u64>().prop_map(|b| Bson::Double(f64::from_bits(b))),
                ".*".prop_map(Bson::String),
                any::<bool>().prop_map(Bson::Boolean),
                Just(Bson::Null),
            ];
            leaf.prop_recursive(4, 32, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Bson::Array),
                    prop::collection::vec((".*", inner), 0..4)
                        .prop_map(|kv| Bson::Document(kv.into_iter().collect())),
                ]
            })
        }

        /// What json.loads gives back: ints by size, floats by bits (every NaN is
        /// written as the token `NaN`, so any NaN payload comes back as Python's NaN).
        fn normal(v: &Bson) -> String {
            match v {
                Bson::Int64(n) => match i32::try_from(*n) {
                    Ok(m) => format!("{:?}", Bson::Int32(m)),
                    Err(_) => format!("{v:?}"),
                },
                Bson::Double(x) if x.is_nan() => "nan".to_owned(),
                Bson::Double(x) => format!("f{:x}", x.to_bits()),
                Bson::Array(items) => format!(
                    "[{}]",
                    items.iter().map(normal).collect::<Vec<_>>().join(",")
                ),
                Bson::Document(d) => format!(
                    "{{{}}}",
                    d.iter()
                        .map(|(k, v)| format!("{k:?}:{}", normal(v)))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
                other => format!("{other:?}"),
            }
        }

        proptest! {
            #[test]
            fn loads_is_total(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
                let _ = loads(&bytes, 16);
            }

            #[test]
            fn float_repr_round_trips(bits in any::<u64>()) {
                let x = f64::from_bits(bits);
                prop_assume!(x.is_finite());
                let mut s = String::new();
                push_float_repr(&mut s, x);
                prop_assert_eq!(s.parse::<f64>().map(f64::to_bits), Ok(bits));
            }

            #[test]
            fn dumps_then_loads_round_trips(doc in prop::collection::vec((".*", json_value()), 0..5)) {
                let doc: Document = doc.into_iter().collect();
                let want = normal(&Bson::Document(doc.clone()));
                for text in [dumps_claims(&doc), dumps_default(&doc)] {
                    let text = text.expect("JSON types always serialize");
                    let back = loads(text.as_bytes(), 64).expect("own output parses");
                    prop_assert_eq!(normal(&back), want.clone());
                    let mut bsz = doc.clone();
                    bsz.insert("bsZ", "x");
                    for input in [text.clone(), dumps_default(&bsz).expect("serializes")] {
                        prop_assert_eq!(check_loads_to_bson(input.as_bytes(), Some("bsZ")).err(), None);
                    }
                }
            }

            #[test]
            fn string_stop_finds_the_first_special_byte(b in prop::collection::vec(
                prop::sample::select(vec![b'a', 0xC3, 0xA9, b'"', b'\\', 0x1F, 0x20, 0x7F, 0x00, 0x80, 0xFF]),
                0..40,
            )) {
                let want = b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20).unwrap_or(b.len());
                prop_assert_eq!(string_stop(&b), want);
            }
        }
    }
}
