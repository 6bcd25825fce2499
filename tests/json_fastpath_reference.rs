//! Differential property test of the JSON writers' and reader's fast paths (float repr
//! from Ryū digits, integer digits, table-driven string escaping, `str` slicing of
//! unescaped strings, integer accumulation) against the real Python reference, on
//! random values chosen to hit their edges: every float bit pattern (NaN, infinities,
//! subnormals, huge and tiny exponents, `-0.0`, short decimals, binary fractions that
//! are exact decimal ties), integers at the i32/i64 boundaries, and strings mixing
//! every escape class with non-ASCII, astral and near-surrogate characters.
//!
//! Each case checks, through `scripts/ref_batch.py`:
//! 1. JSON mode encode: our cookie is byte-identical to the reference's
//!    (`json.dumps(claims, ensure_ascii=False, separators=(",", ":"))`);
//! 2. JSON mode decode of that cookie: same session as the reference reads;
//! 3. JSON mode decode of claims written with `ensure_ascii=True` escapes and `", "`
//!    separators (`ejson::to_relaxed_string`'s text, signed here): same session;
//! 4. BSON mode: the reference's canonical Extended JSON of our cookie equals ours
//!    (`bson.json_util` float repr, `$numberInt`/`$numberLong`, ASCII escaping).
//!
//! Needs the reference venv (see tests/reference/mod.rs); passes vacuously without it
//! unless `BEAKER_REQUIRE_REF=1`.

mod common;
mod reference;

use std::cell::RefCell;

use beaker_session_jwt::bson::{Bson, Document};
use beaker_session_jwt::{Codec, ejson};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

const KEY: &str = "fastpath-reference-key-0123456789";

// The tie 123456789.126953125 is written exactly: it is the value, not a rounding.
#[allow(clippy::excessive_precision)]
fn float() -> impl Strategy<Value = f64> {
    prop_oneof![
        // Any bit pattern: NaNs, infinities, normals of every exponent.
        any::<u64>().prop_map(f64::from_bits),
        // Subnormals of both signs.
        (0u64..(1 << 52), any::<bool>())
            .prop_map(|(m, neg)| f64::from_bits(m | (u64::from(neg) << 63))),
        // Short decimals around the repr layout thresholds (1e16, 1e-4) and beyond.
        (1u64..100_000_000_000_000_000, -30i32..30)
            .prop_map(|(m, e)| format!("{m}e{e}").parse().unwrap()),
        // Binary fractions: exact decimal expansions, where shortest-digit ties live.
        (0u64..(1 << 53), 0i32..64).prop_map(|(m, s)| m as f64 / 2f64.powi(s)),
        prop::sample::select(vec![
            0.0,
            -0.0,
            1e16,
            9_999_999_999_999_998.0,
            1e-4,
            0.000_099_999_999_999_999_99,
            5e-324,
            f64::MIN_POSITIVE,
            f64::MAX,
            -f64::MAX,
            123_456_789.126_953_125,
            0.1,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
        ]),
    ]
}

fn integer() -> impl Strategy<Value = Bson> {
    prop_oneof![
        any::<i32>().prop_map(Bson::Int32),
        any::<i64>().prop_map(Bson::Int64),
        prop::sample::select(vec![
            i64::MIN,
            i64::MIN + 1,
            i64::MAX,
            i64::MAX - 1,
            i64::from(i32::MIN) - 1,
            i64::from(i32::MIN),
            i64::from(i32::MAX),
            i64::from(i32::MAX) + 1,
            0,
            -1,
        ])
        .prop_map(Bson::Int64),
    ]
}

