//! "Any input gives `Ok` or a typed error": property tests feeding arbitrary and
//! mutated input to every public decoder, including validly signed garbage that gets
//! past the MACs into base85, zlib, BSON, JSON and pickle.
//!
//! A panic anywhere fails the property (proptest reports the shrunk input). Errors
//! from decoding must be cookie errors (never configuration errors) with a kind and a
//! message.

mod common;

use std::io::Write as _;
use std::sync::OnceLock;

use aes_gcm::aead::{Aead, KeyInit};
use base64::Engine as _;
use beaker_session_jwt::cookies::{self, CookieExpires, SameSite};
use beaker_session_jwt::{
    BeakerOptions, Codec, CryptoType, DataSerializer, Error, KeyRing, Limits, SessionConfig, ejson,
};
use hmac::{Hmac, Mac};
use proptest::prelude::*;

const KEY_A: &str = "3edf87da6dc2bd9a148492b81d6e1f8962847ac1d94938ad0267cdf6a2d778cd";
const KEY_B: &str = "fc542acd8a65c857c4eaf2bc61c8ae9e3018f4122e26ebbb44c0f3f6b0aa6f23";
const VALIDATE: &str = "legacy-validate-a95ebc7b300c338fa11c826a";
const ENCRYPT: &str = "encrypt-3d7c469777f1f424e443aaf8bd7a1e76";
const TIGHT: Limits = Limits {
    max_decompressed_size: 2048,
    max_nesting_depth: 6,
};

// ------------------------------------------------------------------ codecs

struct Codecs {
    jwt: Vec<Codec>,
    pickle: Vec<Codec>,
    json: Vec<Codec>,
    encrypted_gcm: Codec,
    encrypted_ctr: Codec,
}

fn codecs() -> &'static Codecs {
    static C: OnceLock<Codecs> = OnceLock::new();
    C.get_or_init(|| {
        let jwt = |bson: bool, limits: Limits| {
            Codec::builder()
                .secret_keys([KEY_B, KEY_A])
                .bson_payload(bson)
                .limits(limits)
                .build()
                .unwrap()
        };
        let orig = |ser: DataSerializer, bson: bool, limits: Limits| {
            Codec::builder()
                .secret_keys([KEY_B, KEY_A])
                .bson_payload(bson)
                .read_original_format(true)
                .original_validate_key(VALIDATE)
                .original_serializer(ser)
                .original_remove_keys(["_id", "value"])
                .limits(limits)
                .build()
                .unwrap()
        };
        let enc = |crypto| {
            Codec::builder()
                .secret_keys([KEY_A])
                .read_original_format(true)
                .original_validate_key(VALIDATE)
                .original_encrypt_key(ENCRYPT)
                .original_crypto_type(crypto)
                .build()
                .unwrap()
        };
        let d = Limits::default();
        Codecs {
            jwt: vec![
                jwt(true, d),
                jwt(false, d),
                jwt(true, TIGHT),
                jwt(false, TIGHT),
            ],
            pickle: vec![
                orig(DataSerializer::Pickle, true, d),
                orig(DataSerializer::Pickle, false, d),
                orig(DataSerializer::Pickle, true, TIGHT),
            ],
            json: vec![
                orig(DataSerializer::Json, true, d),
                orig(DataSerializer::Json, false, d),
                orig(DataSerializer::Json, true, TIGHT),
            ],
            encrypted_gcm: enc(CryptoType::AesGcm),
            encrypted_ctr: enc(CryptoType::AesCtr),
        }
    })
}

fn all_codecs() -> Vec<&'static Codec> {
    let c = codecs();
    c.jwt
        .iter()
        .chain(&c.pickle)
        .chain(&c.json)
        .chain([&c.encrypted_gcm, &c.encrypted_ctr])
        .collect()
}

/// The property: a decode result is `Ok` or a typed cookie error.
fn check(codec: &Codec, value: &str) -> Result<(), TestCaseError> {
    if let Err(e) = codec.decode(value) {
        prop_assert!(!e.is_config(), "configuration error from decode: {e:?}");
        prop_assert!(!e.kind().is_empty());
        prop_assert!(!e.to_string().is_empty());
    }
    Ok(())
}

// ------------------------------------------------------------------ framing

fn b64(d: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(d)
}

