//! Compact HS256 JWS exactly as joserfc 1.8 reads and writes it (formats.md §1.1-1.7).
//!
//! Hand-written rather than built on a JWT crate: the reference's order of checks
//! decides which error a malformed cookie gets, and that decides whether
//! beaker-session-jwt falls back to the original format. So every check of
//! joserfc's `jwt.decode(value, key, algorithms=["HS256"])` is reproduced in its
//! order; structural checks run once, then one HMAC per key.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bson::{Bson, Document};

use crate::error::{Error, Result, SizeLimit};
use crate::keys::{KeyRing, SecretKey};
use crate::pyjson;

/// The header segment of every token joserfc writes for beaker-session-jwt:
/// b64url of `{"typ":"JWT","alg":"HS256"}`.
pub(crate) const HEADER_SEGMENT: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9";

/// joserfc's `max_header_length`.
const MAX_HEADER: usize = 512;
/// joserfc's `max_payload_length`.
const MAX_PAYLOAD: usize = 128_000;
/// joserfc's `max_signature_length`.
const MAX_SIGNATURE: usize = 1024;
/// Length of the b64url (no padding) text of a 32-byte HMAC-SHA256 tag.
const SIGNATURE_CHARS: usize = 43;
/// joserfc's limit on the whole value: the sum of the three.
const MAX_VALUE: usize = MAX_HEADER + MAX_PAYLOAD + MAX_SIGNATURE;

/// Nesting allowed when parsing a header: more than a 512-byte segment can hold,
/// so no header Python parses is refused for depth.
const HEADER_MAX_DEPTH: usize = MAX_HEADER;

/// Header names joserfc's JWS registry knows, in registry order.
const REGISTERED_HEADERS: [&str; 12] = [
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit", "b64",
];

/// Algorithm names registered in joserfc's JWS registry (all refused but HS256).
const REGISTERED_ALGS: [&str; 17] = [
    "ES256", "ES256K", "ES384", "ES512", "Ed25519", "Ed448", "EdDSA", "HS256", "HS384", "HS512",
    "PS256", "PS384", "PS512", "RS256", "RS384", "RS512", "none",
];

/// Signs claims bytes with the signing key: `header.payload.signature`, each
/// segment b64url without padding, HMAC-SHA256 over `header.payload`.
pub(crate) fn sign(claims: &[u8], key: &SecretKey) -> String {
    let payload_len = claims.len().div_ceil(3) * 4;
    let mut out = String::with_capacity(HEADER_SEGMENT.len() + payload_len + 2 + 43);
    out.push_str(HEADER_SEGMENT);
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(claims, &mut out);
    // HMAC from the key's precomputed states (src/hs256.rs)
    let tag = key.hs256().mac(out.as_bytes());
    out.push('.');
    URL_SAFE_NO_PAD.encode_string(tag, &mut out);
    out
}

/// joserfc's strict `urlsafe_b64decode`: no `+`, `/` or `=`, length not ≡ 1 (mod 4),
/// unused low bits of the last character zero, nothing outside the alphabet.
/// The base64 crate's no-pad URL-safe engine enforces exactly these rules.
fn b64url_decode_into(segment: &[u8], out: &mut Vec<u8>) -> bool {
    URL_SAFE_NO_PAD.decode_vec(segment, out).is_ok()
}

/// Splits `value` into exactly three dot-separated parts. (memchr: the tokens are
/// ~1 KB and a byte-by-byte split was ~4% of a whole decode.)
fn split3(value: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let first = memchr::memchr(b'.', value)?;
    let (header, rest) = (value.get(..first)?, value.get(first + 1..)?);
    let second = memchr::memchr(b'.', rest)?;
    let (payload, signature) = (rest.get(..second)?, rest.get(second + 1..)?);
    if memchr::memchr(b'.', signature).is_some() {
        return None;
    }
    Some((header, payload, signature))
}

