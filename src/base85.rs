//! Python's `base64.b85encode` / `b85decode` (RFC 1924 alphabet), byte for byte
//! (formats.md §1.4).
//!
//! Hand-written rather than taken from a crate because the reference's exact
//! behaviour matters: partial final groups without padding characters, `~`
//! padding on decode, the order in which bad characters and overflows are
//! reported, and the error texts (they surface in [`Error::Base85`]).

use crate::error::{Error, Result};

/// The Python/RFC 1924 alphabet: digit values 0..84 in this order.
const ALPHABET: &[u8; 85] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~";

/// Marks a byte that is not a base85 digit in [`DECODE`].
const INVALID: u8 = 0xFF;

/// Byte → digit value, [`INVALID`] for bytes outside the alphabet.
#[allow(clippy::indexing_slicing)] // const-evaluated: a bad index fails the build
const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Length of the base85 text for `n` input bytes:
/// `5*floor(n/4) + (n mod 4 ? n mod 4 + 1 : 0)`.
pub(crate) fn encoded_len(n: usize) -> usize {
    let rem = n % 4;
    (n / 4) * 5 + if rem == 0 { 0 } else { rem + 1 }
}

/// Appends `base64.b85encode(data)` to `out`.
pub(crate) fn encode_into(data: &[u8], out: &mut String) {
    out.reserve(encoded_len(data.len()));
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut group = [0u8; 4];
        group.copy_from_slice(chunk);
        push_group(u32::from_be_bytes(group), 5, out);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // Zero-pad to 4 bytes, encode, keep the first r+1 digits (no padding chars).
        let mut group = [0u8; 4];
        for (dst, src) in group.iter_mut().zip(rest) {
            *dst = *src;
        }
        push_group(u32::from_be_bytes(group), rest.len() + 1, out);
    }
}

/// Pushes the first `keep` of the 5 digits of `value`, most significant first.
fn push_group(mut value: u32, keep: usize, out: &mut String) {
    let mut digits = [0u8; 5];
    for d in digits.iter_mut().rev() {
        // value % 85 < 85, so the index is always in range
        *d = ALPHABET.get((value % 85) as usize).copied().unwrap_or(b'0');
        value /= 85;
    }
    for &d in digits.iter().take(keep) {
        out.push(char::from(d));
    }
}

/// `base64.b85encode(data)` as a `String`.
#[cfg(test)]
pub(crate) fn encode(data: &[u8]) -> String {
    let mut out = String::new();
    encode_into(data, &mut out);
    out
}

/// [`decode_into`] into a new vector.
#[cfg(test)]
pub(crate) fn decode(text: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    decode_into(text, &mut out)?;
    Ok(out)
}

/// `base64.b85decode(text)` for a Python `str` argument, appended to `out` (left in
/// an unspecified state on error).
///
/// # Errors
/// [`Error::Base85`] with Python's `ValueError` text: non-ASCII text, a character
/// outside the alphabet (first bad position of the first bad group), or a group
/// whose value exceeds 2^32-1.
pub(crate) fn decode_into(text: &str, out: &mut Vec<u8>) -> Result<()> {
    // str arguments are ASCII-encoded first; that check precedes everything else.
    if !text.is_ascii() {
        return Err(Error::Base85(
            "string argument should contain only ASCII characters".into(),
        ));
    }
    let bytes = text.as_bytes();
    let padding = (5 - bytes.len() % 5) % 5;
    let start = out.len();
    let groups = bytes.len() / 5;
    out.resize(start + groups * 4, 0);
    let mut chunks = bytes.chunks_exact(5);
    // Fast pass over the whole groups with no early exit: a bad digit or an
    // overflow is only flagged, and the slow pass below finds and reports the
    // first one exactly as Python does.
    let mut bad = false;
    for (chunk, dst) in
        (&mut chunks).zip(out.get_mut(start..).unwrap_or_default().chunks_exact_mut(4))
    {
        let mut acc: u64 = 0;
        for &c in chunk {
            let digit = DECODE.get(usize::from(c)).copied().unwrap_or(INVALID);
            bad |= digit == INVALID;
            acc = acc * 85 + u64::from(digit);
        }
        bad |= acc > u64::from(u32::MAX);
        // Truncation is intended: an overflowing group is reported below.
        dst.copy_from_slice(&(acc as u32).to_be_bytes());
    }
    if bad {
        let mut offset = 0usize;
        for chunk in bytes.chunks_exact(5) {
            group_value(chunk, offset)?;
            offset += 5;
        }
    }
    let offset = groups * 5;
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // Pad with '~' (digit 84) to 5 digits, decode, then drop `padding` bytes.
        let mut group = [b'~'; 5];
        for (dst, src) in group.iter_mut().zip(rest) {
            *dst = *src;
        }
        let value = group_value(&group, offset)?;
        let keep = 4usize.saturating_sub(padding);
        out.extend_from_slice(value.to_be_bytes().get(..keep).unwrap_or(&[]));
    }
    Ok(())
}

