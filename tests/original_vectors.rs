//! Every vector of testdata/original.json (made by the real Python reference):
//! original-format cookies read through `Codec::decode` give the reference's session
//! (type and value of every Extended JSON value) or an error of the matching kind.
//!
//! Vectors whose reference is Beaker's own `CookieSession` (family `beaker-encrypted`
//! and `*-by-beaker-1.14`) carry plain Beaker option names (`validate_key`,
//! `encrypt_key`, ...); the codec accepts those as aliases, and the test adds the
//! `jwt_secret_keys` and `read_original_format=true` a JWTCookieSession needs.

mod original_common;

use beaker_session_jwt::{CookieFormat, Error};
use original_common::{codec_for, compare_doc, error_matches, uses_plain_beaker};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    original_common::vectors("original.json")
}

/// The key named by a vector note "key 'huge': no BSON round trip (...)": the
/// reference returns a value (a huge int, a set) that a `bson::Document` cannot
/// hold; we report an error naming that key instead (README: deliberate difference).
fn unholdable_key(note: &str) -> Option<&str> {
    let start = note.find("key '")? + 5;
    let rest = &note[start..];
    let end = rest.find("': no BSON round trip")?;
    Some(&rest[..end])
}

fn names_key(err: &Error, key: &str) -> bool {
    match err {
        Error::IntegerOutOfRange { key: Some(k) } => k == key,
        Error::Unconvertible { keys, .. } => keys.iter().any(|k| k == key),
        _ => false,
    }
}

enum Outcome {
    Session,
    Error,
    Unholdable,
}

fn check(v: &Value) -> Result<Outcome, String> {
    let name = v["name"].as_str().unwrap_or("?");
    let options = &v["options"];
    let cookie = v["cookie"].as_str().expect("cookie string");
    let codec = codec_for(options, &[]).map_err(|e| format!("{name}: codec: {e}"))?;
    let result = codec.decode(cookie);
    let note = v["note"].as_str().unwrap_or("");
    if let Some(key) = unholdable_key(note) {
        return match result {
            Err(e) if names_key(&e, key) => Ok(Outcome::Unholdable),
            other => Err(format!(
                "{name}: expected an error naming key {key:?}, got {other:?}"
            )),
        };
    }
    match (&v["error"], result) {
        (Value::Null, Ok(decoded)) => {
            let want_format = if options.get("encrypt_key").is_some() {
                CookieFormat::OriginalEncrypted
            } else {
                CookieFormat::Original
            };
            if decoded.format != want_format {
                return Err(format!("{name}: format {:?}", decoded.format));
            }
            if decoded.key_index.is_some() || !decoded.needs_reissue() {
                return Err(format!(
                    "{name}: original cookies have no key index and need reissue"
                ));
            }
            let expected = v["session"].as_object().expect("session object");
            compare_doc(expected, &decoded.session, name)?;
            Ok(Outcome::Session)
        }
        (Value::Null, Err(e)) => Err(format!("{name}: expected a session, got {e:?}")),
        (err, Ok(d)) => Err(format!(
            "{name}: expected {err}, got session {:?}",
            d.session
        )),
        (err, Err(e)) => {
            let exc = err["python_exception"].as_str().unwrap_or("");
            let msg = err["message"].as_str().unwrap_or("");
            if error_matches(exc, msg, &e) {
                Ok(Outcome::Error)
            } else {
                Err(format!("{name}: expected {exc}({msg:?}), got {e:?}"))
            }
        }
    }
}

