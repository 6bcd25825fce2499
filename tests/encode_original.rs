//! Every `write_original_format` vector of testdata/encode.json: the cookie we write
//! is read back by our own decoder and by the real Python (beaker-session-jwt with
//! `read_original_format`, and plain Beaker `CookieSession` with
//! `validate_key = original_format_validate_key`) to the vector's session; json
//! cookies are compared byte for byte with the reference's; error vectors fail with
//! the matching kind.
//!
//! Pickles are compared by unpickling, not by bytes: pickle's memo depends on Python
//! object identity (formats.md §4.3).

mod original_common;

use beaker_session_jwt::Error;
use original_common::{codec_for, compare_doc, ejson_doc, run_python};
use serde_json::{Value, json};

fn write_original_vectors() -> Vec<Value> {
    let all = original_common::vectors("encode.json");
    let vs: Vec<Value> = all
        .into_iter()
        .filter(|v| v["options"]["write_original_format"].as_str() == Some("true"))
        .collect();
    assert_eq!(vs.len(), 26, "testdata/encode.json changed");
    vs
}

fn is_json(v: &Value) -> bool {
    v["options"]["original_format_data_serializer"].as_str() == Some("json")
}

/// Our cookies for the success vectors, with the vectors, after checking error vectors.
fn our_cookies() -> Vec<(Value, String)> {
    let mut out = Vec::new();
    for v in write_original_vectors() {
        let name = v["name"].as_str().unwrap_or("?").to_owned();
        let session = ejson_doc(v["session"].as_object().expect("session object"));
        let result = codec_for(&v["options"], &[]).and_then(|c| c.encode(&session));
        match (&v["error"], result) {
            (Value::Null, Ok(cookie)) => out.push((v, cookie)),
            (Value::Null, Err(e)) => panic!("{name}: {e:?}"),
            (err, Ok(cookie)) => panic!("{name}: expected {err}, wrote {cookie}"),
            (err, Err(e)) => {
                let ok = match err["python_exception"].as_str() {
                    // "Object of type datetime/bytes is not JSON serializable"
                    Some("TypeError") => matches!(e, Error::Unserializable { .. }),
                    // "No original_format_validate_key specified"
                    Some("BeakerException") => matches!(e, Error::NoOriginalValidateKey),
                    _ => false,
                };
                assert!(ok, "{name}: expected {err}, got {e:?}");
            }
        }
    }
    assert_eq!(out.len(), 23);
    out
}