/// Checks a token in joserfc's order and verifies it with each key in turn.
/// Returns the decoded claims bytes and the index of the key that verified it.
///
/// The claims are not parsed here (joserfc's step 14 is done by the caller, which
/// needs the parsed value anyway).
///
/// # Errors
/// The [`Error`] variant of the first failing joserfc check (formats.md §1.7);
/// [`Error::BadSignature`] only when no key verifies.
pub(crate) fn verify(token: &str, keys: &KeyRing) -> Result<(Vec<u8>, usize)> {
    let value = token.as_bytes();
    // 1-5: sizes and shape
    if value.len() > MAX_VALUE {
        return Err(Error::ExceededSize(SizeLimit::Value));
    }
    let (header_seg, payload_seg, signature_seg) = split3(value).ok_or(Error::MalformedToken)?;
    if header_seg.len() > MAX_HEADER {
        return Err(Error::ExceededSize(SizeLimit::Header));
    }
    if signature_seg.len() > MAX_SIGNATURE {
        return Err(Error::ExceededSize(SizeLimit::Signature));
    }
    if payload_seg.len() > MAX_PAYLOAD {
        return Err(Error::ExceededSize(SizeLimit::Payload));
    }

    // 6-12: header, payload encoding, header checks, algorithm
    let raw_payload = if header_seg == HEADER_SEGMENT.as_bytes() {
        // Fast path: the constant header every writer produces passes every check.
        false
    } else {
        check_header(header_seg, payload_seg)?
    };
    let mut claims = Vec::new();
    if raw_payload {
        // RFC 7797 `b64: false`: the segment itself is the payload.
        claims.extend_from_slice(payload_seg);
    } else {
        claims.reserve(payload_seg.len() / 4 * 3 + 3);
        if !b64url_decode_into(payload_seg, &mut claims) {
            return Err(Error::InvalidPayloadEncoding);
        }
    }

    // 13: signature, one HMAC per key in order, constant-time comparison. Only a
    // 43-character segment can decode to the 32 bytes of an HMAC-SHA256 tag; any
    // other segment fails `compare_digest` (or strict decoding) for every key.
    if signature_seg.len() != SIGNATURE_CHARS {
        return Err(Error::BadSignature);
    }
    let mut signature = [0u8; 33];
    let signature = match URL_SAFE_NO_PAD.decode_slice(signature_seg, &mut signature) {
        Ok(32) => signature.first_chunk::<32>().ok_or(Error::BadSignature)?,
        _ => return Err(Error::BadSignature),
    };
    let signing_input_len = header_seg.len() + 1 + payload_seg.len();
    let signing_input = value
        .get(..signing_input_len)
        .ok_or(Error::MalformedToken)?;
    for (index, key) in keys.keys().iter().enumerate() {
        // constant-time comparison inside `verify`
        if key.hs256().verify(signing_input, signature) {
            return Ok((claims, index));
        }
    }
    Err(Error::BadSignature)
}

