//! Beaker's `SignedCookie` value (formats.md §2.1) and the base64 flavours of the
//! original format (§2.2): standard padded base64 to write, Python's lax
//! `base64.b64decode` to read.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;

use crate::error::{Error, Result};

type HmacSha1 = Hmac<Sha1>;

/// Length of the signature prefix: hex of a 20-byte HMAC-SHA1.
pub(crate) const SIG_HEX_LEN: usize = 40;

/// The keyed MAC over the payload text (UTF-8, as `val.encode('utf-8')`).
fn mac(key: &[u8], payload: &str) -> HmacSha1 {
    // HMAC takes keys of any length: new_from_slice cannot fail, but stay total.
    let mut mac = <HmacSha1 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| <HmacSha1 as Mac>::new(&Default::default()));
    mac.update(payload.as_bytes());
    mac
}

/// `SignedCookie.value_encode`: lowercase hex HMAC-SHA1 of `payload`, then `payload`.
pub(crate) fn sign(payload: &str, key: &[u8]) -> String {
    let tag = mac(key, payload).finalize().into_bytes();
    let mut out = String::with_capacity(SIG_HEX_LEN + payload.len());
    for b in tag {
        out.push(hex_digit(b >> 4));
        out.push(hex_digit(b & 0x0f));
    }
    out.push_str(payload);
    out
}

/// `SignedCookie.value_decode` after quote stripping: checks the 40-character
/// signature prefix against the HMAC of the rest and returns the rest.
///
/// Python compares the first 40 *characters* with its lowercase hexdigest, so
/// anything but exactly 40 lowercase hex digits fails (upper case included). The
/// digest comparison itself runs in constant time through `verify_slice`.
///
/// # Errors
/// [`Error::BadOriginalSignature`].
pub(crate) fn verify<'a>(value: &'a str, key: &[u8]) -> Result<&'a str> {
    // Python slices characters: val[:40] / val[40:].
    let split = value
        .char_indices()
        .nth(SIG_HEX_LEN)
        .map_or(value.len(), |(i, _)| i);
    let (sig_text, payload) = value.split_at(split);
    let mac = mac(key, payload);
    let tag = decode_lower_hex(sig_text).ok_or(Error::BadOriginalSignature)?;
    mac.verify_slice(&tag)
        .map_err(|_| Error::BadOriginalSignature)?;
    Ok(payload)
}

fn hex_digit(n: u8) -> char {
    char::from(
        b"0123456789abcdef"
            .get(usize::from(n & 0x0f))
            .copied()
            .unwrap_or(b'0'),
    )
}

/// Exactly 40 lowercase hex digits → 20 bytes; anything else → `None`.
fn decode_lower_hex(text: &str) -> Option<[u8; 20]> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let bytes = text.as_bytes();
    if bytes.len() != SIG_HEX_LEN {
        return None;
    }
    let mut out = [0u8; 20];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let (hi, lo) = match pair {
            [hi, lo] => (nibble(*hi)?, nibble(*lo)?),
            _ => return None,
        };
        *o = (hi << 4) | lo;
    }
    Some(out)
}

