//! JSON-mode `decode_raw` (the claims JSON written straight to BSON) against
//! `decode` (the `Document` built by `json.loads` semantics): the documented
//! invariant [`common::check_raw_view`] on random sessions, on generated claims
//! text full of the hard cases (duplicate keys, escapes, lone surrogates,
//! NaN/Infinity, integers at and beyond the int32/int64 bounds, `bsZ`, NUL in
//! keys, `_id`, nesting at the limit) and on mutations of it.

mod common;

use beaker_session_jwt::bson::{Bson, Document, RawDocumentBuf, doc};
use beaker_session_jwt::{Codec, Error, Limits};
use proptest::prelude::*;

const KEY: &str = "raw-view-json-key-0123456789";

fn codec_with(limits: Limits) -> Codec {
    Codec::builder()
        .secret_keys([KEY])
        .bson_payload(false)
        .limits(limits)
        .build()
        .expect("valid configuration")
}

fn codec() -> Codec {
    codec_with(Limits::default())
}

/// A codec whose nesting limit generated text reaches.
fn shallow() -> Codec {
    codec_with(Limits {
        max_nesting_depth: 4,
        ..Limits::default()
    })
}

fn signed(claims: &str) -> String {
    common::signed_token(claims.as_bytes(), KEY.as_bytes())
}

fn check(claims: &str) -> Result<(), TestCaseError> {
    let token = signed(claims);
    for c in [codec(), shallow()] {
        common::check_raw_view(&c, &token)
            .map_err(|e| TestCaseError::fail(format!("{claims:?}: {e}")))?;
        same_bytes(&c, &token).map_err(|e| TestCaseError::fail(format!("{claims:?}: {e}")))?;
    }
    Ok(())
}

/// In JSON mode the view is byte for byte `RawDocumentBuf::try_from(&session)`
/// (array element names included, which `check_raw_view` does not see).
fn same_bytes(c: &Codec, token: &str) -> Result<(), String> {
    if let (Ok(d), Ok(r)) = (c.decode(token), c.decode_raw(token)) {
        let want = RawDocumentBuf::try_from(&d.session).map_err(|e| e.to_string())?;
        if want.as_bytes() != r.session.as_bytes() {
            return Err(format!(
                "view bytes {:?} vs {:?}",
                r.session.as_bytes(),
                want.as_bytes()
            ));
        }
    }
    Ok(())
}

// ------------------------------------------------------------- sessions

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-z]{1,3}",
        1 => Just("bsZ".to_owned()),
        1 => Just("_id".to_owned()),
        1 => Just("a\u{0}b".to_owned()),
        1 => "[a-z\"\\\\\u{1}\u{7f}é😀]{0,4}",
    ]
}

fn json_value() -> impl Strategy<Value = Bson> {
    let leaf = prop_oneof![
        any::<i32>().prop_map(Bson::Int32),
        any::<i64>().prop_map(Bson::Int64),
        any::<u64>().prop_map(|b| Bson::Double(f64::from_bits(b))),
        prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-0.0), Just(1e300)]
            .prop_map(Bson::Double),
        "[a-z\u{0}\"\\\\\n\u{1f}é😀\u{2028}]{0,6}".prop_map(Bson::String),
        any::<bool>().prop_map(Bson::Boolean),
        Just(Bson::Null),
    ];
    leaf.prop_recursive(5, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Bson::Array),
            prop::collection::vec((key(), inner), 0..5)
                .prop_map(|kv| Bson::Document(kv.into_iter().collect())),
        ]
    })
}

// ---------------------------------------------------------- claims text

/// A JSON scalar as text, including what only Python's json accepts.
fn scalar_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i32>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        prop::sample::select(vec![
            "2147483647",
            "2147483648",
            "-2147483648",
            "-2147483649",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "-9223372036854775809",
            "123456789012345678901234567890",
            "-0",
            "0",
            "1.5",
            "-0.0",
            "1e400",
            "-1e400",
            "1E+2",
            "1e-400",
            "0.1",
            "NaN",
            "Infinity",
            "-Infinity",
            "true",
            "false",
            "null",
        ])
        .prop_map(str::to_owned),
        any::<u64>().prop_map(|b| {
            let x = f64::from_bits(b);
            if x.is_finite() {
                format!("{x:e}")
            } else {
                "NaN".to_owned()
            }
        }),
        string_text(),
    ]
}

/// A JSON string literal with escapes, surrogate pairs and lone surrogates.
fn string_text() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[a-z é😀]{1,4}",
        1 => prop::sample::select(vec![
            "\\n", "\\\"", "\\\\", "\\/", "\\u0041", "\\u00e9", "\\u0000",
            "\\ud83d\\ude00", "\\ud800", "\\udc00", "\\ud800\\u0041", "\\uD83D\\uDE00",
            "\\t", "\\b", "\\f", "\\r", "\\u2028",
        ])
        .prop_map(str::to_owned),
    ];
    prop::collection::vec(piece, 0..4).prop_map(|p| format!("\"{}\"", p.concat()))
}

