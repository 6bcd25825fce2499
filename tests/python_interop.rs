//! Interop with the real Python reference, both ways, on generated sessions:
//! cookies written in Rust decode in Python (beaker-session-jwt) to the same session,
//! cookies written in Python decode in Rust to the same session, and the cookie
//! bytes are the same (the crate's deflate reproduces madler zlib exactly).
//!
//! Needs the reference venv (see tests/reference/mod.rs); `.ci/run` provides it.

mod reference;

mod common;

use beaker_session_jwt::bson::{self, Bson, Document, oid::ObjectId, spec::BinarySubtype};
use beaker_session_jwt::ejson;
use serde_json::json;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn string(&mut self) -> String {
        const PIECES: &[&str] = &[
            "a", "Z", "0", " ", "é", "ß", "€", "😀", "\u{7f}", "\u{2028}", "\"", "\\", "\n", "\t",
            "\u{1}", "/", "<", "日本", "ٱ", "$", ".", "_id",
        ];
        let n = self.below(12);
        (0..n)
            .map(|_| PIECES[self.below(PIECES.len() as u64) as usize])
            .collect()
    }
    fn double(&mut self) -> f64 {
        match self.below(10) {
            0 => 0.0,
            1 => -0.0,
            2 => 1e300,
            3 => 5e-324,
            4 => 0.1,
            5 => 1e16,
            6 => 1.5e-7,
            7 => f64::from_bits(self.next()).clamp(-1e308, 1e308),
            8 => (self.next() % 1_000_000) as f64 / 1000.0,
            _ => -((self.next() % 10_000) as f64),
        }
        .clamp(f64::MIN, f64::MAX)
    }
    fn value(&mut self, depth: u32, bson_mode: bool) -> Bson {
        let kinds = if bson_mode { 12 } else { 8 };
        match self.below(if depth > 2 { 6 } else { kinds }) {
            0 => Bson::String(self.string()),
            1 => Bson::Int32(self.next() as i32),
            2 => Bson::Int64(if self.below(2) == 0 {
                i64::MAX - self.below(1000) as i64
            } else {
                i64::from(i32::MIN) - 1 - self.below(1 << 40) as i64
            }),
            3 => Bson::Double(self.double()),
            4 => Bson::Boolean(self.below(2) == 0),
            5 => Bson::Null,
            6 => Bson::Array(
                (0..self.below(4))
                    .map(|_| self.value(depth + 1, bson_mode))
                    .collect(),
            ),
            7 => Bson::Document(self.document(depth + 1, bson_mode)),
            8 => Bson::Binary(bson::Binary {
                subtype: BinarySubtype::Generic,
                bytes: (0..self.below(20)).map(|_| self.next() as u8).collect(),
            }),
            9 => Bson::DateTime(bson::DateTime::from_millis(
                (self.next() % 315_000_000_000_000) as i64 - 62_000_000_000_000,
            )),
            10 => Bson::Int64(self.below(100) as i64),
            _ => Bson::ObjectId(ObjectId::from_bytes(
                self.next().to_be_bytes().repeat(2)[..12]
                    .try_into()
                    .unwrap(),
            )),
        }
    }
    fn document(&mut self, depth: u32, bson_mode: bool) -> Document {
        let mut doc = Document::new();
        for i in 0..self.below(6) {
            let key = format!("{}{i}", self.string().replace('\0', ""));
            doc.insert(key, self.value(depth, bson_mode));
        }
        doc
    }
}

fn run_interop(bson_mode: bool, seed: u64, count: usize) {
    let Some(mut py) = reference::RefBatch::start() else {
        return;
    };
    let options = json!({
        "jwt_secret_keys": "interop-signing-key-0123456789, interop-old-key-0123456789",
        "bson_compress_jwt_payload": if bson_mode { "true" } else { "false" },
    });
    let old_key_options = json!({
        "jwt_secret_keys": "interop-old-key-0123456789",
        "bson_compress_jwt_payload": if bson_mode { "true" } else { "false" },
    });
    let codec = common::codec_from_json_options(&options);
    let old_codec = common::codec_from_json_options(&old_key_options);
    let mut rng = Gen(seed);
    let mut identical = 0;
    for i in 0..count {
        let mut session = rng.document(0, bson_mode);
        if i % 3 == 0 {
            // `_id` not first: BSON mode must move it first, JSON mode keeps order
            session.insert("_id", format!("{:032x}", rng.next()));
        }
        let session_text = ejson::to_canonical_string(&session);

        // Rust writes, Python reads.
        let cookie = codec.encode(&session).unwrap();
        let ours = codec.decode(&cookie).unwrap().session;
        let ours_text = ejson::to_canonical_string(&ours);
        let theirs = py.decode(&options, &cookie).unwrap_or_else(|e| {
            panic!("reference rejected our cookie for {session_text}: {e}\ncookie: {cookie}")
        });
        assert_eq!(theirs, ours_text, "session {session_text}");

        // Python writes, Rust reads; and the bytes agree.
        let py_cookie = py.encode(&options, &session_text, true).unwrap();
        let from_py = codec.decode(&py_cookie).unwrap();
        assert_eq!(ejson::to_canonical_string(&from_py.session), theirs);
        assert_eq!(from_py.key_index, Some(0));
        if py_cookie == cookie {
            identical += 1;
        } else {
            assert!(
                bson_mode,
                "JSON-mode cookies must be byte-identical:\n{py_cookie}\n{cookie}"
            );
        }

        // A cookie signed with the old key (second in the list) verifies with index 1.
        let old_cookie = old_codec.encode(&session).unwrap();
        assert_eq!(codec.decode(&old_cookie).unwrap().key_index, Some(1));
        assert!(py.decode(&options, &old_cookie).is_ok());
    }
    eprintln!(
        "{identical}/{count} cookies byte-identical to the reference (bson_mode={bson_mode})"
    );
    assert_eq!(
        identical, count,
        "our deflate should write madler zlib's bytes"
    );
}

#[test]
fn bson_mode_both_ways() {
    run_interop(true, 0x5eed_0001, 150);
}

#[test]
fn json_mode_both_ways() {
    run_interop(false, 0x5eed_0002, 150);
}