/// Steps 6-12 for a header other than the constant one. Returns whether the
/// payload is raw (`b64: false` with `crit: ["b64"]`).
fn check_header(header_seg: &[u8], payload_seg: &[u8]) -> Result<bool> {
    // 6: strict b64url, json.loads, `"alg" in header`
    let mut header_bytes = Vec::with_capacity(header_seg.len() / 4 * 3 + 3);
    if !b64url_decode_into(header_seg, &mut header_bytes) {
        return Err(Error::InvalidHeader);
    }
    let header = match pyjson::loads(&header_bytes, HEADER_MAX_DEPTH) {
        Ok(h) => h,
        Err(Error::InvalidJson(_)) => return Err(Error::InvalidHeader),
        // Valid JSON with a value a `Bson` cannot hold (an integer beyond int64, a
        // lone surrogate). The reference would judge the fields; such a header is
        // never written by any encoder, so it is refused without fallback.
        // (Deliberate difference, e.g. `"kid": "\ud800"` passes in Python.)
        Err(_) => return Err(Error::InvalidHeaderValue),
    };
    let header = match header {
        Bson::Document(d) => d,
        // `"alg" in list` / `"alg" in str` work in Python; the later `header["alg"]`
        // raises a TypeError that escapes. A payload error can come first.
        Bson::Array(items) => {
            if !items
                .iter()
                .any(|v| matches!(v, Bson::String(s) if s == "alg"))
            {
                return Err(Error::MissingAlgorithm);
            }
            let has_b64 = items
                .iter()
                .any(|v| matches!(v, Bson::String(s) if s == "b64"));
            return Err(not_object(has_b64, payload_seg));
        }
        Bson::String(s) => {
            if !s.contains("alg") {
                return Err(Error::MissingAlgorithm);
            }
            return Err(not_object(s.contains("b64"), payload_seg));
        }
        // `"alg" in 5` / `in None` / `in True` is a TypeError, caught as DecodeError.
        _ => return Err(Error::InvalidHeader),
    };
    if !header.contains_key("alg") {
        return Err(Error::MissingAlgorithm);
    }

    // 7: RFC 7797 `b64` (any value but JSON true needs "b64" in a crit list)
    let raw_payload = match header.get("b64") {
        None | Some(Bson::Boolean(true)) => false,
        Some(_) => match header.get("crit") {
            Some(Bson::Array(crit))
                if crit
                    .iter()
                    .any(|v| matches!(v, Bson::String(s) if s == "b64")) =>
            {
                true
            }
            _ => return Err(Error::MissingCritHeader),
        },
    };

    // 8: payload encoding (the caller decodes; check here to keep the order)
    if !raw_payload && !is_strict_b64url(payload_seg) {
        return Err(Error::InvalidPayloadEncoding);
    }

    // 9: crit
    check_crit(&header)?;
    // 10: types of known fields
    for name in REGISTERED_HEADERS {
        if let Some(v) = header.get(name)
            && !registered_value_ok(name, v)
        {
            return Err(Error::InvalidHeaderValue);
        }
    }
    // 11: unknown fields
    if header
        .keys()
        .any(|k| !REGISTERED_HEADERS.contains(&k.as_str()))
    {
        return Err(Error::UnsupportedHeader);
    }
    // 12: algorithm registered, then allowed
    match header.get("alg") {
        Some(Bson::String(alg)) if alg == "HS256" => Ok(raw_payload),
        Some(Bson::String(alg)) if REGISTERED_ALGS.contains(&alg.as_str()) => {
            Err(Error::AlgorithmNotAllowed)
        }
        _ => Err(Error::UnsupportedAlgorithm),
    }
}

/// The error for a header that is a JSON array or string containing `"alg"`:
/// `header["b64"]` fails at once if `"b64" in header`, otherwise the payload is
/// decoded before `header["crit"]`/`header["alg"]` fail.
fn not_object(has_b64: bool, payload_seg: &[u8]) -> Error {
    if !has_b64 && !is_strict_b64url(payload_seg) {
        Error::InvalidPayloadEncoding
    } else {
        Error::HeaderNotObject
    }
}

fn is_strict_b64url(segment: &[u8]) -> bool {
    // Decoding is the only exact check of the canonical last character.
    let mut scratch = Vec::with_capacity(segment.len() / 4 * 3 + 3);
    b64url_decode_into(segment, &mut scratch)
}

