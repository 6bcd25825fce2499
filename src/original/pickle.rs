//! A pickle reader that executes nothing, and a protocol-2 writer (formats.md §4.3).
//!
//! # Reading
//! [`loads`] interprets the opcodes of protocols 0–5 the way CPython's C unpickler
//! (`pickle.loads` with `fix_imports=True, encoding="ASCII"`) does, but instead of
//! importing and calling globals it recognises a short allow-list of classes and
//! functions (datetime types, bytes/set/frozenset, `OrderedDict`, `Decimal`, `UUID`,
//! the `_codecs.encode` and `copyreg._reconstructor` helpers, pymongo's `Int64`,
//! `ObjectId` and `Binary`) and builds their values itself. Any other global is
//! refused before anything is looked up ([`Error::ForbiddenGlobal`]).
//!
//! Objects live in an arena while the opcodes run, so memo references and
//! mutation after memoisation behave as in Python (the same list appended to
//! through two references is one list). The result is then expanded into a
//! [`PyValue`] tree iteratively, with the nesting depth capped
//! ([`Limits::max_nesting_depth`]) and the expansion of shared references
//! budgeted, so neither a 100 000-deep pickle nor a "billion laughs" memo DAG can
//! exhaust the stack or memory. Every length field is checked against the
//! remaining input before anything is allocated.
//!
//! # Converting
//! [`to_session`] is steps 4–5 of §2.5: pop `original_format_remove_keys`, then
//! accept the session only if the reference's check (`bson.encode` in BSON mode,
//! `json.dumps` in JSON mode) would, converting it to a [`Document`].
//!
//! # Writing
//! [`dumps`] writes `pickle.dumps(session, 2)` as Python 3 does, loadable by
//! Python 2 and Python 3 Beaker.
//!
//! # Deliberate differences from `pickle.loads`
//! Checked against CPython on ~370 generated and hand-made pickles and ~57 000
//! mutated ones (`scripts/gen_pickle_fixtures.py`); where the outcome differs it is
//! one of these, all on pickles no Beaker ever wrote:
//! * refused: every global outside the allow-list (the reference imports and calls
//!   it), `INST`/`OBJ`/`EXT*`/`PERSID`, `_codecs.encode` with a codec other than
//!   latin-1, `bytes(n)`/`bytearray(n)` (an allocation of n bytes), `ObjectId()`
//!   (a random id);
//! * validated although CPython is not: the fields of a packed datetime/date/time
//!   state, a `UUID` state (an int below 2^128), an `ObjectId` state (12 bytes), an
//!   `Int64` (within int64), a `Binary` subtype (0..=255);
//! * the memo is a map: a huge `LONG_BINPUT` index is no `MemoryError`;
//! * dict keys and set items follow Python equality for str, int, float, bool,
//!   `None` and `Int64` (`1 == 1.0 == True`); other hashable keys compare by
//!   identity, which only matters inside dicts and sets the session check refuses
//!   anyway;
//! * `APPEND(S)`, `SETITEM(S)` and `ADDITEMS` only act on lists, dicts and sets,
//!   and `BUILD` only on the allow-listed classes (instance attributes of an
//!   `OrderedDict` or `Binary` are dropped);
//! * nesting beyond [`Limits::max_nesting_depth`] is [`Error::NestingTooDeep`]
//!   when loading (the reference loads it and only `bson.encode`/`json.dumps`
//!   hit a `RecursionError`, near 1000 levels).

use std::collections::{HashMap, HashSet};

use bson::spec::BinarySubtype;
use bson::{Bson, Document};

use crate::codec::Limits;
use crate::ejson::{civil_from_days, days_from_civil};
use crate::error::{Error, Result};
use crate::pyjson::push_float_repr;

#[cfg(test)]
mod tests;

// =====================================================================================
// Values
// =====================================================================================

/// A `datetime.timezone`: a fixed offset from UTC (strictly within ±24 h) and an
/// optional name.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyTimeZone {
    /// `utcoffset()` in microseconds.
    pub offset_us: i64,
    /// The name given to the constructor, if any.
    pub name: Option<String>,
}

/// A `datetime.datetime` (validated fields).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyDateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub microsecond: u32,
    pub fold: bool,
    /// `None` for a naive datetime.
    pub tz: Option<PyTimeZone>,
}

/// A `datetime.time` (validated fields).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PyTime {
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    pub microsecond: u32,
    pub fold: bool,
    pub tz: Option<PyTimeZone>,
}

/// A Python value as the safe unpickler reconstructs it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PyValue {
    /// `None`.
    None,
    /// `bool`.
    Bool(bool),
    /// `int` within the int64 range.
    Int(i64),
    /// `int` beyond the int64 range: minimal little-endian two's complement bytes.
    BigInt(Vec<u8>),
    /// `float`.
    Float(f64),
    /// `str`.
    Str(String),
    /// A `str` holding lone surrogates, which Python allows and UTF-8 cannot hold:
    /// its code points.
    StrSurrogates(Vec<u32>),
    /// `bytes`.
    Bytes(Vec<u8>),
    /// `bytearray`.
    ByteArray(Vec<u8>),
    /// `list`.
    List(Vec<PyValue>),
    /// `tuple`.
    Tuple(Vec<PyValue>),
    /// `dict`: ordered pairs, keys unique under Python equality (see [`loads`]).
    Dict(Vec<(PyValue, PyValue)>),
    /// `collections.OrderedDict`.
    OrderedDict(Vec<(PyValue, PyValue)>),
    /// `set` (insertion order of first occurrence).
    Set(Vec<PyValue>),
    /// `frozenset`.
    FrozenSet(Vec<PyValue>),
    /// `datetime.datetime`.
    DateTime(PyDateTime),
    /// `datetime.date`.
    Date { year: u16, month: u8, day: u8 },
    /// `datetime.time`.
    Time(PyTime),
    /// `datetime.timedelta`, normalised as Python does (0 <= seconds < 86400,
    /// 0 <= microseconds < 10^6).
    TimeDelta {
        days: i32,
        seconds: i32,
        microseconds: i32,
    },
    /// `datetime.timezone` as a value of its own.
    TimeZone(PyTimeZone),
    /// `decimal.Decimal`, as its canonical `str()`.
    Decimal(String),
    /// `uuid.UUID`.
    Uuid(u128),
    /// `bson.int64.Int64`.
    Int64(i64),
    /// `bson.objectid.ObjectId`.
    ObjectId([u8; 12]),
    /// `bson.binary.Binary` (a `bytes` subclass with a subtype).
    Binary { subtype: u8, data: Vec<u8> },
    /// A bare `object()`, or an allow-listed instance whose state was never set
    /// (Python would hold an object missing its attributes): the class name.
    Object(&'static str),
    /// An allow-listed class or function itself, e.g. `datetime.datetime`.
    Class(&'static str),
    /// A reference back to a container that encloses it (Python's `[...]`).
    Recursive,
}

impl PyValue {
    /// `type(value).__name__`.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            PyValue::None => "NoneType",
            PyValue::Bool(_) => "bool",
            PyValue::Int(_) | PyValue::BigInt(_) => "int",
            PyValue::Float(_) => "float",
            PyValue::Str(_) | PyValue::StrSurrogates(_) => "str",
            PyValue::Bytes(_) => "bytes",
            PyValue::ByteArray(_) => "bytearray",
            PyValue::List(_) => "list",
            PyValue::Tuple(_) => "tuple",
            PyValue::Dict(_) => "dict",
            PyValue::OrderedDict(_) => "OrderedDict",
            PyValue::Set(_) => "set",
            PyValue::FrozenSet(_) => "frozenset",
            PyValue::DateTime(_) => "datetime",
            PyValue::Date { .. } => "date",
            PyValue::Time(_) => "time",
            PyValue::TimeDelta { .. } => "timedelta",
            PyValue::TimeZone(_) => "timezone",
            PyValue::Decimal(_) => "Decimal",
            PyValue::Uuid(_) => "UUID",
            PyValue::Int64(_) => "Int64",
            PyValue::ObjectId(_) => "ObjectId",
            PyValue::Binary { .. } => "Binary",
            PyValue::Object(name) => name,
            PyValue::Class(_) => "type",
            PyValue::Recursive => "list",
        }
    }
}

// =====================================================================================
// Reader
// =====================================================================================

/// An allow-listed global (after Python 2 names are mapped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Glob {
    DateTime,
    Date,
    Time,
    TimeDelta,
    TimeZone,
    CodecsEncode,
    Bytes,
    ByteArray,
    Set,
    FrozenSet,
    Object,
    Int,
    OrderedDict,
    Decimal,
    Uuid,
    Reconstructor,
    Int64,
    ObjectId,
    Binary,
}

impl Glob {
    fn qualname(self) -> &'static str {
        match self {
            Glob::DateTime => "datetime.datetime",
            Glob::Date => "datetime.date",
            Glob::Time => "datetime.time",
            Glob::TimeDelta => "datetime.timedelta",
            Glob::TimeZone => "datetime.timezone",
            Glob::CodecsEncode => "_codecs.encode",
            Glob::Bytes => "builtins.bytes",
            Glob::ByteArray => "builtins.bytearray",
            Glob::Set => "builtins.set",
            Glob::FrozenSet => "builtins.frozenset",
            Glob::Object => "builtins.object",
            Glob::Int => "builtins.int",
            Glob::OrderedDict => "collections.OrderedDict",
            Glob::Decimal => "decimal.Decimal",
            Glob::Uuid => "uuid.UUID",
            Glob::Reconstructor => "copyreg._reconstructor",
            Glob::Int64 => "bson.int64.Int64",
            Glob::ObjectId => "bson.objectid.ObjectId",
            Glob::Binary => "bson.binary.Binary",
        }
    }

    /// Whether it is a class (NEWOBJ accepts only classes).
    fn is_type(self) -> bool {
        !matches!(self, Glob::CodecsEncode | Glob::Reconstructor)
    }
}

/// Maximum length of a module or attribute name echoed in an error.
const NAME_ECHO: usize = 64;

fn truncate_name(s: &str) -> String {
    s.chars().take(NAME_ECHO).collect()
}

/// `Unpickler.find_class` restricted to the allow-list. Python 2 names are mapped
/// as `_compat_pickle` does, and only for protocols below 3, like CPython.
fn find_class(module: &str, name: &str, proto: u8) -> Result<Glob> {
    let (m, n) = if proto < 3 {
        let n = match (module, name) {
            ("__builtin__", "long") => "int",
            _ => name,
        };
        let m = match module {
            "__builtin__" => "builtins",
            "copy_reg" => "copyreg",
            _ => module,
        };
        (m, n)
    } else {
        (module, name)
    };
    let g = match (m, n) {
        ("datetime", "datetime") => Glob::DateTime,
        ("datetime", "date") => Glob::Date,
        ("datetime", "time") => Glob::Time,
        ("datetime", "timedelta") => Glob::TimeDelta,
        ("datetime", "timezone") => Glob::TimeZone,
        ("_codecs", "encode") => Glob::CodecsEncode,
        ("builtins", "bytes") => Glob::Bytes,
        ("builtins", "bytearray") => Glob::ByteArray,
        ("builtins", "set") => Glob::Set,
        ("builtins", "frozenset") => Glob::FrozenSet,
        ("builtins", "object") => Glob::Object,
        ("builtins", "int") => Glob::Int,
        ("collections", "OrderedDict") => Glob::OrderedDict,
        ("decimal", "Decimal") => Glob::Decimal,
        ("uuid", "UUID") => Glob::Uuid,
        ("copyreg", "_reconstructor") => Glob::Reconstructor,
        ("bson.int64", "Int64") => Glob::Int64,
        ("bson.objectid", "ObjectId") => Glob::ObjectId,
        ("bson.binary", "Binary") => Glob::Binary,
        _ => {
            return Err(Error::ForbiddenGlobal {
                module: truncate_name(module),
                name: truncate_name(name),
            });
        }
    };
    Ok(g)
}

type H = usize;

/// Handles of the singletons, created first in every arena.
const H_NONE: H = 0;
const H_FALSE: H = 1;
const H_TRUE: H = 2;

/// A `str` as Python holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum PStr {
    Utf8(String),
    /// Contains lone surrogates.
    Wide(Vec<u32>),
}

/// The key under which a dict or set finds equal keys. Python equality is only
/// reproduced for the keys a session can keep (str, int, float, bool, None);
/// other hashable keys compare by identity, which only matters for dicts and sets
/// that neither BSON nor JSON can hold anyway.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum HKey {
    None,
    Int(i64),
    Big(Vec<u8>),
    Float(u64),
    Str(PStr),
    Ident(H),
}

/// Dicts and sets up to this size find equal keys by a linear scan (no hashing,
/// no allocation); bigger ones build a hash index.
const SMALL: usize = 16;

#[derive(Debug, Default)]
struct DictNode {
    entries: Vec<(H, H)>,
    index: Option<HashMap<HKey, usize>>,
}

#[derive(Debug, Default)]
struct SetNode {
    items: Vec<H>,
    index: Option<HashSet<HKey>>,
}

/// Memo indices below this live in a vector; others (rare, and possibly huge) in a map.
const DENSE_MEMO: u64 = 4096;

#[derive(Debug)]
enum Node {
    None,
    Bool(bool),
    Int(i64),
    BigInt(Vec<u8>),
    Float(f64),
    Str(PStr),
    Bytes(Vec<u8>),
    ByteArray(Vec<u8>),
    List(Vec<H>),
    Tuple(Vec<H>),
    Dict(DictNode),
    OrderedDict(DictNode),
    Set(SetNode),
    FrozenSet(SetNode),
    DateTime(PyDateTime),
    Date(u16, u8, u8),
    Time(PyTime),
    TimeDelta(i32, i32, i32),
    TimeZone(PyTimeZone),
    Decimal(String),
    Uuid(Option<u128>),
    Int64(i64),
    ObjectId(Option<[u8; 12]>),
    Binary(u8, Vec<u8>),
    Object,
    Global(Glob),
}

fn perr(msg: impl Into<String>) -> Error {
    Error::Pickle(msg.into())
}

fn underflow() -> Error {
    perr("unpickling stack underflow")
}

fn truncated() -> Error {
    perr("pickle data was truncated")
}

/// Reads a pickle without executing anything.
///
/// # Errors
/// [`Error::Pickle`] for malformed or unsupported pickles (where Python raises
/// `UnpicklingError`, `EOFError`, `ValueError`, `TypeError`, ...),
/// [`Error::ForbiddenGlobal`] for any global outside the allow-list,
/// [`Error::NonAsciiPy2String`] for a Python 2 byte string with bytes >= 0x80
/// (which Python 3's ASCII decoding rejects), [`Error::NestingTooDeep`] beyond
/// `limits.max_nesting_depth`.
pub(crate) fn loads(data: &[u8], limits: &Limits) -> Result<PyValue> {
    let mut u = Unpickler {
        data,
        pos: 0,
        stack: Vec::new(),
        marks: Vec::new(),
        memo: Vec::new(),
        memo_far: HashMap::new(),
        memo_len: 0,
        arena: vec![Node::None, Node::Bool(false), Node::Bool(true)],
        hashable: HashMap::new(),
        proto: 0,
        depth_limit: limits.max_nesting_depth,
    };
    let root = u.run()?;
    // Expanding shared references may not produce much more than the input: a
    // real session pickle expands to about its own size.
    let budget = limits
        .max_decompressed_size
        .max(data.len().saturating_mul(64));
    u.expand(root, budget)
}

