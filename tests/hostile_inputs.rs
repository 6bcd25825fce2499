//! Validly signed hostile payloads: zlib bombs, deep nesting, pickle length fields and
//! memo indexes beyond the input, pickles naming dangerous globals, reference bombs,
//! oversized cookies and headers.
//!
//! Every hostile case runs in a child process (this test binary re-executed with
//! `hostile_case_child`) so that a stack overflow, an abort or a hang is reported as
//! a failure of that case instead of taking the whole binary down. The child runs
//! the decode on a thread with a 2 MiB stack (the default of Rust and tokio worker
//! threads) under a 2 GiB address-space limit (`ulimit -v`, so one huge allocation
//! fails instead of being overcommitted), and reports the error kind, the time the
//! decode took and how much the process's peak resident memory grew. The parent
//! checks the kind, "quick" (under [`QUICK`]) and "small" (peak growth under
//! [`SMALL_KB`]).
//!
//! Fixtures in testdata/hostile/ were made by scripts/gen_hostile_fixtures.py.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use beaker_session_jwt::bson::doc;
use beaker_session_jwt::{
    BeakerOptions, Codec, DEFAULT_MAX_DECOMPRESSED_SIZE, DEFAULT_MAX_NESTING_DEPTH, DataSerializer,
    Error, Limits, SessionConfig,
};
use hmac::{Hmac, Mac};

const JWT_KEY: &str = "hostile-test-jwt-key-0123456789abcdef";
const VALIDATE_KEY: &str = "hostile-test-validate-key-0123456789";
const HEADER: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9";

/// A hostile input must be rejected (or accepted) within this time, in a debug build
/// on a loaded 2-core machine. Typical times are a few milliseconds.
const QUICK: Duration = Duration::from_secs(3);
/// Peak resident memory may grow by at most this much while decoding one hostile
/// input. The bombs below would need 79 MB to 256 MB and more if inflated or expanded.
const SMALL_KB: u64 = 48 * 1024;
/// A child that takes longer than this is killed and reported as a hang.
const HANG: Duration = Duration::from_secs(120);
const CHILD_ENV: &str = "BEAKER_H8_HOSTILE_CASE";
const MARKER_ENV: &str = "BEAKER_H8_MARKER";

// ------------------------------------------------------------------ framing helpers

