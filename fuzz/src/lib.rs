//! Helpers shared by the fuzz targets: fixed keys and codecs, and the framing that
//! signs (and compresses, encodes, encrypts) fuzzer bytes so that they get past the
//! MAC checks and reach the parsers behind them. The production code never sees these
//! helpers; they re-implement the wire formats from shared/spec/formats.md.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::sync::OnceLock;

use aes_gcm::aead::{Aead, KeyInit};
use base64::Engine as _;
use beaker_session_jwt::{Codec, CookieFormat, CryptoType, DataSerializer, Decoded, Error, Limits};
use hmac::{Hmac, Mac};

/// The JWT keys of the reference vectors (testdata/jwt.json), so raw vector cookies verify.
pub const KEY_A: &str = "3edf87da6dc2bd9a148492b81d6e1f8962847ac1d94938ad0267cdf6a2d778cd";
/// The second vector key.
pub const KEY_B: &str = "fc542acd8a65c857c4eaf2bc61c8ae9e3018f4122e26ebbb44c0f3f6b0aa6f23";
/// A non-ASCII key (testdata/encode.json uses one like it).
pub const KEY_C: &str = "clé-secrète-ü-c9dcf586";
/// A key no codec knows: tokens signed with it must fail with `BadSignature`.
pub const KEY_UNKNOWN: &str = "not-a-configured-key-0000000000";
/// The original-format validate key of the vectors (testdata/original.json).
pub const VALIDATE_KEY: &str = "legacy-validate-a95ebc7b300c338fa11c826a";
/// Beaker `encrypt_key` used for encrypted original cookies.
pub const ENCRYPT_KEY: &str = "encrypt-3d7c469777f1f424e443aaf8bd7a1e76";

/// The header segment every beaker-session-jwt cookie starts with.
pub const HS256_HEADER: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9";

/// Limits small enough that the fuzzer reaches the limit paths with short inputs.
pub const TIGHT_LIMITS: Limits = Limits {
    max_decompressed_size: 4096,
    max_nesting_depth: 8,
};

/// Codecs in the configurations the targets exercise. Built once per process.
pub struct Codecs {
    /// BSON mode, keys B, A, C (A signs the vectors, so they verify with index 1).
    pub bson: Codec,
    /// JSON mode, same keys.
    pub json: Codec,
    /// BSON mode with tight limits.
    pub tight: Codec,
    /// BSON mode reading original pickle cookies.
    pub orig_pickle: Codec,
    /// JSON mode reading original pickle cookies.
    pub orig_pickle_json_mode: Codec,
    /// BSON mode reading original json-serializer cookies.
    pub orig_json: Codec,
    /// JSON mode reading original json-serializer cookies, dropping two keys.
    pub orig_json_json_mode: Codec,
    /// Original pickle cookies with tight limits and remove-keys.
    pub orig_tight: Codec,
    /// Encrypted original cookies (AES-GCM), pickle serializer.
    pub orig_encrypted: Codec,
}

fn jwt_builder() -> beaker_session_jwt::CodecBuilder {
    Codec::builder().secret_keys([KEY_B, KEY_A, KEY_C])
}

fn build_codecs() -> Codecs {
    let original = |bson: bool, serializer: DataSerializer| {
        jwt_builder()
            .bson_payload(bson)
            .read_original_format(true)
            .original_validate_key(VALIDATE_KEY)
            .original_serializer(serializer)
    };
    let built = (|| -> Result<Codecs, Error> {
        Ok(Codecs {
            bson: jwt_builder().build()?,
            json: jwt_builder().bson_payload(false).build()?,
            tight: jwt_builder().limits(TIGHT_LIMITS).build()?,
            orig_pickle: original(true, DataSerializer::Pickle).build()?,
            orig_pickle_json_mode: original(false, DataSerializer::Pickle).build()?,
            orig_json: original(true, DataSerializer::Json).build()?,
            orig_json_json_mode: original(false, DataSerializer::Json)
                .original_remove_keys(["_id", "value"])
                .build()?,
            orig_tight: original(true, DataSerializer::Pickle)
                .original_remove_keys(["_id", "value"])
                .limits(TIGHT_LIMITS)
                .build()?,
            orig_encrypted: original(true, DataSerializer::Pickle)
                .original_encrypt_key(ENCRYPT_KEY)
                .original_crypto_type(CryptoType::AesGcm)
                .build()?,
        })
    })();
    match built {
        Ok(c) => c,
        // A configuration the harness controls: failing here is a harness bug.
        Err(e) => panic!("fuzz harness codecs do not build: {e}"),
    }
}

