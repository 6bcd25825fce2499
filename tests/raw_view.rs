//! `Codec::decode_raw` (the session kept as validated raw BSON) agrees with
//! `Codec::decode` on every cookie of the reference's vectors and on pymongo's
//! BSON differential corpus: the same errors, and a view that reads as the
//! document the reference returns (see `common::check_raw_view`). For a plain
//! BSON-mode cookie the view is the inflated bytes Python wrote, untouched.

mod common;

use base64::Engine as _;
use beaker_session_jwt::Codec;

#[test]
fn every_decode_vector_reads_the_same_through_the_view() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for file in ["jwt.json", "original.json"] {
        for v in common::load(file) {
            let (Some(cookie), Ok(codec)) = (&v.cookie, common::codec(&v)) else {
                continue;
            };
            if v.op != "decode" {
                continue;
            }
            checked += 1;
            if let Err(e) = common::check_raw_view(&codec, cookie) {
                failures.push(format!("{}: {e}", v.name));
            }
        }
    }
    assert!(checked > 300, "only {checked} vectors");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The 1 280 BSON payloads of `testdata/bson_decode.json` (valid documents of every
/// type, legacy types, duplicate keys, DBRefs, and mutations), each signed as `bsZ`.
#[test]
fn pymongo_bson_corpus_reads_the_same_through_the_view() {
    let text = std::fs::read_to_string(common::testdata("bson_decode.json")).expect("fixture");
    let root: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let key = "bson-differential-key-0123456789";
    let codec = Codec::builder()
        .secret_keys([key])
        .build()
        .expect("valid configuration");
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut failures = Vec::new();
    let cases = root["cases"].as_array().expect("cases");
    for (i, case) in cases.iter().enumerate() {
        let bytes = b64
            .decode(case["bson"].as_str().expect("bson"))
            .expect("base64");
        let token = common::signed_token(common::bsz_claims_for(&bytes).as_bytes(), key.as_bytes());
        if let Err(e) = common::check_raw_view(&codec, &token) {
            failures.push(format!("case {i}: {e}"));
        }
    }
    assert!(cases.len() > 1000);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The benchmark cookies, written by Python: the view holds exactly the BSON bytes
/// pymongo encoded (no conversion took place).
#[test]
fn plain_sessions_are_viewed_without_conversion() {
    let text =
        std::fs::read_to_string(common::testdata("bench/inputs.json")).expect("bench inputs");
    let root: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let mut viewed = 0;
    for case in root["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("name");
        if !name.starts_with("bson_") {
            continue;
        }
        let codec = common::codec_from_json_options(&case["decode_options"]);
        let cookie = case["cookie"].as_str().expect("cookie");
        let raw = codec.decode_raw(cookie).expect("decodes");
        let hex: String = raw
            .session
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            case["expected_bson_hex"].as_str().expect("hex"),
            "{name}"
        );
        common::check_raw_view(&codec, cookie).expect("agrees with decode");
        viewed += 1;
    }
    assert!(viewed >= 7, "{viewed}");
}

/// Hand-built BSON for what a raw view would read differently from pymongo's
/// document, each of which must still read as the document: a non-UTF-8 array
/// element name (pymongo skips names; found by the jwt_decode fuzz target), a
/// duplicate key, a `$ref` sub-document, undefined and symbol values.
#[test]
fn documents_a_raw_reader_would_read_differently_are_converted() {
    fn doc(body: &[u8]) -> Vec<u8> {
        let mut d = ((body.len() + 5) as i32).to_le_bytes().to_vec();
        d.extend_from_slice(body);
        d.push(0);
        d
    }
    let key = "raw-view-key-0123456789";
    let codec = Codec::builder()
        .secret_keys([key])
        .build()
        .expect("valid configuration");
    let array = {
        // {"a": [1]} with the element named b"\xff"
        let mut body = vec![0x04, b'a', 0];
        body.extend(doc(&[0x10, 0xff, 0, 1, 0, 0, 0]));
        doc(&body)
    };
    let duplicate = doc(&[0x10, b'k', 0, 1, 0, 0, 0, 0x10, b'k', 0, 2, 0, 0, 0]);
    let dbref = {
        let mut inner = vec![0x10, b'x', 0, 1, 0, 0, 0, 0x02, b'$', b'r', b'e', b'f', 0];
        inner.extend(2i32.to_le_bytes());
        inner.extend(b"c\0");
        inner.extend([0x10, b'$', b'i', b'd', 0, 7, 0, 0, 0]);
        let mut body = vec![0x03, b'd', 0];
        body.extend(doc(&inner));
        doc(&body)
    };
    let legacy = {
        let mut body = vec![0x06, b'u', 0, 0x0E, b's', 0];
        body.extend(2i32.to_le_bytes());
        body.extend(b"y\0");
        doc(&body)
    };
    for (name, bson) in [
        ("array name", array),
        ("duplicate", duplicate),
        ("dbref", dbref),
        ("legacy", legacy),
    ] {
        let token = common::signed_token(common::bsz_claims_for(&bson).as_bytes(), key.as_bytes());
        let decoded = codec.decode(&token).expect(name);
        let raw = codec.decode_raw(&token).expect(name);
        assert_ne!(raw.session.as_bytes(), &bson[..], "{name}: converted");
        common::check_raw_view(&codec, &token).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!decoded.session.is_empty(), "{name}");
    }
}