fn hs256(claims: &[u8]) -> String {
    common::signed_token(claims, JWT_KEY.as_bytes())
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// A validly signed JWT whose `bsZ` holds `stream` (a zlib stream).
fn bsz_cookie(stream: &[u8]) -> String {
    hs256(format!("{{\"bsZ\":\"{}\"}}", common::b85encode(stream)).as_bytes())
}

/// A validly signed original cookie holding `data`.
fn original_cookie(data: &[u8]) -> String {
    let payload = base64::engine::general_purpose::STANDARD.encode(data);
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(VALIDATE_KEY.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{hex}{payload}")
}

fn jwt_codec(bson: bool, limits: Limits) -> Codec {
    Codec::builder()
        .secret_keys([JWT_KEY])
        .bson_payload(bson)
        .limits(limits)
        .build()
        .unwrap()
}

fn original_codec(serializer: DataSerializer, bson: bool, limits: Limits) -> Codec {
    Codec::builder()
        .secret_keys([JWT_KEY])
        .bson_payload(bson)
        .read_original_format(true)
        .original_validate_key(VALIDATE_KEY)
        .original_serializer(serializer)
        .limits(limits)
        .build()
        .unwrap()
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/hostile")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn kind(r: &Result<impl Sized, Error>) -> String {
    match r {
        Ok(_) => "ok".into(),
        Err(e) => e.kind().into(),
    }
}

// ------------------------------------------------------------------ hostile structures

/// A zlib stream padded (with ignored trailing bytes) to a power of two (4096
/// bytes) that inflates past the 1 MiB default cap. The bsZ inflater starts with a
/// buffer of 4x the input and doubles it: 16 KiB ... 1 MiB, one byte short of
/// cap+1, where its growth step `len.clamp(256, room)` had min > max and panicked
/// (regression).
fn pow2_stream_past_cap() -> Vec<u8> {
    let mut data = vec![0u8; 2 << 20];
    let len = (data.len() as i32).to_le_bytes();
    data[..4].copy_from_slice(&len);
    let mut z = zlib(&data);
    let padded = z.len().next_power_of_two();
    z.resize(padded, 0);
    z
}

/// BSON documents nested `depth` levels under key "a", lengths correct.
fn nested_bson(depth: usize) -> Vec<u8> {
    let total = 5 + 8 * depth;
    let mut out = Vec::with_capacity(total);
    for level in (1..=depth).rev() {
        let len = 5 + 8 * level;
        out.extend_from_slice(&(len as i32).to_le_bytes());
        out.extend_from_slice(b"\x03a\x00");
    }
    out.extend_from_slice(&[5, 0, 0, 0, 0]);
    out.extend(std::iter::repeat_n(0u8, depth));
    out
}

/// Like [`nested_bson`], every length field claiming the whole buffer: a parser that
/// recurses before checking lengths goes 100 000 levels deep.
fn nested_bson_bogus(depth: usize) -> Vec<u8> {
    let mut out = nested_bson(depth);
    let total = (out.len() as i32).to_le_bytes();
    for level in 0..depth {
        out[level * 7..level * 7 + 4].copy_from_slice(&total);
    }
    out
}

fn nested_json_arrays(depth: usize) -> Vec<u8> {
    let mut v = b"{\"a\":".to_vec();
    v.extend(std::iter::repeat_n(b'[', depth));
    v.extend(std::iter::repeat_n(b']', depth));
    v.push(b'}');
    v
}

fn nested_json_objects(depth: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..depth {
        v.extend_from_slice(b"{\"a\":");
    }
    v.extend_from_slice(b"1");
    v.extend(std::iter::repeat_n(b'}', depth));
    v
}

/// Pickle opcodes (protocol 2 unless noted), as Python's `pickle` module names them.
mod op {
    pub const PROTO2: &[u8] = b"\x80\x02";
    pub const PROTO4: &[u8] = b"\x80\x04";
    pub const EMPTY_DICT: u8 = b'}';
    pub const EMPTY_LIST: u8 = b']';
    pub const EMPTY_TUPLE: u8 = b')';
    pub const MARK: u8 = b'(';
    pub const TUPLE: u8 = b't';
    pub const TUPLE2: u8 = 0x86;
    pub const LIST: u8 = b'l';
    pub const APPEND: u8 = b'a';
    pub const SETITEM: u8 = b's';
    pub const DUP: u8 = b'2';
    pub const BINPUT: u8 = b'q';
    pub const BINGET: u8 = b'h';
    pub const MEMOIZE: u8 = 0x94;
    pub const STOP: u8 = b'.';
}

fn binunicode(s: &str) -> Vec<u8> {
    let mut v = vec![b'X'];
    v.extend_from_slice(&(s.len() as u32).to_le_bytes());
    v.extend_from_slice(s.as_bytes());
    v
}

/// `{"k": <value>}` around raw pickle opcodes that push one value.
fn in_dict(value_ops: &[u8]) -> Vec<u8> {
    let mut p = op::PROTO2.to_vec();
    p.push(op::EMPTY_DICT);
    p.extend(binunicode("k"));
    p.extend_from_slice(value_ops);
    p.push(op::SETITEM);
    p.push(op::STOP);
    p
}

fn deep_pickle_lists(depth: usize) -> Vec<u8> {
    let mut v = vec![op::EMPTY_LIST; depth];
    v.extend(std::iter::repeat_n(op::APPEND, depth - 1));
    in_dict(&v)
}

fn deep_pickle_dicts(depth: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for _ in 0..depth {
        v.push(op::EMPTY_DICT);
        v.extend(binunicode("k"));
    }
    v.push(op::EMPTY_DICT);
    v.extend(std::iter::repeat_n(op::SETITEM, depth));
    in_dict(&v)
}

fn deep_pickle_tuples(depth: usize) -> Vec<u8> {
    let mut v = vec![op::MARK; depth];
    v.push(op::EMPTY_TUPLE);
    v.extend(std::iter::repeat_n(op::TUPLE, depth));
    in_dict(&v)
}

/// The largest pickle an original cookie can carry: the whole value must stay under
/// the JWT reader's 129 536-byte size check, which runs first (as in the reference,
/// where `ExceededSizeError` is not a reason to fall back). 40 hex + base64.
const MAX_PICKLE: usize = (129_536 - 40) / 4 * 3;

/// (x, x) forty times over with DUP: 2^40 leaves in 82 bytes of pickle.
fn dup_bomb() -> Vec<u8> {
    let mut v = vec![op::EMPTY_TUPLE];
    for _ in 0..40 {
        v.push(op::DUP);
        v.push(op::TUPLE2);
    }
    in_dict(&v)
}

/// Lists of two references to the previous list, through the memo: 2^40 leaves.
fn memo_bomb() -> Vec<u8> {
    let mut v = vec![op::EMPTY_LIST, op::BINPUT, 0];
    for i in 0..40u8 {
        v.extend_from_slice(&[
            op::MARK,
            op::BINGET,
            i,
            op::BINGET,
            i,
            op::LIST,
            op::BINPUT,
            i + 1,
        ]);
    }
    in_dict(&v)
}

/// One 40 kB string referenced 25 000 times from a list: 1 GB if copied out.
fn reference_amplification() -> Vec<u8> {
    let mut v = binunicode(&"a".repeat(40_000));
    v.extend_from_slice(&[op::BINPUT, 0, op::MARK]);
    for _ in 0..25_000 {
        v.extend_from_slice(&[op::BINGET, 0]);
    }
    v.push(op::LIST);
    in_dict(&v)
}

/// A 20 kB string memoized 70 000 times (protocol 4 MEMOIZE): 1.4 GB if the memo
/// holds copies rather than references.
fn memoize_copies() -> Vec<u8> {
    let mut p = op::PROTO4.to_vec();
    p.push(op::EMPTY_DICT);
    p.extend(binunicode("k"));
    p.extend(binunicode(&"a".repeat(20_000)));
    p.extend(std::iter::repeat_n(op::MEMOIZE, 70_000));
    p.push(op::SETITEM);
    p.push(op::STOP);
    p
}

fn with_len_u32(opcode: u8, len: u32, tail: &[u8]) -> Vec<u8> {
    let mut v = vec![opcode];
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(tail);
    in_dict(&v)
}

fn with_len_u64(opcode: u8, len: u64, tail: &[u8]) -> Vec<u8> {
    let mut v = op::PROTO4.to_vec();
    v.push(op::EMPTY_DICT);
    v.extend(binunicode("k"));
    v.push(opcode);
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(tail);
    v.push(op::SETITEM);
    v.push(op::STOP);
    v
}

/// A GLOBAL opcode (protocol 0-2 text form) followed by a call of it with one string.
fn global_call(module: &str, name: &str) -> Vec<u8> {
    let mut v = format!("c{module}\n{name}\n").into_bytes();
    v.extend(binunicode("id"));
    v.extend_from_slice(&[0x85, b'R']); // TUPLE1 REDUCE
    in_dict(&v)
}

/// The same through protocol 4's STACK_GLOBAL.
fn stack_global_call(module: &str, name: &str) -> Vec<u8> {
    let mut v = op::PROTO4.to_vec();
    v.push(op::EMPTY_DICT);
    v.extend(binunicode("k"));
    for s in [module, name] {
        v.push(0x8c); // SHORT_BINUNICODE
        v.push(s.len() as u8);
        v.extend_from_slice(s.as_bytes());
    }
    v.push(0x93); // STACK_GLOBAL
    v.extend(binunicode("id"));
    v.extend_from_slice(&[0x85, b'R', op::SETITEM, op::STOP]);
    v
}

/// Dangerous callables and classes no session holds. Each must be refused by name.
const FORBIDDEN_GLOBALS: &[(&str, &str)] = &[
    ("posix", "system"),
    ("os", "system"),
    ("nt", "system"),
    ("os", "popen"),
    ("subprocess", "Popen"),
    ("subprocess", "check_output"),
    ("builtins", "eval"),
    ("builtins", "exec"),
    ("__builtin__", "eval"),
    ("builtins", "getattr"),
    ("builtins", "__import__"),
    ("builtins", "open"),
    ("pickle", "loads"),
    ("webbrowser", "open"),
    ("myapp.models", "User"),
    // allowed modules, names outside the allow-list
    ("datetime", "sys"),
    ("uuid", "os"),
    ("collections", "namedtuple"),
    ("_codecs", "decode"),
    ("decimal", "getcontext"),
    ("copyreg", "__newobj__"),
    ("bson.binary", "os"),
    // allowed names, different modules
    ("os", "OrderedDict"),
    ("posix", "datetime"),
];

// ------------------------------------------------------------------ the cases

type Run = Box<dyn FnOnce() -> String + Send>;

/// Builds a case's input (before the memory baseline) and returns the decode to run.
fn build_case(name: &str) -> Run {
    let d = Limits::default();
    let bson = move || jwt_codec(true, d);
    let pickle = move || original_codec(DataSerializer::Pickle, true, d);
    let pickle_run = move |data: Vec<u8>| -> Run {
        let (codec, cookie) = (pickle(), original_cookie(&data));
        Box::new(move || kind(&codec.decode(&cookie)))
    };
    let jwt_run = move |codec: Codec, cookie: String| -> Run {
        Box::new(move || kind(&codec.decode(&cookie)))
    };
    if let Some(rest) = name.strip_prefix("global:") {
        let (module, attr) = rest.split_once(':').unwrap();
        return pickle_run(global_call(module, attr));
    }
    if let Some(rest) = name.strip_prefix("stack_global:") {
        let (module, attr) = rest.split_once(':').unwrap();
        return pickle_run(stack_global_call(module, attr));
    }
    if let Some(rest) = name.strip_prefix("depth:") {
        // depth:<format>:<levels>:<max_nesting_depth>
        let mut it = rest.split(':');
        let (format, levels, max) = (it.next().unwrap(), it.next().unwrap(), it.next().unwrap());
        let levels: usize = levels.parse().unwrap();
        let limits = Limits {
            max_nesting_depth: max.parse().unwrap(),
            ..Limits::default()
        };
        return match format {
            "bson" => jwt_run(
                jwt_codec(true, limits),
                bsz_cookie(&zlib(&nested_bson(levels))),
            ),
            "json" => jwt_run(
                original_codec(DataSerializer::Json, true, limits),
                original_cookie(&zlib(&nested_json_arrays(levels))),
            ),
            "claims" => jwt_run(jwt_codec(false, limits), hs256(&nested_json_arrays(levels))),
            _ => jwt_run(
                original_codec(DataSerializer::Pickle, true, limits),
                original_cookie(&deep_pickle_lists(levels)),
            ),
        };
    }
    if let Some(rest) = name.strip_prefix("exploit:") {
        let (exploit, remove) = rest.split_once(':').unwrap();
        let data = exploit_pickle(exploit, &std::env::var(MARKER_ENV).unwrap());
        let mut b = Codec::builder()
            .secret_keys([JWT_KEY])
            .read_original_format(true)
            .original_validate_key(VALIDATE_KEY);
        if remove == "remove" {
            b = b.original_remove_keys(["x"]);
        }
        let codec = b.build().unwrap();
        return jwt_run(codec, original_cookie(&data));
    }
    match name {
        "bsz_bomb" => jwt_run(bson(), bsz_cookie(&fixture("bsz_bomb.zz"))),
        "bsz_pow2_stream_past_cap" => jwt_run(bson(), bsz_cookie(&pow2_stream_past_cap())),
        "bsz_bomb_json_mode" => jwt_run(jwt_codec(false, d), bsz_cookie(&fixture("bsz_bomb.zz"))),
        "bsz_bomb_option_cap" => {
            let opts = BeakerOptions::from_pairs([
                ("session.jwt_secret_keys", JWT_KEY),
                ("session.max_decompressed_size", "65536"),
            ]);
            jwt_run(
                Codec::from_options(&opts).unwrap(),
                bsz_cookie(&fixture("bsz_bomb.zz")),
            )
        }
        "json_serializer_bomb" => jwt_run(
            original_codec(DataSerializer::Json, true, d),
            original_cookie(&fixture("json_bomb.zz")),
        ),
        "deep_bson_bogus_100k" => jwt_run(bson(), bsz_cookie(&zlib(&nested_bson_bogus(100_000)))),
        "deep_bson_10k" => {
            let cookie = bsz_cookie(&zlib(&nested_bson(10_000)));
            assert!(
                cookie.len() < 129_536,
                "fixture too large for a JWT: {}",
                cookie.len()
            );
            jwt_run(bson(), cookie)
        }
        "deep_json_claims_bson_mode" => jwt_run(bson(), hs256(&nested_json_arrays(45_000))),
        "deep_json_claims_json_mode" => {
            jwt_run(jwt_codec(false, d), hs256(&nested_json_arrays(45_000)))
        }
        "deep_json_claims_objects" => {
            jwt_run(jwt_codec(false, d), hs256(&nested_json_objects(15_000)))
        }
        "deep_json_original_100k" => jwt_run(
            original_codec(DataSerializer::Json, true, d),
            original_cookie(&zlib(&nested_json_arrays(100_000))),
        ),
        "deep_json_original_objects_100k" => jwt_run(
            original_codec(DataSerializer::Json, false, d),
            original_cookie(&zlib(&nested_json_objects(100_000))),
        ),
        "deep_json_original_100k_depth_limit_off" => depth_limit_off(
            Codec::builder().original_serializer(DataSerializer::Json),
            original_cookie(&zlib(&nested_json_arrays(100_000))),
        ),
        "deep_bson_10k_depth_limit_off" => {
            depth_limit_off(Codec::builder(), bsz_cookie(&zlib(&nested_bson(10_000))))
        }
        "deep_pickle_lists_48k_depth_limit_off" => depth_limit_off(
            Codec::builder(),
            original_cookie(&deep_pickle_lists(48_000)),
        ),
        "deep_pickle_lists_48k" => pickle_run(deep_pickle_lists(48_000)),
        "deep_pickle_dicts_12k" => pickle_run(deep_pickle_dicts(12_000)),
        "deep_pickle_tuples_48k" => pickle_run(deep_pickle_tuples(48_000)),
        "deep_pickle_lists_48k_json_mode" => {
            let codec = original_codec(DataSerializer::Pickle, false, d);
            jwt_run(codec, original_cookie(&deep_pickle_lists(48_000)))
        }
        "pickle_marks_90k" => {
            let mut v = op::PROTO2.to_vec();
            v.extend(std::iter::repeat_n(op::MARK, 90_000));
            v.extend_from_slice(&[op::EMPTY_DICT, op::STOP]);
            pickle_run(v)
        }
        "pickle_dup_bomb" => pickle_run(dup_bomb()),
        "pickle_memo_bomb" => pickle_run(memo_bomb()),
        "pickle_reference_amplification" => pickle_run(reference_amplification()),
        "pickle_memoize_copies" => pickle_run(memoize_copies()),
        "pickle_dup_cycle" => pickle_run(in_dict(&[op::EMPTY_LIST, op::DUP, op::APPEND])),
        "pickle_memo_cycle" => pickle_run(in_dict(&[
            op::EMPTY_LIST,
            op::BINPUT,
            0,
            op::BINGET,
            0,
            op::APPEND,
        ])),
        "pickle_binunicode_len_4g" => pickle_run(with_len_u32(b'X', u32::MAX, b"aaaa")),
        "pickle_binstring_negative_len" => pickle_run(with_len_u32(b'T', u32::MAX, b"aaaa")),
        "pickle_binbytes_len_4g" => pickle_run(with_len_u32(b'B', u32::MAX, b"aaaa")),
        "pickle_long4_len_2g" => pickle_run(with_len_u32(0x8b, i32::MAX as u32, b"aaaa")),
        "pickle_binunicode8_len_max" => pickle_run(with_len_u64(0x8d, u64::MAX, b"aa")),
        "pickle_binbytes8_len_max" => pickle_run(with_len_u64(0x8e, u64::MAX, b"aa")),
        "pickle_bytearray8_len_max" => pickle_run(with_len_u64(0x96, u64::MAX, b"aa")),
        "pickle_frame_len_max" => {
            let mut v = op::PROTO4.to_vec();
            v.push(0x95);
            v.extend_from_slice(&(i64::MAX as u64).to_le_bytes());
            v.extend_from_slice(&[op::EMPTY_DICT, op::STOP]);
            pickle_run(v)
        }
        "pickle_long_binget_4g" => pickle_run(in_dict(&[b'j', 0xff, 0xff, 0xff, 0xff])),
        "pickle_binget_missing" => pickle_run(in_dict(&[op::BINGET, 7])),
        "pickle_long_binput_4g" => {
            pickle_run(in_dict(&[op::EMPTY_LIST, b'r', 0xff, 0xff, 0xff, 0xff]))
        }
        "pickle_put_text_1e9" => pickle_run(in_dict(b"]p1000000000\n")),
        "pickle_put_text_huge" => pickle_run(in_dict(b"]p99999999999999999999\n")),
        "pickle_get_text_huge" => pickle_run(in_dict(b"g99999999999999999999\n")),
        "pickle_int_text_90k_digits" => {
            let mut v = b"I".to_vec();
            v.extend(std::iter::repeat_n(b'9', 90_000));
            v.push(b'\n');
            pickle_run(in_dict(&v))
        }
        "pickle_long_text_90k_digits" => {
            let mut v = b"L".to_vec();
            v.extend(std::iter::repeat_n(b'9', 90_000));
            v.extend_from_slice(b"L\n");
            pickle_run(in_dict(&v))
        }
        "pickle_long4_90kb" => {
            let mut v = vec![0x8b];
            v.extend_from_slice(&90_000u32.to_le_bytes());
            v.extend(std::iter::repeat_n(0x55u8, 90_000));
            pickle_run(in_dict(&v))
        }
        "pickle_float_text_90k_digits" => {
            let mut v = b"F".to_vec();
            v.extend(std::iter::repeat_n(b'1', 90_000));
            v.push(b'\n');
            pickle_run(in_dict(&v))
        }
        "pickle_inst_opcode" => pickle_run(in_dict(b"(X\x02\x00\x00\x00idios\nsystem\n")),
        "pickle_obj_opcode" => pickle_run(in_dict(b"(cposix\nsystem\nX\x02\x00\x00\x00ido")),
        "pickle_ext1_opcode" => pickle_run(in_dict(b"\x82\x01")),
        "pickle_persid_opcode" => pickle_run(in_dict(b"P0\n")),
        "pickle_binpersid_opcode" => pickle_run(in_dict(b"X\x01\x00\x00\x000Q")),
        "pickle_codecs_encode_not_latin1" => {
            let mut v = b"c_codecs\nencode\n".to_vec();
            v.extend(binunicode("abc"));
            v.extend(binunicode("rot13"));
            v.extend_from_slice(&[op::TUPLE2, b'R']);
            pickle_run(in_dict(&v))
        }
        "pickle_reconstructor_not_object" => {
            // copy_reg._reconstructor(uuid.UUID, datetime.datetime, None): the base
            // of a protocol 0/1 object must be `object`
            pickle_run(in_dict(
                b"ccopy_reg\n_reconstructor\n(cuuid\nUUID\ncdatetime\ndatetime\nNtR",
            ))
        }
        "ejson_deep_arrays_100k" => {
            let text = String::from_utf8(nested_json_arrays(100_000)).unwrap();
            Box::new(move || kind(&beaker_session_jwt::ejson::from_str(&text)))
        }
        "ejson_deep_objects_100k" => {
            let text = String::from_utf8(nested_json_objects(100_000)).unwrap();
            Box::new(move || kind(&beaker_session_jwt::ejson::from_str(&text)))
        }
        "ejson_deep_wrappers_100k" => {
            let mut text = String::new();
            for _ in 0..100_000 {
                text.push_str("{\"a\": {\"$date\": ");
            }
            text.push('1');
            for _ in 0..100_000 {
                text.push_str("}}");
            }
            Box::new(move || kind(&beaker_session_jwt::ejson::from_str(&text)))
        }
        "jwt_value_10mb" => {
            let mut s = format!("{HEADER}.");
            s.push_str(&"A".repeat(10 << 20));
            s.push_str(".sig");
            jwt_run(bson(), s)
        }
        "jwt_dots_100k" => jwt_run(bson(), ".".repeat(100_000)),
        "original_at_size_limit" => {
            // the largest original cookie: a validly signed pickle of one long string
            let s = "a".repeat(MAX_PICKLE - 30);
            let mut v = binunicode(&s);
            v.extend_from_slice(&[0x85]); // TUPLE1
            pickle_run(in_dict(&v))
        }
        "original_one_past_size_limit" => {
            let cookie = format!("{}{}", "0".repeat(40), "A".repeat(129_536 - 40 + 1));
            jwt_run(pickle(), cookie)
        }
        "jwt_header_huge" => jwt_run(bson(), format!("{}.e30.sig", "A".repeat(100_000))),
        "original_8mb_bad_signature" => {
            let cookie = format!("{}{}", "0".repeat(40), "A".repeat(8 << 20));
            jwt_run(pickle(), cookie)
        }
        "original_8mb_equals" => {
            // a validly signed cookie whose lax base64 is 8 MB of '=' and junk
            let payload = "=-_ ".repeat(2 << 20);
            let mut mac = Hmac::<sha1::Sha1>::new_from_slice(VALIDATE_KEY.as_bytes()).unwrap();
            mac.update(payload.as_bytes());
            let hex: String = mac
                .finalize()
                .into_bytes()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            jwt_run(pickle(), format!("{hex}{payload}"))
        }
        "header_1mb_100k_cookies" => {
            let mut header = String::new();
            for i in 0..100_000 {
                header.push_str(&format!("c{i}=v; "));
            }
            header.push_str("beaker.session.id=");
            header.push_str(&hs256(b"{}"));
            let config = SessionConfig::builder(bson()).build().unwrap();
            Box::new(move || kind(&config.load_cookie_header(Some(&header))))
        }
        "header_10mb_one_value" => {
            let header = format!("beaker.session.id={}", "x".repeat(10 << 20));
            let config = SessionConfig::builder(bson()).build().unwrap();
            Box::new(move || kind(&config.load_cookie_header(Some(&header))))
        }
        other => panic!("unknown case {other}"),
    }
}

/// A codec with `max_nesting_depth = 1_000_000`: refusing that configuration is a
/// fine answer too (reported as `config_refused`).
fn depth_limit_off(b: beaker_session_jwt::CodecBuilder, cookie: String) -> Run {
    let limits = Limits {
        max_nesting_depth: 1_000_000,
        ..Limits::default()
    };
    let built = b
        .secret_keys([JWT_KEY])
        .read_original_format(true)
        .original_validate_key(VALIDATE_KEY)
        .limits(limits)
        .build();
    let via_options = Codec::from_options(&BeakerOptions::from_pairs([
        ("session.jwt_secret_keys", JWT_KEY),
        ("session.max_nesting_depth", "1000000"),
    ]));
    match (built, via_options) {
        (Ok(codec), _) => Box::new(move || kind(&codec.decode(&cookie))),
        (Err(e), Err(_)) if e.is_config() => Box::new(|| "config_refused".to_owned()),
        (Err(e), _) => panic!("unexpected {e:?}"),
    }
}

fn exploit_pickle(name: &str, marker: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/hostile/exploits.json"),
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let placeholder = v["marker"].as_str().unwrap();
    assert_eq!(marker.len(), placeholder.len());
    let e = v["exploits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("no exploit {name}"));
    let data = base64::engine::general_purpose::STANDARD
        .decode(e["pickle_b64"].as_str().unwrap())
        .unwrap();
    replace_all(&data, placeholder.as_bytes(), marker.as_bytes())
}

fn exploit_names() -> Vec<String> {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/hostile/exploits.json"),
    )
    .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["exploits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap().to_owned())
        .collect()
}

fn replace_all(data: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len());
    let mut i = 0;
    let mut replaced = 0;
    while i < data.len() {
        if data[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
            replaced += 1;
        } else {
            out.push(data[i]);
            i += 1;
        }
    }
    assert!(replaced > 0, "marker not found in the exploit pickle");
    out
}

// ------------------------------------------------------------------ child process harness

fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The child side: runs one case and prints `H8RESULT <kind> <micros> <rss growth kB>`.
#[test]
#[ignore = "child process of the hostile-input tests; run through run_case"]
fn hostile_case_child() {
    let Ok(name) = std::env::var(CHILD_ENV) else {
        return;
    };
    let run = build_case(&name);
    let before = peak_rss_kb();
    let (kind, elapsed) = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let start = Instant::now();
            let kind = run();
            (kind, start.elapsed())
        })
        .unwrap()
        .join()
        // a panic inside the library: report it as such (the parent fails the case)
        .unwrap_or_else(|_| ("panic".to_owned(), Duration::ZERO));
    let growth = match (before, peak_rss_kb()) {
        (Some(b), Some(a)) => a.saturating_sub(b).to_string(),
        _ => "unknown".into(),
    };
    println!("H8RESULT {kind} {} {growth}", elapsed.as_micros());
}