/// The shared codecs.
pub fn codecs() -> &'static Codecs {
    static CODECS: OnceLock<Codecs> = OnceLock::new();
    CODECS.get_or_init(build_codecs)
}

/// Unpadded base64url (JWS segments).
pub fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// Standard padded base64 (original cookies).
pub fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// A compact HS256 JWS over `claims` with the standard beaker-session-jwt header.
pub fn hs256_token(claims: &[u8], key: &str) -> String {
    let signing_input = format!("{HS256_HEADER}.{}", b64url(claims));
    let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(signing_input.as_bytes());
    format!("{signing_input}.{}", b64url(&mac.finalize().into_bytes()))
}

/// Python's `base64.b85encode` (RFC 1924 alphabet, no padding characters).
pub fn b85encode(data: &[u8]) -> String {
    const ALPHABET: &[u8; 85] =
        b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~";
    let mut out = String::with_capacity(data.len() / 4 * 5 + 5);
    for chunk in data.chunks(4) {
        let mut group = [0u8; 4];
        for (d, s) in group.iter_mut().zip(chunk) {
            *d = *s;
        }
        let mut value = u32::from_be_bytes(group);
        let mut digits = [0u8; 5];
        for d in digits.iter_mut().rev() {
            *d = ALPHABET[(value % 85) as usize];
            value /= 85;
        }
        for &d in digits.iter().take(chunk.len() + 1) {
            out.push(char::from(d));
        }
    }
    out
}