fn hs256(claims: &[u8], key: &str) -> String {
    common::signed_token(claims, key.as_bytes())
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn bsz_token(stream: &[u8]) -> String {
    hs256(
        format!("{{\"bsZ\":\"{}\"}}", common::b85encode(stream)).as_bytes(),
        KEY_A,
    )
}

fn signed_original(payload: &str) -> String {
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(VALIDATE.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{hex}{payload}")
}

fn original(data: &[u8]) -> String {
    signed_original(&b64(data))
}

/// Beaker 1.14's AES-GCM cookie around `plaintext` (fixed nonce text and IV).
fn encrypted_gcm(plaintext: &[u8]) -> String {
    let nonce = "AAAAAAAAAAAAAAAAAAAAAA==";
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(
        ENCRYPT.as_bytes(),
        format!("{VALIDATE}{nonce}").as_bytes(),
        1,
        &mut key,
    );
    let sealed = aes_gcm::Aes256Gcm::new(&key.into())
        .encrypt(&[9u8; 12].into(), plaintext)
        .unwrap();
    let (ct, tag) = sealed.split_at(sealed.len() - 16);
    let mut out = vec![9u8; 12];
    out.extend_from_slice(tag);
    out.extend_from_slice(ct);
    signed_original(&format!("{nonce}{}", b64(&out)))
}

// ------------------------------------------------------------------ strategies

/// Bytes biased towards the tokens of the formats (pickle opcodes, JSON, BSON type
/// bytes), so random input gets past the first byte now and then.
fn tokens() -> impl Strategy<Value = Vec<u8>> {
    let token = prop_oneof![
        3 => prop::collection::vec(any::<u8>(), 0..8),
        1 => prop::sample::select(vec![
            &b"\x80\x02"[..], b"\x80\x04", b"}", b"]", b")", b"(", b".", b"0", b"2", b"N",
            b"\x88", b"K\x01", b"J\xff\xff\xff\x7f", b"\x8a\x08", b"X\x01\x00\x00\x00a",
            b"\x8c\x01a", b"U\x01a", b"C\x01a", b"a", b"e", b"s", b"u", b"t", b"l", b"d",
            b"\x85", b"\x86", b"\x87", b"R", b"\x81", b"\x92", b"b", b"\x8f", b"\x90",
            b"\x91", b"\x94", b"\x93", b"q\x00", b"h\x00", b"r\x00\x00\x00\x00",
            b"j\x00\x00\x00\x00", b"p0\n", b"g0\n", b"cdatetime\ndatetime\n",
            b"c_codecs\nencode\n", b"X\x06\x00\x00\x00latin1", b"c__builtin__\nset\n",
            b"ccollections\nOrderedDict\n", b"cdecimal\nDecimal\n", b"cuuid\nUUID\n",
            b"cbson.int64\nInt64\n", b"cbson.binary\nBinary\n", b"cposix\nsystem\n",
            b"I12\n", b"L99999999999999999999L\n", b"F1.5\n", b"S'a'\n", b"Va\n",
            b"{", b"[", b"\"", b":", b",", b"NaN", b"-Infinity", b"1e400", b"\\ud800",
            b"\"bsZ\"", b"\x02a\x00\x02\x00\x00\x00b\x00", b"\x03a\x00", b"\x10a\x00",
        ])
        .prop_map(<[u8]>::to_vec),
    ];
    prop::collection::vec(token, 0..40).prop_map(|v| v.concat())
}

/// The reference vectors' cookies (testdata/*.json), for mutation.
fn vector_cookies() -> &'static Vec<String> {
    static V: OnceLock<Vec<String>> = OnceLock::new();
    V.get_or_init(|| {
        let mut out = Vec::new();
        for f in ["jwt.json", "original.json", "encode.json"] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("testdata")
                .join(f);
            let v: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
            for vec in v["vectors"].as_array().unwrap() {
                if let Some(c) = vec["cookie"].as_str() {
                    out.push(c.to_owned());
                }
            }
        }
        out
    })
}

/// The pickles inside the reference vectors' unencrypted original cookies.
fn vector_pickles() -> &'static Vec<Vec<u8>> {
    static V: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    V.get_or_init(|| {
        vector_cookies()
            .iter()
            .filter_map(|c| {
                let body = c.trim_matches('"').get(40..)?;
                let data = base64::engine::general_purpose::STANDARD
                    .decode(body)
                    .ok()?;
                (data.first() == Some(&0x80)).then_some(data)
            })
            .collect()
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
}

fn mutations() -> impl Strategy<Value = Vec<Mutation>> {
    let m = prop_oneof![
        (any::<usize>(), 1u8..=255).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..6))
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), 1usize..20).prop_map(|(i, n)| Mutation::Remove(i, n)),
    ];
    prop::collection::vec(m, 1..4)
}