struct Unpickler<'a> {
    data: &'a [u8],
    pos: usize,
    stack: Vec<H>,
    /// Stack lengths at each MARK (CPython's `marks`; the last one is the fence).
    marks: Vec<usize>,
    memo: Vec<Option<H>>,
    memo_far: HashMap<u64, H>,
    /// Number of filled memo entries (MEMOIZE's next index).
    memo_len: u64,
    arena: Vec<Node>,
    /// Cached hashability of tuples and frozensets (immutable once built).
    hashable: HashMap<H, bool>,
    proto: u8,
    depth_limit: usize,
}

impl<'a> Unpickler<'a> {
    // ------------------------------------------------------------------ input

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or_else(truncated)?;
        let s = self.data.get(self.pos..end).ok_or_else(truncated)?;
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8> {
        let b = *self.data.get(self.pos).ok_or_else(truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn u16le(&mut self) -> Result<u16> {
        let s = self.take(2)?;
        let mut b = [0u8; 2];
        b.copy_from_slice(s);
        Ok(u16::from_le_bytes(b))
    }

    fn u32le(&mut self) -> Result<u32> {
        let s = self.take(4)?;
        let mut b = [0u8; 4];
        b.copy_from_slice(s);
        Ok(u32::from_le_bytes(b))
    }

    fn u64le(&mut self) -> Result<u64> {
        let s = self.take(8)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(s);
        Ok(u64::from_le_bytes(b))
    }

    /// A length field: refused before allocating when it exceeds the input left.
    fn len_bytes(&mut self, n: u64) -> Result<&'a [u8]> {
        let n = usize::try_from(n).map_err(|_| truncated())?;
        if n > self.data.len().saturating_sub(self.pos) {
            return Err(truncated());
        }
        self.take(n)
    }

    /// A protocol-0 line including its `\n` (CPython's `_Unpickler_Readline`).
    fn line(&mut self) -> Result<&'a [u8]> {
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        let i = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(truncated)?;
        self.take(i + 1)
    }

    // ------------------------------------------------------------------ arena and stack

    fn alloc(&mut self, n: Node) -> H {
        match n {
            Node::None => H_NONE,
            Node::Bool(false) => H_FALSE,
            Node::Bool(true) => H_TRUE,
            n => {
                self.arena.push(n);
                self.arena.len() - 1
            }
        }
    }

    fn push(&mut self, n: Node) {
        let h = self.alloc(n);
        self.stack.push(h);
    }

    fn fence(&self) -> usize {
        self.marks.last().copied().unwrap_or(0)
    }

    fn pop(&mut self) -> Result<H> {
        if self.stack.len() <= self.fence() {
            return Err(underflow());
        }
        self.stack.pop().ok_or_else(underflow)
    }

    fn top(&self) -> Result<H> {
        if self.stack.len() <= self.fence() {
            return Err(underflow());
        }
        self.stack.last().copied().ok_or_else(underflow)
    }

    fn marker(&mut self) -> Result<usize> {
        self.marks.pop().ok_or_else(|| perr("could not find MARK"))
    }

    /// Pops everything from `start` (CPython's `Pdata_poptuple`).
    fn pop_from(&mut self, start: usize) -> Result<Vec<H>> {
        if start < self.fence() || start > self.stack.len() {
            return Err(underflow());
        }
        Ok(self.stack.split_off(start))
    }

    fn node(&self, h: H) -> &Node {
        // Handles only ever come from `alloc`.
        self.arena.get(h).unwrap_or(&Node::None)
    }

    fn node_mut(&mut self, h: H) -> Option<&mut Node> {
        self.arena.get_mut(h)
    }

    fn memo_get(&self, idx: u64) -> Result<H> {
        let found = if idx < DENSE_MEMO {
            usize::try_from(idx)
                .ok()
                .and_then(|i| self.memo.get(i).copied().flatten())
        } else {
            self.memo_far.get(&idx).copied()
        };
        found.ok_or_else(|| perr(format!("memo value not found at index {idx}")))
    }

    fn memo_put(&mut self, idx: u64) -> Result<()> {
        let h = self.top()?;
        let old = if idx < DENSE_MEMO {
            let i = usize::try_from(idx).unwrap_or(0);
            if self.memo.len() <= i {
                self.memo.resize(i + 1, None);
            }
            self.memo.get_mut(i).and_then(|slot| slot.replace(h))
        } else {
            self.memo_far.insert(idx, h)
        };
        if old.is_none() {
            self.memo_len += 1;
        }
        Ok(())
    }

    // ------------------------------------------------------------------ opcodes