/// `base64.b64encode(data).decode()`: standard alphabet, `=` padding.
pub(crate) fn b64encode(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Python's `base64.b64decode(text)` (non-strict `binascii.a2b_base64`, CPython 3.11).
///
/// Hand-written because no base64 crate reproduces its leniency: characters outside
/// the alphabet are skipped, a `=` that completes a quantum ends decoding (the rest
/// is ignored), other `=` are skipped.
///
/// # Errors
/// [`Error::OriginalBase64`] with Python's message: non-ASCII text, one data
/// character too many, or incorrect padding.
pub(crate) fn b64decode(text: &str) -> Result<Vec<u8>> {
    // Fast path: canonical padded base64 (what every Beaker writes) is decoded by the
    // strict engine, whose result then equals Python's lax one; anything else takes
    // the lax loop below.
    {
        use base64::Engine as _;
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(text) {
            return Ok(bytes);
        }
    }
    if !text.is_ascii() {
        return Err(Error::OriginalBase64(
            "string argument should contain only ASCII characters".into(),
        ));
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut quad_pos = 0u8;
    let mut left: u8 = 0;
    let mut pads = 0u8;
    for c in text.bytes() {
        if c == b'=' {
            if quad_pos >= 2 {
                pads = pads.saturating_add(1);
                if quad_pos.saturating_add(pads) >= 4 {
                    return Ok(out);
                }
            }
            continue;
        }
        let Some(v) = b64_value(c) else {
            continue;
        };
        pads = 0;
        match quad_pos {
            0 => {
                quad_pos = 1;
                left = v;
            }
            1 => {
                quad_pos = 2;
                out.push((left << 2) | (v >> 4));
                left = v & 0x0f;
            }
            2 => {
                quad_pos = 3;
                out.push((left << 4) | (v >> 2));
                left = v & 0x03;
            }
            _ => {
                quad_pos = 0;
                out.push((left << 6) | v);
                left = 0;
            }
        }
    }
    match quad_pos {
        0 => Ok(out),
        1 => Err(Error::OriginalBase64(format!(
            "Invalid base64-encoded string: number of data characters ({}) cannot be 1 more \
             than a multiple of 4",
            (out.len() / 3).saturating_mul(4).saturating_add(1)
        ))),
        _ => Err(Error::OriginalBase64("Incorrect padding".into())),
    }
}

fn b64_value(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Every case of testdata/original/lax_base64.json (made by
    /// scripts/gen_original_fixtures.py with CPython's base64.b64decode).
    #[test]
    fn lax_base64_matches_python() {
        let text = include_str!("../../testdata/original/lax_base64.json");
        let cases: Vec<serde_json::Value> = serde_json::from_str(text).expect("fixture parses");
        assert!(cases.len() > 100);
        for case in &cases {
            let input = case["input"].as_str().expect("input");
            let got = b64decode(input);
            match (case["output_hex"].as_str(), case["error"].as_str(), got) {
                (Some(hex), None, Ok(bytes)) => assert_eq!(to_hex(&bytes), hex, "{input:?}"),
                (None, Some(msg), Err(Error::OriginalBase64(m))) => assert_eq!(m, msg, "{input:?}"),
                (_, _, got) => panic!("{input:?}: expected {case}, got {got:?}"),
            }
        }
    }

    /// Signatures made by Beaker's SignedCookie.value_encode (fixture from the venv).
    #[test]
    fn sign_and_verify_match_python() {
        let text = include_str!("../../testdata/original/signed_values.json");
        let cases: Vec<serde_json::Value> = serde_json::from_str(text).expect("fixture parses");
        assert!(!cases.is_empty());
        for case in &cases {
            let key = case["key"].as_str().expect("key");
            let payload = case["payload"].as_str().expect("payload");
            let signed = case["signed"].as_str().expect("signed");
            assert_eq!(sign(payload, key.as_bytes()), signed);
            assert_eq!(verify(signed, key.as_bytes()).expect("verifies"), payload);
        }
    }

    #[test]
    fn signature_is_case_sensitive_and_exact() {
        let key = b"legacy-validate";
        let good = sign("gAJ9cQAu", key);
        assert!(verify(&good, key).is_ok());
        let upper = format!(
            "{}{}",
            good[..SIG_HEX_LEN].to_uppercase(),
            &good[SIG_HEX_LEN..]
        );
        assert!(matches!(
            verify(&upper, key),
            Err(Error::BadOriginalSignature)
        ));
        // every single flipped hex digit fails
        for i in 0..SIG_HEX_LEN {
            let mut bytes = good.clone().into_bytes();
            bytes[i] = if bytes[i] == b'0' { b'1' } else { b'0' };
            let flipped = String::from_utf8(bytes).unwrap();
            assert!(matches!(
                verify(&flipped, key),
                Err(Error::BadOriginalSignature)
            ));
        }
        assert!(matches!(
            verify(&good[..39], key),
            Err(Error::BadOriginalSignature)
        ));
        assert!(matches!(
            verify(&good, b"other"),
            Err(Error::BadOriginalSignature)
        ));
        // non-ASCII in the signature part is sliced by characters, never panics
        assert!(matches!(
            verify("é".repeat(45).as_str(), key),
            Err(Error::BadOriginalSignature)
        ));
    }

    #[test]
    fn signature_over_non_ascii_payload_uses_utf8() {
        let key = "clé".as_bytes();
        let signed = sign("données", key);
        assert_eq!(verify(&signed, key).unwrap(), "données");
    }
}