/// Strings built from pieces of every escape class plus arbitrary characters.
fn string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            "\"",
            "\\",
            "/",
            "\u{0}",
            "\u{1}",
            "\u{8}",
            "\t",
            "\n",
            "\u{b}",
            "\u{c}",
            "\r",
            "\u{1f}",
            " ",
            "~",
            "\u{7f}",
            "\u{80}",
            "\u{ff}",
            "é",
            "€",
            "\u{2028}",
            "\u{d7ff}",
            "\u{e000}",
            "\u{fffd}",
            "\u{ffff}",
            "\u{10000}",
            "😀",
            "\u{10ffff}",
            "plain ascii",
            "\\u00e9",
            "\\ud800",
        ])
        .prop_map(str::to_owned),
        any::<char>().prop_map(String::from),
        "[a-zA-Z0-9 ]{0,40}",
    ];
    prop::collection::vec(piece, 0..8).prop_map(|p| p.concat())
}

fn value() -> impl Strategy<Value = Bson> {
    let leaf = prop_oneof![
        float().prop_map(Bson::Double),
        integer(),
        string().prop_map(Bson::String),
    ];
    prop_oneof![
        4 => leaf.clone(),
        1 => prop::collection::vec(leaf, 0..5).prop_map(Bson::Array),
    ]
}

fn session() -> impl Strategy<Value = Document> {
    // Keys start with "k": never a key the JWT layer drops, `bsZ`, `exp`/`iat`/`nbf`
    // or an Extended JSON operator; no NUL (BSON keys cannot hold one).
    prop::collection::vec((string(), value()), 0..12).prop_map(|entries| {
        entries
            .into_iter()
            .enumerate()
            .map(|(i, (k, v))| (format!("k{i}{}", k.replace('\0', "")), v))
            .collect()
    })
}

fn check(
    py: &mut reference::RefBatch,
    codecs: &(Codec, Codec),
    options: &(Value, Value),
    session: &Document,
) -> Result<(), TestCaseError> {
    let (json_codec, bson_codec) = codecs;
    let (json_options, bson_options) = options;
    let text = ejson::to_canonical_string(session);

    // 1. JSON-mode claims byte-identical to joserfc's.
    let ours = json_codec.encode(session).unwrap();
    let theirs = py
        .encode(json_options, &text, true)
        .map_err(|e| TestCaseError::fail(format!("reference encode failed: {e}")))?;
    prop_assert_eq!(&ours, &theirs, "JSON-mode cookie for {}", text);

    // 2. JSON-mode decode of that cookie (raw UTF-8 strings).
    // 3. ... and of claims with `\uXXXX` escapes and spaced separators.
    let escaped =
        common::signed_token(ejson::to_relaxed_string(session).as_bytes(), KEY.as_bytes());
    for cookie in [&ours, &escaped] {
        let mine = json_codec
            .decode(cookie)
            .map(|d| ejson::to_canonical_string(&d.session));
        let reference = py.decode(json_options, cookie);
        prop_assert_eq!(
            mine.as_ref().ok(),
            reference.as_ref().ok(),
            "JSON-mode decode of {} (ours {:?}, reference {:?})",
            cookie,
            mine,
            reference
        );
    }

    // 4. Canonical Extended JSON of a BSON-mode cookie, as the reference prints it.
    let cookie = bson_codec.encode(session).unwrap();
    let mine = ejson::to_canonical_string(&bson_codec.decode(&cookie).unwrap().session);
    let reference = py
        .decode(bson_options, &cookie)
        .map_err(|e| TestCaseError::fail(format!("reference decode failed: {e}")))?;
    prop_assert_eq!(mine, reference, "canonical Extended JSON of {}", text);
    Ok(())
}

#[test]
fn json_fast_paths_match_the_reference() {
    let Some(py) = reference::RefBatch::start() else {
        return;
    };
    let py = RefCell::new(py);
    let options = (
        json!({"jwt_secret_keys": KEY, "bson_compress_jwt_payload": "false"}),
        json!({"jwt_secret_keys": KEY, "bson_compress_jwt_payload": "true"}),
    );
    let codecs = (
        common::codec_from_json_options(&options.0),
        common::codec_from_json_options(&options.1),
    );
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&session(), |session| {
            check(&mut py.borrow_mut(), &codecs, &options, &session)
        })
        .unwrap();
}