    fn run(&mut self) -> Result<H> {
        loop {
            let op = self
                .data
                .get(self.pos)
                .copied()
                .ok_or_else(|| perr("pickle data was truncated (no STOP)"))?;
            self.pos += 1;
            match op {
                b'.' => return self.pop(),
                0x80 => {
                    let p = self.byte()?;
                    if p > 5 {
                        return Err(perr(format!("unsupported pickle protocol: {p}")));
                    }
                    self.proto = p;
                }
                0x95 => {
                    // FRAME: only a hint; the frame must fit in what is left.
                    let n = self.u64le()?;
                    if n > (self.data.len().saturating_sub(self.pos)) as u64 {
                        return Err(perr("pickle exhausted before end of frame"));
                    }
                }
                b'(' => self.marks.push(self.stack.len()),
                b'0' => {
                    // POP: a mark with nothing above it is popped instead.
                    if self.marks.last() == Some(&self.stack.len()) {
                        self.marks.pop();
                    } else {
                        self.pop()?;
                    }
                }
                b'1' => {
                    let i = self.marker()?;
                    if i > self.stack.len() {
                        return Err(underflow());
                    }
                    self.stack.truncate(i);
                }
                b'2' => {
                    let h = self.top()?;
                    self.stack.push(h);
                }
                b'N' => self.stack.push(H_NONE),
                0x88 => self.stack.push(H_TRUE),
                0x89 => self.stack.push(H_FALSE),
                b'I' => {
                    let line = self.line()?;
                    let n = load_int_line(line)?;
                    self.push(n);
                }
                b'J' => {
                    let v = self.u32le()? as i32;
                    self.push(Node::Int(i64::from(v)));
                }
                b'K' => {
                    let v = self.byte()?;
                    self.push(Node::Int(i64::from(v)));
                }
                b'M' => {
                    let v = self.u16le()?;
                    self.push(Node::Int(i64::from(v)));
                }
                b'L' => {
                    let line = self.line()?;
                    let n = load_long_line(line)?;
                    self.push(n);
                }
                0x8a => {
                    let n = self.byte()?;
                    let s = self.take(usize::from(n))?;
                    self.push(int_from_le(s));
                }
                0x8b => {
                    let n = self.u32le()? as i32;
                    let n = u64::try_from(n)
                        .map_err(|_| perr("LONG pickle has negative byte count"))?;
                    let s = self.len_bytes(n)?;
                    self.push(int_from_le(s));
                }
                b'F' => {
                    let line = self.line()?;
                    let f = load_float_line(line)?;
                    self.push(Node::Float(f));
                }
                b'G' => {
                    let s = self.take(8)?;
                    let mut b = [0u8; 8];
                    b.copy_from_slice(s);
                    self.push(Node::Float(f64::from_be_bytes(b)));
                }
                b'S' => {
                    let line = self.line()?;
                    let bytes = load_string_line(line)?;
                    let s = py2_str(bytes)?;
                    self.push(Node::Str(s));
                }
                b'T' => {
                    let n = self.u32le()? as i32;
                    let n = u64::try_from(n)
                        .map_err(|_| perr("BINSTRING pickle has negative byte count"))?;
                    let s = self.len_bytes(n)?;
                    let s = py2_str(s.to_vec())?;
                    self.push(Node::Str(s));
                }
                b'U' => {
                    let n = self.byte()?;
                    let s = self.take(usize::from(n))?;
                    let s = py2_str(s.to_vec())?;
                    self.push(Node::Str(s));
                }
                b'V' => {
                    let line = self.line()?;
                    let body = line.get(..line.len().saturating_sub(1)).unwrap_or(&[]);
                    let s = raw_unicode_escape(body)?;
                    self.push(Node::Str(s));
                }
                b'X' => {
                    let n = self.u32le()?;
                    let s = self.len_bytes(u64::from(n))?;
                    self.push(Node::Str(utf8_surrogatepass(s)?));
                }
                0x8c => {
                    let n = self.byte()?;
                    let s = self.take(usize::from(n))?;
                    self.push(Node::Str(utf8_surrogatepass(s)?));
                }
                0x8d => {
                    let n = self.u64le()?;
                    let s = self.len_bytes(n)?;
                    self.push(Node::Str(utf8_surrogatepass(s)?));
                }
                b'B' => {
                    let n = self.u32le()?;
                    let s = self.len_bytes(u64::from(n))?;
                    self.push(Node::Bytes(s.to_vec()));
                }
                b'C' => {
                    let n = self.byte()?;
                    let s = self.take(usize::from(n))?;
                    self.push(Node::Bytes(s.to_vec()));
                }
                0x8e => {
                    let n = self.u64le()?;
                    let s = self.len_bytes(n)?;
                    self.push(Node::Bytes(s.to_vec()));
                }
                0x96 => {
                    let n = self.u64le()?;
                    let s = self.len_bytes(n)?;
                    self.push(Node::ByteArray(s.to_vec()));
                }
                0x97 | 0x98 => {
                    return Err(perr(
                        "pickle stream refers to out-of-band data but no *buffers* argument was given",
                    ));
                }
                b']' => self.push(Node::List(Vec::new())),
                b'l' => {
                    let i = self.marker()?;
                    let items = self.pop_from(i)?;
                    self.push(Node::List(items));
                }
                b'a' => {
                    let x = self.stack.len().saturating_sub(1);
                    self.do_append(x)?;
                }
                b'e' => {
                    let x = self.marker()?;
                    self.do_append(x)?;
                }
                b')' => self.push(Node::Tuple(Vec::new())),
                b't' => {
                    let i = self.marker()?;
                    let items = self.pop_from(i)?;
                    self.push(Node::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let start = self.stack.len().checked_sub(n).ok_or_else(underflow)?;
                    let items = self.pop_from(start)?;
                    self.push(Node::Tuple(items));
                }
                b'}' => self.push(Node::Dict(DictNode::default())),
                b'd' => {
                    let i = self.marker()?;
                    let items = self.pop_from(i)?;
                    if items.len() % 2 != 0 {
                        return Err(perr("odd number of items for DICT"));
                    }
                    let mut d = DictNode::default();
                    for pair in items.chunks_exact(2) {
                        if let [k, v] = *pair {
                            self.dict_insert(&mut d, k, v)?;
                        }
                    }
                    self.push(Node::Dict(d));
                }
                b's' => {
                    let x = self.stack.len().saturating_sub(2);
                    self.do_setitems(x)?;
                }
                b'u' => {
                    let x = self.marker()?;
                    self.do_setitems(x)?;
                }
                0x8f => self.push(Node::Set(SetNode::default())),
                0x90 => {
                    let x = self.marker()?;
                    self.do_additems(x)?;
                }
                0x91 => {
                    let i = self.marker()?;
                    let items = self.pop_from(i)?;
                    let s = self.build_set(&items)?;
                    self.push(Node::FrozenSet(s));
                }
                b'p' => {
                    let line = self.line()?;
                    let idx = memo_index_line(line)?;
                    self.memo_put(idx)?;
                }
                b'q' => {
                    let idx = self.byte()?;
                    self.memo_put(u64::from(idx))?;
                }
                b'r' => {
                    let idx = self.u32le()?;
                    self.memo_put(u64::from(idx))?;
                }
                0x94 => {
                    let idx = self.memo_len;
                    self.memo_put(idx)?;
                }
                b'g' => {
                    let line = self.line()?;
                    let idx = memo_index_line(line)?;
                    let h = self.memo_get(idx)?;
                    self.stack.push(h);
                }
                b'h' => {
                    let idx = self.byte()?;
                    let h = self.memo_get(u64::from(idx))?;
                    self.stack.push(h);
                }
                b'j' => {
                    let idx = self.u32le()?;
                    let h = self.memo_get(u64::from(idx))?;
                    self.stack.push(h);
                }
                b'c' => {
                    let module = name_line(self.line()?, false)?;
                    let name = name_line(self.line()?, false)?;
                    let g = find_class(&module, &name, self.proto)?;
                    self.push(Node::Global(g));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (module, name) = match (self.node(module), self.node(name)) {
                        (Node::Str(m), Node::Str(n)) => (pstr_lossy(m), pstr_lossy(n)),
                        _ => return Err(perr("STACK_GLOBAL requires str")),
                    };
                    let g = find_class(&module, &name, self.proto)?;
                    self.push(Node::Global(g));
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    let args = match self.node(args) {
                        Node::Tuple(items) => items.clone(),
                        _ => return Err(perr("argument list must be a tuple")),
                    };
                    let g = match self.node(callable) {
                        Node::Global(g) => *g,
                        _ => return Err(perr("REDUCE on an object that is not callable")),
                    };
                    let n = self.call(g, &args)?;
                    self.push(n);
                }
                0x81 => {
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    self.newobj(cls, args, None)?;
                }
                0x92 => {
                    let kwargs = self.pop()?;
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    self.newobj(cls, args, Some(kwargs))?;
                }
                b'b' => self.build()?,
                b'i' => {
                    // INST names its class inline: refuse it by name when it is not
                    // allow-listed, and refuse the opcode anyway (old-style classes).
                    self.marker()?;
                    let module = name_line(self.line()?, true)?;
                    let name = name_line(self.line()?, true)?;
                    find_class(&module, &name, self.proto)?;
                    return Err(perr("INST opcode is not allowed"));
                }
                b'o' => return Err(perr("OBJ opcode is not allowed")),
                0x82..=0x84 => return Err(perr("EXT opcodes are not allowed")),
                b'P' | b'Q' => return Err(perr("persistent IDs are not allowed")),
                other => {
                    return Err(perr(format!("invalid load key, '\\x{other:02x}'.")));
                }
            }
            // The stack and marks only grow by one per opcode byte, so they stay
            // within the input size; the memo likewise.
        }
    }

    fn do_append(&mut self, x: usize) -> Result<()> {
        let len = self.stack.len();
        if x > len || x <= self.fence() {
            return Err(underflow());
        }
        if len == x {
            return Ok(());
        }
        let target = *self.stack.get(x - 1).ok_or_else(underflow)?;
        let items = self.stack.split_off(x);
        match self.node_mut(target) {
            Some(Node::List(v)) => {
                v.extend(items);
                Ok(())
            }
            _ => Err(perr("APPEND(S) target is not a list")),
        }
    }

    fn do_setitems(&mut self, x: usize) -> Result<()> {
        let len = self.stack.len();
        if x > len || x <= self.fence() {
            return Err(underflow());
        }
        if len == x {
            return Ok(());
        }
        if !(len - x).is_multiple_of(2) {
            return Err(perr("odd number of items for SETITEMS"));
        }
        let target = *self.stack.get(x - 1).ok_or_else(underflow)?;
        let items = self.stack.split_off(x);
        let mut d = match self.node_mut(target) {
            Some(Node::Dict(d)) | Some(Node::OrderedDict(d)) => std::mem::take(d),
            _ => return Err(perr("SETITEM(S) target does not support item assignment")),
        };
        let mut result = Ok(());
        for pair in items.chunks_exact(2) {
            if let [k, v] = *pair {
                result = self.dict_insert(&mut d, k, v);
                if result.is_err() {
                    break;
                }
            }
        }
        if let Some(Node::Dict(slot)) | Some(Node::OrderedDict(slot)) = self.node_mut(target) {
            *slot = d;
        }
        result
    }

    fn do_additems(&mut self, x: usize) -> Result<()> {
        let len = self.stack.len();
        if x > len || x <= self.fence() {
            return Err(underflow());
        }
        if len == x {
            return Ok(());
        }
        let target = *self.stack.get(x - 1).ok_or_else(underflow)?;
        let items = self.stack.split_off(x);
        let mut s = match self.node_mut(target) {
            Some(Node::Set(s)) => std::mem::take(s),
            _ => return Err(perr("ADDITEMS target is not a set")),
        };
        let mut result = Ok(());
        for &h in &items {
            result = self.set_insert(&mut s, h);
            if result.is_err() {
                break;
            }
        }
        if let Some(Node::Set(slot)) = self.node_mut(target) {
            *slot = s;
        }
        result
    }

    // ------------------------------------------------------------------ hashing

    /// Whether `h` is hashable (Python raises `TypeError: unhashable type`).
    fn check_hashable(&mut self, h: H) -> Result<()> {
        if matches!(
            self.node(h),
            Node::None | Node::Bool(_) | Node::Int(_) | Node::Float(_) | Node::Str(_)
        ) {
            return Ok(());
        }
        let mut todo = vec![h];
        let mut seen: Vec<H> = Vec::new();
        while let Some(h) = todo.pop() {
            if let Some(&ok) = self.hashable.get(&h) {
                if ok {
                    continue;
                }
                return Err(perr("unhashable type"));
            }
            match self.node(h) {
                Node::List(_)
                | Node::Dict(_)
                | Node::OrderedDict(_)
                | Node::Set(_)
                | Node::ByteArray(_) => {
                    for s in seen.drain(..) {
                        self.hashable.insert(s, false);
                    }
                    self.hashable.insert(h, false);
                    return Err(perr(format!(
                        "unhashable type: '{}'",
                        node_type_name(self.node(h))
                    )));
                }
                Node::Decimal(t) if t.starts_with("sNaN") || t.starts_with("-sNaN") => {
                    return Err(perr("cannot hash a signaling NaN value"));
                }
                Node::Uuid(None) | Node::ObjectId(None) => {
                    return Err(perr("cannot hash an object without state"));
                }
                Node::Tuple(items) => {
                    todo.extend(items.iter().copied());
                    seen.push(h);
                }
                _ => {}
            }
        }
        for s in seen {
            self.hashable.insert(s, true);
        }
        Ok(())
    }

    fn hkey(&self, h: H) -> HKey {
        match self.node(h) {
            Node::None => HKey::None,
            Node::Bool(b) => HKey::Int(i64::from(*b)),
            Node::Int(i) | Node::Int64(i) => HKey::Int(*i),
            Node::BigInt(b) => HKey::Big(b.clone()),
            Node::Float(f) => float_hkey(*f).unwrap_or(HKey::Ident(h)),
            Node::Str(s) => HKey::Str(s.clone()),
            _ => HKey::Ident(h),
        }
    }

    /// Python's key equality (identity first), consistent with [`Self::hkey`].
    fn key_eq(&self, a: H, b: H) -> bool {
        if a == b {
            return true;
        }
        match (self.node(a), self.node(b)) {
            (Node::Str(x), Node::Str(y)) => x == y,
            (Node::Str(_), _) | (_, Node::Str(_)) => false,
            _ => {
                let (ka, kb) = (self.hkey(a), self.hkey(b));
                !matches!(ka, HKey::Ident(_)) && ka == kb
            }
        }
    }

    fn dict_find(&self, d: &DictNode, k: H) -> Option<usize> {
        match &d.index {
            Some(ix) => ix.get(&self.hkey(k)).copied(),
            None => d.entries.iter().position(|&(e, _)| self.key_eq(e, k)),
        }
    }

    fn dict_insert(&mut self, d: &mut DictNode, k: H, v: H) -> Result<()> {
        self.check_hashable(k)?;
        match self.dict_find(d, k) {
            // Python keeps the first key object and position, and replaces the value.
            Some(i) => {
                if let Some(e) = d.entries.get_mut(i) {
                    e.1 = v;
                }
            }
            None => {
                if let Some(ix) = d.index.as_mut() {
                    ix.insert(self.hkey(k), d.entries.len());
                }
                d.entries.push((k, v));
                if d.index.is_none() && d.entries.len() > SMALL {
                    let ix = d
                        .entries
                        .iter()
                        .enumerate()
                        .map(|(i, &(e, _))| (self.hkey(e), i))
                        .collect();
                    d.index = Some(ix);
                }
            }
        }
        Ok(())
    }

    fn set_insert(&mut self, s: &mut SetNode, h: H) -> Result<()> {
        self.check_hashable(h)?;
        let present = match &s.index {
            Some(ix) => ix.contains(&self.hkey(h)),
            None => s.items.iter().any(|&e| self.key_eq(e, h)),
        };
        if present {
            return Ok(());
        }
        if let Some(ix) = s.index.as_mut() {
            ix.insert(self.hkey(h));
        }
        s.items.push(h);
        if s.index.is_none() && s.items.len() > SMALL {
            s.index = Some(s.items.iter().map(|&e| self.hkey(e)).collect());
        }
        Ok(())
    }

    fn build_set(&mut self, items: &[H]) -> Result<SetNode> {
        let mut s = SetNode::default();
        for &h in items {
            self.set_insert(&mut s, h)?;
        }
        Ok(s)
    }

    // ------------------------------------------------------------------ calls

    fn str_arg(&self, h: H) -> Option<&PStr> {
        match self.node(h) {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    fn int_arg(&self, h: H) -> Option<i64> {
        match self.node(h) {
            Node::Int(i) | Node::Int64(i) => Some(*i),
            Node::Bool(b) => Some(i64::from(*b)),
            _ => None,
        }
    }

    fn bytes_arg(&self, h: H) -> Option<&[u8]> {
        match self.node(h) {
            Node::Bytes(b) | Node::ByteArray(b) | Node::Binary(_, b) => Some(b),
            _ => None,
        }
    }

    /// Items of an iterable argument of set()/frozenset()/bytes().
    fn iter_arg(&self, h: H) -> Option<Vec<H>> {
        match self.node(h) {
            Node::List(v) | Node::Tuple(v) => Some(v.clone()),
            Node::Set(s) | Node::FrozenSet(s) => Some(s.items.clone()),
            Node::Dict(d) | Node::OrderedDict(d) => Some(d.entries.iter().map(|e| e.0).collect()),
            _ => None,
        }
    }

    /// `callable(*args)` for an allow-listed callable, built without executing anything.
    fn call(&mut self, g: Glob, args: &[H]) -> Result<Node> {
        let unsupported = || {
            perr(format!(
                "unsupported arguments for {} ({} given)",
                g.qualname(),
                args.len()
            ))
        };
        match (g, args) {
            (Glob::CodecsEncode, [s, enc]) => {
                let enc = self.str_arg(*enc).ok_or_else(unsupported)?;
                if !is_latin1_name(enc) {
                    return Err(perr("_codecs.encode is only allowed with 'latin1'"));
                }
                let s = self.str_arg(*s).ok_or_else(unsupported)?;
                Ok(Node::Bytes(latin1_encode(s)?))
            }
            (Glob::Bytes, []) => Ok(Node::Bytes(Vec::new())),
            (Glob::ByteArray, []) => Ok(Node::ByteArray(Vec::new())),
            (Glob::ByteArray, [x]) => match self.call(Glob::Bytes, &[*x])? {
                Node::Bytes(b) => Ok(Node::ByteArray(b)),
                _ => Err(unsupported()),
            },
            (Glob::Bytes, [x]) => {
                if let Some(b) = self.bytes_arg(*x) {
                    return Ok(Node::Bytes(b.to_vec()));
                }
                let items = self.iter_arg(*x).ok_or_else(unsupported)?;
                let mut out = Vec::with_capacity(items.len());
                for h in items {
                    let v = self.int_arg(h).ok_or_else(unsupported)?;
                    out.push(u8::try_from(v).map_err(|_| perr("bytes must be in range(0, 256)"))?);
                }
                Ok(Node::Bytes(out))
            }
            (Glob::Set | Glob::FrozenSet, []) => Ok(if g == Glob::Set {
                Node::Set(SetNode::default())
            } else {
                Node::FrozenSet(SetNode::default())
            }),
            (Glob::Set | Glob::FrozenSet, [x]) => {
                let items = self.iter_arg(*x).ok_or_else(unsupported)?;
                let s = self.build_set(&items)?;
                Ok(if g == Glob::Set {
                    Node::Set(s)
                } else {
                    Node::FrozenSet(s)
                })
            }
            (Glob::OrderedDict, []) => Ok(Node::OrderedDict(DictNode::default())),
            (Glob::OrderedDict, [x]) => {
                // Python 2's OrderedDict.__reduce__ passes [[k, v], ...].
                let mut d = DictNode::default();
                if let Node::Dict(src) | Node::OrderedDict(src) = self.node(*x) {
                    let pairs = src.entries.clone();
                    for (k, v) in pairs {
                        self.dict_insert(&mut d, k, v)?;
                    }
                    return Ok(Node::OrderedDict(d));
                }
                let items = self.iter_arg(*x).ok_or_else(unsupported)?;
                for h in items {
                    let pair = match self.node(h) {
                        Node::List(p) | Node::Tuple(p) => match *p.as_slice() {
                            [k, v] => (k, v),
                            _ => return Err(perr("OrderedDict items must be pairs")),
                        },
                        _ => return Err(perr("OrderedDict items must be pairs")),
                    };
                    self.dict_insert(&mut d, pair.0, pair.1)?;
                }
                Ok(Node::OrderedDict(d))
            }
            (Glob::Decimal, []) => Ok(Node::Decimal("0".into())),
            (Glob::Decimal, [x]) => match self.node(*x) {
                Node::Str(PStr::Utf8(s)) => {
                    Ok(Node::Decimal(decimal_canonical(s).ok_or_else(|| {
                        perr("decimal.InvalidOperation: invalid Decimal literal")
                    })?))
                }
                Node::Int(i) => Ok(Node::Decimal(i.to_string())),
                Node::Bool(b) => Ok(Node::Decimal(u8::from(*b).to_string())),
                _ => Err(unsupported()),
            },
            (Glob::Uuid, [x]) => {
                let s = self.str_arg(*x).ok_or_else(unsupported)?;
                let v = parse_uuid_hex(&pstr_lossy(s))
                    .ok_or_else(|| perr("badly formed hexadecimal UUID string"))?;
                Ok(Node::Uuid(Some(v)))
            }
            (Glob::DateTime, _) => self.make_datetime(args).map(Node::DateTime),
            (Glob::Date, _) => self.make_date(args),
            (Glob::Time, _) => self.make_time(args).map(Node::Time),
            (Glob::TimeDelta, _) => self.make_timedelta(args),
            (Glob::TimeZone, _) => self.make_timezone(args).map(Node::TimeZone),
            (Glob::Object, []) => Ok(Node::Object),
            (Glob::Int, []) => Ok(Node::Int(0)),
            (Glob::Int, [x]) => match self.node(*x) {
                Node::Int(i) | Node::Int64(i) => Ok(Node::Int(*i)),
                Node::Bool(b) => Ok(Node::Int(i64::from(*b))),
                Node::BigInt(b) => Ok(Node::BigInt(b.clone())),
                _ => Err(unsupported()),
            },
            (Glob::Int64, []) => Ok(Node::Int64(0)),
            (Glob::Int64, [x]) => Ok(Node::Int64(self.int64_arg(*x)?)),
            (Glob::ObjectId, [x]) => {
                let oid = match self.node(*x) {
                    Node::Str(PStr::Utf8(s)) if s.len() == 24 => {
                        let mut out = [0u8; 12];
                        for (i, o) in out.iter_mut().enumerate() {
                            let pair = s.get(2 * i..2 * i + 2).ok_or_else(unsupported)?;
                            *o = u8::from_str_radix(pair, 16)
                                .map_err(|_| perr("not a valid ObjectId"))?;
                        }
                        out
                    }
                    Node::Bytes(b) => <[u8; 12]>::try_from(b.as_slice())
                        .map_err(|_| perr("not a valid ObjectId"))?,
                    _ => return Err(perr("not a valid ObjectId")),
                };
                Ok(Node::ObjectId(Some(oid)))
            }
            (Glob::Binary, _) => self.make_binary(args),
            (Glob::Reconstructor, [cls, base, state]) => {
                let cls = match self.node(*cls) {
                    Node::Global(g) => *g,
                    _ => return Err(unsupported()),
                };
                let base = match self.node(*base) {
                    Node::Global(g) => *g,
                    _ => return Err(unsupported()),
                };
                match (cls, base) {
                    (Glob::Uuid, Glob::Object) => Ok(Node::Uuid(None)),
                    (Glob::ObjectId, Glob::Object) => Ok(Node::ObjectId(None)),
                    (Glob::Object, Glob::Object) => Ok(Node::Object),
                    (Glob::OrderedDict, Glob::Object) => Ok(Node::OrderedDict(DictNode::default())),
                    (Glob::Int64, Glob::Int) => Ok(Node::Int64(self.int64_arg(*state)?)),
                    (Glob::Binary, Glob::Bytes) => {
                        let b = self.bytes_arg(*state).ok_or_else(unsupported)?;
                        Ok(Node::Binary(0, b.to_vec()))
                    }
                    // base.__new__(cls, state), then base.__init__(obj, state) for
                    // classes with their own __init__: together, cls(state).
                    (c, b) if c == b && c.is_type() => match c {
                        Glob::Uuid
                        | Glob::ObjectId
                        | Glob::OrderedDict
                        | Glob::Set
                        | Glob::ByteArray => self.call(c, &[*state]),
                        _ => self.new_instance(c, &[*state]),
                    },
                    _ => Err(perr(format!(
                        "copyreg._reconstructor({}, {}) is not allowed",
                        cls.qualname(),
                        base.qualname()
                    ))),
                }
            }
            _ => Err(unsupported()),
        }
    }

    fn int64_arg(&self, h: H) -> Result<i64> {
        self.int_arg(h)
            .ok_or_else(|| perr("Int64 needs an int within the int64 range"))
    }

    fn make_binary(&self, args: &[H]) -> Result<Node> {
        let (data, subtype) = match args {
            [d] => (*d, None),
            [d, s] => (*d, Some(*s)),
            _ => return Err(perr("unsupported arguments for bson.binary.Binary")),
        };
        let data = self
            .bytes_arg(data)
            .ok_or_else(|| perr("Binary data must support the buffer protocol"))?;
        let subtype = match subtype {
            None => 0,
            Some(s) => {
                let v = self
                    .int_arg(s)
                    .ok_or_else(|| perr("subtype must be an instance of int"))?;
                u8::try_from(v).map_err(|_| perr("subtype must be contained in [0, 256)"))?
            }
        };
        Ok(Node::Binary(subtype, data.to_vec()))
    }

    /// The packed state of a datetime/date/time: bytes, or a str of code points
    /// below 256 (Python 3 accepts the latin-1 `str` a Python 2 pickle yields).
    fn state_arg<const N: usize>(&self, h: H) -> Option<[u8; N]> {
        match self.node(h) {
            Node::Bytes(b) => <[u8; N]>::try_from(b.as_slice()).ok(),
            Node::Str(s) => <[u8; N]>::try_from(latin1_encode(s).ok()?.as_slice()).ok(),
            _ => None,
        }
    }

    fn tz_arg(&self, h: Option<&H>) -> Result<Option<PyTimeZone>> {
        match h.map(|h| self.node(*h)) {
            None | Some(Node::None) => Ok(None),
            Some(Node::TimeZone(tz)) => Ok(Some(tz.clone())),
            Some(_) => Err(perr("bad tzinfo state arg")),
        }
    }

    fn int_args(&self, args: &[H]) -> Result<Vec<i64>> {
        args.iter()
            .map(|h| {
                self.int_arg(*h)
                    .ok_or_else(|| perr("an integer is required"))
            })
            .collect()
    }

    fn make_datetime(&self, args: &[H]) -> Result<PyDateTime> {
        // The packed state (CPython checks only its length and the month byte).
        if let Some(first) = args.first()
            && let Some([y0, y1, mo, d, h, mi, s, u0, u1, u2]) = self.state_arg::<10>(*first)
            && (1..=12).contains(&(mo & 0x7f))
        {
            if args.len() > 2 {
                return Err(perr("too many arguments for datetime state"));
            }
            let dt = PyDateTime {
                year: u16::from_be_bytes([y0, y1]),
                month: mo & 0x7f,
                day: d,
                hour: h,
                minute: mi,
                second: s,
                microsecond: u32::from_be_bytes([0, u0, u1, u2]),
                fold: mo & 0x80 != 0,
                tz: self.tz_arg(args.get(1))?,
            };
            check_datetime(&dt)?;
            return Ok(dt);
        }
        // datetime(year, month, day[, hour[, minute[, second[, microsecond[, tzinfo]]]]])
        if args.len() < 3 || args.len() > 8 {
            return Err(perr("unsupported arguments for datetime.datetime"));
        }
        let (ints, tz) = if args.len() == 8 {
            (args.get(..7).unwrap_or(args), self.tz_arg(args.get(7))?)
        } else {
            (args, None)
        };
        let v = self.int_args(ints)?;
        let get = |i: usize| v.get(i).copied().unwrap_or(0);
        let dt = PyDateTime {
            year: narrow(get(0), "year")?,
            month: narrow(get(1), "month")?,
            day: narrow(get(2), "day")?,
            hour: narrow(get(3), "hour")?,
            minute: narrow(get(4), "minute")?,
            second: narrow(get(5), "second")?,
            microsecond: narrow(get(6), "microsecond")?,
            fold: false,
            tz,
        };
        check_datetime(&dt)?;
        Ok(dt)
    }

    fn make_date(&self, args: &[H]) -> Result<Node> {
        if let [first] = args
            && let Some([y0, y1, m, d]) = self.state_arg::<4>(*first)
            && (1..=12).contains(&m)
        {
            let y = u16::from_be_bytes([y0, y1]);
            check_date(y, m, d)?;
            return Ok(Node::Date(y, m, d));
        }
        let v = self.int_args(args)?;
        let &[y, m, d] = v.as_slice() else {
            return Err(perr("unsupported arguments for datetime.date"));
        };
        let y = narrow(y, "year")?;
        let m = narrow(m, "month")?;
        let d = narrow(d, "day")?;
        check_date(y, m, d)?;
        Ok(Node::Date(y, m, d))
    }

    fn make_time(&self, args: &[H]) -> Result<PyTime> {
        if let Some(first) = args.first()
            && let Some([h, mi, s, u0, u1, u2]) = self.state_arg::<6>(*first)
            && (h & 0x7f) < 24
        {
            if args.len() > 2 {
                return Err(perr("too many arguments for time state"));
            }
            let t = PyTime {
                hour: h & 0x7f,
                minute: mi,
                second: s,
                microsecond: u32::from_be_bytes([0, u0, u1, u2]),
                fold: h & 0x80 != 0,
                tz: self.tz_arg(args.get(1))?,
            };
            check_time(t.hour, t.minute, t.second, t.microsecond)?;
            return Ok(t);
        }
        if args.len() > 5 {
            return Err(perr("unsupported arguments for datetime.time"));
        }
        let (ints, tz) = if args.len() == 5 {
            (args.get(..4).unwrap_or(args), self.tz_arg(args.get(4))?)
        } else {
            (args, None)
        };
        let v = self.int_args(ints)?;
        let get = |i: usize| v.get(i).copied().unwrap_or(0);
        let t = PyTime {
            hour: narrow(get(0), "hour")?,
            minute: narrow(get(1), "minute")?,
            second: narrow(get(2), "second")?,
            microsecond: narrow(get(3), "microsecond")?,
            fold: false,
            tz,
        };
        check_time(t.hour, t.minute, t.second, t.microsecond)?;
        Ok(t)
    }

    fn make_timedelta(&self, args: &[H]) -> Result<Node> {
        if args.len() > 3 {
            return Err(perr("unsupported arguments for datetime.timedelta"));
        }
        let v = self.int_args(args)?;
        let get = |i: usize| i128::from(v.get(i).copied().unwrap_or(0));
        let total = get(0) * 86_400_000_000 + get(1) * 1_000_000 + get(2);
        let (d, s, us) = timedelta_from_us(total)?;
        Ok(Node::TimeDelta(d, s, us))
    }

    fn make_timezone(&self, args: &[H]) -> Result<PyTimeZone> {
        let (off, name) = match args {
            [o] => (*o, None),
            [o, n] => (*o, Some(*n)),
            _ => return Err(perr("unsupported arguments for datetime.timezone")),
        };
        let offset_us = match self.node(off) {
            Node::TimeDelta(d, s, us) => {
                i128::from(*d) * 86_400_000_000 + i128::from(*s) * 1_000_000 + i128::from(*us)
            }
            _ => return Err(perr("timezone() argument 1 must be datetime.timedelta")),
        };
        if offset_us <= -86_400_000_000 || offset_us >= 86_400_000_000 {
            return Err(perr(
                "offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24)",
            ));
        }
        let offset_us = i64::try_from(offset_us).unwrap_or(0);
        let name = match name.map(|h| self.node(h)) {
            None => None,
            Some(Node::Str(PStr::Utf8(s))) => Some(s.clone()),
            Some(_) => return Err(perr("timezone() argument 2 must be str")),
        };
        Ok(PyTimeZone { offset_us, name })
    }

    /// NEWOBJ / NEWOBJ_EX: `cls.__new__(cls, *args, **kwargs)`.
    fn newobj(&mut self, cls: H, args: H, kwargs: Option<H>) -> Result<()> {
        if let Some(kw) = kwargs {
            match self.node(kw) {
                Node::Dict(d) if d.entries.is_empty() => {}
                Node::Dict(_) => {
                    return Err(perr("NEWOBJ_EX with keyword arguments is not supported"));
                }
                _ => return Err(perr("NEWOBJ_EX kwargs argument must be a dict")),
            }
        }
        let args = match self.node(args) {
            Node::Tuple(a) => a.clone(),
            _ => return Err(perr("NEWOBJ expected an arg tuple.")),
        };
        let g = match self.node(cls) {
            Node::Global(g) if g.is_type() => *g,
            _ => return Err(perr("NEWOBJ class argument isn't a type object")),
        };
        let n = self.new_instance(g, &args)?;
        self.push(n);
        Ok(())
    }

    /// `cls.__new__(cls, *args)` for an allow-listed class.
    fn new_instance(&mut self, g: Glob, args: &[H]) -> Result<Node> {
        Ok(match g {
            // object.__new__ ignores the arguments of classes with their own __init__.
            Glob::Uuid => Node::Uuid(None),
            Glob::ObjectId => Node::ObjectId(None),
            Glob::Object if args.is_empty() => Node::Object,
            Glob::OrderedDict => Node::OrderedDict(DictNode::default()),
            Glob::Set => Node::Set(SetNode::default()),
            _ => self.call(g, args)?,
        })
    }

    /// BUILD: `inst.__setstate__(state)` or the default `__dict__` update.
    fn build(&mut self) -> Result<()> {
        if self.stack.len() < self.fence() + 2 {
            return Err(underflow());
        }
        let state = self.pop()?;
        let inst = self.top()?;
        let bad = |what: &str| perr(format!("cannot set the state of {what}"));
        match self.node(inst) {
            Node::Uuid(_) => {
                let v = self
                    .lookup_str_key(state, "int")
                    .ok_or_else(|| bad("UUID"))?;
                let v = match self.node(v) {
                    Node::Int(i) => u128::try_from(*i).map_err(|_| bad("UUID"))?,
                    Node::BigInt(b) => bigint_to_u128(b).ok_or_else(|| bad("UUID"))?,
                    _ => return Err(bad("UUID")),
                };
                if let Some(n) = self.node_mut(inst) {
                    *n = Node::Uuid(Some(v));
                }
            }
            Node::ObjectId(_) => {
                let v = match self.node(state) {
                    Node::Dict(_) => self
                        .lookup_str_key(state, "_ObjectId__id")
                        .ok_or_else(|| bad("ObjectId"))?,
                    _ => state,
                };
                let b = match self.node(v) {
                    Node::Bytes(b) => b.clone(),
                    Node::Str(s) => latin1_encode(s)?,
                    _ => return Err(bad("ObjectId")),
                };
                let oid = <[u8; 12]>::try_from(b.as_slice()).map_err(|_| bad("ObjectId"))?;
                if let Some(n) = self.node_mut(inst) {
                    *n = Node::ObjectId(Some(oid));
                }
            }
            // Int64.__setstate__ ignores its state.
            Node::Int64(_) => {}
            Node::Binary(..) | Node::OrderedDict(_) => {
                // Instances with a __dict__: (state, slotstate) or state; only the
                // Binary subtype matters, other attributes are ignored.
                let (st, slot) = match self.node(state) {
                    Node::Tuple(t) => match *t.as_slice() {
                        [a, b] => (a, Some(b)),
                        _ => (state, None),
                    },
                    _ => (state, None),
                };
                let mut subtype = None;
                for part in std::iter::once(st).chain(slot) {
                    match self.node(part) {
                        Node::None => {}
                        Node::Dict(_) => {
                            if let Some(v) = self.lookup_str_key(part, "_Binary__subtype") {
                                subtype = Some(v);
                            }
                        }
                        _ => return Err(perr("state is not a dictionary")),
                    }
                }
                if let (Some(v), Node::Binary(..)) = (subtype, self.node(inst)) {
                    let st = self
                        .int_arg(v)
                        .and_then(|v| u8::try_from(v).ok())
                        .ok_or_else(|| bad("Binary"))?;
                    if let Some(Node::Binary(s, _)) = self.node_mut(inst) {
                        *s = st;
                    }
                }
            }
            _ => {
                // No __setstate__ and no __dict__: only a None state is accepted.
                let none = match self.node(state) {
                    Node::None => true,
                    Node::Tuple(t) => match *t.as_slice() {
                        [a, b] => {
                            matches!(self.node(a), Node::None) && matches!(self.node(b), Node::None)
                        }
                        _ => false,
                    },
                    _ => false,
                };
                if !none {
                    return Err(perr(format!(
                        "'{}' object has no attribute '__dict__'",
                        node_type_name(self.node(inst))
                    )));
                }
            }
        }
        Ok(())
    }

    fn lookup_str_key(&self, dict: H, key: &str) -> Option<H> {
        match self.node(dict) {
            Node::Dict(d) => d
                .entries
                .iter()
                .find(|&&(k, _)| matches!(self.node(k), Node::Str(PStr::Utf8(s)) if s == key))
                .map(|e| e.1),
            _ => None,
        }
    }

    // ------------------------------------------------------------------ expansion

    /// Expands the object graph under `root` into a tree, iteratively.
    ///
    /// A node that only one container slot refers to, under ancestors that are
    /// themselves referred to once, is reached exactly once: its payload (strings,
    /// bytes, child lists) is moved out of the arena instead of cloned, which halves
    /// the allocations of a typical session. Shared nodes (memo references) are cloned.
    fn expand(&mut self, root: H, budget: usize) -> Result<PyValue> {
        struct Frame {
            h: H,
            children: Vec<H>,
            next: usize,
            out: Vec<PyValue>,
            shared: bool,
        }
        let mut refs = vec![0u32; self.arena.len()];
        for node in &self.arena {
            let kids: &[H] = match node {
                Node::List(v) | Node::Tuple(v) => v,
                Node::Set(s) | Node::FrozenSet(s) => &s.items,
                Node::Dict(d) | Node::OrderedDict(d) => {
                    for &(k, v) in &d.entries {
                        for h in [k, v] {
                            if let Some(r) = refs.get_mut(h) {
                                *r = r.saturating_add(1);
                            }
                        }
                    }
                    &[]
                }
                _ => &[],
            };
            for &h in kids {
                if let Some(r) = refs.get_mut(h) {
                    *r = r.saturating_add(1);
                }
            }
        }
        if let Some(r) = refs.get_mut(root) {
            *r = r.saturating_add(1);
        }
        let mut on_path = vec![false; self.arena.len()];
        let mut spent: usize = 0;
        let mut frames: Vec<Frame> = Vec::new();
        // The value produced by the last completed step, to hand to the parent.
        let mut current = root;
        let mut parent_shared = false;
        loop {
            let shared = parent_shared || refs.get(current).copied().unwrap_or(2) > 1;
            // Descend into `current` or turn it into a leaf value.
            let leaf = match self.children(current, shared) {
                Some(children) => {
                    if on_path.get(current).copied().unwrap_or(false) {
                        Some(PyValue::Recursive)
                    } else {
                        if frames.len() >= self.depth_limit {
                            return Err(Error::NestingTooDeep {
                                limit: self.depth_limit,
                            });
                        }
                        spent = spent.saturating_add(children.len().saturating_mul(16) + 16);
                        if spent > budget {
                            return Err(perr("shared references expand beyond the size limit"));
                        }
                        if let Some(p) = on_path.get_mut(current) {
                            *p = true;
                        }
                        frames.push(Frame {
                            h: current,
                            out: Vec::with_capacity(children.len()),
                            children,
                            next: 0,
                            shared,
                        });
                        None
                    }
                }
                None => {
                    let v = if shared {
                        self.leaf(current)
                    } else {
                        self.take_leaf(current)
                    };
                    spent = spent.saturating_add(leaf_size(&v).saturating_add(16));
                    if spent > budget {
                        return Err(perr("shared references expand beyond the size limit"));
                    }
                    Some(v)
                }
            };
            let mut value = leaf;
            loop {
                let Some(top) = frames.last_mut() else {
                    return value.ok_or_else(|| perr("empty pickle"));
                };
                if let Some(v) = value.take() {
                    top.out.push(v);
                }
                if let Some(&c) = top.children.get(top.next) {
                    top.next += 1;
                    current = c;
                    parent_shared = top.shared;
                    break;
                }
                // All children done: assemble the container.
                let Some(done) = frames.pop() else {
                    return Err(perr("internal expansion error"));
                };
                if let Some(p) = on_path.get_mut(done.h) {
                    *p = false;
                }
                value = Some(self.assemble(done.h, done.out));
            }
        }
    }

    /// A leaf reached once: its payload is moved out of the arena.
    fn take_leaf(&mut self, h: H) -> PyValue {
        let Some(node) = self.arena.get_mut(h) else {
            return PyValue::Recursive;
        };
        match node {
            Node::Str(PStr::Utf8(s)) => PyValue::Str(std::mem::take(s)),
            Node::Bytes(b) => PyValue::Bytes(std::mem::take(b)),
            Node::Binary(st, b) => PyValue::Binary {
                subtype: *st,
                data: std::mem::take(b),
            },
            _ => self.leaf(h),
        }
    }

    /// Children of a container node, flattened (dicts: key, value, key, value...).
    /// The child list of a node reached once is moved out, not cloned.
    fn children(&mut self, h: H, shared: bool) -> Option<Vec<H>> {
        if !shared && let Some(Node::List(v) | Node::Tuple(v)) = self.arena.get_mut(h) {
            return Some(std::mem::take(v));
        }
        match self.node(h) {
            Node::List(v) | Node::Tuple(v) => Some(v.clone()),
            Node::Dict(d) | Node::OrderedDict(d) => {
                Some(d.entries.iter().flat_map(|&(k, v)| [k, v]).collect())
            }
            Node::Set(s) | Node::FrozenSet(s) => Some(s.items.clone()),
            _ => None,
        }
    }

    fn assemble(&self, h: H, out: Vec<PyValue>) -> PyValue {
        let pairs = |out: Vec<PyValue>| {
            let mut it = out.into_iter();
            let mut v = Vec::new();
            while let (Some(k), Some(x)) = (it.next(), it.next()) {
                v.push((k, x));
            }
            v
        };
        match self.node(h) {
            Node::List(_) => PyValue::List(out),
            Node::Tuple(_) => PyValue::Tuple(out),
            Node::Dict(_) => PyValue::Dict(pairs(out)),
            Node::OrderedDict(_) => PyValue::OrderedDict(pairs(out)),
            Node::Set(_) => PyValue::Set(out),
            _ => PyValue::FrozenSet(out),
        }
    }

    fn leaf(&self, h: H) -> PyValue {
        match self.node(h) {
            Node::None => PyValue::None,
            Node::Bool(b) => PyValue::Bool(*b),
            Node::Int(i) => PyValue::Int(*i),
            Node::BigInt(b) => PyValue::BigInt(b.clone()),
            Node::Float(f) => PyValue::Float(*f),
            Node::Str(PStr::Utf8(s)) => PyValue::Str(s.clone()),
            Node::Str(PStr::Wide(w)) => PyValue::StrSurrogates(w.clone()),
            Node::Bytes(b) => PyValue::Bytes(b.clone()),
            Node::ByteArray(b) => PyValue::ByteArray(b.clone()),
            Node::DateTime(dt) => PyValue::DateTime(dt.clone()),
            Node::Date(y, m, d) => PyValue::Date {
                year: *y,
                month: *m,
                day: *d,
            },
            Node::Time(t) => PyValue::Time(t.clone()),
            Node::TimeDelta(d, s, us) => PyValue::TimeDelta {
                days: *d,
                seconds: *s,
                microseconds: *us,
            },
            Node::TimeZone(tz) => PyValue::TimeZone(tz.clone()),
            Node::Decimal(t) => PyValue::Decimal(t.clone()),
            Node::Uuid(Some(u)) => PyValue::Uuid(*u),
            Node::Uuid(None) => PyValue::Object("UUID"),
            Node::Int64(i) => PyValue::Int64(*i),
            Node::ObjectId(Some(o)) => PyValue::ObjectId(*o),
            Node::ObjectId(None) => PyValue::Object("ObjectId"),
            Node::Binary(st, b) => PyValue::Binary {
                subtype: *st,
                data: b.clone(),
            },
            Node::Object => PyValue::Object("object"),
            Node::Global(g) => PyValue::Class(g.qualname()),
            // Containers are handled by `expand`.
            Node::List(_)
            | Node::Tuple(_)
            | Node::Dict(_)
            | Node::OrderedDict(_)
            | Node::Set(_)
            | Node::FrozenSet(_) => PyValue::Recursive,
        }
    }
}

fn leaf_size(v: &PyValue) -> usize {
    match v {
        PyValue::Str(s) => s.len(),
        PyValue::StrSurrogates(w) => w.len() * 4,
        PyValue::Bytes(b) | PyValue::ByteArray(b) | PyValue::BigInt(b) => b.len(),
        PyValue::Binary { data, .. } => data.len(),
        PyValue::Decimal(t) => t.len(),
        _ => 0,
    }
}

fn node_type_name(n: &Node) -> &'static str {
    match n {
        Node::None => "NoneType",
        Node::Bool(_) => "bool",
        Node::Int(_) | Node::BigInt(_) => "int",
        Node::Float(_) => "float",
        Node::Str(_) => "str",
        Node::Bytes(_) => "bytes",
        Node::ByteArray(_) => "bytearray",
        Node::List(_) => "list",
        Node::Tuple(_) => "tuple",
        Node::Dict(_) => "dict",
        Node::OrderedDict(_) => "OrderedDict",
        Node::Set(_) => "set",
        Node::FrozenSet(_) => "frozenset",
        Node::DateTime(_) => "datetime",
        Node::Date(..) => "date",
        Node::Time(_) => "time",
        Node::TimeDelta(..) => "timedelta",
        Node::TimeZone(_) => "timezone",
        Node::Decimal(_) => "Decimal",
        Node::Uuid(_) => "UUID",
        Node::Int64(_) => "Int64",
        Node::ObjectId(_) => "ObjectId",
        Node::Binary(..) => "Binary",
        Node::Object => "object",
        Node::Global(_) => "type",
    }
}

// ------------------------------------------------------------------ scalar helpers

fn narrow<T: TryFrom<i64>>(v: i64, what: &str) -> Result<T> {
    T::try_from(v).map_err(|_| perr(format!("{what} is out of range")))
}

fn is_leap(y: u16) -> bool {
    (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400)
}

fn days_in_month(y: u16, m: u8) -> u8 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

fn check_date(y: u16, m: u8, d: u8) -> Result<()> {
    if !(1..=9999).contains(&y) {
        return Err(perr(format!("year {y} is out of range")));
    }
    if !(1..=12).contains(&m) {
        return Err(perr("month must be in 1..12"));
    }
    if d < 1 || d > days_in_month(y, m) {
        return Err(perr("day is out of range for month"));
    }
    Ok(())
}

fn check_time(h: u8, mi: u8, s: u8, us: u32) -> Result<()> {
    if h > 23 || mi > 59 || s > 59 || us > 999_999 {
        return Err(perr("time field out of range"));
    }
    Ok(())
}

fn check_datetime(dt: &PyDateTime) -> Result<()> {
    check_date(dt.year, dt.month, dt.day)?;
    check_time(dt.hour, dt.minute, dt.second, dt.microsecond)
}

/// `timedelta(microseconds=total)` normalised, with Python's day range.
fn timedelta_from_us(total: i128) -> Result<(i32, i32, i32)> {
    let days = total.div_euclid(86_400_000_000);
    let rem = total.rem_euclid(86_400_000_000);
    if !(-999_999_999..=999_999_999).contains(&days) {
        return Err(perr("days must have magnitude <= 999999999"));
    }
    let s = rem / 1_000_000;
    let us = rem % 1_000_000;
    Ok((
        i32::try_from(days).unwrap_or(0),
        i32::try_from(s).unwrap_or(0),
        i32::try_from(us).unwrap_or(0),
    ))
}

/// Python 3 decodes Python 2 byte strings as ASCII (`encoding="ASCII"`).
fn py2_str(bytes: Vec<u8>) -> Result<PStr> {
    if !bytes.is_ascii() {
        return Err(Error::NonAsciiPy2String);
    }
    Ok(PStr::Utf8(
        String::from_utf8(bytes).map_err(|_| Error::NonAsciiPy2String)?,
    ))
}

fn pstr_lossy(s: &PStr) -> String {
    match s {
        PStr::Utf8(s) => s.clone(),
        PStr::Wide(w) => w
            .iter()
            .map(|&c| char::from_u32(c).unwrap_or('\u{fffd}'))
            .collect(),
    }
}

fn pstr_from_codepoints(cps: Vec<u32>) -> PStr {
    if cps.iter().all(|&c| char::from_u32(c).is_some()) {
        PStr::Utf8(cps.iter().filter_map(|&c| char::from_u32(c)).collect())
    } else {
        PStr::Wide(cps)
    }
}

fn latin1_encode(s: &PStr) -> Result<Vec<u8>> {
    let err = || perr("'latin-1' codec can't encode character");
    match s {
        PStr::Utf8(s) => s
            .chars()
            .map(|c| u8::try_from(u32::from(c)).map_err(|_| err()))
            .collect(),
        PStr::Wide(w) => w
            .iter()
            .map(|&c| u8::try_from(c).map_err(|_| err()))
            .collect(),
    }
}

/// Python's codec name lookup for latin-1 (normalised as `encodings.normalize_encoding`).
fn is_latin1_name(s: &PStr) -> bool {
    let PStr::Utf8(s) = s else { return false };
    let n: String = s
        .trim()
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c == '-' || c == ' ' { '_' } else { c })
        .collect();
    matches!(
        n.as_str(),
        "latin1" | "latin_1" | "iso8859_1" | "iso_8859_1" | "l1" | "latin" | "cp819" | "8859"
    )
}

/// UTF-8 with `surrogatepass`, as Python 3 decodes BINUNICODE.
fn utf8_surrogatepass(b: &[u8]) -> Result<PStr> {
    if let Ok(s) = std::str::from_utf8(b) {
        return Ok(PStr::Utf8(s.to_string()));
    }
    let bad = || perr("'utf-8' codec can't decode bytes");
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&b0) = b.get(i) {
        let cont = |j: usize| -> Result<u32> {
            match b.get(j) {
                Some(&c) if c & 0xc0 == 0x80 => Ok(u32::from(c & 0x3f)),
                _ => Err(bad()),
            }
        };
        let (cp, n) = match b0 {
            0x00..=0x7f => (u32::from(b0), 1),
            0xc2..=0xdf => ((u32::from(b0 & 0x1f) << 6) | cont(i + 1)?, 2),
            0xe0..=0xef => {
                let cp = (u32::from(b0 & 0x0f) << 12) | (cont(i + 1)? << 6) | cont(i + 2)?;
                if cp < 0x800 {
                    return Err(bad());
                }
                (cp, 3)
            }
            0xf0..=0xf4 => {
                let cp = (u32::from(b0 & 0x07) << 18)
                    | (cont(i + 1)? << 12)
                    | (cont(i + 2)? << 6)
                    | cont(i + 3)?;
                if !(0x10000..=0x10ffff).contains(&cp) {
                    return Err(bad());
                }
                (cp, 4)
            }
            _ => return Err(bad()),
        };
        out.push(cp);
        i += n;
    }
    Ok(pstr_from_codepoints(out))
}

