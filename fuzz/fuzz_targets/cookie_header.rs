//! The Cookie request header parser (formats.md §3.1).
//!
//! Input: one selector byte picking the cookie name, then the header bytes, decoded as
//! latin-1 the way WSGI hands them over. Checks the invariants the spec implies: the
//! value found is a piece of the header, holds no `;` (the header is split on it) and
//! has no `"` at either end (they are stripped).
#![no_main]

use beaker_session_jwt::cookies;
use fuzz_support::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let names = [
        "beaker.session.id",
        "s",
        "session",
        "my key",
        "beaker.session.id ",
        "a=b",
        "",
    ];
    let name = names[usize::from(sel) % names.len()];
    let header = latin1(body);
    if let Some(value) = cookies::find_session_cookie(&header, name) {
        assert!(
            header.contains(value.as_str()),
            "value is not part of the header"
        );
        assert!(!value.contains(';'), "value spans a ';'");
        assert!(
            !value.starts_with('"') && !value.ends_with('"'),
            "quotes not stripped"
        );
    }
});