/// `zlib.compress(data)` at a fast level (the readers accept any level).
pub fn zlib(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// Claims `{"bsZ":"<base85(zlib_stream)>"}` around an already compressed stream.
pub fn bsz_claims_from_zlib(stream: &[u8]) -> Vec<u8> {
    format!("{{\"bsZ\":\"{}\"}}", b85encode(stream)).into_bytes()
}

/// The lowercase hex HMAC-SHA1 signed value of Beaker's `SignedCookie`.
pub fn signed_original(payload: &str, validate_key: &str) -> String {
    let mut mac = <Hmac<sha1::Sha1> as Mac>::new_from_slice(validate_key.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(payload.as_bytes());
    let mut out = String::with_capacity(40 + payload.len());
    for b in mac.finalize().into_bytes() {
        out.push_str(&format!("{b:02x}"));
    }
    out.push_str(payload);
    out
}

/// An unencrypted original cookie holding `data` (a pickle or a zlib'd JSON text).
pub fn original_cookie(data: &[u8]) -> String {
    signed_original(&b64(data), VALIDATE_KEY)
}

/// An AES-256-GCM encrypted original cookie (Beaker 1.14 `cryptography` backend)
/// holding `plaintext`, with a fixed nonce text so runs are reproducible.
pub fn encrypted_original_cookie(plaintext: &[u8]) -> String {
    // b64 of 16 zero bytes is 24 characters, the nonce length for 128 nonce bits.
    let nonce_text = "AAAAAAAAAAAAAAAAAAAAAA==";
    let mut key = [0u8; 32];
    let salt = format!("{VALIDATE_KEY}{nonce_text}");
    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(ENCRYPT_KEY.as_bytes(), salt.as_bytes(), 1, &mut key);
    let cipher = aes_gcm::Aes256Gcm::new(&key.into());
    let iv = [7u8; 12];
    let sealed = cipher
        .encrypt(&iv.into(), plaintext)
        .unwrap_or_else(|_| unreachable!("AES-GCM encrypts any length we give it"));
    // aes-gcm returns ciphertext ++ tag; Beaker stores iv ++ tag ++ ciphertext.
    let (ct, tag) = sealed.split_at(sealed.len() - 16);
    let mut output = Vec::with_capacity(sealed.len() + 12);
    output.extend_from_slice(&iv);
    output.extend_from_slice(tag);
    output.extend_from_slice(ct);
    signed_original(&format!("{nonce_text}{}", b64(&output)), VALIDATE_KEY)
}

/// Latin-1 decoding, as WSGI hands header bytes to Python (PEP 3333).
pub fn latin1(data: &[u8]) -> String {
    data.iter().map(|&b| char::from(b)).collect()
}

/// Checks what every decode must satisfy and panics (a fuzz finding) otherwise.
///
/// * Decoding never yields a configuration error.
/// * A JWT result names a key index within the ring.
/// * Every session it returns can be written again by the same codec, and what is
///   written decodes again (cookies written here are always readable here).
pub fn check_decode(codec: &Codec, result: &Result<Decoded, Error>) {
    match result {
        Err(e) => {
            assert!(
                !e.is_config(),
                "decode returned a configuration error: {e:?}"
            );
            assert!(!e.kind().is_empty());
        }
        Ok(decoded) => {
            if decoded.format == CookieFormat::Jwt {
                assert!(
                    matches!(decoded.key_index, Some(i) if i < codec.key_count()),
                    "key index out of range: {:?}",
                    decoded.key_index
                );
            }
            check_reencode(codec, &decoded.session);
        }
    }
}

/// `encode` gives a cookie or a typed error; a cookie it gives decodes again.
pub fn check_reencode(codec: &Codec, session: &beaker_session_jwt::bson::Document) {
    match codec.encode(session) {
        Ok(cookie) => match codec.decode(&cookie) {
            Ok(_) => {}
            // The same depth and size limits apply on the way back: a session read
            // under the limits stays under them, but a re-encoded one may nest one
            // more level in JSON mode never; keep only the limit errors legal.
            Err(Error::NestingTooDeep { .. } | Error::DecompressedTooLarge { .. }) => {}
            Err(e) => panic!("a cookie this codec wrote does not decode: {e:?}"),
        },
        Err(e) => assert!(
            !e.is_config(),
            "encode returned a configuration error: {e:?}"
        ),
    }
}

/// `decode_raw` agrees with `decode` on `cookie`: the same error, or the same
/// format and key and a view that reads as the session (element count, every key
/// looked up, the whole converted). A session with a NUL in a key (JSON mode,
/// original format) is `NulInKey` for the view, as documented.
pub fn check_raw_view(codec: &Codec, cookie: &str, result: &Result<Decoded, Error>) {
    use beaker_session_jwt::bson::{Bson, Document};
    fn has_nul_key(d: &Document) -> bool {
        fn in_bson(b: &Bson) -> bool {
            match b {
                Bson::Document(d) => has_nul_key(d),
                Bson::Array(a) => a.iter().any(in_bson),
                _ => false,
            }
        }
        d.iter().any(|(k, v)| k.contains('\0') || in_bson(v))
    }
    let raw = codec.decode_raw(cookie);
    match (result, &raw) {
        (Err(a), Err(b)) => assert_eq!(format!("{a:?}"), format!("{b:?}")),
        (Ok(d), Err(Error::NulInKey)) => assert!(has_nul_key(&d.session), "{d:?}"),
        (Ok(d), Ok(r)) => {
            assert_eq!((d.format, d.key_index), (r.format, r.key_index));
            let doc = r.to_document().expect("a view converts");
            // Debug, not ==: NaN must compare equal to itself here
            assert_eq!(format!("{doc:?}"), format!("{:?}", d.session));
            assert_eq!(r.session.iter().count(), d.session.len());
            for (k, v) in &d.session {
                let got = r.session.get(k).ok().flatten().map(Bson::try_from);
                assert_eq!(format!("{got:?}"), format!("{:?}", Some(Ok::<_, ()>(v))), "{k:?}");
            }
        }
        _ => panic!("decode {result:?} vs decode_raw {raw:?}"),
    }
}