#[derive(Debug)]
struct Outcome {
    case: String,
    kind: String,
    elapsed: Duration,
    rss_growth_kb: Option<u64>,
}

impl Outcome {
    /// `expected` lists acceptable kinds; `"*"` accepts any error of the decoder.
    fn expect(&self, expected: &[&str]) -> &Self {
        // shown with --nocapture: the measurements behind "quick" and "small"
        eprintln!(
            "H8 {}: {} in {:?}, peak RSS +{} kB",
            self.case,
            self.kind,
            self.elapsed,
            self.rss_growth_kb.map_or("?".into(), |k| k.to_string())
        );
        // "*" means any error of the decoder under test: not "ok", and not the size
        // check that runs before every decoder (the input would not have reached it)
        let ok = expected.contains(&self.kind.as_str())
            || (expected.contains(&"*") && self.kind != "ok" && self.kind != "exceeded_size");
        assert!(
            ok,
            "{}: got {}, expected one of {expected:?}",
            self.case, self.kind
        );
        assert!(
            self.elapsed < QUICK,
            "{}: took {:?} (limit {QUICK:?})",
            self.case,
            self.elapsed
        );
        if let Some(kb) = self.rss_growth_kb {
            assert!(kb < SMALL_KB, "{}: peak memory grew by {kb} kB", self.case);
        }
        self
    }
}