/// Python's `raw_unicode_escape` decoding (protocol 0 `UNICODE`).
fn raw_unicode_escape(b: &[u8]) -> Result<PStr> {
    let mut out: Vec<u32> = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c != b'\\' {
            out.push(u32::from(c));
            i += 1;
            continue;
        }
        // Count the run of backslashes; \u is an escape only after an odd count.
        let start = i;
        while b.get(i) == Some(&b'\\') {
            out.push(u32::from(b'\\'));
            i += 1;
        }
        let run = i - start;
        let kind = b.get(i).copied();
        if run % 2 == 0 || !matches!(kind, Some(b'u') | Some(b'U')) {
            continue;
        }
        out.pop();
        let count = if kind == Some(b'u') { 4 } else { 8 };
        i += 1;
        let hex = b
            .get(i..i + count)
            .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
            .ok_or_else(|| perr("truncated \\uXXXX escape"))?;
        let cp = u32::from_str_radix(std::str::from_utf8(hex).unwrap_or("x"), 16)
            .map_err(|_| perr("truncated \\uXXXX escape"))?;
        if cp > 0x10ffff {
            return Err(perr("\\Uxxxxxxxx out of range"));
        }
        out.push(cp);
        i += count;
    }
    Ok(pstr_from_codepoints(out))
}