#[test]
fn every_original_vector() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 127, "testdata/original.json changed");
    let (mut sessions, mut errors, mut unholdable) = (0, 0, 0);
    let mut failures = Vec::new();
    for v in &vectors {
        match check(v) {
            Ok(Outcome::Session) => sessions += 1,
            Ok(Outcome::Error) => errors += 1,
            Ok(Outcome::Unholdable) => unholdable += 1,
            Err(msg) => failures.push(msg),
        }
    }
    eprintln!(
        "original.json: {sessions} sessions equal, {errors} errors of the right kind, \
         {unholdable} unholdable values reported by key, {} failures",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Flipping any one character of the signature or of the payload of a valid
/// original cookie is caught by the HMAC (ring's habit: every vector, every segment).
#[test]
fn every_signed_vector_rejects_one_flipped_character() {
    let mut checked = 0;
    for v in vectors() {
        let options = &v["options"];
        let read =
            options["read_original_format"].as_str() == Some("true") || uses_plain_beaker(options);
        if !read || !v["error"].is_null() {
            continue;
        }
        let codec = codec_for(options, &[]).expect("codec");
        let cookie = v["cookie"]
            .as_str()
            .expect("cookie")
            .trim_matches('"')
            .to_owned();
        let chars: Vec<char> = cookie.chars().collect();
        // one position in the signature, the first and the last of the payload
        for pos in [7, 40, chars.len() - 1] {
            let mut flipped = chars.clone();
            flipped[pos] = match flipped[pos] {
                'a' => 'b',
                'A' => 'B',
                '0' => '1',
                _ => 'a',
            };
            let flipped: String = flipped.into_iter().collect();
            match codec.decode(&flipped) {
                Err(Error::BadOriginalSignature) => {}
                other => panic!("{}: flipped char {pos}: {other:?}", v["name"]),
            }
        }
        checked += 1;
    }
    assert!(checked > 60, "only {checked} vectors checked");
}

#[test]
fn empty_and_quote_only_values_are_empty_original_values() {
    let v = vectors();
    let options = &v
        .iter()
        .find(|v| v["name"] == "original-pickle/web-login")
        .expect("vector")["options"];
    let codec = codec_for(options, &[]).expect("codec");
    for value in ["", "\"\"", "\"", "\"\"\"\""] {
        assert!(
            matches!(codec.decode(value), Err(Error::EmptyOriginalValue)),
            "{value:?}"
        );
    }
}

mod totality {
    //! Any input gives a session or a typed error, never a panic, including inputs that
    //! pass the signature check (so the base64, decryption, zlib, json and pickle
    //! readers all see arbitrary data).
    use base64::Engine as _;
    use beaker_session_jwt::{BeakerOptions, Codec};
    use hmac::{Hmac, Mac};
    use proptest::prelude::*;
    use sha1::Sha1;
    use std::io::Write as _;

    const VALIDATE_KEY: &str = "legacy-validate-a95ebc7b300c338fa11c826a";

    fn sign(body: &str) -> String {
        let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(VALIDATE_KEY.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        let tag = mac.finalize().into_bytes();
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        hex + body
    }

    fn codecs() -> Vec<Codec> {
        let mut out = Vec::new();
        for serializer in ["pickle", "json"] {
            for bson in ["true", "false"] {
                for enc in [None, Some("cryptography"), Some("pycryptodome")] {
                    let mut pairs = vec![
                        ("jwt_secret_keys", "jwt-key"),
                        ("read_original_format", "true"),
                        ("bson_compress_jwt_payload", bson),
                        ("original_format_validate_key", VALIDATE_KEY),
                        ("original_format_data_serializer", serializer),
                    ];
                    if let Some(crypto) = enc {
                        pairs.push(("original_format_encrypt_key", "encrypt-key"));
                        pairs.push(("original_format_crypto_type", crypto));
                        pairs.push(("original_format_encrypt_nonce_bits", "48"));
                    }
                    out.push(Codec::from_options(&BeakerOptions::from_pairs(pairs)).unwrap());
                }
            }
        }
        out
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn arbitrary_values_are_total(value in ".{0,200}") {
            for codec in codecs() {
                let _ = codec.decode(&value);
            }
        }

        #[test]
        fn signed_arbitrary_bodies_are_total(body in "[A-Za-z0-9+/=\\-_ .\"é]{0,300}") {
            let cookie = sign(&body);
            for codec in codecs() {
                let _ = codec.decode(&cookie);
            }
        }

        #[test]
        fn signed_arbitrary_payload_bytes_are_total(
            data in proptest::collection::vec(any::<u8>(), 0..400),
            pickle_like in any::<bool>(),
        ) {
            let mut bytes = data;
            if pickle_like {
                bytes.splice(0..0, [0x80, 2]);
            }
            let b64 = base64::engine::general_purpose::STANDARD;
            for payload in [bytes.clone(), zlib(&bytes)] {
                let cookie = sign(&b64.encode(&payload));
                for codec in codecs() {
                    let _ = codec.decode(&cookie);
                }
            }
        }

        #[test]
        fn signed_json_texts_are_total(text in "[\\[\\]{}\",:0-9a-z.eE+\\-\\\\ \u{0}NaInfity]{0,200}") {
            let b64 = base64::engine::general_purpose::STANDARD;
            let cookie = sign(&b64.encode(zlib(text.as_bytes())));
            for codec in codecs() {
                let _ = codec.decode(&cookie);
            }
        }
    }
}
