//! Every vector of testdata/cookie_header.json (produced by the real
//! JWTCookieSession: the value its constructor hands to `_decrypt_data`, or null
//! for "no session cookie") through `find_session_cookie`, and through the
//! `http::HeaderMap` path the session layer uses.

use beaker_session_jwt::cookies::{cookie_header_string, find_session_cookie};
use http::header::COOKIE;
use http::{HeaderMap, HeaderValue};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/cookie_header.json");
    let data: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("vector file")).expect("json");
    data["vectors"].as_array().expect("vectors").clone()
}

/// PEP 3333: the WSGI server decodes header bytes as latin-1, so a header the
/// reference saw as a `str` went over the wire as its latin-1 encoding.
fn latin1(s: &str) -> Option<Vec<u8>> {
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

#[test]
fn every_vector_selects_the_reference_value() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 29, "vector count changed; update this test");
    let mut failures = Vec::new();
    let mut through_headers = 0;
    for v in &vectors {
        assert_eq!(v["op"], "parse_cookie_header");
        let name = v["name"].as_str().unwrap();
        let header = v["header"].as_str().unwrap();
        let key = v["key"].as_str().unwrap();
        let want = v["value"].as_str();
        let got = find_session_cookie(header, key);
        if got.as_deref() != want {
            failures.push(format!("{name}: got {got:?}, want {want:?}"));
        }
        // The same header as it arrives in an http::HeaderMap (when it can: a NUL
        // byte cannot be in a header value).
        if let Some(value) = latin1(header).and_then(|b| HeaderValue::from_bytes(&b).ok()) {
            let mut headers = HeaderMap::new();
            headers.insert(COOKIE, value);
            let joined = cookie_header_string(&headers).unwrap();
            let got = find_session_cookie(&joined, key);
            if got.as_deref() != want {
                failures.push(format!("{name} via HeaderMap: got {got:?}, want {want:?}"));
            }
            through_headers += 1;
        }
    }
    println!(
        "{} cookie-header vectors, {} failing; {through_headers} also through http::HeaderMap",
        vectors.len(),
        failures.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// HTTP/2 sends one `Cookie` field per cookie; joined with "; " they must select
/// what the single-line header selects (RFC 9113 §8.2.3).
#[test]
fn split_header_lines_select_the_same_value() {
    for v in vectors() {
        let header = v["header"].as_str().unwrap();
        let key = v["key"].as_str().unwrap();
        let pieces: Vec<&str> = header.split("; ").collect();
        if pieces.len() < 2 {
            continue;
        }
        let Some(values) = pieces
            .iter()
            .map(|p| latin1(p).and_then(|b| HeaderValue::from_bytes(&b).ok()))
            .collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(COOKIE, value);
        }
        let joined = cookie_header_string(&headers).unwrap();
        assert_eq!(joined, header, "{}", v["name"]);
        assert_eq!(
            find_session_cookie(&joined, key).as_deref(),
            v["value"].as_str(),
            "{}",
            v["name"]
        );
    }
}

#[test]
fn non_ascii_bytes_are_read_as_latin1() {
    let mut headers = HeaderMap::new();
    headers.insert(
        COOKIE,
        HeaderValue::from_bytes(b"beaker.session.id=h\xe9llo").unwrap(),
    );
    let joined = cookie_header_string(&headers).unwrap();
    assert_eq!(
        find_session_cookie(&joined, "beaker.session.id").as_deref(),
        Some("h\u{e9}llo")
    );
}