/// The `STRING` argument: a quoted Python 2 repr, decoded by `codecs.escape_decode`.
fn load_string_line(line: &[u8]) -> Result<Vec<u8>> {
    if line.len() < 2 {
        return Err(truncated());
    }
    let s = line.get(..line.len() - 1).unwrap_or(&[]);
    let body = match s {
        [q, body @ .., e] if q == e && (*q == b'\'' || *q == b'"') => body,
        _ => return Err(perr("the STRING opcode argument must be quoted")),
    };
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while let Some(&c) = body.get(i) {
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = body.get(i) else {
            return Err(perr("Trailing \\ in string"));
        };
        i += 1;
        match e {
            b'\n' => {}
            b'\\' => out.push(b'\\'),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b't' => out.push(b'\t'),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b'v' => out.push(11),
            b'a' => out.push(7),
            b'0'..=b'7' => {
                let mut v = u32::from(e - b'0');
                for _ in 0..2 {
                    match body.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            v = v * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push((v & 0xff) as u8);
            }
            b'x' => {
                let hex = body
                    .get(i..i + 2)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .ok_or_else(|| perr("invalid \\x escape"))?;
                let v = u8::from_str_radix(std::str::from_utf8(hex).unwrap_or("x"), 16)
                    .map_err(|_| perr("invalid \\x escape"))?;
                out.push(v);
                i += 2;
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

/// A GLOBAL (UTF-8) or INST (ASCII) name line; an empty name is a truncated pickle.
fn name_line(line: &[u8], ascii: bool) -> Result<String> {
    if line.len() < 2 {
        return Err(truncated());
    }
    let body = line.get(..line.len() - 1).unwrap_or(&[]);
    if ascii && !body.is_ascii() {
        return Err(Error::NonAsciiPy2String);
    }
    std::str::from_utf8(body)
        .map(str::to_string)
        .map_err(|_| perr("'utf-8' codec can't decode a GLOBAL name"))
}

/// GET/PUT text argument: `int(s)` (decimal).
fn memo_index_line(line: &[u8]) -> Result<u64> {
    if line.len() < 2 {
        return Err(truncated());
    }
    let s = std::str::from_utf8(c_str(line)).map_err(|_| perr("invalid memo index"))?;
    let n = parse_py_int(s, false).ok_or_else(|| perr("invalid memo index"))?;
    match n {
        Node::Int(i) => u64::try_from(i).map_err(|_| perr("negative PUT argument")),
        _ => Err(perr("memo index out of range")),
    }
}

/// `INT`: `I00\n`/`I01\n` are False/True; otherwise C `strtol(s, 0)`, falling back
/// to Python's `int(s, 0)` for big or unusual numbers.
fn load_int_line(line: &[u8]) -> Result<Node> {
    if line.len() < 2 {
        return Err(truncated());
    }
    let s =
        std::str::from_utf8(c_str(line)).map_err(|_| perr("could not convert string to int"))?;
    if let Some(v) = strtol0(s) {
        if line.len() == 3 && (v == 0 || v == 1) {
            return Ok(Node::Bool(v == 1));
        }
        return Ok(Node::Int(v));
    }
    parse_py_int(s, true).ok_or_else(|| perr("could not convert string to int"))
}

/// `LONG`: `int(s, 0)` after dropping a trailing `L`.
fn load_long_line(line: &[u8]) -> Result<Node> {
    if line.len() < 2 {
        return Err(truncated());
    }
    // CPython overwrites a trailing 'L' with NUL, then parses up to the first NUL.
    let body = match line {
        [rest @ .., b'L', b'\n'] => rest,
        _ => line,
    };
    let s = std::str::from_utf8(c_str(body)).map_err(|_| perr("invalid literal for int()"))?;
    parse_py_int(s, true).ok_or_else(|| perr("invalid literal for int()"))
}

/// The text a C function sees: up to the first NUL byte.
fn c_str(b: &[u8]) -> &[u8] {
    b.iter()
        .position(|&c| c == 0)
        .and_then(|i| b.get(..i))
        .unwrap_or(b)
}

/// C `strtol(s, &end, 0)` that must consume everything up to the newline.
fn strtol0(s: &str) -> Option<i64> {
    // strtol("") is 0 with the end pointer on the terminating NUL: accepted.
    if s.is_empty() {
        return Some(0);
    }
    let body = s.strip_suffix('\n').unwrap_or(s);
    let t = body.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, t) = split_sign(t);
    let (radix, digits) = if let Some(r) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        (16, r)
    } else if let Some(r) = t.strip_prefix('0').filter(|r| !r.is_empty()) {
        (8, r)
    } else {
        (10, t)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = i128::from_str_radix(digits, radix).ok()?;
    let v = if neg { -v } else { v };
    i64::try_from(v).ok()
}

/// Python's `int(s, 0)` (or `int(s)` when `base0` is false): whitespace, sign,
/// `0x`/`0o`/`0b` prefixes, underscores between digits, at most 4300 decimal digits.
fn parse_py_int(s: &str, base0: bool) -> Option<Node> {
    let (neg, t) = split_sign(s.trim());
    let lower = t.to_ascii_lowercase();
    let after_prefix = t.get(2..).unwrap_or("");
    let (radix, digits) = if base0 && lower.starts_with("0x") {
        (16u32, after_prefix)
    } else if base0 && lower.starts_with("0o") {
        (8, after_prefix)
    } else if base0 && lower.starts_with("0b") {
        (2, after_prefix)
    } else {
        (10, t)
    };
    // Underscores: single, between digits (or right after a base prefix).
    let prefixed = radix != 10;
    let b = digits.as_bytes();
    let mut clean = Vec::with_capacity(b.len());
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let prev_ok = i > 0 && b.get(i - 1) != Some(&b'_') || (i == 0 && prefixed);
            let next_ok = b.get(i + 1).is_some_and(|n| *n != b'_');
            if !prev_ok || !next_ok {
                return None;
            }
            continue;
        }
        if !(c as char).is_digit(radix) {
            return None;
        }
        clean.push(c);
    }
    if clean.is_empty() {
        return None;
    }
    // Decimal with a leading zero is only allowed for zero itself.
    if radix == 10 && base0 && clean.first() == Some(&b'0') && clean.iter().any(|&c| c != b'0') {
        return None;
    }
    if radix == 10 && clean.len() > 4300 {
        return None;
    }
    // Accumulate into base-2^32 limbs (little-endian), then to two's complement.
    let mut limbs: Vec<u32> = vec![0];
    for &c in &clean {
        let d = (c as char).to_digit(radix)?;
        let mut carry = u64::from(d);
        for l in limbs.iter_mut() {
            let v = u64::from(*l) * u64::from(radix) + carry;
            *l = v as u32;
            carry = v >> 32;
        }
        if carry > 0 {
            limbs.push(carry as u32);
        }
    }
    let mut mag: Vec<u8> = limbs.iter().flat_map(|l| l.to_le_bytes()).collect();
    while mag.len() > 1 && mag.last() == Some(&0) {
        mag.pop();
    }
    Some(int_from_magnitude(&mag, neg))
}

/// An int from its magnitude (little-endian) and sign.
fn int_from_magnitude(mag: &[u8], neg: bool) -> Node {
    // Two's complement: magnitude plus a sign byte, negated if needed.
    let mut v: Vec<u8> = mag.to_vec();
    v.push(0);
    if neg {
        let mut carry = true;
        for b in v.iter_mut() {
            let (nb, c) = (!*b).overflowing_add(u8::from(carry));
            *b = nb;
            carry = c;
        }
    }
    int_from_le(&v)
}

/// An int from little-endian two's complement bytes (`LONG1`/`LONG4`).
fn int_from_le(b: &[u8]) -> Node {
    let mut v = b.to_vec();
    minimal_twos_complement(&mut v);
    if v.len() <= 8 {
        let fill = if v.last().is_some_and(|b| b & 0x80 != 0) {
            0xff
        } else {
            0
        };
        let mut buf = [fill; 8];
        for (slot, b) in buf.iter_mut().zip(&v) {
            *slot = *b;
        }
        return Node::Int(i64::from_le_bytes(buf));
    }
    Node::BigInt(v)
}

/// Drops redundant sign bytes of little-endian two's complement (pickle's `encode_long`).
fn minimal_twos_complement(v: &mut Vec<u8>) {
    while let [.., prev, last] = v.as_slice() {
        if (*last == 0 && prev & 0x80 == 0) || (*last == 0xff && prev & 0x80 != 0) {
            v.pop();
        } else {
            break;
        }
    }
}

fn split_sign(t: &str) -> (bool, &str) {
    if let Some(r) = t.strip_prefix('-') {
        (true, r)
    } else {
        (false, t.strip_prefix('+').unwrap_or(t))
    }
}

fn bigint_to_u128(b: &[u8]) -> Option<u128> {
    if b.len() > 17 || b.last().is_some_and(|x| x & 0x80 != 0) {
        return None;
    }
    if b.get(16).is_some_and(|&x| x != 0) {
        return None;
    }
    let mut buf = [0u8; 16];
    for (slot, x) in buf.iter_mut().zip(b) {
        *slot = *x;
    }
    Some(u128::from_le_bytes(buf))
}

/// Equal floats and ints are equal dict keys in Python (1.0 == 1 == True).
fn float_hkey(f: f64) -> Option<HKey> {
    if f.is_nan() {
        return None;
    }
    if f.is_infinite() || f.fract() != 0.0 {
        return Some(HKey::Float(f.to_bits()));
    }
    if f.abs() < 9.2e18 {
        return Some(HKey::Int(f as i64));
    }
    // An integral float beyond i64: its exact value as an int.
    let bits = f.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32 - 1075;
    let mant = (bits & ((1 << 52) - 1)) | (1 << 52);
    let mut mag = vec![0u8; (exp as usize) / 8 + 16];
    let byte_shift = (exp / 8) as usize;
    let bit_shift = (exp % 8) as u32;
    let wide = u128::from(mant) << bit_shift;
    for (i, b) in wide.to_le_bytes().iter().enumerate() {
        if let Some(slot) = mag.get_mut(byte_shift + i) {
            *slot = *b;
        }
    }
    while mag.len() > 1 && mag.last() == Some(&0) {
        mag.pop();
    }
    match int_from_magnitude(&mag, f < 0.0) {
        Node::Int(i) => Some(HKey::Int(i)),
        Node::BigInt(b) => Some(HKey::Big(b)),
        _ => None,
    }
}

/// `FLOAT`: `PyOS_string_to_double` over the whole line (no whitespace, no
/// underscores; overflow is an error).
fn load_float_line(line: &[u8]) -> Result<f64> {
    if line.len() < 2 {
        return Err(truncated());
    }
    let bad = || perr("could not convert string to float");
    let body = line.get(..line.len() - 1).unwrap_or(&[]);
    let s = std::str::from_utf8(c_str(body)).map_err(|_| bad())?;
    let valid_chars = s
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'));
    if s.is_empty() || !valid_chars {
        return Err(bad());
    }
    let f: f64 = s.parse().map_err(|_| bad())?;
    if f.is_infinite() && !s.to_ascii_lowercase().contains("inf") {
        return Err(perr("value too large to convert to float"));
    }
    Ok(f)
}

/// `uuid.UUID(hex)`: braces, `urn:uuid:` and hyphens are ignored.
fn parse_uuid_hex(s: &str) -> Option<u128> {
    let s = s.replace("urn:", "").replace("uuid:", "");
    let s = s.trim_matches(|c| c == '{' || c == '}').replace('-', "");
    if s.len() != 32 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    u128::from_str_radix(&s, 16).ok()
}

/// `str(Decimal(s))`: parses the literal (whitespace, underscores, case-insensitive
/// specials) and renders it with `to_sci_string`.
fn decimal_canonical(s: &str) -> Option<String> {
    // CPython's _decimal strips whitespace and drops every underscore.
    let t = s.trim().replace('_', "");
    let (neg, body) = split_sign(&t);
    let sign = if neg { "-" } else { "" };
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(format!("{sign}Infinity"));
    }
    for (prefix, name) in [("snan", "sNaN"), ("nan", "NaN")] {
        if let Some(payload) = lower.strip_prefix(prefix) {
            if !payload.bytes().all(|c| c.is_ascii_digit()) {
                return None;
            }
            let p = payload.trim_start_matches('0');
            return Some(format!("{sign}{name}{p}"));
        }
    }
    let (mant, exp) = match lower.split_once('e') {
        Some((m, e)) => (m, Some(e)),
        None => (lower.as_str(), None),
    };
    let exp: i64 = match exp {
        Some(e) => {
            let digits = e.trim_start_matches(['+', '-']);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) || digits.len() > 18
            {
                return None;
            }
            e.parse().ok()?
        }
        None => 0,
    };
    let (int_part, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if (int_part.is_empty() && frac.is_empty())
        || !int_part.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let mut coeff: String = format!("{int_part}{frac}")
        .trim_start_matches('0')
        .to_string();
    if coeff.is_empty() {
        coeff.push('0');
    }
    let exp = exp - frac.len() as i64;
    // to_sci_string (General Decimal Arithmetic).
    let n = coeff.len() as i64;
    let adjusted = exp + n - 1;
    let body = if exp <= 0 && adjusted >= -6 {
        if exp == 0 {
            coeff
        } else {
            let point = n + exp;
            if point > 0 {
                let (a, b) = coeff.split_at(point as usize);
                format!("{a}.{b}")
            } else {
                format!("0.{}{}", "0".repeat((-point) as usize), coeff)
            }
        }
    } else {
        let (a, b) = coeff.split_at(1);
        let mant = if b.is_empty() {
            a.to_string()
        } else {
            format!("{a}.{b}")
        };
        format!(
            "{mant}E{}{}",
            if adjusted >= 0 { "+" } else { "" },
            adjusted
        )
    };
    Some(format!("{sign}{body}"))
}

// =====================================================================================
// Conversion to a session (steps 4-5 of §2.5)
// =====================================================================================

/// Steps 4–5 of §2.5: pop `remove_keys`, then convert to a session the new format
/// can hold.
///
/// In BSON mode the session must pass pymongo's `bson.encode` (§4.1); in JSON mode
/// `json.dumps` (with int/float/bool/None keys turned into their JSON text).
/// Values keep the types a BSON round trip gives them (tuple → array, int by range,
/// `Int64` → int64, aware datetime → UTC milliseconds).
///
/// # Errors
/// [`Error::OriginalNotADict`] when the pickle is not a dict (the reference's
/// `AttributeError`); [`Error::Unconvertible`] naming every top-level key whose
/// value (or the key itself) cannot be held, with the first reason in key order.
/// Ints beyond int64 in JSON mode are refused too: the reference keeps them, but a
/// `bson::Document` cannot hold them (a deliberate difference).
pub(crate) fn to_session(
    value: PyValue,
    remove_keys: &[String],
    bson_mode: bool,
) -> Result<Document> {
    let mut pairs = match value {
        PyValue::Dict(p) | PyValue::OrderedDict(p) => p,
        _ => return Err(Error::OriginalNotADict),
    };
    // loaded.pop(name, None): only a str key can equal a str name.
    pairs.retain(|(k, _)| !matches!(k, PyValue::Str(s) if remove_keys.iter().any(|r| r == s)));
    let mut doc = Document::new();
    let mut bad_keys: Vec<String> = Vec::new();
    let mut first_reason: Option<String> = None;
    // Keys and values are moved into the document, not cloned. A key that is not a
    // plain str is labelled (for the error) before it is consumed.
    for (k, v) in pairs {
        let label = match &k {
            PyValue::Str(s) if !(bson_mode && s.contains('\0')) => None,
            other => Some(key_label(other)),
        };
        let converted = match convert_key_owned(k, bson_mode) {
            Ok(key) => match convert(v, bson_mode) {
                Ok(value) => Ok((key, value)),
                Err(reason) => Err((Some(key), reason)),
            },
            Err(reason) => Err((None, reason)),
        };
        match converted {
            Ok((key, value)) => {
                doc.insert(key, value);
            }
            Err((key, reason)) => {
                bad_keys.push(label.or(key).unwrap_or_default());
                first_reason.get_or_insert(reason);
            }
        }
    }
    match first_reason {
        None => Ok(doc),
        Some(reason) => Err(Error::Unconvertible {
            keys: bad_keys,
            reason,
        }),
    }
}

/// How an offending top-level key is named in [`Error::Unconvertible`].
fn key_label(k: &PyValue) -> String {
    match k {
        PyValue::Str(s) => s.clone(),
        other => py_repr(other).chars().take(NAME_ECHO).collect(),
    }
}

/// [`convert_key`] for a key that is consumed: a str key is moved, not cloned.
fn convert_key_owned(k: PyValue, bson_mode: bool) -> std::result::Result<String, String> {
    match k {
        PyValue::Str(s) if !(bson_mode && s.contains('\0')) => Ok(s),
        other => convert_key(&other, bson_mode),
    }
}

/// A dict key as the target format writes it, or why it cannot be.
fn convert_key(k: &PyValue, bson_mode: bool) -> std::result::Result<String, String> {
    if bson_mode {
        return match k {
            PyValue::Str(s) if s.contains('\0') => {
                Err("InvalidDocument: key names must not contain the NULL byte".into())
            }
            PyValue::Str(s) => Ok(s.clone()),
            PyValue::StrSurrogates(_) => Err(surrogate_reason()),
            other => Err(format!(
                "InvalidDocument: documents must have only string keys, key was {}",
                py_repr(other).chars().take(NAME_ECHO).collect::<String>()
            )),
        };
    }
    // json.dumps: str, int, float, bool and None keys (bool before int: True is an int).
    match k {
        PyValue::Str(s) => Ok(s.clone()),
        PyValue::StrSurrogates(_) => Err(surrogate_reason()),
        PyValue::Bool(b) => Ok(if *b { "true" } else { "false" }.into()),
        PyValue::None => Ok("null".into()),
        PyValue::Int(i) | PyValue::Int64(i) => Ok(i.to_string()),
        PyValue::BigInt(b) => bigint_to_decimal(b).ok_or_else(|| {
            "ValueError: Exceeds the limit (4300 digits) for integer string conversion".into()
        }),
        PyValue::Float(f) => {
            // json.dumps writes float keys with float.__repr__ (NaN/Infinity tokens).
            Ok(if f.is_nan() {
                "NaN".into()
            } else if f.is_infinite() {
                if *f > 0.0 { "Infinity" } else { "-Infinity" }.into()
            } else {
                let mut s = String::new();
                push_float_repr(&mut s, *f);
                s
            })
        }
        other => Err(format!(
            "TypeError: keys must be str, int, float, bool or None, not {}",
            other.type_name()
        )),
    }
}

fn surrogate_reason() -> String {
    "UnicodeEncodeError: 'utf-8' codec can't encode a lone surrogate".into()
}

fn unencodable(v: &PyValue, bson_mode: bool) -> String {
    if bson_mode {
        match v {
            PyValue::Uuid(_) => {
                "ValueError: cannot encode native uuid.UUID with UuidRepresentation.UNSPECIFIED"
                    .into()
            }
            PyValue::BigInt(_) => "OverflowError: MongoDB can only handle up to 8-byte ints".into(),
            PyValue::StrSurrogates(_) => surrogate_reason(),
            PyValue::Recursive => "RecursionError: recursive structure".into(),
            other => format!(
                "InvalidDocument: cannot encode object of type <class '{}'>",
                other.type_name()
            ),
        }
    } else {
        match v {
            PyValue::BigInt(_) => "integer beyond the int64 range: the reference keeps it in \
                                   JSON mode, but a bson::Document cannot hold it"
                .into(),
            PyValue::StrSurrogates(_) => surrogate_reason(),
            PyValue::Recursive => "ValueError: Circular reference detected".into(),
            other => format!(
                "TypeError: Object of type {} is not JSON serializable",
                other.type_name()
            ),
        }
    }
}

/// Converts one value, iteratively (nesting was bounded by [`loads`], but the
/// conversion does not rely on it). Consumes the value, so strings and bytes move.
fn convert(v: PyValue, bson_mode: bool) -> std::result::Result<Bson, String> {
    enum Out {
        Arr(Vec<Bson>),
        Doc(Document),
    }
    struct Frame {
        seq: Option<std::vec::IntoIter<PyValue>>,
        map: Option<std::vec::IntoIter<(PyValue, PyValue)>>,
        out: Out,
        /// The key under which this frame's result goes into its parent.
        key: Option<String>,
    }
    enum Opened {
        /// A converted leaf, with the key it goes under (in a dict).
        Leaf(Option<String>, Bson),
        Container(Frame),
    }
    // A leaf's value, or a new frame for a container.
    let open = |v: PyValue, key: Option<String>| -> std::result::Result<Opened, String> {
        let leaf = match v {
            PyValue::None => Bson::Null,
            PyValue::Bool(b) => Bson::Boolean(b),
            PyValue::Int(i) => match i32::try_from(i) {
                Ok(x) => Bson::Int32(x),
                Err(_) => Bson::Int64(i),
            },
            PyValue::Int64(i) => Bson::Int64(i),
            PyValue::Float(f) => Bson::Double(f),
            PyValue::Str(s) => Bson::String(s),
            PyValue::Bytes(b) if bson_mode => Bson::Binary(bson::Binary {
                subtype: BinarySubtype::Generic,
                bytes: b,
            }),
            PyValue::Binary { subtype, data } if bson_mode => Bson::Binary(bson::Binary {
                subtype: BinarySubtype::from(subtype),
                bytes: data,
            }),
            PyValue::ObjectId(o) if bson_mode => Bson::ObjectId(bson::oid::ObjectId::from_bytes(o)),
            PyValue::DateTime(dt) if bson_mode => Bson::DateTime(datetime_to_bson(&dt)?),
            PyValue::List(items) | PyValue::Tuple(items) => {
                return Ok(Opened::Container(Frame {
                    out: Out::Arr(Vec::with_capacity(items.len())),
                    seq: Some(items.into_iter()),
                    map: None,
                    key,
                }));
            }
            PyValue::Dict(p) | PyValue::OrderedDict(p) => {
                return Ok(Opened::Container(Frame {
                    seq: None,
                    map: Some(p.into_iter()),
                    out: Out::Doc(Document::new()),
                    key,
                }));
            }
            other => return Err(unencodable(&other, bson_mode)),
        };
        Ok(Opened::Leaf(key, leaf))
    };
    let mut frames = match open(v, None)? {
        Opened::Leaf(_, b) => return Ok(b),
        Opened::Container(frame) => vec![frame],
    };
    loop {
        let Some(top) = frames.last_mut() else {
            return Err("internal conversion error".into());
        };
        // Next child of the top frame.
        let next: Option<(Option<String>, PyValue)> = if let Some(it) = top.seq.as_mut() {
            it.next().map(|c| (None, c))
        } else if let Some(it) = top.map.as_mut() {
            match it.next() {
                Some((k, c)) => Some((Some(convert_key_owned(k, bson_mode)?), c)),
                None => None,
            }
        } else {
            None
        };
        match next {
            Some((key, child)) => match open(child, key)? {
                Opened::Leaf(key, b) => match &mut top.out {
                    Out::Arr(a) => a.push(b),
                    Out::Doc(d) => {
                        d.insert(key.unwrap_or_default(), b);
                    }
                },
                Opened::Container(frame) => frames.push(frame),
            },
            None => {
                let Some(done) = frames.pop() else {
                    return Err("internal conversion error".into());
                };
                let b = match done.out {
                    Out::Arr(a) => Bson::Array(a),
                    Out::Doc(d) => Bson::Document(d),
                };
                match frames.last_mut() {
                    None => return Ok(b),
                    Some(parent) => match &mut parent.out {
                        Out::Arr(a) => a.push(b),
                        Out::Doc(d) => {
                            d.insert(done.key.unwrap_or_default(), b);
                        }
                    },
                }
            }
        }
    }
}

/// pymongo's `_datetime_to_millis`: aware datetimes minus their offset (which must
/// stay within years 1..9999), naive ones taken as UTC, microseconds floored.
fn datetime_to_bson(dt: &PyDateTime) -> std::result::Result<bson::DateTime, String> {
    let days = days_from_civil(i64::from(dt.year), i64::from(dt.month), i64::from(dt.day));
    let mut us = days * 86_400_000_000
        + i64::from(dt.hour) * 3_600_000_000
        + i64::from(dt.minute) * 60_000_000
        + i64::from(dt.second) * 1_000_000
        + i64::from(dt.microsecond);
    if let Some(tz) = &dt.tz {
        us -= tz.offset_us;
        let min = days_from_civil(1, 1, 1) * 86_400_000_000;
        let max = days_from_civil(10000, 1, 1) * 86_400_000_000;
        if us < min || us >= max {
            return Err("OverflowError: date value out of range".into());
        }
    }
    Ok(bson::DateTime::from_millis(us.div_euclid(1000)))
}

/// `str(int)`, or `None` beyond the 4300 digits Python 3.11 converts (which also
/// keeps this quadratic conversion small).
fn bigint_to_decimal(b: &[u8]) -> Option<String> {
    if b.len() > 1800 {
        return None;
    }
    let neg = b.last().is_some_and(|x| x & 0x80 != 0);
    let mut mag: Vec<u8> = b.to_vec();
    if neg {
        let mut carry = true;
        for x in mag.iter_mut() {
            let (n, c) = (!*x).overflowing_add(u8::from(carry));
            *x = n;
            carry = c;
        }
    }
    // Repeated division by 10^9 over big-endian u32 limbs.
    let mut limbs: Vec<u32> = mag
        .chunks(4)
        .map(|c| {
            let mut buf = [0u8; 4];
            for (b, x) in buf.iter_mut().zip(c) {
                *b = *x;
            }
            u32::from_le_bytes(buf)
        })
        .rev()
        .collect();
    let mut parts: Vec<u32> = Vec::new();
    while limbs.iter().any(|&l| l != 0) {
        let mut rem: u64 = 0;
        for l in limbs.iter_mut() {
            let cur = (rem << 32) | u64::from(*l);
            *l = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        parts.push(rem as u32);
    }
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    match parts.split_last() {
        None => s.push('0'),
        Some((first, rest)) => {
            s.push_str(&first.to_string());
            for p in rest.iter().rev() {
                s.push_str(&format!("{p:09}"));
            }
        }
    }
    let digits = s.len() - usize::from(neg);
    (digits <= 4300).then_some(s)
}

// =====================================================================================
// repr (for messages and tests)
// =====================================================================================

/// A short Python-like `repr` (`ascii()` style: non-ASCII escaped). Containers are
/// rendered iteratively.
pub(crate) fn py_repr(v: &PyValue) -> String {
    let mut out = String::new();
    repr_into(&mut out, v, false);
    out
}

/// Renders `v`; with `canonical`, sets are sorted (the test fixtures' canonical form).
fn repr_into(out: &mut String, v: &PyValue, canonical: bool) {
    enum Task<'v> {
        Val(&'v PyValue),
        Text(&'static str),
        Set(&'v [PyValue], &'static str, &'static str),
    }
    let mut tasks: Vec<Task<'_>> = vec![Task::Val(v)];
    while let Some(t) = tasks.pop() {
        let v = match t {
            Task::Text(s) => {
                out.push_str(s);
                continue;
            }
            Task::Set(items, open, close) => {
                // Sorted by the rendering of each item: deterministic, like the fixtures.
                let mut parts: Vec<String> = items
                    .iter()
                    .map(|i| {
                        let mut s = String::new();
                        repr_into(&mut s, i, canonical);
                        s
                    })
                    .collect();
                if canonical {
                    parts.sort();
                }
                out.push_str(open);
                out.push_str(&parts.join(", "));
                out.push_str(close);
                continue;
            }
            Task::Val(v) => v,
        };
        match v {
            PyValue::None => out.push_str("None"),
            PyValue::Bool(b) => out.push_str(if *b { "True" } else { "False" }),
            PyValue::Int(i) => out.push_str(&i.to_string()),
            PyValue::BigInt(b) => match bigint_to_decimal(b) {
                Some(d) => out.push_str(&d),
                None => out.push_str(&format!("<int of {} bytes>", b.len())),
            },
            PyValue::Float(f) => {
                if f.is_nan() {
                    out.push_str("nan");
                } else if f.is_infinite() {
                    out.push_str(if *f > 0.0 { "inf" } else { "-inf" });
                } else {
                    push_float_repr(out, *f);
                }
            }
            PyValue::Str(s) => {
                let cps: Vec<u32> = s.chars().map(u32::from).collect();
                repr_str(out, &cps);
            }
            PyValue::StrSurrogates(w) => repr_str(out, w),
            PyValue::Bytes(b) => repr_bytes(out, b),
            PyValue::ByteArray(b) => {
                out.push_str("bytearray(");
                repr_bytes(out, b);
                out.push(')');
            }
            PyValue::List(items) | PyValue::Tuple(items) => {
                let is_tuple = matches!(v, PyValue::Tuple(_));
                out.push(if is_tuple { '(' } else { '[' });
                let close = if !is_tuple {
                    "]"
                } else if items.len() == 1 {
                    ",)"
                } else {
                    ")"
                };
                tasks.push(Task::Text(close));
                for (i, item) in items.iter().enumerate().rev() {
                    tasks.push(Task::Val(item));
                    if i > 0 {
                        tasks.push(Task::Text(", "));
                    }
                }
            }
            PyValue::Dict(pairs) | PyValue::OrderedDict(pairs) => {
                let od = matches!(v, PyValue::OrderedDict(_));
                out.push_str(if od { "OrderedDict({" } else { "{" });
                tasks.push(Task::Text(if od { "})" } else { "}" }));
                for (i, (k, x)) in pairs.iter().enumerate().rev() {
                    tasks.push(Task::Val(x));
                    tasks.push(Task::Text(": "));
                    tasks.push(Task::Val(k));
                    if i > 0 {
                        tasks.push(Task::Text(", "));
                    }
                }
            }
            PyValue::Set(items) => {
                if items.is_empty() {
                    out.push_str("set()");
                } else {
                    tasks.push(Task::Set(items, "{", "}"));
                }
            }
            PyValue::FrozenSet(items) => {
                if items.is_empty() {
                    out.push_str("frozenset()");
                } else {
                    tasks.push(Task::Set(items, "frozenset({", "})"));
                }
            }
            PyValue::DateTime(dt) => {
                out.push_str(&format!(
                    "datetime.datetime({}, {}, {}, {}, {}",
                    dt.year, dt.month, dt.day, dt.hour, dt.minute
                ));
                if dt.second != 0 || dt.microsecond != 0 {
                    out.push_str(&format!(", {}", dt.second));
                }
                if dt.microsecond != 0 {
                    out.push_str(&format!(", {}", dt.microsecond));
                }
                if dt.fold {
                    out.push_str(", fold=1");
                }
                if let Some(tz) = &dt.tz {
                    out.push_str(", tzinfo=");
                    repr_tz(out, tz);
                }
                out.push(')');
            }
            PyValue::Date { year, month, day } => {
                out.push_str(&format!("datetime.date({year}, {month}, {day})"));
            }
            PyValue::Time(t) => {
                out.push_str(&format!("datetime.time({}, {}", t.hour, t.minute));
                if t.second != 0 || t.microsecond != 0 {
                    out.push_str(&format!(", {}", t.second));
                }
                if t.microsecond != 0 {
                    out.push_str(&format!(", {}", t.microsecond));
                }
                if t.fold {
                    out.push_str(", fold=1");
                }
                if let Some(tz) = &t.tz {
                    out.push_str(", tzinfo=");
                    repr_tz(out, tz);
                }
                out.push(')');
            }
            PyValue::TimeDelta {
                days,
                seconds,
                microseconds,
            } => repr_timedelta(out, *days, *seconds, *microseconds),
            PyValue::TimeZone(tz) => repr_tz(out, tz),
            PyValue::Decimal(t) => out.push_str(&format!("Decimal('{t}')")),
            PyValue::Uuid(u) => {
                out.push_str(&format!(
                    "UUID('{:08x}-{:04x}-{:04x}-{:04x}-{:012x}')",
                    u >> 96,
                    (u >> 80) & 0xffff,
                    (u >> 64) & 0xffff,
                    (u >> 48) & 0xffff,
                    u & 0xffff_ffff_ffff
                ));
            }
            PyValue::Int64(i) => out.push_str(&format!("Int64({i})")),
            PyValue::ObjectId(o) => {
                out.push_str("ObjectId('");
                for b in o {
                    out.push_str(&format!("{b:02x}"));
                }
                out.push_str("')");
            }
            PyValue::Binary { subtype, data } => {
                out.push_str("Binary(");
                repr_bytes(out, data);
                out.push_str(&format!(", {subtype})"));
            }
            PyValue::Object(name) => out.push_str(&format!("<{name} object>")),
            PyValue::Class(name) => out.push_str(&format!("<class '{name}'>")),
            PyValue::Recursive => out.push_str("[...]"),
        }
    }
}

fn repr_tz(out: &mut String, tz: &PyTimeZone) {
    if tz.offset_us == 0 && tz.name.is_none() {
        out.push_str("datetime.timezone.utc");
        return;
    }
    let total = i128::from(tz.offset_us);
    let (d, s, us) = timedelta_from_us(total).unwrap_or((0, 0, 0));
    out.push_str("datetime.timezone(");
    repr_timedelta(out, d, s, us);
    if let Some(n) = &tz.name {
        out.push_str(", ");
        let cps: Vec<u32> = n.chars().map(u32::from).collect();
        repr_str(out, &cps);
    }
    out.push(')');
}

fn repr_timedelta(out: &mut String, days: i32, seconds: i32, us: i32) {
    let mut parts = Vec::new();
    if days != 0 {
        parts.push(format!("days={days}"));
    }
    if seconds != 0 {
        parts.push(format!("seconds={seconds}"));
    }
    if us != 0 {
        parts.push(format!("microseconds={us}"));
    }
    if parts.is_empty() {
        parts.push("0".into());
    }
    out.push_str(&format!("datetime.timedelta({})", parts.join(", ")));
}

/// `ascii(str)`: Python's quote choice, escapes for controls and non-ASCII.
fn repr_str(out: &mut String, cps: &[u32]) {
    let has_sq = cps.contains(&u32::from('\''));
    let has_dq = cps.contains(&u32::from('"'));
    let q = if has_sq && !has_dq { '"' } else { '\'' };
    out.push(q);
    for &c in cps {
        match c {
            0x5c => out.push_str("\\\\"),
            0x09 => out.push_str("\\t"),
            0x0a => out.push_str("\\n"),
            0x0d => out.push_str("\\r"),
            c if c == u32::from(q) => {
                out.push('\\');
                out.push(q);
            }
            0x20..=0x7e => out.push(char::from_u32(c).unwrap_or('?')),
            c if c <= 0xff => out.push_str(&format!("\\x{c:02x}")),
            c if c <= 0xffff => out.push_str(&format!("\\u{c:04x}")),
            c => out.push_str(&format!("\\U{c:08x}")),
        }
    }
    out.push(q);
}

fn repr_bytes(out: &mut String, b: &[u8]) {
    let has_sq = b.contains(&b'\'');
    let has_dq = b.contains(&b'"');
    let q = if has_sq && !has_dq { '"' } else { '\'' };
    out.push('b');
    out.push(q);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            c if char::from(c) == q => {
                out.push('\\');
                out.push(q);
            }
            0x20..=0x7e => out.push(char::from(c)),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push(q);
}

// =====================================================================================
// Writer
// =====================================================================================

/// `pickle.dumps(session, 2)` of a session as Python 3 writes it, loadable by
/// Python 2 and Python 3 Beaker.
///
/// BSON values map to the Python objects `bson.decode` gives (§4.2): Double → float,
/// String/Symbol → str, Document → dict, Array → list, Binary subtype 0 → bytes,
/// other subtypes → `bson.binary.Binary`, ObjectId → `bson.objectid.ObjectId`,
/// DateTime → naive UTC datetime, Boolean, Null/Undefined → None, Int32 → int.
///
/// Int64 is written as a plain Python int (a deliberate difference: the reference
/// pickles the `bson.int64.Int64` objects `bson.decode` gives, which a Beaker app
/// without pymongo cannot load; Python reads both back as the same number, and a
/// BSON write of a small plain int gives int32 instead of int64).
///
/// Memoisation follows CPython where identity is predictable from values: globals,
/// the `'latin1'` argument and `'_Binary__subtype'` are written once; dict keys with
/// equal text are one object (as after `json.loads`, which parsed the session in the
/// reference's tools); `''`, one-character latin-1 strings, `b''` and one-byte bytes
/// are CPython's cached singletons. The output is byte-identical to
/// `pickle.dumps(session, 2)` on every generated session of
/// `testdata/pickle/writer_cases.json` and every encode vector without `Int64`.
///
/// # Errors
/// [`Error::Unserializable`] (with the top-level key) for BSON values the reader of
/// the other side could not load without more pymongo classes (Decimal128, Regex,
/// JavaScript code, Timestamp, MinKey, MaxKey, DbPointer) and for datetimes outside
/// Python's years 1..9999.
pub(crate) fn dumps(session: &Document) -> Result<Vec<u8>> {
    let mut w = Writer::default();
    w.out.extend_from_slice(&[0x80, 2]);
    w.write_doc(session)?;
    if w.too_big {
        return Err(Error::Unserializable {
            key: None,
            type_name: "str".into(),
        });
    }
    w.out.push(b'.');
    Ok(w.out)
}

#[derive(Default)]
struct Writer {
    out: Vec<u8>,
    next_memo: u32,
    globals: HashMap<&'static str, u32>,
    /// Memo of strings that are one object in Python, per pool.
    shared_str: HashMap<(Pool, String), u32>,
    /// Memo of the cached bytes objects (b'' and one byte).
    cached_bytes: HashMap<Vec<u8>, u32>,
    /// A str too long for BINUNICODE was met.
    too_big: bool,
}

/// Which equal strings are one object in CPython (and so one memo entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Pool {
    /// Values: a new object each (unless cached, see [`Writer::str_val`]).
    None,
    /// Dict keys: deduplicated by `json.loads`, which parsed the session.
    Keys,
    /// The pickler's own constants (`'latin1'`, `'_Binary__subtype'`).
    Const,
    /// `''` and one-character latin-1 strings: CPython's cached singletons.
    Cached,
}

/// One step of the iterative writer.
enum WTask<'d> {
    Raw(&'static [u8]),
    Key(&'d str),
    Value(&'d Bson, &'d str),
}

const BATCH: usize = 1000;

impl Writer {
    fn memoize(&mut self) -> u32 {
        let i = self.next_memo;
        if i < 256 {
            self.out.push(b'q');
            self.out.push(i as u8);
        } else {
            self.out.push(b'r');
            self.out.extend_from_slice(&i.to_le_bytes());
        }
        self.next_memo += 1;
        i
    }

    fn get(&mut self, i: u32) {
        if i < 256 {
            self.out.push(b'h');
            self.out.push(i as u8);
        } else {
            self.out.push(b'j');
            self.out.extend_from_slice(&i.to_le_bytes());
        }
    }

    fn global(&mut self, module: &'static str, name: &'static str, key: &'static str) {
        if let Some(&i) = self.globals.get(key) {
            self.get(i);
            return;
        }
        self.out.push(b'c');
        self.out.extend_from_slice(module.as_bytes());
        self.out.push(b'\n');
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(b'\n');
        let i = self.memoize();
        self.globals.insert(key, i);
    }

    fn str_raw(&mut self, s: &str) {
        // Protocol 2 cannot hold a str over 4 GiB (CPython raises too).
        let Ok(n) = u32::try_from(s.len()) else {
            self.too_big = true;
            return;
        };
        self.out.push(b'X');
        self.out.extend_from_slice(&n.to_le_bytes());
        self.out.extend_from_slice(s.as_bytes());
    }

    /// A str, memoized, or fetched when an equal one of its pool was written.
    fn str_val(&mut self, s: &str, pool: Pool) {
        let cached = s.chars().count() <= 1 && s.chars().all(|c| u32::from(c) < 256);
        let pool = if cached { Pool::Cached } else { pool };
        let key = (pool, s.to_string());
        if pool != Pool::None
            && let Some(&i) = self.shared_str.get(&key)
        {
            self.get(i);
            return;
        }
        self.str_raw(s);
        let i = self.memoize();
        if pool != Pool::None {
            self.shared_str.insert(key, i);
        }
    }

    fn int(&mut self, v: i64) {
        if (0..=0xff).contains(&v) {
            self.out.push(b'K');
            self.out.push(v as u8);
        } else if (0..=0xffff).contains(&v) {
            self.out.push(b'M');
            self.out.extend_from_slice(&(v as u16).to_le_bytes());
        } else if let Ok(x) = i32::try_from(v) {
            self.out.push(b'J');
            self.out.extend_from_slice(&x.to_le_bytes());
        } else {
            // encode_long: minimal little-endian two's complement.
            let mut b = v.to_le_bytes().to_vec();
            minimal_twos_complement(&mut b);
            self.out.push(0x8a);
            self.out.push(b.len() as u8);
            self.out.extend_from_slice(&b);
        }
    }

    /// bytes as Python 3 writes them for protocol 2.
    fn bytes(&mut self, b: &[u8]) {
        // CPython caches b'' and the 256 one-byte bytes objects: one memo entry each.
        let cached = b.len() <= 1;
        if cached && let Some(&i) = self.cached_bytes.get(b) {
            self.get(i);
            return;
        }
        if b.is_empty() {
            self.global("__builtin__", "bytes", "bytes");
            self.out.push(b')');
        } else {
            self.global("_codecs", "encode", "encode");
            let text: String = b.iter().map(|&c| char::from(c)).collect();
            self.str_val(&text, Pool::None);
            self.str_val("latin1", Pool::Const);
            self.out.push(0x86);
            self.memoize();
        }
        self.out.push(b'R');
        let i = self.memoize();
        if cached {
            self.cached_bytes.insert(b.to_vec(), i);
        }
    }

    fn datetime(&mut self, d: &bson::DateTime, key: &str) -> Result<()> {
        let ms = d.timestamp_millis();
        let days = ms.div_euclid(86_400_000);
        let rem = ms.rem_euclid(86_400_000);
        let (y, m, dd) = civil_from_days(days);
        if !(1..=9999).contains(&y) {
            return Err(Error::Unserializable {
                key: Some(key.to_string()),
                type_name: "datetime".into(),
            });
        }
        let us = (rem % 1000) * 1000;
        let secs = rem / 1000;
        let y = y as u16;
        let state = [
            (y >> 8) as u8,
            (y & 0xff) as u8,
            m as u8,
            dd as u8,
            (secs / 3600) as u8,
            ((secs / 60) % 60) as u8,
            (secs % 60) as u8,
            ((us >> 16) & 0xff) as u8,
            ((us >> 8) & 0xff) as u8,
            (us & 0xff) as u8,
        ];
        self.global("datetime", "datetime", "datetime");
        self.bytes(&state);
        self.out.push(0x85);
        self.memoize();
        self.out.push(b'R');
        self.memoize();
        Ok(())
    }

    fn write_doc(&mut self, session: &Document) -> Result<()> {
        let mut tasks: Vec<WTask<'_>> = Vec::new();
        self.open_dict(session, "", &mut tasks, true);
        while let Some(t) = tasks.pop() {
            match t {
                WTask::Raw(b) => self.out.extend_from_slice(b),
                WTask::Key(k) => self.str_val(k, Pool::Keys),
                WTask::Value(v, top) => self.value(v, top, &mut tasks)?,
            }
        }
        Ok(())
    }

    /// EMPTY_DICT + memo now; the items as tasks, batched as CPython's
    /// `batch_dict_exact`: one item → SETITEM; otherwise MARK … SETITEMS per 1000,
    /// including an empty trailing batch when the size is a multiple of 1000.
    fn open_dict<'d>(
        &mut self,
        d: &'d Document,
        top: &'d str,
        tasks: &mut Vec<WTask<'d>>,
        root: bool,
    ) {
        self.out.push(b'}');
        self.memoize();
        let items: Vec<(&'d String, &'d Bson)> = d.iter().collect();
        let mut seq: Vec<WTask<'d>> = Vec::new();
        let item_tasks = |seq: &mut Vec<WTask<'d>>, chunk: &[(&'d String, &'d Bson)]| {
            for (k, v) in chunk {
                seq.push(WTask::Key(k.as_str()));
                seq.push(WTask::Value(v, if root { k.as_str() } else { top }));
            }
        };
        match items.len() {
            0 => {}
            1 => {
                item_tasks(&mut seq, &items);
                seq.push(WTask::Raw(b"s"));
            }
            n => {
                for chunk in items.chunks(BATCH) {
                    seq.push(WTask::Raw(b"("));
                    item_tasks(&mut seq, chunk);
                    seq.push(WTask::Raw(b"u"));
                }
                if n % BATCH == 0 {
                    seq.push(WTask::Raw(b"(u"));
                }
            }
        }
        tasks.extend(seq.into_iter().rev());
    }

    /// EMPTY_LIST + memo now; the items as tasks, batched as CPython's
    /// `batch_list_exact`: one item → APPEND; otherwise MARK … APPENDS per 1000.
    fn open_list<'d>(&mut self, a: &'d [Bson], top: &'d str, tasks: &mut Vec<WTask<'d>>) {
        self.out.push(b']');
        self.memoize();
        let mut seq: Vec<WTask<'d>> = Vec::new();
        match a.len() {
            0 => {}
            1 => {
                seq.extend(a.iter().map(|v| WTask::Value(v, top)));
                seq.push(WTask::Raw(b"a"));
            }
            _ => {
                for chunk in a.chunks(BATCH) {
                    seq.push(WTask::Raw(b"("));
                    seq.extend(chunk.iter().map(|v| WTask::Value(v, top)));
                    seq.push(WTask::Raw(b"e"));
                }
            }
        }
        tasks.extend(seq.into_iter().rev());
    }

    fn value<'d>(&mut self, v: &'d Bson, top: &'d str, tasks: &mut Vec<WTask<'d>>) -> Result<()> {
        let unser = |t: &str| Error::Unserializable {
            key: Some(top.to_string()),
            type_name: t.to_string(),
        };
        match v {
            Bson::Double(f) => {
                self.out.push(b'G');
                self.out.extend_from_slice(&f.to_be_bytes());
            }
            Bson::String(s) | Bson::Symbol(s) => self.str_val(s, Pool::None),
            Bson::Document(d) => self.open_dict(d, top, tasks, false),
            Bson::Array(a) => self.open_list(a, top, tasks),
            Bson::Boolean(b) => self.out.push(if *b { 0x88 } else { 0x89 }),
            Bson::Null | Bson::Undefined => self.out.push(b'N'),
            Bson::Int32(i) => self.int(i64::from(*i)),
            Bson::Int64(i) => self.int(*i),
            Bson::DateTime(d) => self.datetime(d, top)?,
            Bson::Binary(b) if b.subtype == BinarySubtype::Generic => self.bytes(&b.bytes),
            Bson::Binary(b) => {
                // Binary.__getnewargs__ -> (bytes, subtype); state {'_Binary__subtype': n}.
                self.global("bson.binary", "Binary", "Binary");
                self.bytes(&b.bytes);
                self.int(i64::from(u8::from(b.subtype)));
                self.out.push(0x86);
                self.memoize();
                self.out.push(0x81);
                self.memoize();
                self.out.push(b'}');
                self.memoize();
                self.str_val("_Binary__subtype", Pool::Const);
                self.int(i64::from(u8::from(b.subtype)));
                self.out.push(b's');
                self.out.push(b'b');
            }
            Bson::ObjectId(o) => {
                self.global("bson.objectid", "ObjectId", "ObjectId");
                self.out.push(b')');
                self.out.push(0x81);
                self.memoize();
                self.bytes(&o.bytes());
                self.out.push(b'b');
            }
            Bson::Decimal128(_) => return Err(unser("Decimal128")),
            Bson::RegularExpression(_) => return Err(unser("Regex")),
            Bson::JavaScriptCode(_) | Bson::JavaScriptCodeWithScope(_) => {
                return Err(unser("Code"));
            }
            Bson::Timestamp(_) => return Err(unser("Timestamp")),
            Bson::MinKey => return Err(unser("MinKey")),
            Bson::MaxKey => return Err(unser("MaxKey")),
            Bson::DbPointer(_) => return Err(unser("DBRef")),
        }
        Ok(())
    }
}