/// The 32-bit value of one 5-digit group starting at text position `offset`.
fn group_value(chunk: &[u8], offset: usize) -> Result<u32> {
    let mut acc: u64 = 0;
    for (j, &c) in chunk.iter().enumerate() {
        let digit = DECODE.get(usize::from(c)).copied().unwrap_or(INVALID);
        if digit == INVALID {
            return Err(Error::Base85(format!(
                "bad base85 character at position {}",
                offset + j
            )));
        }
        // 85^5 < 2^33, so this never overflows a u64
        acc = acc * 85 + u64::from(digit);
    }
    u32::try_from(acc)
        .map_err(|_| Error::Base85(format!("base85 overflow in hunk starting at byte {offset}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(e: Error) -> String {
        match e {
            Error::Base85(m) => m,
            other => panic!("unexpected {other:?}"),
        }
    }

    // Expected texts below were produced with CPython 3.11 `base64.b85encode`.
    #[test]
    fn encodes_like_python() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(b"\x00"), "00");
        assert_eq!(encode(b"\x00\x00\x00\x00"), "00000");
        assert_eq!(encode(b"hello"), "Xk~0{Zv");
        assert_eq!(encode(b"\xff\xff\xff\xff"), "|NsC0");
        assert_eq!(encode(b"\xff"), "{{");
        assert_eq!(encode(b"\xff\xff"), "|Nj");
        assert_eq!(encode(b"\xff\xff\xff"), "|Ns9");
        for n in 0..20 {
            assert_eq!(encode(&vec![7u8; n]).len(), encoded_len(n));
        }
    }

    #[test]
    fn decodes_like_python() {
        assert_eq!(decode("").unwrap(), b"");
        assert_eq!(decode("Xk~0{Zv").unwrap(), b"hello");
        assert_eq!(decode("|NsC0").unwrap(), b"\xff\xff\xff\xff");
        // a single trailing digit decodes to nothing
        assert_eq!(decode("0").unwrap(), b"");
        assert_eq!(decode("00000z").unwrap(), b"\x00\x00\x00\x00");
        assert_eq!(decode("00000{").unwrap(), b"\x00\x00\x00\x00");
        // round trip of every length
        for n in 0..40u8 {
            let data: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37) ^ 0xA5).collect();
            assert_eq!(decode(&encode(&data)).unwrap(), data);
        }
    }

    /// Group by group with [`group_value`], stopping at the first error: what the
    /// fast pass of [`decode_into`] must agree with.
    fn decode_group_by_group(text: &str) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        let bytes = text.as_bytes();
        for (i, chunk) in bytes.chunks(5).enumerate() {
            let mut group = [b'~'; 5];
            group[..chunk.len()].copy_from_slice(chunk);
            let value = group_value(&group, i * 5)?.to_be_bytes();
            out.extend_from_slice(&value[..chunk.len().saturating_sub(1).min(4)]);
        }
        Ok(out)
    }

    proptest::proptest! {
        #[test]
        fn fast_pass_agrees_with_group_by_group(
            // Mostly digits, sometimes a bad character or a high digit that overflows.
            text in "([0-9A-Za-z!#$%&()*+;<=>?@^_`{|}~-]{0,40}[ \"~|]?){0,4}"
        ) {
            let fast = decode(&text).map_err(|e| e.to_string());
            let slow = decode_group_by_group(&text).map_err(|e| e.to_string());
            proptest::prop_assert_eq!(fast, slow);
        }
    }

    #[test]
    fn errors_like_python() {
        assert_eq!(
            msg(decode("ab\"cd").unwrap_err()),
            "bad base85 character at position 2"
        );
        assert_eq!(
            msg(decode("00000ab cd").unwrap_err()),
            "bad base85 character at position 7"
        );
        assert_eq!(
            msg(decode("~~~~~").unwrap_err()),
            "base85 overflow in hunk starting at byte 0"
        );
        // overflow in an earlier group is reported before a bad char in a later one
        assert_eq!(
            msg(decode("00000~~~~~ ").unwrap_err()),
            "base85 overflow in hunk starting at byte 5"
        );
        // one trailing digit >= 82 overflows once padded with '~'
        assert_eq!(
            msg(decode("00000|").unwrap_err()),
            "base85 overflow in hunk starting at byte 5"
        );
        assert_eq!(
            msg(decode("é").unwrap_err()),
            "string argument should contain only ASCII characters"
        );
    }
}
