//! The crate's inflater (src/inflate.rs) against zlib-rs (flate2) on arbitrary
//! streams: same output bytes, same accept/reject, and the cap respected.
//!
//! Input: two selector bytes, then the body.
//! * `sel0 & 1 == 1`: the body is compressed first (zlib-rs, level `sel0 >> 1 % 10`)
//!   and then `sel1` bits of it are flipped (positions from the compressed bytes),
//!   so that most inputs reach deep into valid blocks.
//! * otherwise the body is the stream itself.
//!
//! The cap is 1 MiB (streams inflating further are checked for the cap error).
#![no_main]

use std::io::Write as _;

use libfuzzer_sys::fuzz_target;

const CAP: usize = 1 << 20;

/// `zlib.decompress(z)` through zlib-rs, with the output limited to `CAP + 1`
/// bytes: `Some(bytes)` at the end of the stream, `None` for an error or a
/// truncated stream.
fn reference(z: &[u8]) -> Option<Vec<u8>> {
    let mut d = flate2::Decompress::new(true);
    let mut out = Vec::with_capacity(1024);
    loop {
        let consumed = usize::try_from(d.total_in()).ok()?;
        let before = out.len();
        let status = d
            .decompress_vec(
                z.get(consumed..)?,
                &mut out,
                flate2::FlushDecompress::Finish,
            )
            .ok()?;
        match status {
            flate2::Status::StreamEnd => return Some(out),
            _ if out.len() > CAP => return Some(out),
            // Never more than CAP + 1 bytes of room: like the crate (and a capped
            // Python decompressobj), output past the cap is seen before any error
            // further on in the stream (e.g. its Adler-32).
            _ if out.len() == out.capacity() => {
                let room = (CAP + 1).saturating_sub(out.len());
                out.reserve_exact(out.len().max(1024).min(room));
            }
            _ if out.len() != before || d.total_in() as usize != consumed => {}
            _ => return None,
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [sel0, sel1, body @ ..] = data else {
        return;
    };
    let stream = if sel0 & 1 == 1 {
        let mut e = flate2::write::ZlibEncoder::new(
            Vec::new(),
            flate2::Compression::new(u32::from(sel0 >> 1) % 10),
        );
        e.write_all(body).unwrap();
        let mut z = e.finish().unwrap();
        let mut x = u32::from(*sel1).wrapping_mul(2_654_435_761);
        for _ in 0..(sel1 & 3) {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let bit = (x >> 8) as usize % (z.len() * 8);
            z[bit / 8] ^= 1 << (bit % 8);
        }
        z
    } else {
        body.to_vec()
    };
    let ours = beaker_session_jwt::__zlib_decompress(&stream, CAP);
    match (ours, reference(&stream)) {
        (Ok(a), Some(b)) => {
            assert!(b.len() <= CAP, "we inflated past the cap");
            assert_eq!(a, b, "different output");
        }
        (Err(beaker_session_jwt::Error::DecompressedTooLarge { limit }), Some(b)) => {
            assert_eq!(limit, CAP);
            assert!(b.len() > CAP, "cap error below the cap ({} bytes)", b.len());
        }
        (Err(beaker_session_jwt::Error::Zlib), None) => {}
        (ours, theirs) => panic!(
            "disagree: ours {:?}, zlib-rs {:?}",
            ours.map(|v| v.len()),
            theirs.map(|v| v.len())
        ),
    }
});
