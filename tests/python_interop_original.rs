//! Interop of original-format cookies with the real Python, both ways:
//! * encrypted cookies we write (`encrypt_key`, AES-GCM and AES-CTR, 128- and 48-bit
//!   nonces, pickle and json) are read by plain Beaker `CookieSession` with the same
//!   keys to the session we wrote;
//! * original cookies the reference writes (`write_original_format`, pickle and json)
//!   for many sessions decode in Rust to what the reference itself reads back.
//!
//! Needs the reference venv (`$BEAKER_REF_PYTHON`, default /work/.venv-ref); without
//! it the tests print a notice and check only our own side.

mod original_common;

use beaker_session_jwt::{CookieFormat, Error};
use original_common::{codec_for, compare_doc, ejson_doc, error_matches, run_python, vectors};
use serde_json::{Value, json};

const VALIDATE_KEY: &str = "legacy-validate-a95ebc7b300c338fa11c826a";
const ENCRYPT_KEY: &str = "encrypt-3d7c469777f1f424e443aaf8bd7a1e76";

/// Sessions of the encode vectors that the original format with this serializer
/// can write (the reference wrote a cookie for them).
fn sessions(serializer: &str) -> Vec<(String, Value)> {
    let family = format!("encode-original-{serializer}");
    vectors("encode.json")
        .into_iter()
        .filter(|v| v["family"] == family.as_str() && v["error"].is_null())
        .map(|v| {
            (
                v["name"].as_str().unwrap_or("?").to_owned(),
                v["session"].clone(),
            )
        })
        .collect()
}

#[test]
fn plain_beaker_reads_our_encrypted_cookies() {
    let mut jobs = Vec::new();
    let mut expected = Vec::new();
    for crypto in ["cryptography", "pycryptodome"] {
        for serializer in ["pickle", "json"] {
            for bits in ["128", "48"] {
                let ours = json!({
                    "jwt_secret_keys": "jwt-key-unused",
                    "write_original_format": "true",
                    "read_original_format": "true",
                    "original_format_validate_key": VALIDATE_KEY,
                    "original_format_data_serializer": serializer,
                    "original_format_encrypt_key": ENCRYPT_KEY,
                    "original_format_crypto_type": crypto,
                    "original_format_encrypt_nonce_bits": bits,
                });
                let codec = codec_for(&ours, &[]).expect("codec");
                let beaker = json!({
                    "validate_key": VALIDATE_KEY,
                    "encrypt_key": ENCRYPT_KEY,
                    "data_serializer": serializer,
                    "crypto_type": crypto,
                    "encrypt_nonce_bits": bits,
                });
                for (name, session) in sessions(serializer) {
                    let doc = ejson_doc(session.as_object().expect("session"));
                    let cookie = codec.encode(&doc).expect("encode");
                    let label = format!("{name} {crypto} {bits}");
                    // our own reader first
                    let decoded = codec
                        .decode(&cookie)
                        .unwrap_or_else(|e| panic!("{label}: {e:?}"));
                    assert_eq!(decoded.format, CookieFormat::OriginalEncrypted);
                    compare_doc(
                        session.as_object().expect("session"),
                        &decoded.session,
                        &label,
                    )
                    .unwrap_or_else(|e| panic!("{e}"));
                    let nonce_len = if bits == "128" { 24 } else { 8 };
                    assert!(cookie.len() > 40 + nonce_len);
                    jobs.push(json!({"kind": "decode", "options": beaker, "cookie": cookie}));
                    expected.push((label, session));
                }
            }
        }
    }
    assert!(jobs.len() >= 4 * 20);
    let Some(answers) = run_python(&jobs) else {
        return;
    };
    for ((label, session), answer) in expected.iter().zip(answers) {
        let text = answer.unwrap_or_else(|e| panic!("{label}: Beaker raised {e}"));
        let got: Value = serde_json::from_str(&text).expect("EJSON");
        assert_eq!(&got, session, "{label}");
    }
}