/// Runs one case in a child process under a 2 GiB address-space limit.
fn run_case_with_env(case: &str, env: &[(&str, &str)]) -> Outcome {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = if cfg!(unix) {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg("ulimit -v 2097152 2>/dev/null; exec \"$0\" \"$@\"")
            .arg(&exe);
        c
    } else {
        Command::new(&exe)
    };
    cmd.args([
        "--ignored",
        "--exact",
        "hostile_case_child",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(CHILD_ENV, case)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{case}: no result after {HANG:?} (hang)");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stdout
        .lines()
        .find_map(|l| l.split_once("H8RESULT ").map(|(_, r)| r));
    let Some(line) = line.filter(|_| status.success()) else {
        panic!(
            "{case}: child failed ({status}), the decode crashed or aborted\n--- stdout\n{}\n--- stderr\n{}",
            tail(&stdout),
            tail(&stderr)
        );
    };
    let mut parts = line.split_whitespace();
    let kind = parts.next().unwrap().to_owned();
    let micros: u64 = parts.next().unwrap().parse().unwrap();
    let rss_growth_kb = parts.next().and_then(|s| s.parse().ok());
    Outcome {
        case: case.to_owned(),
        kind,
        elapsed: Duration::from_micros(micros),
        rss_growth_kb,
    }
}

fn tail(s: &str) -> &str {
    let start = s.len().saturating_sub(3000);
    let start = (start..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    &s[start..]
}

fn run_case(case: &str) -> Outcome {
    run_case_with_env(case, &[])
}

// ------------------------------------------------------------------ zlib bombs

/// bsZ inflating to 79 MB: refused at the 1 MiB default while inflating.
#[test]
fn zlib_bomb_in_bsz_is_capped_while_inflating() {
    run_case("bsz_bomb").expect(&["decompressed_too_large"]);
}

/// Regression: a 2048-byte stream made the inflater's buffer end 1 byte short of the
/// cap, and its next growth step panicked (`clamp` with min > max) in src/payload.rs.
#[test]
fn zlib_stream_of_power_of_two_length_past_the_cap_does_not_panic() {
    run_case("bsz_pow2_stream_past_cap").expect(&["decompressed_too_large"]);
}

/// Regression: a cap below 256 bytes made every bsZ decode panic (`clamp(256, cap+1)`
/// in src/payload.rs `inflate`).
#[test]
fn tiny_inflate_cap_does_not_panic() {
    let cookie = bsz_cookie(&zlib(&bson_bytes(&doc! { "a": "x".repeat(300) })));
    for cap in [0, 1, 100, 254, 255, 256, 300] {
        let limits = Limits {
            max_decompressed_size: cap,
            ..Limits::default()
        };
        let r = std::panic::catch_unwind(|| jwt_codec(true, limits).decode(&cookie).map(|_| ()));
        assert!(
            matches!(r, Ok(Err(Error::DecompressedTooLarge { .. }))),
            "cap {cap}: {r:?}"
        );
    }
}

/// The cap comes from `max_decompressed_size` in the options.
#[test]
fn zlib_bomb_cap_is_configurable_through_options() {
    run_case("bsz_bomb_option_cap").expect(&["decompressed_too_large"]);
}

/// JSON mode pops `bsZ` without inflating it (formats.md §1.6): an empty session.
#[test]
fn zlib_bomb_in_bsz_is_not_inflated_in_json_mode() {
    run_case("bsz_bomb_json_mode").expect(&["ok"]);
}

/// The json serializer of original cookies: 256 MiB of JSON from 260 kB.
#[test]
fn zlib_bomb_in_json_serializer_is_capped_while_inflating() {
    run_case("json_serializer_bomb").expect(&["decompressed_too_large"]);
}

/// The cap is exact: a stream inflating to n bytes passes with limit n, fails with n-1.
#[test]
fn inflate_cap_is_exact_for_bsz_and_json_serializer() {
    let session = doc! { "_id": "0123456789abcdef0123456789abcdef", "blob": "x".repeat(5000) };
    let bson_bytes = bson_bytes(&session);
    let n = bson_bytes.len();
    let cookie = bsz_cookie(&zlib(&bson_bytes));
    let limits = |max| Limits {
        max_decompressed_size: max,
        ..Limits::default()
    };
    assert_eq!(
        jwt_codec(true, limits(n)).decode(&cookie).unwrap().session,
        session
    );
    assert!(matches!(
        jwt_codec(true, limits(n - 1)).decode(&cookie),
        Err(Error::DecompressedTooLarge { limit }) if limit == n - 1
    ));

    let json = br#"{"a": "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}"#;
    let cookie = original_cookie(&zlib(json));
    let ok = original_codec(DataSerializer::Json, true, limits(json.len())).decode(&cookie);
    assert_eq!(ok.unwrap().session.get_str("a").unwrap().len(), 59);
    assert!(matches!(
        original_codec(DataSerializer::Json, true, limits(json.len() - 1)).decode(&cookie),
        Err(Error::DecompressedTooLarge { .. })
    ));
}

/// BSON bytes as pymongo writes them (the bson crate agrees for these types).
fn bson_bytes(d: &beaker_session_jwt::bson::Document) -> Vec<u8> {
    let mut out = Vec::new();
    d.to_writer(&mut out).unwrap();
    out
}

#[test]
fn default_limits_are_documented_values() {
    assert_eq!(DEFAULT_MAX_DECOMPRESSED_SIZE, 1 << 20);
    assert_eq!(DEFAULT_MAX_NESTING_DEPTH, 200);
    let l = Limits::default();
    assert_eq!(l.max_decompressed_size, DEFAULT_MAX_DECOMPRESSED_SIZE);
    assert_eq!(l.max_nesting_depth, DEFAULT_MAX_NESTING_DEPTH);
}

// ------------------------------------------------------------------ nesting

#[test]
fn deep_bson_100k_levels_with_bogus_lengths_is_refused_without_recursion() {
    run_case("deep_bson_bogus_100k").expect(&["*"]);
}

#[test]
fn deep_bson_10k_levels_is_nesting_too_deep() {
    run_case("deep_bson_10k").expect(&["nesting_too_deep"]);
}

#[test]
fn deep_json_claims_are_nesting_too_deep() {
    run_case("deep_json_claims_bson_mode").expect(&["nesting_too_deep"]);
    run_case("deep_json_claims_json_mode").expect(&["nesting_too_deep"]);
    run_case("deep_json_claims_objects").expect(&["nesting_too_deep"]);
}

#[test]
fn deep_json_serializer_100k_levels_is_nesting_too_deep() {
    run_case("deep_json_original_100k").expect(&["nesting_too_deep"]);
    run_case("deep_json_original_objects_100k").expect(&["nesting_too_deep"]);
}

/// The CLI's Extended JSON input, 100 000 levels deep: a typed error, no overflow.
#[test]
fn deep_extended_json_input_is_nesting_too_deep() {
    for case in [
        "ejson_deep_arrays_100k",
        "ejson_deep_objects_100k",
        "ejson_deep_wrappers_100k",
    ] {
        run_case(case).expect(&["nesting_too_deep", "invalid_json"]);
    }
}

/// As deep as a pickle in a cookie can go (the value is capped at 129 536 bytes, two
/// opcodes per level: 100 000 levels do not fit; the json serializer's compressed
/// text carries 100 000 levels above).
#[test]
fn deep_pickle_as_deep_as_fits_is_nesting_too_deep() {
    for case in [
        "deep_pickle_lists_48k",
        "deep_pickle_dicts_12k",
        "deep_pickle_tuples_48k",
        "deep_pickle_lists_48k_json_mode",
    ] {
        run_case(case).expect(&["nesting_too_deep"]);
    }
}

/// An operator who turns the depth limit off (`max_nesting_depth = 1000000`) must
/// still not crash the process. The parsers are iterative, but a `bson::Document`
/// drops recursively (about 7 frames per level): on a 2 MiB stack a debug build
/// overflows between 4 000 and 8 000 levels. So the configuration must be refused
/// or capped (at Python's recursion limit, 1 000, say).
#[test]
fn depth_limit_turned_off_still_does_not_overflow_the_stack() {
    for case in [
        "deep_json_original_100k_depth_limit_off",
        "deep_bson_10k_depth_limit_off",
        "deep_pickle_lists_48k_depth_limit_off",
    ] {
        run_case(case).expect(&["config_refused", "nesting_too_deep"]);
    }
}

/// 90 000 open MARKs: Python returns the dict on STOP; a typed error is fine too.
#[test]
fn pickle_with_90k_marks_is_bounded() {
    run_case("pickle_marks_90k").expect(&["ok", "pickle"]);
}

/// Depth limits sit where documented for every format: the default admits 190
/// levels and refuses 210, and `max_nesting_depth` moves the line.
#[test]
fn nesting_limit_applies_to_every_format_and_is_configurable() {
    let d = Limits::default();
    let small = Limits {
        max_nesting_depth: 20,
        ..Limits::default()
    };
    for (depth, limits, want_ok) in [
        (190, d, true),
        (210, d, false),
        (15, small, true),
        (25, small, false),
    ] {
        let results = [
            (
                "bson",
                jwt_codec(true, limits).decode(&bsz_cookie(&zlib(&nested_bson(depth)))),
            ),
            (
                "json claims",
                jwt_codec(false, limits).decode(&hs256(&nested_json_arrays(depth))),
            ),
            (
                "json serializer",
                original_codec(DataSerializer::Json, true, limits)
                    .decode(&original_cookie(&zlib(&nested_json_arrays(depth)))),
            ),
        ];
        for (what, r) in results {
            if want_ok {
                assert!(r.is_ok(), "{what} depth {depth}: {:?}", r.err());
            } else {
                assert!(
                    matches!(r, Err(Error::NestingTooDeep { .. })),
                    "{what} depth {depth}: {r:?}"
                );
            }
        }
    }
    let opts = BeakerOptions::from_pairs([
        ("session.jwt_secret_keys", JWT_KEY),
        ("session.max_nesting_depth", "20"),
    ]);
    let codec = Codec::from_options(&opts).unwrap();
    assert_eq!(codec.limits().max_nesting_depth, 20);
    assert!(matches!(
        codec.decode(&bsz_cookie(&zlib(&nested_bson(25)))),
        Err(Error::NestingTooDeep { limit: 20 })
    ));
}

/// The pickle reader applies the same limit (separate test: it needs pickle.rs).
#[test]
fn nesting_limit_applies_to_pickles() {
    let small = Limits {
        max_nesting_depth: 20,
        ..Limits::default()
    };
    for (depth, limits, want_ok) in [
        (190, Limits::default(), true),
        (210, Limits::default(), false),
        (15, small, true),
        (25, small, false),
    ] {
        let codec = original_codec(DataSerializer::Pickle, true, limits);
        for (what, p) in [
            ("lists", deep_pickle_lists(depth)),
            ("dicts", deep_pickle_dicts(depth)),
            ("tuples", deep_pickle_tuples(depth)),
        ] {
            let r = codec.decode(&original_cookie(&p));
            if want_ok {
                assert!(r.is_ok(), "pickle {what} depth {depth}: {:?}", r.err());
            } else {
                assert!(
                    matches!(r, Err(Error::NestingTooDeep { .. })),
                    "pickle {what} depth {depth}: {r:?}"
                );
            }
        }
    }
}

// ------------------------------------------------------------------ pickle structure

/// Shared references expanding to 2^40 values must not be materialized.
#[test]
fn pickle_reference_bombs_are_refused() {
    for case in [
        "pickle_dup_bomb",
        "pickle_memo_bomb",
        "pickle_reference_amplification",
    ] {
        run_case(case).expect(&["*"]);
    }
}

/// MEMOIZE a million times must not copy the value a million times.
#[test]
fn pickle_memo_holds_references_not_copies() {
    run_case("pickle_memoize_copies").expect(&["ok", "*"]);
}

/// A list containing itself (Python loads `[[...]]`): refused or cut, never a hang.
#[test]
fn pickle_cycles_terminate() {
    run_case("pickle_dup_cycle").expect(&["ok", "*"]);
    run_case("pickle_memo_cycle").expect(&["ok", "*"]);
}

/// Length fields larger than the input: "pickle data was truncated", no allocation
/// of the announced size.
#[test]
fn pickle_length_fields_beyond_the_input_are_refused() {
    for case in [
        "pickle_binunicode_len_4g",
        "pickle_binstring_negative_len",
        "pickle_binbytes_len_4g",
        "pickle_long4_len_2g",
        "pickle_binunicode8_len_max",
        "pickle_binbytes8_len_max",
        "pickle_bytearray8_len_max",
        "pickle_frame_len_max",
    ] {
        run_case(case).expect(&["pickle"]);
    }
}

/// Memo indexes beyond anything stored: GET fails like Python's "Memo value not
/// found"; a PUT at index 4e9 or 1e9 must not allocate a memo table that large
/// (Python 3.11 fails with MemoryError for 2^32-1, loads `{}` for 1e9).
#[test]
fn pickle_memo_indexes_beyond_the_input_are_bounded() {
    run_case("pickle_long_binget_4g").expect(&["pickle"]);
    run_case("pickle_binget_missing").expect(&["pickle"]);
    run_case("pickle_get_text_huge").expect(&["pickle"]);
    run_case("pickle_long_binput_4g").expect(&["ok", "pickle"]);
    run_case("pickle_put_text_1e9").expect(&["ok", "pickle"]);
    run_case("pickle_put_text_huge").expect(&["ok", "pickle"]);
}

/// Numbers with 90 000 digits are refused (Python 3.11: 4300-digit limit for text)
/// quickly: no quadratic big-number conversion.
#[test]
fn pickle_huge_numbers_are_refused_quickly() {
    let numeric = ["pickle", "integer_out_of_range", "unconvertible"];
    run_case("pickle_int_text_90k_digits").expect(&numeric);
    run_case("pickle_long_text_90k_digits").expect(&numeric);
    run_case("pickle_long4_90kb").expect(&numeric);
    run_case("pickle_float_text_90k_digits").expect(&["ok", "pickle"]);
}

// ------------------------------------------------------------------ globals

#[test]
fn pickles_naming_globals_outside_the_allow_list_are_refused() {
    for (module, name) in FORBIDDEN_GLOBALS {
        run_case(&format!("global:{module}:{name}")).expect(&["forbidden_global"]);
        run_case(&format!("stack_global:{module}:{name}")).expect(&["forbidden_global"]);
    }
}

/// The error names the global (so operators see the attack) but never more than a
/// bounded prefix of attacker text.
#[test]
fn forbidden_global_error_names_the_global() {
    let codec = original_codec(DataSerializer::Pickle, true, Limits::default());
    let r = codec.decode(&original_cookie(&global_call("posix", "system")));
    match r {
        Err(Error::ForbiddenGlobal { module, name }) => {
            assert_eq!((module.as_str(), name.as_str()), ("posix", "system"));
        }
        other => panic!("{other:?}"),
    }
    let long = "m".repeat(50_000);
    let r = codec.decode(&original_cookie(&global_call(&long, "system")));
    match r {
        Err(e @ Error::ForbiddenGlobal { .. }) => {
            assert!(
                e.to_string().len() < 1000,
                "message of {} bytes",
                e.to_string().len()
            )
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}

/// Opcodes that construct arbitrary objects are refused whatever they name.
#[test]
fn object_building_opcodes_are_refused() {
    for case in [
        "pickle_inst_opcode",
        "pickle_obj_opcode",
        "pickle_ext1_opcode",
        "pickle_persid_opcode",
        "pickle_binpersid_opcode",
        "pickle_codecs_encode_not_latin1",
    ] {
        run_case(case).expect(&["forbidden_global", "pickle"]);
    }
    run_case("pickle_reconstructor_not_object").expect(&["*"]);
}

/// Real exploits made by Python's pickle.dumps (os.system, subprocess.Popen, eval,
/// exec; protocols 0, 2, 4), each creating a marker file when loaded by Python: here
/// they are refused and the marker never appears. With `BEAKER_REF_PYTHON` set the
/// test first proves each payload is live by loading it with Python's pickle.
#[test]
fn exploit_pickles_run_in_python_but_nothing_runs_here() {
    let dir = scratch_dir("exploits");
    let python = std::env::var("BEAKER_REF_PYTHON")
        .ok()
        .filter(|p| Path::new(p).exists());
    for (i, name) in exploit_names().iter().enumerate() {
        for remove in ["keep", "remove"] {
            let marker = marker_path(&dir, &format!("rs{i}{remove}"));
            let m = marker.to_str().unwrap();
            run_case_with_env(&format!("exploit:{name}:{remove}"), &[(MARKER_ENV, m)])
                .expect(&["forbidden_global"]);
            std::thread::sleep(Duration::from_millis(50));
            assert!(!marker.exists(), "{name}: the payload ran");
        }
        if let Some(py) = &python {
            let marker = marker_path(&dir, &format!("py{i}"));
            let data = exploit_pickle(name, marker.to_str().unwrap());
            let status = Command::new(py)
                .args([
                    "-c",
                    "import base64,pickle,sys,time\n\
                     try: pickle.loads(base64.b64decode(sys.argv[1]))\n\
                     except Exception: pass\n\
                     time.sleep(0.3)",
                ])
                .arg(base64::engine::general_purpose::STANDARD.encode(&data))
                .status()
                .unwrap();
            assert!(status.success());
            assert!(marker.exists(), "{name}: the payload is not live in Python");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn scratch_dir(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("h8-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A path of exactly 64 bytes (the placeholder's length) in `dir`.
fn marker_path(dir: &Path, tag: &str) -> PathBuf {
    let base = dir.join(tag);
    let s = base.to_str().unwrap();
    assert!(s.len() < 64, "temp dir path too long: {s}");
    let padded = format!("{s}{}", "Y".repeat(64 - s.len()));
    let p = PathBuf::from(padded);
    let _ = std::fs::remove_file(&p);
    p
}

// ------------------------------------------------------------------ oversized input

#[test]
fn oversized_jwts_are_refused_before_parsing() {
    run_case("jwt_value_10mb").expect(&["exceeded_size"]);
    run_case("jwt_header_huge").expect(&["exceeded_size"]);
    run_case("jwt_dots_100k").expect(&["malformed_token"]);
}

/// Original cookies go through the JWT reader's size check first, as in the
/// reference (`ExceededSizeError` does not fall back): nothing over 129 536 bytes is
/// ever verified, decoded or unpickled. The largest one that fits is read normally.
#[test]
fn oversized_original_cookies_are_refused_before_parsing() {
    run_case("original_8mb_bad_signature").expect(&["exceeded_size"]);
    run_case("original_8mb_equals").expect(&["exceeded_size"]);
    run_case("original_one_past_size_limit").expect(&["exceeded_size"]);
    run_case("original_at_size_limit").expect(&["unconvertible", "ok"]);
}

#[test]
fn oversized_cookie_headers_are_linear() {
    run_case("header_1mb_100k_cookies").expect(&["ok"]);
    // invalidate_corrupt (the default) turns the refused value into a new session
    run_case("header_10mb_one_value").expect(&["ok", "exceeded_size"]);
}

// ------------------------------------------------------------------ header injection

/// `_path` and `_domain` of a decoded session become Set-Cookie attributes
/// (formats.md §2.5: the old cookie's values override the configuration). A key
/// holder's CR/LF or `;` there must not inject headers or attributes: the session
/// layer refuses to write such a cookie (or writes it without the injection).
#[test]
fn session_values_cannot_inject_set_cookie_attributes_or_headers() {
    let hostile = [
        ("_path", "/\r\nSet-Cookie: evil=1"),
        ("_path", "/; Domain=evil.example"),
        ("_domain", "example.com; Secure=no; evil=1"),
        ("_domain", "example.com\nX-Evil: 1"),
        ("_path", "/\u{0}x"),
    ];
    let json_original = original_codec(DataSerializer::Json, true, Limits::default());
    let json_jwt = jwt_codec(false, Limits::default());
    for (key, value) in hostile {
        let session = serde_json::json!({ "_id": "0123456789abcdef0123456789abcdef", key: value });
        let cookies = [
            (
                &json_original,
                original_cookie(&zlib(session.to_string().as_bytes())),
            ),
            (&json_jwt, hs256(session.to_string().as_bytes())),
        ];
        for (codec, cookie) in cookies {
            let config = SessionConfig::builder(codec.clone())
                .invalidate_corrupt(false)
                .build()
                .unwrap();
            let header = format!("beaker.session.id={cookie}");
            let mut s = match config.load_cookie_header(Some(&header)) {
                Ok(s) => s,
                Err(e) => {
                    assert!(!e.is_config(), "{key}={value:?}: {e:?}");
                    continue;
                }
            };
            s.touch();
            s.save();
            match s.finish() {
                Ok(Some(h)) => {
                    let text = h.to_str().unwrap_or("");
                    assert!(
                        !text.contains("evil") && !text.contains('\n'),
                        "{key}={value:?}: {text}"
                    );
                    assert!(text.matches("Domain=").count() <= 1, "{text}");
                }
                Ok(None) => panic!("{key}={value:?}: nothing written for a saved session"),
                Err(e) => assert!(
                    matches!(e, Error::InvalidCookieAttribute { .. }),
                    "{key}={value:?}: {e:?}"
                ),
            }
        }
    }
}