/// joserfc's `check_crit_header`: iterate `header["crit"]` (a list, or the
/// characters of a string, or the keys of an object); names absent from the header
/// are "missing", names present but unknown are "unsupported". Missing wins.
fn check_crit(header: &Document) -> Result<()> {
    let Some(crit) = header.get("crit") else {
        return Ok(());
    };
    // `missing` is joined with "," into the error message, so a non-string
    // missing name makes that join raise a TypeError instead.
    let mut missing = false;
    let mut missing_non_str = false;
    let mut unsupported = false;
    let mut visit = |name: &str, missing: &mut bool| {
        if !header.contains_key(name) {
            *missing = true;
        } else if !REGISTERED_HEADERS.contains(&name) {
            unsupported = true;
        }
    };
    match crit {
        Bson::Array(items) => {
            for item in items {
                match item {
                    Bson::String(s) => visit(s, &mut missing),
                    // An unhashable list/dict element: `k not in header` raises a
                    // TypeError that escapes (no fallback).
                    Bson::Array(_) | Bson::Document(_) => return Err(Error::InvalidHeaderValue),
                    // Numbers, booleans, null are never header keys.
                    _ => {
                        missing = true;
                        missing_non_str = true;
                    }
                }
            }
        }
        Bson::String(s) => {
            let mut buf = [0u8; 4];
            for c in s.chars() {
                visit(c.encode_utf8(&mut buf), &mut missing);
            }
        }
        Bson::Document(d) => {
            for k in d.keys() {
                visit(k, &mut missing);
            }
        }
        // Iterating a number, boolean or null is a TypeError that escapes.
        _ => return Err(Error::InvalidHeaderValue),
    }
    if missing_non_str {
        // TypeError from ",".join(...): reported like the other crit TypeErrors.
        Err(Error::InvalidHeaderValue)
    } else if missing {
        Err(Error::MissingCritHeader)
    } else if unsupported {
        Err(Error::UnsupportedHeader)
    } else {
        Ok(())
    }
}