#[test]
fn wrong_encrypt_key_is_rejected_by_plain_beaker_and_by_us() {
    let ours = json!({
        "jwt_secret_keys": "jwt-key-unused",
        "write_original_format": "true",
        "read_original_format": "true",
        "original_format_validate_key": VALIDATE_KEY,
        "original_format_encrypt_key": ENCRYPT_KEY,
    });
    let codec = codec_for(&ours, &[]).expect("codec");
    let cookie = codec
        .encode(&beaker_session_jwt::bson::doc! {"user_id": 42})
        .expect("encode");
    let wrong = codec_for(&ours, &[("original_format_encrypt_key", "another-key")]).expect("codec");
    assert!(matches!(wrong.decode(&cookie), Err(Error::Decrypt)));
    let beaker = json!({"validate_key": VALIDATE_KEY, "encrypt_key": "another-key"});
    let Some(answers) =
        run_python(&[json!({"kind": "decode", "options": beaker, "cookie": cookie})])
    else {
        return;
    };
    let err = answers[0].as_ref().expect_err("Beaker must fail");
    assert!(err.starts_with("InvalidTag"), "{err}");
}

/// The reference writes original cookies (pickle and json) for the sessions of all
/// encode vectors; our decoder must agree with the reference's own reading of them:
/// the same session, or an error where the reference raises one. The only accepted
/// disagreement: a pickle global outside our allow-list (bson classes such as Regex
/// or Code) that the reference imports and we refuse (`ForbiddenGlobal`), whatever
/// the reference does afterwards.
#[test]
fn we_read_what_the_reference_writes() {
    let mut cases = Vec::new();
    for v in vectors("encode.json") {
        if !v["error"].is_null() || v["session"].is_null() {
            continue;
        }
        for serializer in ["pickle", "json"] {
            for bson_mode in ["true", "false"] {
                let options = json!({
                    "jwt_secret_keys": "jwt-key-unused",
                    "bson_compress_jwt_payload": bson_mode,
                    "write_original_format": "true",
                    "read_original_format": "true",
                    "original_format_validate_key": VALIDATE_KEY,
                    "original_format_data_serializer": serializer,
                });
                let name = format!(
                    "{} {serializer} bson={bson_mode}",
                    v["name"].as_str().unwrap_or("?")
                );
                let session = serde_json::to_string(&v["session"]).expect("json");
                let keep = v["keep_int64"].as_bool().unwrap_or(false);
                cases.push((name, options, session, keep));
            }
        }
    }
    let encode_jobs: Vec<Value> = cases
        .iter()
        .map(|(_, o, s, k)| json!({"kind": "encode", "options": o, "session": s, "keep_int64": k}))
        .collect();
    let Some(cookies) = run_python(&encode_jobs) else {
        return;
    };
    let written: Vec<_> = cases
        .iter()
        .zip(cookies)
        .filter_map(|((name, options, _, _), c)| c.ok().map(|c| (name, options, c)))
        .collect();
    assert!(
        written.len() > 100,
        "only {} cookies written",
        written.len()
    );
    let decode_jobs: Vec<Value> = written
        .iter()
        .map(|(_, o, c)| json!({"kind": "decode", "options": o, "cookie": c}))
        .collect();
    let reference = run_python(&decode_jobs).expect("python present");
    let (mut same, mut both_err, mut forbidden) = (0, 0, 0);
    let mut failures = Vec::new();
    for ((name, options, cookie), want) in written.iter().zip(reference) {
        let codec = codec_for(options, &[]).expect("codec");
        match (want, codec.decode(cookie)) {
            (Ok(text), Ok(decoded)) => {
                let want: Value = serde_json::from_str(&text).expect("EJSON");
                match compare_doc(want.as_object().expect("object"), &decoded.session, name) {
                    Ok(()) => same += 1,
                    Err(e) => failures.push(e),
                }
            }
            // we refuse the global before the reference's later check would fail
            (_, Err(Error::ForbiddenGlobal { .. })) => forbidden += 1,
            (Err(want), Err(e)) => {
                let (exc, msg) = want.split_once(": ").unwrap_or((&want, ""));
                if error_matches(exc, msg, &e) {
                    both_err += 1;
                } else {
                    failures.push(format!("{name}: reference {want}, ours {e:?}"));
                }
            }
            (want, got) => failures.push(format!("{name}: reference {want:?}, ours {got:?}")),
        }
    }
    eprintln!(
        "reference-written original cookies: {same} equal sessions, {both_err} errors on \
         both sides, {forbidden} refused globals, {} failures",
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// json-serialized cookies with values a `bson::Document` cannot hold (ints beyond
/// int64, lone surrogates), NUL bytes in keys and duplicate keys, read with and
/// without `original_format_remove_keys`, in both modes: we agree with the reference,
/// except that where it returns such a value we report its key instead.
#[test]
fn json_cookies_with_unholdable_values_and_remove_keys() {
    use base64::Engine as _;
    use hmac::{Hmac, Mac};
    use std::io::Write as _;

    let texts = [
        r#"{"a": 1, "huge": 123456789012345678901234567890, "b": [1.5, "x"]}"#,
        r#"{"a": 1, "s": "\ud800", "huge": -99999999999999999999, "a": 2}"#,
        r#"{"k\u0000ey": 1, "n": {"x\u0000": 2}, "ok": true}"#,
        r#"{"nested": {"deep": [123456789012345678901234567890]}, "z": null}"#,
        r#"[1, 2]"#,
        r#"{"a": NaN, "b": -Infinity, "c": 1e400, "d": -0.0, "e": 9223372036854775807}"#,
    ];
    let removals = [
        "",
        "huge",
        "huge,s",
        "s,huge,a",
        "k\u{0}ey,n",
        "nested",
        "a,b",
    ];
    let mut cases = Vec::new();
    for text in texts {
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
        z.write_all(text.as_bytes()).unwrap();
        let body = base64::engine::general_purpose::STANDARD.encode(z.finish().unwrap());
        let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(VALIDATE_KEY.as_bytes()).unwrap();
        mac.update(body.as_bytes());
        let sig: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let cookie = sig + &body;
        for remove in removals {
            for bson_mode in ["true", "false"] {
                let mut options = json!({
                    "jwt_secret_keys": "jwt-key-unused",
                    "bson_compress_jwt_payload": bson_mode,
                    "read_original_format": "true",
                    "original_format_validate_key": VALIDATE_KEY,
                    "original_format_data_serializer": "json",
                });
                if !remove.is_empty() {
                    options["original_format_remove_keys"] = json!(remove);
                }
                cases.push((
                    format!("{text} remove={remove:?} bson={bson_mode}"),
                    options,
                    cookie.clone(),
                ));
            }
        }
    }
    let jobs: Vec<Value> = cases
        .iter()
        .map(|(_, o, c)| json!({"kind": "decode", "options": o, "cookie": c}))
        .collect();
    let Some(answers) = run_python(&jobs) else {
        return;
    };
    let (mut same, mut both_err, mut named) = (0, 0, 0);
    for ((name, options, cookie), want) in cases.iter().zip(answers) {
        let ours = codec_for(options, &[]).expect("codec").decode(cookie);
        match (want, ours) {
            (Ok(text), Ok(d)) => {
                let want: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
                    panic!("{name}: reference {text} ({e}), ours {:?}", d.session)
                });
                compare_doc(want.as_object().expect("object"), &d.session, name)
                    .unwrap_or_else(|e| panic!("{e}"));
                same += 1;
            }
            (
                Ok(text),
                Err(
                    Error::IntegerOutOfRange { key: Some(k) }
                    | Error::LoneSurrogate { key: Some(k) },
                ),
            ) => {
                // the reference's text may itself hold a lone surrogate escape, which
                // serde_json refuses: then look for the key in the text
                let has_key = match serde_json::from_str::<Value>(&text) {
                    Ok(want) => want.get(&k).is_some(),
                    Err(_) => {
                        text.contains(&format!("{}: ", serde_json::to_string(&k).expect("key")))
                    }
                };
                assert!(has_key, "{name}: we named {k:?}, reference returned {text}");
                named += 1;
            }
            (Err(want), Err(e)) => {
                let (exc, msg) = want.split_once(": ").unwrap_or((&want, ""));
                let ok = error_matches(exc, msg, &e)
                    // UnicodeEncodeError of bson.encode for a lone surrogate
                    || (exc == "UnicodeEncodeError" && matches!(e, Error::LoneSurrogate { .. }))
                    || (exc == "InvalidDocument" && matches!(e, Error::LoneSurrogate { .. } | Error::IntegerOutOfRange { .. }));
                assert!(ok, "{name}: reference {want}, ours {e:?}");
                both_err += 1;
            }
            (want, ours) => panic!("{name}: reference {want:?}, ours {ours:?}"),
        }
    }
    eprintln!(
        "json cookies: {same} equal, {both_err} errors on both sides, {named} unholdable values named by key"
    );
    assert!(same > 20 && named > 5);
}