fn mutate(mut data: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        let len = data.len();
        match m {
            Mutation::Flip(i, x) if len > 0 => data[i % len] ^= x,
            Mutation::Truncate(i) => data.truncate(i % (len + 1)),
            Mutation::Insert(i, v) => {
                let at = i % (len + 1);
                data.splice(at..at, v.iter().copied());
            }
            Mutation::Remove(i, n) if len > 0 => {
                let at = i % len;
                let end = (at + n).min(len);
                data.drain(at..end);
            }
            _ => {}
        }
    }
    data
}

// ------------------------------------------------------------------ properties

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Arbitrary strings as cookie values, through every codec configuration.
    #[test]
    fn any_cookie_value_decodes_or_errs(value in any::<String>()) {
        for codec in all_codecs() {
            check(codec, &value)?;
        }
    }

    /// Arbitrary bytes (lossy UTF-8) shaped like a JWT or an original cookie.
    #[test]
    fn jwt_and_original_shaped_values_decode_or_err(
        a in "[A-Za-z0-9_\\-=.+/ \"]{0,60}", b in "[A-Za-z0-9_\\-.]{0,80}", c in "[A-Za-z0-9_\\-]{0,50}",
    ) {
        let values = [
            format!("{a}.{b}.{c}"),
            format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.{b}.{c}"),
            format!("{}{a}{b}", "0".repeat(40)),
        ];
        for v in &values {
            for codec in all_codecs() {
                check(codec, v)?;
            }
        }
    }

    /// Mutated reference cookies (bit flips, truncation, insertion, removal).
    #[test]
    fn mutated_vector_cookies_decode_or_err(i in any::<prop::sample::Index>(), ms in mutations()) {
        let cookie = i.get(vector_cookies()).clone().into_bytes();
        let value = String::from_utf8_lossy(&mutate(cookie, &ms)).into_owned();
        for codec in all_codecs() {
            check(codec, &value)?;
        }
    }

    /// Validly signed arbitrary claims: the JSON reader and the claims merge.
    #[test]
    fn signed_arbitrary_claims_decode_or_err(claims in tokens(), key in 0usize..2) {
        let token = hs256(&claims, [KEY_A, KEY_B][key]);
        for codec in &codecs().jwt {
            check(codec, &token)?;
        }
    }

    /// Validly signed JSON objects with arbitrary members (bsZ of any type included).
    #[test]
    fn signed_json_objects_decode_or_err(v in json_value(4)) {
        let claims = match v {
            serde_json::Value::Object(_) => v,
            other => serde_json::json!({ "bsZ": other, "x": 1 }),
        };
        let token = hs256(claims.to_string().as_bytes(), KEY_A);
        for codec in &codecs().jwt {
            check(codec, &token)?;
        }
    }

    /// Validly signed bsZ holding arbitrary BSON bytes, or an arbitrary zlib stream.
    #[test]
    fn signed_bsz_with_arbitrary_bson_or_zlib_decodes_or_errs(data in tokens(), raw in any::<bool>()) {
        let mut bson = data.clone();
        if !raw {
            // a plausible length prefix, so the parser goes past it
            let len = (bson.len() as i32 + 5).to_le_bytes();
            bson.splice(0..0, len);
            bson.push(0);
        }
        let tokens = [bsz_token(&zlib(&bson)), bsz_token(&data), bsz_token(&mutate(zlib(&bson), &[Mutation::Flip(data.len(), 0x10)]))];
        for token in &tokens {
            for codec in &codecs().jwt {
                check(codec, token)?;
            }
        }
    }

    /// The inflate cap is exact and total for any cap and stream length: more than
    /// `cap` inflated bytes is `DecompressedTooLarge`, never a panic (regression: caps
    /// under 256 and buffers ending just short of the cap panicked in src/payload.rs).
    #[test]
    fn inflate_cap_is_total_and_exact(len in 0usize..20_000, cap in 0usize..5_000, pad in 0usize..3) {
        let mut stream = zlib(&vec![0u8; len]);
        // trailing bytes are ignored; pad to a power of two now and then
        let target = [stream.len(), stream.len().next_power_of_two(), stream.len() + 7][pad];
        stream.resize(target, 0);
        let codec = Codec::builder()
            .secret_keys([KEY_A])
            .limits(Limits { max_decompressed_size: cap, ..Limits::default() })
            .build()
            .unwrap();
        let token = bsz_token(&stream);
        let r = std::panic::catch_unwind(|| codec.decode(&token).map(|_| ()));
        prop_assert!(r.is_ok(), "decode panicked (len {len}, cap {cap}, stream {})", stream.len());
        if len > cap {
            prop_assert!(matches!(r, Ok(Err(Error::DecompressedTooLarge { .. }))), "{r:?}");
        } else {
            prop_assert!(!matches!(r, Ok(Err(Error::DecompressedTooLarge { .. }))), "{r:?}");
        }
    }

    /// Validly signed arbitrary pickles and mutated real ones, in BSON and JSON mode,
    /// plain and encrypted.
    #[test]
    fn signed_arbitrary_pickles_decode_or_err(
        data in tokens(), i in any::<prop::sample::Index>(), ms in mutations(),
    ) {
        let mutated = mutate(i.get(vector_pickles()).clone(), &ms);
        for p in [&data, &mutated] {
            let cookie = original(p);
            for codec in &codecs().pickle {
                check(codec, &cookie)?;
            }
            check(&codecs().encrypted_gcm, &encrypted_gcm(p))?;
            check(&codecs().encrypted_ctr, &signed_original(&format!("{}{}", "A".repeat(22) + "==", b64(p))))?;
        }
    }

    /// Validly signed json-serializer cookies: arbitrary text and arbitrary streams.
    #[test]
    fn signed_json_serializer_cookies_decode_or_err(data in tokens(), v in json_value(5)) {
        let text = v.to_string().into_bytes();
        for payload in [zlib(&data), data.clone(), zlib(&text), mutate(zlib(&text), &[Mutation::Truncate(text.len() / 2)])] {
            let cookie = original(&payload);
            for codec in &codecs().json {
                check(codec, &cookie)?;
            }
        }
    }

    /// Extended JSON input of the CLI: Ok or a typed error; what it gives encodes
    /// or errs, and what encodes decodes again.
    #[test]
    fn ejson_input_parses_or_errs(text in ejson_text()) {
        if let Ok(doc) = ejson::from_str(&text) {
            let _ = ejson::to_canonical_string(&doc);
            for codec in &codecs().jwt[..2] {
                if let Ok(cookie) = codec.encode(&doc) {
                    let back = codec.decode(&cookie);
                    prop_assert!(
                        back.is_ok() || matches!(back, Err(Error::NestingTooDeep { .. })),
                        "a cookie we wrote does not decode: {back:?}"
                    );
                }
            }
        }
    }

    /// Arbitrary text through the Extended JSON reader.
    #[test]
    fn ejson_arbitrary_text_parses_or_errs(text in any::<String>()) {
        if let Err(e) = ejson::from_str(&text) {
            prop_assert!(!e.kind().is_empty());
        }
    }

    /// The Cookie header parser: total, and what it returns is a piece of the header
    /// with no `;` and no `"` at either end (formats.md §3.1).
    #[test]
    fn cookie_header_parser_is_total(header in cookie_header(), name in "[a-z. ]{0,12}") {
        for n in [name.as_str(), "beaker.session.id", "s"] {
            if let Some(v) = cookies::find_session_cookie(&header, n) {
                prop_assert!(header.contains(v.as_str()));
                prop_assert!(!v.contains(';'));
                prop_assert!(!v.starts_with('"') && !v.ends_with('"'));
            }
        }
    }

    /// The session layer: any Cookie header loads (a corrupt cookie becomes a new
    /// session with a warning) or gives a typed error.
    #[test]
    fn session_layer_loads_any_header(header in cookie_header(), strict in any::<bool>()) {
        static CONFIGS: OnceLock<Vec<SessionConfig>> = OnceLock::new();
        let configs = CONFIGS.get_or_init(|| {
            [true, false]
                .into_iter()
                .map(|inv| {
                    SessionConfig::builder(codecs().pickle[0].clone())
                        .invalidate_corrupt(inv)
                        .build()
                        .unwrap()
                })
                .collect()
        });
        let r = configs[usize::from(strict)].load_cookie_header(Some(&header));
        if let Err(e) = r {
            prop_assert!(!e.kind().is_empty());
        }
    }

    /// Raw Cookie header bytes (obs-text included, several header lines) through
    /// `SessionConfig::load`, as a server hands them over.
    #[test]
    fn session_layer_loads_any_header_bytes(
        lines in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..80), 0..4),
        cookie in any::<prop::sample::Index>(),
    ) {
        let config = SessionConfig::builder(codecs().pickle[0].clone()).build().unwrap();
        let mut headers = http::HeaderMap::new();
        for (i, mut line) in lines.into_iter().enumerate() {
            if i == 0 {
                line.extend_from_slice(b"; beaker.session.id=");
                line.extend_from_slice(cookie.get(vector_cookies()).as_bytes());
            }
            if let Ok(v) = http::HeaderValue::from_bytes(&line) {
                headers.append(http::header::COOKIE, v);
            }
        }
        if let Err(e) = config.load(&headers) {
            prop_assert!(!e.kind().is_empty());
        }
    }

    /// Configuration decoders: ini text, key lists, option values.
    #[test]
    fn configuration_parsers_are_total(text in any::<String>(), value in any::<String>()) {
        let _ = BeakerOptions::from_ini_str(&text, "app:main");
        let _ = KeyRing::parse(&value);
        let _ = SameSite::parse_option(&value);
        if let Ok(e) = CookieExpires::parse_option(&value) {
            let _ = e.resolve(1_700_000_000.0);
        }
        for name in [
            "bson_compress_jwt_payload", "read_original_format", "original_format_data_serializer",
            "original_format_crypto_type", "original_format_encrypt_nonce_bits",
            "max_decompressed_size", "max_nesting_depth", "cookie_expires", "timeout", "samesite",
        ] {
            let opts = BeakerOptions::from_pairs([
                ("session.jwt_secret_keys", KEY_A),
                ("session.original_format_validate_key", VALIDATE),
                (&format!("session.{name}"), value.as_str()),
            ]);
            let _ = Codec::from_options(&opts);
            let _ = SessionConfig::from_options(&opts);
        }
    }
}

