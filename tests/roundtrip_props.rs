//! Property tests: BSON-mode round trips are lossless (types included, NaN
//! compared as equal), and decoding anything — arbitrary cookie strings, and
//! validly signed tokens carrying arbitrary claims, `bsZ` text or BSON bytes —
//! gives `Ok` or a typed error, never a panic.

mod common;

use beaker_session_jwt::bson::{
    Binary, Bson, DateTime, Document, oid::ObjectId, spec::BinarySubtype,
};
use beaker_session_jwt::{Codec, Limits};
use proptest::prelude::*;

const KEY: &str = "proptest-key-0123456789";

fn codec() -> Codec {
    Codec::builder()
        .secret_keys([KEY, "second-key-0123456789"])
        .build()
        .expect("valid configuration")
}

/// A token over arbitrary claims bytes, validly signed with [`KEY`].
fn signed(claims: &[u8]) -> String {
    common::signed_token(claims, KEY.as_bytes())
}

fn b85(data: &[u8]) -> String {
    common::b85encode(data)
}

fn zlib(data: &[u8]) -> Vec<u8> {
    common::zlib_compress(data)
}

fn key() -> impl Strategy<Value = String> {
    // No leading `_` (JWT mode drops `_expires`/`_path`/`_domain`, and `_id` moves
    // first) and no `$` (a `$ref`/`$id` pair becomes a DBRef, reordered).
    "[a-zA-Z0-9][a-zA-Z0-9 é€😀.\u{7f}]{0,6}"
}

fn leaf() -> impl Strategy<Value = Bson> {
    prop_oneof![
        any::<String>().prop_map(Bson::String),
        any::<i32>().prop_map(Bson::Int32),
        any::<i64>().prop_map(Bson::Int64),
        any::<f64>().prop_map(Bson::Double),
        Just(Bson::Double(f64::NAN)),
        Just(Bson::Double(-0.0)),
        Just(Bson::Double(f64::INFINITY)),
        any::<bool>().prop_map(Bson::Boolean),
        Just(Bson::Null),
        (prop::collection::vec(any::<u8>(), 0..20), any::<u8>()).prop_map(|(bytes, st)| {
            Bson::Binary(Binary {
                subtype: BinarySubtype::from(st),
                bytes,
            })
        }),
        // years 1..=9999, the range a Python datetime holds
        (-62_135_596_800_000i64..=253_402_300_799_999i64)
            .prop_map(|ms| Bson::DateTime(DateTime::from_millis(ms))),
        any::<[u8; 12]>().prop_map(|b| Bson::ObjectId(ObjectId::from_bytes(b))),
    ]
}

fn value() -> impl Strategy<Value = Bson> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Bson::Array),
            prop::collection::vec((key(), inner), 0..6)
                .prop_map(|kv| Bson::Document(kv.into_iter().collect())),
        ]
    })
}

fn document() -> impl Strategy<Value = Document> {
    prop::collection::vec((key(), value()), 0..8).prop_map(|kv| kv.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn bson_mode_round_trip_is_lossless(doc in document()) {
        let codec = codec();
        let cookie = codec.encode(&doc).expect("encodable");
        let back = codec.decode(&cookie).expect("own cookie decodes");
        prop_assert_eq!(back.key_index, Some(0));
        prop_assert!(
            common::same_document(&back.session, &doc, true),
            "round trip changed {:?} into {:?}", doc, back.session
        );
    }

    #[test]
    fn raw_view_reads_as_the_session(doc in document()) {
        let codec = codec();
        let cookie = codec.encode(&doc).expect("encodable");
        common::check_raw_view(&codec, &cookie).map_err(TestCaseError::fail)?;
    }

    #[test]
    fn raw_view_agrees_on_arbitrary_bson(
        bytes in prop::collection::vec(any::<u8>(), 0..80),
        doc in document(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
    ) {
        let codec = codec();
        common::check_raw_view(&codec, &signed(common::bsz_claims_for(&bytes).as_bytes()))
            .map_err(TestCaseError::fail)?;
        // a valid document with a few bytes changed
        let mut valid = Vec::new();
        doc.to_writer(&mut valid).expect("serializable");
        for (at, byte) in flips {
            let i = at.index(valid.len());
            valid[i] = byte;
        }
        common::check_raw_view(&codec, &signed(common::bsz_claims_for(&valid).as_bytes()))
            .map_err(TestCaseError::fail)?;
    }

    #[test]
    fn id_is_moved_first(mut doc in document(), id in any::<String>()) {
        doc.insert("_id", id.clone());
        let codec = codec();
        let back = codec.decode(&codec.encode(&doc).expect("encodable")).expect("decodes");
        prop_assert_eq!(back.session.keys().next().map(String::as_str), Some("_id"));
        prop_assert_eq!(back.session.get_str("_id").ok(), Some(id.as_str()));
        prop_assert_eq!(back.session.len(), doc.len());
    }

    #[test]
    fn arbitrary_cookie_strings_never_panic(s in any::<String>()) {
        let _ = codec().decode(&s);
    }

    #[test]
    fn arbitrary_jwt_shaped_strings_never_panic(
        h in "[A-Za-z0-9_=+/-]{0,40}",
        p in "[A-Za-z0-9_=+/-]{0,80}",
        s in "[A-Za-z0-9_=+/-]{0,50}",
    ) {
        let token = [h, p, s].join(".");
        prop_assert!(codec().decode(&token).is_err());
    }

    #[test]
    fn signed_arbitrary_claims_never_panic(claims in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = codec().decode(&signed(&claims));
    }

    #[test]
    fn signed_arbitrary_bsz_text_never_panics(text in "[ -~]{0,120}") {
        let claims = serde_json::json!({ "bsZ": text }).to_string();
        let _ = codec().decode(&signed(claims.as_bytes()));
    }

    #[test]
    fn signed_arbitrary_bson_bytes_never_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..120)) {
        // Half the time give it a plausible length prefix and terminator.
        if bytes.len() >= 5 && bytes[0] % 2 == 0 {
            let n = u32::try_from(bytes.len()).expect("small");
            bytes[..4].copy_from_slice(&n.to_le_bytes());
            if let Some(last) = bytes.last_mut() {
                *last = 0;
            }
        }
        let claims = format!(r#"{{"bsZ":"{}"}}"#, b85(&zlib(&bytes)));
        let _ = codec().decode(&signed(claims.as_bytes()));
    }
}

#[test]
fn decompression_cap_and_depth_limit_hold_for_signed_tokens() {
    let small = Codec::builder()
        .secret_keys([KEY])
        .limits(Limits {
            max_decompressed_size: 1000,
            max_nesting_depth: 5,
        })
        .build()
        .expect("valid configuration");
    // 1 MB of zeros inflates past the cap.
    let claims = format!(r#"{{"bsZ":"{}"}}"#, b85(&zlib(&vec![0u8; 1 << 20])));
    assert!(matches!(
        small.decode(&signed(claims.as_bytes())),
        Err(beaker_session_jwt::Error::DecompressedTooLarge { limit: 1000 })
    ));
    // 40 000 nested arrays in claims JSON (as deep as the payload size limit
    // allows): refused, no stack overflow.
    let deep = format!("{}{}", "[".repeat(40_000), "]".repeat(40_000));
    let claims = format!(r#"{{"a":{deep}}}"#);
    assert!(matches!(
        small.decode(&signed(claims.as_bytes())),
        Err(beaker_session_jwt::Error::NestingTooDeep { .. })
    ));
}