fn key_text() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec!["a", "b", "c", "bsZ", "_id", "é"])
            .prop_map(|k| format!("\"{k}\"")),
        1 => Just("\"a\\u0000\"".to_owned()),
        1 => Just("\"bs\\u005a\"".to_owned()),
        1 => string_text(),
    ]
}

fn ws() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", "", " ", "\n\t", "\r "])
}

/// Claims text: mostly objects whose keys often repeat.
fn value_text() -> impl Strategy<Value = String> {
    scalar_text().prop_recursive(6, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec((ws(), inner.clone()), 0..5).prop_map(|items| {
                let items: Vec<String> =
                    items.into_iter().map(|(w, v)| format!("{w}{v}")).collect();
                format!("[{}]", items.join(","))
            }),
            prop::collection::vec((ws(), key_text(), ws(), inner), 0..6).prop_map(|members| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(w, k, w2, v)| format!("{w}{k}{w2}:{v}"))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

fn claims_text() -> impl Strategy<Value = String> {
    prop::collection::vec((key_text(), value_text()), 0..8).prop_map(|members| {
        let members: Vec<String> = members
            .into_iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect();
        format!("{{{}}}", members.join(","))
    })
}

/// One edit of the text at a position (a fraction of its length).
#[derive(Debug, Clone)]
enum Edit {
    Delete(f64),
    Insert(f64, char),
    Replace(f64, char),
}

fn edit() -> impl Strategy<Value = Edit> {
    let c = prop::sample::select(vec![
        '{', '}', '[', ']', ',', ':', '"', '\\', '0', '9', '-', '.', 'e', 'N', ' ', '\u{0}', 'é',
    ]);
    let at = 0.0..1.0f64;
    prop_oneof![
        at.clone().prop_map(Edit::Delete),
        (at.clone(), c.clone()).prop_map(|(a, c)| Edit::Insert(a, c)),
        (at, c).prop_map(|(a, c)| Edit::Replace(a, c)),
    ]
}

fn apply(text: &str, e: &Edit) -> String {
    let chars: Vec<char> = text.chars().collect();
    let at = |f: f64| ((chars.len() as f64) * f) as usize;
    let mut out = chars.clone();
    match *e {
        Edit::Delete(f) if !out.is_empty() => {
            out.remove(at(f).min(out.len() - 1));
        }
        Edit::Delete(_) => {}
        Edit::Insert(f, c) => out.insert(at(f).min(out.len()), c),
        Edit::Replace(f, c) if !out.is_empty() => {
            let i = at(f).min(out.len() - 1);
            out[i] = c;
        }
        Edit::Replace(..) => {}
    }
    out.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn sessions_encoded_in_json_mode(kv in prop::collection::vec((key(), json_value()), 0..8)) {
        let session: Document = kv.into_iter().collect();
        let c = codec();
        if let Ok(cookie) = c.encode(&session) {
            for c in [c.clone(), shallow()] {
                common::check_raw_view(&c, &cookie).map_err(TestCaseError::fail)?;
                same_bytes(&c, &cookie).map_err(TestCaseError::fail)?;
            }
        }
    }

    #[test]
    fn generated_claims_text(claims in claims_text()) {
        check(&claims)?;
    }

    #[test]
    fn mutated_claims_text(claims in claims_text(), edits in prop::collection::vec(edit(), 1..4)) {
        let mutated = edits.iter().fold(claims, |t, e| apply(&t, e));
        check(&mutated)?;
    }
}

// ------------------------------------------------------------ fixed cases

/// `decode_raw`'s session, after checking the invariant.
fn raw(claims: &str) -> Result<Document, Error> {
    let c = codec();
    let token = signed(claims);
    if let Err(e) = common::check_raw_view(&c, &token).and_then(|()| same_bytes(&c, &token)) {
        panic!("{claims:?}: {e}");
    }
    c.decode_raw(&token)
        .map(|r| r.to_document().expect("a view converts"))
}

#[test]
fn hard_cases_read_as_json_loads_reads_them() {
    // Duplicates: the last value at the first key's place (Python dict).
    assert_eq!(
        raw(r#"{"a":1,"b":2,"a":{"x":3}}"#).ok(),
        Some(doc! { "a": { "x": 3 }, "b": 2 })
    );
    // Nested duplicates too.
    assert_eq!(
        raw(r#"{"o":{"k":1,"j":2,"k":3}}"#).ok(),
        Some(doc! { "o": { "k": 3, "j": 2 } })
    );
    // bsZ is popped in JSON mode wherever it stands, every occurrence; nested ones stay.
    assert_eq!(
        raw(r#"{"bsZ":"x","a":1,"bsZ":[1],"o":{"bsZ":2}}"#).ok(),
        Some(doc! { "a": 1, "o": { "bsZ": 2 } })
    );
    assert_eq!(raw(r#"{"bsZ":"abc"}"#).ok(), Some(doc! {}));
    // `_id` keeps its place.
    assert_eq!(
        raw(r#"{"a":1,"_id":"x"}"#)
            .ok()
            .map(|d| d.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["a".to_owned(), "_id".to_owned()])
    );
    // Integer widths by range; int64 overflow is an error naming the key.
    assert_eq!(
        raw(r#"{"a":2147483647,"b":2147483648,"c":-9223372036854775808}"#).ok(),
        Some(doc! { "a": 2147483647i32, "b": 2147483648i64, "c": i64::MIN })
    );
    assert!(matches!(
        raw(r#"{"a":1,"b":[9223372036854775808]}"#),
        Err(Error::IntegerOutOfRange { key: Some(k) }) if k == "b"
    ));
    // ... unless a duplicate replaced it, as in Python.
    assert_eq!(
        raw(r#"{"a":9223372036854775808,"a":1}"#).ok(),
        Some(doc! { "a": 1 })
    );
    // NaN/Infinity tokens and escapes.
    let d = raw(r#"{"n":NaN,"i":-Infinity,"s":"\u00e9\ud83d\ude00\n\u0000"}"#).expect("valid");
    assert!(d.get_f64("n").is_ok_and(f64::is_nan));
    assert_eq!(d.get_f64("i").ok(), Some(f64::NEG_INFINITY));
    assert_eq!(d.get_str("s").ok(), Some("é😀\n\u{0}"));
    // A lone surrogate is Python's, not BSON's.
    assert!(matches!(
        raw(r#"{"s":"\ud800"}"#),
        Err(Error::LoneSurrogate { .. })
    ));
    // NUL in a key: BSON cannot hold it...
    assert!(matches!(raw(r#"{"a\u0000":1}"#), Err(Error::NulInKey)));
    assert!(matches!(
        raw(r#"{"o":{"a\u0000":1}}"#),
        Err(Error::NulInKey)
    ));
    // ... unless it is dropped with bsZ or replaced by a duplicate.
    assert_eq!(
        raw(r#"{"bsZ":{"a\u0000":1},"b":1}"#).ok(),
        Some(doc! { "b": 1 })
    );
    assert_eq!(
        raw(r#"{"a":{"\u0000":1},"a":2}"#).ok(),
        Some(doc! { "a": 2 })
    );
    // Not an object, not JSON.
    assert!(matches!(raw("[1]"), Err(Error::InvalidClaims)));
    assert!(matches!(raw(r#"{"a":1} x"#), Err(Error::InvalidClaims)));
    assert!(matches!(raw(r#"{"a":01}"#), Err(Error::InvalidClaims)));
    // Big arrays get multi-digit element names.
    let items: Vec<String> = (0..120).map(|i| i.to_string()).collect();
    let d = raw(&format!(r#"{{"l":[{}]}}"#, items.join(","))).expect("valid");
    assert_eq!(d.get_array("l").map(Vec::len).ok(), Some(120));
}

#[test]
fn nesting_limit_is_the_same() {
    let limit = 4;
    let c = shallow();
    // `limit` containers deep (the top-level object included) passes, one more does not.
    for (depth, ok) in [(limit, true), (limit + 1, false)] {
        let inner = depth - 1;
        for open in ["[", "{\"k\":"] {
            let close = if open == "[" { "]" } else { "}" };
            let claims = format!("{{\"a\":{}1{}}}", open.repeat(inner), close.repeat(inner));
            let token = signed(&claims);
            common::check_raw_view(&c, &token).unwrap_or_else(|e| panic!("{claims}: {e}"));
            let got = c.decode_raw(&token);
            assert_eq!(got.is_ok(), ok, "{claims}: {got:?}");
            if !ok {
                assert!(matches!(got, Err(Error::NestingTooDeep { limit: 4 })));
            }
        }
    }
    // The default limit, at and past it.
    let c = codec();
    let limit = Limits::default().max_nesting_depth.min(1000);
    for (depth, ok) in [(limit, true), (limit + 1, false)] {
        let claims = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        );
        let token = signed(&claims);
        common::check_raw_view(&c, &token).unwrap_or_else(|e| panic!("depth {depth}: {e}"));
        assert_eq!(c.decode_raw(&token).is_ok(), ok, "depth {depth}");
    }
}
