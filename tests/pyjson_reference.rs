//! JSON-mode cookies (`bson_compress_jwt_payload = false`) end to end against CPython's
//! `json` module, through the public [`Codec`]: the claims segment a JSON-mode
//! `encode` writes must be byte-identical to what joserfc writes
//! (`json.dumps(claims, ensure_ascii=False, separators=(",", ":"))` after its
//! `exp`/`iat`/`nbf` conversion), and `decode` must read any claims bytes the way
//! `json.loads(bytes)` does. Fixtures: `testdata/pyjson/*.json`, made by
//! `scripts/gen_json_fixtures.py` with the reference venv.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use beaker_session_jwt::bson::Bson;
use beaker_session_jwt::{Codec, Error, ejson};
use hmac::{Hmac, Mac};
use serde_json::Value;

const KEY: &str = "pyjson-reference-key-0123456789";

fn cases(name: &str) -> Vec<Value> {
    let path = format!("{}/testdata/pyjson/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture present");
    let v: Value = serde_json::from_str(&text).expect("fixture is JSON");
    v["cases"].as_array().expect("cases").clone()
}

fn json_mode_codec() -> Codec {
    Codec::builder()
        .secret_keys_str(KEY)
        .bson_payload(false)
        .build()
        .expect("codec")
}

/// A JWT signed with [`KEY`] whose payload segment holds `claims` exactly.
fn token(claims: &[u8]) -> String {
    let signing_input = format!(
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.{}",
        URL_SAFE_NO_PAD.encode(claims)
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(KEY.as_bytes()).expect("hmac key");
    mac.update(signing_input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

fn tagged(v: &Bson) -> Value {
    match v {
        Bson::Boolean(b) => serde_json::json!({ "bool": b }),
        Bson::Null => serde_json::json!({ "null": null }),
        Bson::Int32(n) => serde_json::json!({ "int": n.to_string() }),
        Bson::Int64(n) => serde_json::json!({ "int": n.to_string() }),
        Bson::Double(x) => serde_json::json!({ "float": format!("{:016x}", x.to_bits()) }),
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

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn json_mode_claims_are_byte_identical_to_joserfc() {
    let codec = json_mode_codec();
    let all = cases("dumps.json");
    let mut failures = Vec::new();
    for case in &all {
        let session = ejson::from_str(case["session"].as_str().expect("session")).expect("parses");
        let want = &case["claims"];
        match (
            codec.encode(&session),
            want.get("ok").and_then(Value::as_str),
        ) {
            (Ok(cookie), Some(text)) => {
                let payload = cookie.split('.').nth(1).expect("three segments");
                let claims = URL_SAFE_NO_PAD.decode(payload).expect("b64url");
                if claims != text.as_bytes() {
                    failures.push(format!(
                        "{}: want {text} got {}",
                        case["name"],
                        String::from_utf8_lossy(&claims)
                    ));
                }
            }
            (Err(Error::Unserializable { key, type_name }), None)
                if Some(type_name.as_str()) == want["error"].as_str()
                    && key.as_deref() == want["key"].as_str() => {}
            (got, _) => failures.push(format!("{}: want {want} got {got:?}", case["name"])),
        }
    }
    assert!(all.len() > 500);
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn json_mode_decode_reads_claims_like_json_loads() {
    let codec = json_mode_codec();
    let all = cases("loads.json");
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in &all {
        let input = unhex(case["input_hex"].as_str().expect("hex"));
        let expect = &case["expect"];
        // `bsZ` is popped by the reference (a payload rule, not json.loads): skip any
        // input that might hold that key.
        if input.windows(3).any(|w| w == b"bsZ") {
            continue;
        }
        let got = codec.decode(&token(&input));
        checked += 1;
        let ok = match (expect.get("value"), &got) {
            (Some(v), Ok(d)) if v.get("dict").is_some() => {
                tagged(&Bson::Document(d.session.clone())) == *v
            }
            // Valid JSON that is not an object: joserfc's InvalidPayloadError.
            (Some(v), Err(Error::InvalidClaims)) => v.get("dict").is_none(),
            (Some(_), _) => false,
            (None, _) => matches!(
                (expect["error"].as_str(), &got),
                (Some("invalid_json"), Err(Error::InvalidClaims))
                    | (
                        Some("integer_out_of_range"),
                        Err(Error::IntegerOutOfRange { .. })
                    )
                    | (Some("lone_surrogate"), Err(Error::LoneSurrogate { .. }))
            ),
        };
        if !ok {
            failures.push(format!("{}: want {expect} got {got:?}", case["name"]));
        }
    }
    assert!(checked > 500);
    assert!(
        failures.is_empty(),
        "{} of {checked} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
