//! The Extended JSON input of the CLI (`beaker-cookie encode`): parse, print back as
//! canonical Extended JSON, encode as a cookie in BSON and JSON mode, and read that
//! cookie again (every cookie written here must decode here).
#![no_main]

use beaker_session_jwt::ejson;
use fuzz_support::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = ejson::from_str(text) else {
        return;
    };
    let _ = ejson::to_canonical_string(&doc);
    let c = codecs();
    check_reencode(&c.bson, &doc);
    check_reencode(&c.json, &doc);
});