#[test]
fn our_decoder_reads_what_we_write() {
    for (v, cookie) in our_cookies() {
        let name = v["name"].as_str().unwrap_or("?");
        let reader = codec_for(&v["options"], &[("read_original_format", "true")]).expect("codec");
        let decoded = reader
            .decode(&cookie)
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let expected = v["session"].as_object().expect("session");
        compare_doc(expected, &decoded.session, name).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn signature_prefix_is_lowercase_hex_sha1() {
    for (v, cookie) in our_cookies() {
        let sig = &cookie[..40];
        assert!(
            sig.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{}",
            v["name"]
        );
    }
}

fn inflate_payload(cookie: &str) -> Vec<u8> {
    use base64::Engine as _;
    use std::io::Read as _;
    let compressed = base64::engine::general_purpose::STANDARD
        .decode(&cookie[40..])
        .expect("base64");
    assert_eq!(&compressed[..2], b"\x78\x9c", "zlib header of level 6");
    let mut text = Vec::new();
    flate2::read::ZlibDecoder::new(&compressed[..])
        .read_to_end(&mut text)
        .expect("zlib");
    text
}

/// Our json cookies are the reference's byte for byte: the json text (Python's
/// json.dumps defaults) and the zlib stream (the crate's deflate writes madler
/// zlib's level-6 bytes). The json text is compared separately for a clearer
/// message when it is the part that differs.
#[test]
fn json_cookies_hold_the_reference_json_text() {
    let (mut same, mut total) = (0, 0);
    for (v, cookie) in our_cookies().into_iter().filter(|(v, _)| is_json(v)) {
        let name = v["name"].as_str().unwrap_or("?");
        let reference = v["cookie"].as_str().expect("reference cookie");
        total += 1;
        if reference == cookie {
            same += 1;
        }
        let ours = inflate_payload(&cookie);
        let theirs = inflate_payload(reference);
        assert_eq!(
            String::from_utf8_lossy(&ours),
            String::from_utf8_lossy(&theirs),
            "{name}"
        );
    }
    eprintln!(
        "encode-original-json: json text identical {total}/{total}; whole cookie byte-identical {same}/{total}"
    );
    assert_eq!(total, 9);
    assert_eq!(
        same, total,
        "json cookies must be byte-identical to the reference"
    );
}

/// The real beaker-session-jwt (read_original_format) reads our cookies to the
/// vector's session.
#[test]
fn python_beaker_session_jwt_reads_what_we_write() {
    let cookies = our_cookies();
    let jobs: Vec<Value> = cookies
        .iter()
        .map(|(v, cookie)| {
            let mut options = v["options"].clone();
            options["read_original_format"] = json!("true");
            json!({"kind": "decode", "options": options, "cookie": cookie})
        })
        .collect();
    let Some(answers) = run_python(&jobs) else {
        return;
    };
    for ((v, _), answer) in cookies.iter().zip(answers) {
        let name = v["name"].as_str().unwrap_or("?");
        let text = answer.unwrap_or_else(|e| panic!("{name}: Python raised {e}"));
        let got: Value = serde_json::from_str(&text).expect("EJSON");
        assert_eq!(got, v["session"], "{name}");
        let (gk, wk): (Vec<_>, Vec<_>) = (
            got.as_object().expect("object").keys().collect(),
            v["session"].as_object().expect("object").keys().collect(),
        );
        assert_eq!(gk, wk, "{name}: key order");
    }
}

/// Plain Beaker (`CookieSession`, validate_key = original_format_validate_key) loads
/// our cookie to exactly the dict it loads from the reference's cookie: same
/// `repr`, so same types (datetime, bytes, tuple vs list, float vs int) and order.
/// `Int64` is mapped to `int` on both sides first: the same `$numberLong` input is
/// pickled as `int` by one vector and as `bson.int64.Int64` by another
/// (`keep_int64`), which a `bson::Document` cannot tell apart.
#[test]
fn python_plain_beaker_loads_the_same_dict() {
    let cookies = our_cookies();
    let mut jobs = Vec::new();
    for (v, cookie) in &cookies {
        let options = json!({
            "validate_key": v["options"]["original_format_validate_key"],
            "data_serializer": v["options"]["original_format_data_serializer"],
        });
        jobs.push(json!({"kind": "repr", "options": options, "cookie": cookie}));
        jobs.push(json!({"kind": "repr", "options": options, "cookie": v["cookie"]}));
    }
    let Some(answers) = run_python(&jobs) else {
        return;
    };
    for ((v, _), pair) in cookies.iter().zip(answers.chunks(2)) {
        let name = v["name"].as_str().unwrap_or("?");
        let ours = pair[0]
            .as_ref()
            .unwrap_or_else(|e| panic!("{name}: ours: {e}"));
        let theirs = pair[1]
            .as_ref()
            .unwrap_or_else(|e| panic!("{name}: reference: {e}"));
        assert_eq!(ours, theirs, "{name}");
    }
}

mod round_trip {
    //! Whatever we write in the original format (pickle or json, signed or encrypted
    //! with either cipher) we read back to the same session.
    use beaker_session_jwt::bson::{Binary, Bson, DateTime, Document, spec::BinarySubtype};
    use beaker_session_jwt::{BeakerOptions, Codec, CookieFormat};
    use proptest::prelude::*;

    fn codec(serializer: &str, crypto: Option<&str>) -> Codec {
        let mut pairs = vec![
            ("jwt_secret_keys", "jwt-key"),
            ("read_original_format", "true"),
            ("write_original_format", "true"),
            ("original_format_validate_key", "legacy-validate"),
            ("original_format_data_serializer", serializer),
        ];
        if let Some(c) = crypto {
            pairs.push(("original_format_encrypt_key", "encrypt-key"));
            pairs.push(("original_format_crypto_type", c));
        }
        Codec::from_options(&BeakerOptions::from_pairs(pairs)).expect("codec")
    }

    fn scalar(json_only: bool) -> BoxedStrategy<Bson> {
        let big = prop_oneof![i64::MIN..-(1i64 << 31) - 1, (1i64 << 31)..i64::MAX];
        let common = prop_oneof![
            any::<i32>().prop_map(Bson::Int32),
            big.prop_map(Bson::Int64),
            any::<f64>()
                .prop_filter("NaN != NaN", |x| !x.is_nan())
                .prop_map(Bson::Double),
            ".{0,12}".prop_map(Bson::String),
            any::<bool>().prop_map(Bson::Boolean),
            Just(Bson::Null),
        ];
        if json_only {
            common.boxed()
        } else {
            prop_oneof![
                4 => common,
                1 => (-62_135_596_800_000i64..253_402_300_799_999)
                    .prop_map(|ms| Bson::DateTime(DateTime::from_millis(ms))),
                1 => proptest::collection::vec(any::<u8>(), 0..16).prop_map(|bytes| {
                    Bson::Binary(Binary { subtype: BinarySubtype::Generic, bytes })
                }),
            ]
            .boxed()
        }
    }

    fn session(json_only: bool) -> impl Strategy<Value = Document> {
        let value = scalar(json_only).prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Bson::Array),
                proptest::collection::vec(("[a-z_]{1,6}", inner), 0..4)
                    .prop_map(|kv| Bson::Document(kv.into_iter().collect())),
            ]
        });
        proptest::collection::vec(("[a-z_$.]{0,8}", value), 0..8)
            .prop_map(|kv| kv.into_iter().collect::<Document>())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn pickle_round_trips(doc in session(false)) {
            for crypto in [None, Some("cryptography"), Some("pycryptodome")] {
                let codec = codec("pickle", crypto);
                let cookie = codec.encode(&doc).unwrap();
                let decoded = codec.decode(&cookie).unwrap();
                prop_assert_eq!(&decoded.session, &doc);
                let want = if crypto.is_some() { CookieFormat::OriginalEncrypted } else { CookieFormat::Original };
                prop_assert_eq!(decoded.format, want);
            }
        }

        #[test]
        fn json_round_trips(doc in session(true)) {
            for crypto in [None, Some("cryptography")] {
                let codec = codec("json", crypto);
                let cookie = codec.encode(&doc).unwrap();
                prop_assert_eq!(&codec.decode(&cookie).unwrap().session, &doc);
            }
        }
    }
}
