//! The pickle reader alone: every input is a pickle, signed as an original cookie so
//! it reaches `pickle::loads` directly, then converted in BSON and in JSON mode.
//! (Replace the framing with a direct call once the crate exposes a fuzz entry point.)
#![no_main]

use fuzz_support::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let c = codecs();
    let cookie = original_cookie(data);
    for codec in [&c.orig_pickle, &c.orig_pickle_json_mode] {
        let result = codec.decode(&cookie);
        check_decode(codec, &result);
    }
});