fn json_value(depth: u32) -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[a-z$_]{0,6}".prop_map(Value::String),
        any::<String>().prop_map(Value::String),
    ];
    leaf.prop_recursive(depth, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-z$_]{0,5}|bsZ|_id|\\$date|\\$numberLong", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Extended JSON text: well-formed documents with `$`-keys, then sometimes mutated.
fn ejson_text() -> impl Strategy<Value = String> {
    let wrappers = prop::sample::select(vec![
        r#"{"$numberInt": "7"}"#,
        r#"{"$numberInt": "99999999999"}"#,
        r#"{"$numberLong": "-9223372036854775808"}"#,
        r#"{"$numberLong": "x"}"#,
        r#"{"$numberDouble": "NaN"}"#,
        r#"{"$numberDouble": "-1e400"}"#,
        r#"{"$numberDecimal": "1.5"}"#,
        r#"{"$date": {"$numberLong": "-62135596800001"}}"#,
        r#"{"$date": "2024-06-01T12:30:45.123Z"}"#,
        r#"{"$date": 1e300}"#,
        r#"{"$binary": {"base64": "AAE=", "subType": "00"}}"#,
        r#"{"$binary": {"base64": "%%%", "subType": "zz"}}"#,
        r#"{"$oid": "0123456789abcdef01234567"}"#,
        r#"{"$oid": "short"}"#,
        r#"{"$regularExpression": {"pattern": "a", "options": "ix"}}"#,
        r#"{"$timestamp": {"t": 1, "i": 2}}"#,
        r#"{"$symbol": "s"}"#,
        r#"{"$code": "c", "$scope": {}}"#,
        r#"{"$minKey": 1}"#,
        r#"{"$maxKey": 1}"#,
        r#"{"$undefined": true}"#,
        r#"{"$uuid": "00112233-4455-6677-8899-aabbccddeeff"}"#,
        r#"{"$dbPointer": {"$ref": "c", "$id": {"$oid": "0123456789abcdef01234567"}}}"#,
        r#"{"$ref": "c", "$id": 1}"#,
        r#"[1, {"$numberInt": "2"}]"#,
        r#""s""#,
        "null",
        "true",
        "1.5",
    ]);
    (
        prop::collection::vec(("[a-z_$]{0,4}", wrappers), 0..6),
        mutations(),
        any::<bool>(),
    )
        .prop_map(|(members, ms, mutate_it)| {
            let body: Vec<String> = members
                .iter()
                .map(|(k, v)| format!("{}: {v}", serde_json::Value::from(k.as_str())))
                .collect();
            let text = format!("{{{}}}", body.join(", "));
            if mutate_it {
                String::from_utf8_lossy(&mutate(text.into_bytes(), &ms)).into_owned()
            } else {
                text
            }
        })
}

fn cookie_header() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[ \t]{0,2}beaker\\.session\\.id[ ]?=[ ]?\"{0,2}[A-Za-z0-9._\\-\" ,]{0,30}\"{0,2}",
        "[ \t]{0,2}s=[A-Za-z0-9._\\-]{0,10}",
        "[^;]{0,20}",
        Just(String::new()),
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|v| v.join(";"))
}
