//! Every valid decode vector of `testdata/jwt.json`, with one bit flipped at each
//! position of each segment, must be rejected with a typed error (never accepted,
//! never a panic). The MAC covers header and payload, so no flip may verify.

mod common;

use beaker_session_jwt::Error;

/// Flips `mask` in byte `i` of `cookie` (masks below 0x80 keep it ASCII, so the
/// result stays a valid `&str`).
fn flipped(cookie: &str, i: usize, mask: u8) -> String {
    let mut bytes = cookie.as_bytes().to_vec();
    bytes[i] ^= mask;
    String::from_utf8(bytes).expect("ASCII stays ASCII")
}

#[test]
fn one_bit_flips_are_rejected_with_typed_errors() {
    let vectors: Vec<_> = common::load("jwt.json")
        .into_iter()
        .filter(|v| v.error.is_none())
        .collect();
    assert!(vectors.len() > 60, "only {} valid vectors", vectors.len());
    let mut tried = 0usize;
    let mut failures = Vec::new();
    for v in &vectors {
        let codec = common::codec(v).expect("valid vector has a valid configuration");
        let cookie = v.cookie.as_deref().expect("decode vector has a cookie");
        match codec.decode(cookie) {
            Ok(_) => {}
            // Ints beyond int64 (JSON mode): refused by design, flips still checked.
            Err(Error::IntegerOutOfRange { .. }) => {}
            Err(e) => panic!("{} does not decode: {e:?}", v.name),
        }
        // Segment boundaries: flip inside each of the three segments.
        let dots: Vec<usize> = cookie.match_indices('.').map(|(i, _)| i).collect();
        assert_eq!(dots.len(), 2, "{}", v.name);
        for (i, b) in cookie.bytes().enumerate() {
            if b == b'.' || !b.is_ascii() {
                continue;
            }
            // Every position with the lowest bit; the segment ends with more bits.
            let at_edge = i == 0 || i + 1 == cookie.len() || dots.contains(&(i + 1));
            let masks: &[u8] = if at_edge {
                &[0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40]
            } else {
                &[0x01]
            };
            for &mask in masks {
                let bad = flipped(cookie, i, mask);
                tried += 1;
                match codec.decode(&bad) {
                    Ok(d) => failures.push(format!(
                        "{} byte {i} mask {mask:#x}: accepted as {:?}",
                        v.name, d.session
                    )),
                    Err(e) if e.is_config() => {
                        failures.push(format!("{} byte {i}: config error {e:?}", v.name))
                    }
                    // A typed rejection.
                    Err(_) => {}
                }
            }
        }
    }
    assert!(tried > 20_000, "only {tried} flips tried");
    assert!(
        failures.is_empty(),
        "{} of {tried} flipped cookies not rejected:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