/// joserfc's registry validators: `is_str`, `is_url`, `is_jwk`, `is_list_str`, `is_bool`.
fn registered_value_ok(name: &str, v: &Bson) -> bool {
    match name {
        "jku" | "x5u" => {
            matches!(v, Bson::String(s) if s.starts_with("http://") || s.starts_with("https://"))
        }
        "jwk" => matches!(v, Bson::Document(_)),
        "x5c" | "crit" => {
            matches!(v, Bson::Array(items) if items.iter().all(|i| matches!(i, Bson::String(_))))
        }
        "b64" => matches!(v, Bson::Boolean(_)),
        _ => matches!(v, Bson::String(_)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(keys: &str) -> KeyRing {
        KeyRing::parse(keys).unwrap()
    }

    fn b64(s: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    /// A token with an arbitrary header and payload, validly signed with `key` (by the
    /// hmac crate, independent of src/hs256.rs).
    fn craft(header: &[u8], payload_seg: &str, key: &str) -> String {
        use hmac::{Hmac, Mac};
        let input = format!("{}.{}", b64(header), payload_seg);
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
        mac.update(input.as_bytes());
        format!("{input}.{}", b64(&mac.finalize().into_bytes()))
    }

    #[test]
    fn header_segment_is_the_constant() {
        assert_eq!(
            URL_SAFE_NO_PAD.decode(HEADER_SEGMENT).unwrap(),
            br#"{"typ":"JWT","alg":"HS256"}"#
        );
    }

    // Token produced by joserfc 1.8: jwt.encode({"alg": "HS256"}, {"a": 1}, OctKey.import_key("k"))
    #[test]
    fn sign_matches_joserfc() {
        let t = sign(br#"{"a":1}"#, &SecretKey::new("k"));
        assert_eq!(
            t,
            "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJhIjoxfQ.oqooemLeXrjFepNUH2SXws-O0hAhKTGEgc4MjxIJUbE"
        );
    }

    #[test]
    fn verify_tries_keys_in_order() {
        let t = sign(b"{}", &SecretKey::new("old"));
        assert_eq!(verify(&t, &ring("old")).unwrap(), (b"{}".to_vec(), 0));
        assert_eq!(verify(&t, &ring("new, old")).unwrap().1, 1);
        assert!(matches!(
            verify(&t, &ring("a, b")),
            Err(Error::BadSignature)
        ));
    }

    #[test]
    fn structure_errors() {
        let k = ring("k");
        assert!(matches!(verify("", &k), Err(Error::MalformedToken)));
        assert!(matches!(verify("a.b", &k), Err(Error::MalformedToken)));
        assert!(matches!(verify("a.b.c.d", &k), Err(Error::MalformedToken)));
        assert!(matches!(verify("..", &k), Err(Error::InvalidHeader)));
        let long = "a".repeat(MAX_VALUE + 1);
        assert!(matches!(
            verify(&long, &k),
            Err(Error::ExceededSize(SizeLimit::Value))
        ));
        let h = format!("{}..", "a".repeat(513));
        assert!(matches!(
            verify(&h, &k),
            Err(Error::ExceededSize(SizeLimit::Header))
        ));
        let s = format!("..{}", "a".repeat(1025));
        assert!(matches!(
            verify(&s, &k),
            Err(Error::ExceededSize(SizeLimit::Signature))
        ));
        let p = format!(".{}.", "a".repeat(128_001));
        assert!(matches!(
            verify(&p, &k),
            Err(Error::ExceededSize(SizeLimit::Payload))
        ));
        // non-canonical last character of the payload
        let t = format!("{HEADER_SEGMENT}.e30.x");
        assert!(matches!(verify(&t, &k), Err(Error::BadSignature)));
        let t = format!("{HEADER_SEGMENT}.e31.x");
        assert!(matches!(verify(&t, &k), Err(Error::InvalidPayloadEncoding)));
        let t = format!("{HEADER_SEGMENT}.e30=.x");
        assert!(matches!(verify(&t, &k), Err(Error::InvalidPayloadEncoding)));
    }

    type Case = (&'static [u8], fn(&Error) -> bool);

    #[test]
    fn header_checks_in_order() {
        let cases: [Case; 14] = [
            (br#"{"alg":"none"}"#, |e| {
                matches!(e, Error::AlgorithmNotAllowed)
            }),
            (br#"{"alg":"HS384"}"#, |e| {
                matches!(e, Error::AlgorithmNotAllowed)
            }),
            (br#"{"alg":"hs256"}"#, |e| {
                matches!(e, Error::UnsupportedAlgorithm)
            }),
            (br#"{"alg":null}"#, |e| {
                matches!(e, Error::InvalidHeaderValue)
            }),
            (br#"{"typ":"JWT"}"#, |e| {
                matches!(e, Error::MissingAlgorithm)
            }),
            (br#"{"alg":"HS256","kid":1}"#, |e| {
                matches!(e, Error::InvalidHeaderValue)
            }),
            (br#"{"alg":"HS256","jku":"ftp://x"}"#, |e| {
                matches!(e, Error::InvalidHeaderValue)
            }),
            (br#"{"alg":"HS256","foo":1}"#, |e| {
                matches!(e, Error::UnsupportedHeader)
            }),
            (br#"{"alg":"HS256","crit":["exp"]}"#, |e| {
                matches!(e, Error::MissingCritHeader)
            }),
            (br#"{"alg":"HS256","b64":false}"#, |e| {
                matches!(e, Error::MissingCritHeader)
            }),
            (br#"["alg"]"#, |e| matches!(e, Error::HeaderNotObject)),
            (br#""xalgx""#, |e| matches!(e, Error::HeaderNotObject)),
            (br#"5"#, |e| matches!(e, Error::InvalidHeader)),
            (br#"{"alg":"HS256","crit":5}"#, |e| {
                matches!(e, Error::InvalidHeaderValue)
            }),
        ];
        for (header, ok) in cases {
            let t = craft(header, "e30", "k");
            let e = verify(&t, &ring("k")).unwrap_err();
            assert!(ok(&e), "{}: {e:?}", String::from_utf8_lossy(header));
        }
    }

    #[test]
    fn accepted_header_variants() {
        for header in [
            &br#"{"alg":"HS256"}"#[..],
            br#"{"alg":"HS256","kid":"x","typ":"JWT","b64":true}"#,
            br#" {"alg":"HS384","alg":"HS256"} "#,
        ] {
            let t = craft(header, "e30", "k");
            assert_eq!(verify(&t, &ring("k")).unwrap().0, b"{}");
        }
        // b64=false with crit: the payload segment is used raw
        let t = craft(br#"{"alg":"HS256","b64":false,"crit":["b64"]}"#, "{}", "k");
        assert_eq!(verify(&t, &ring("k")).unwrap().0, b"{}");
    }
}
