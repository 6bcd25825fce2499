//! JWT decoding with several keys, in BSON and JSON mode.
//!
//! Input: one selector byte, then a body.
//! * `sel & 3 == 0`: the body is the cookie value itself (lossy UTF-8).
//! * `1`: the body is the claims JSON, signed HS256 by the key `(sel >> 2) & 3` picks
//!   (B, A, C or an unknown key), so the fuzzer reaches the claims parser.
//! * `2`: the body is a BSON document: zlib + base85 into `bsZ`, signed.
//! * `3`: the body is a zlib stream: base85 into `bsZ`, signed (reaches the capped inflater).
//!
//! `(sel >> 4) % 3` picks the codec: BSON mode, JSON mode, BSON mode with tight limits.
//! Every input is also decoded with `decode_raw`, which must agree with `decode`.
#![no_main]

use fuzz_support::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let key = [KEY_B, KEY_A, KEY_C, KEY_UNKNOWN][usize::from((sel >> 2) & 3)];
    let cookie = match sel & 3 {
        0 => String::from_utf8_lossy(body).into_owned(),
        1 => hs256_token(body, key),
        2 => hs256_token(&bsz_claims_from_zlib(&zlib(body)), key),
        _ => hs256_token(&bsz_claims_from_zlib(body), key),
    };
    let c = codecs();
    let codec = [&c.bson, &c.json, &c.tight][usize::from(sel >> 4) % 3];
    let result = codec.decode(&cookie);
    if sel & 3 != 0 && key == KEY_UNKNOWN {
        // Signed by a key outside the ring: nothing may be accepted.
        assert!(
            result.is_err(),
            "a token signed by an unknown key was accepted"
        );
    }
    check_decode(codec, &result);
    check_raw_view(codec, &cookie, &result);
});
