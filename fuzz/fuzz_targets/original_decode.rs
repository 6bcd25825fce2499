//! Original-format decoding (Beaker's signed cookies), pickle and json serializers,
//! plain and AES-GCM encrypted.
//!
//! Input: one selector byte, then a body.
//! * `sel & 3 == 0`: the body is the cookie value itself (lossy UTF-8): signature check,
//!   lax base64, JWT fallback rules.
//! * `1`: the body is the serialized data (a pickle or a zlib stream), base64'd and
//!   signed with the validate key.
//! * `2`: the body is JSON text: zlib-compressed, base64'd, signed (json serializer).
//! * `3`: the body is a pickle, AES-256-GCM encrypted like Beaker 1.14 and signed.
//!
//! `(sel >> 2) % 6` picks the codec: pickle/json serializer, BSON/JSON mode, tight limits.
#![no_main]

use fuzz_support::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let c = codecs();
    let (cookie, codec) = match sel & 3 {
        0 => (String::from_utf8_lossy(body).into_owned(), None),
        1 => (original_cookie(body), None),
        2 => (original_cookie(&zlib(body)), Some(&c.orig_json)),
        _ => (encrypted_original_cookie(body), Some(&c.orig_encrypted)),
    };
    let codec = codec.unwrap_or(
        [
            &c.orig_pickle,
            &c.orig_pickle_json_mode,
            &c.orig_json,
            &c.orig_json_json_mode,
            &c.orig_tight,
            &c.orig_encrypted,
        ][usize::from(sel >> 2) % 6],
    );
    let result = codec.decode(&cookie);
    check_decode(codec, &result);
});
