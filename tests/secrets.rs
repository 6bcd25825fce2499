//! Secrets: key material is zeroized when dropped, never printed by `Debug`, never in
//! error messages; MAC tags are compared in constant time; the CLI warns about keys
//! on its command line.
//!
//! Zeroization is checked with a global allocator that, while armed, scans every
//! heap block as it is freed for canary keys: a key left in freed memory is a key a
//! later allocation, a core dump or a heap disclosure can reveal. This is the only
//! `unsafe` of the test suite (a `GlobalAlloc` cannot be written without it); the
//! library itself is `#![forbid(unsafe_code)]`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use beaker_session_jwt::bson::doc;
use beaker_session_jwt::{
    BeakerOptions, Codec, CryptoType, DataSerializer, KeyRing, Limits, SecretKey, SessionConfig,
};
use hmac::{Hmac, Mac};

// Distinct, improbable byte strings: any freed block containing one held a key.
const JWT_CANARY: &str = "h8-canary-jwt-Qz7Vb2Lk9Xw4Rt6Ny1Pm";
const OLD_JWT_CANARY: &str = "h8-canary-old-Hs3Jd8Fg5Ka0Zu2Wc7Ye";
const VALIDATE_CANARY: &str = "h8-canary-val-Mn4Bv6Cx1Za9Sd3Fg8Hj";
const ENCRYPT_CANARY: &str = "h8-canary-enc-Tr5Ye2Ui7Op0As4Df9Gh";
const CANARIES: [&str; 4] = [JWT_CANARY, OLD_JWT_CANARY, VALIDATE_CANARY, ENCRYPT_CANARY];

// ------------------------------------------------------------------ scanning allocator

struct ScanOnFree;

thread_local! {
    /// Armed per thread: tests running in parallel free their own copies of the
    /// canaries (error-message tests build strings from them), which must not count.
    static ARMED: Cell<bool> = const { Cell::new(false) };
}
static HITS: AtomicUsize = AtomicUsize::new(0);
/// Extra byte patterns to look for (derived keys), set while armed.
static EXTRA: Mutex<Vec<[u8; 32]>> = Mutex::new(Vec::new());

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && hay.len() >= needle.len()
        && hay.windows(needle.len()).any(|w| w == needle)
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged;
// `dealloc` only reads the block it is about to free (valid for `layout.size()`
// bytes, per the `GlobalAlloc` contract) before forwarding. The default `realloc`
// goes through `alloc` + copy + `dealloc`, so moved blocks are scanned as well.
unsafe impl GlobalAlloc for ScanOnFree {
    // Every block starts zeroed, so a canary found when it is freed was written during
    // its own lifetime, not left over from an earlier block at the same address
    // (freed unzeroized by another test thread while the scan was not armed).
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // try_with: the thread-local may already be gone while a thread exits
        if ARMED.try_with(Cell::get).unwrap_or(false) {
            // SAFETY: see the impl comment.
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            let mut hit = CANARIES.iter().any(|c| contains(block, c.as_bytes()));
            // try_lock: the scan must never block (or allocate) inside the allocator
            if let Ok(extra) = EXTRA.try_lock() {
                hit |= extra.iter().any(|k| contains(block, k));
            }
            if hit {
                HITS.fetch_add(1, Ordering::Relaxed);
            }
        }
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: ScanOnFree = ScanOnFree;

/// Serializes the armed sections (the counters are global).
static SCAN: Mutex<()> = Mutex::new(());

/// Runs `f` with scanning armed on this thread and returns how many freed blocks held a canary.
fn freed_blocks_with_canaries(f: impl FnOnce()) -> usize {
    freed_blocks_with(Vec::new(), f)
}

/// As [`freed_blocks_with_canaries`], also looking for the `extra` byte patterns (key
/// material derived from the canaries). `EXTRA` is only changed under the `SCAN` lock,
/// so tests running in parallel cannot clear each other's patterns.
fn freed_blocks_with(extra: Vec<[u8; 32]>, f: impl FnOnce()) -> usize {
    let _guard = SCAN.lock().unwrap_or_else(|e| e.into_inner());
    *EXTRA.lock().unwrap_or_else(|e| e.into_inner()) = extra;
    HITS.store(0, Ordering::SeqCst);
    ARMED.with(|a| a.set(true));
    f();
    ARMED.with(|a| a.set(false));
    EXTRA.lock().unwrap_or_else(|e| e.into_inner()).clear();
    HITS.load(Ordering::SeqCst)
}

/// SHA-256's initial hash value (FIPS 180-4 §5.3.3).
const SHA256_H0: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// The HMAC-SHA256 keyed states the crate keeps per key (the SHA-256 chaining values
/// after the K0 ⊕ ipad and K0 ⊕ opad blocks, RFC 2104), as their `[u32; 8]` bytes lie
/// in memory. Anyone holding them can forge tags, so they must be zeroized like keys.
fn hmac_states(key: &[u8]) -> [[u8; 32]; 2] {
    use sha2::Digest as _;
    let mut k0 = [0u8; 64];
    if key.len() > 64 {
        k0[..32].copy_from_slice(&sha2::Sha256::digest(key));
    } else {
        k0[..key.len()].copy_from_slice(key);
    }
    [0x36u8, 0x5c].map(|pad| {
        let block = k0.map(|b| b ^ pad);
        let mut state = SHA256_H0;
        sha2::compress256(&mut state, &[block.into()]);
        let mut bytes = [0u8; 32];
        for (d, w) in bytes.chunks_exact_mut(4).zip(state) {
            d.copy_from_slice(&w.to_ne_bytes());
        }
        bytes
    })
}

/// The keyed HMAC-SHA256 states of every canary key.
fn canary_hmac_states() -> Vec<[u8; 32]> {
    CANARIES
        .iter()
        .flat_map(|k| hmac_states(k.as_bytes()))
        .collect()
}

// ------------------------------------------------------------------ helpers

fn full_codec() -> Codec {
    Codec::builder()
        .secret_keys([JWT_CANARY, OLD_JWT_CANARY])
        .read_original_format(true)
        .original_validate_key(VALIDATE_CANARY)
        .build()
        .unwrap()
}

fn encrypted_codec(crypto: CryptoType) -> Codec {
    Codec::builder()
        .secret_keys([JWT_CANARY])
        .read_original_format(true)
        .write_original_format(true)
        .original_validate_key(VALIDATE_CANARY)
        .original_encrypt_key(ENCRYPT_CANARY)
        .original_crypto_type(crypto)
        .build()
        .unwrap()
}

fn b64url(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fn hs256(claims: &[u8], key: &str) -> String {
    let input = format!("eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.{}", b64url(claims));
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64url(&mac.finalize().into_bytes()))
}

fn original(data: &[u8], key: &str) -> String {
    let payload = base64::engine::general_purpose::STANDARD.encode(data);
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(payload.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{hex}{payload}")
}

/// Inputs that exercise every rejection path the keys take part in.
fn hostile_values() -> Vec<String> {
    let mut v = values_without_keys();
    // keys inside the cookie value itself must not come back in an error either
    v.push(format!(
        "{}.{}.{}",
        JWT_CANARY, VALIDATE_CANARY, ENCRYPT_CANARY
    ));
    v.push(format!("\"{JWT_CANARY}\""));
    v
}

/// [`hostile_values`] without the ones that contain keys (those are the test's own
/// copies of key bytes, which the zeroization tests must not count).
fn values_without_keys() -> Vec<String> {
    vec![
        String::new(),
        "garbage".into(),
        "a.b.c".into(),
        hs256(b"{}", "wrong-key"),
        hs256(b"[1]", JWT_CANARY),
        hs256(b"{\"bsZ\":\"!!!\"}", JWT_CANARY),
        hs256(b"{\"bsZ\":\"00000\"}", JWT_CANARY),
        hs256(b"{\"bsZ\":5}", JWT_CANARY),
        original(b"\x80\x02cposix\nsystem\n.", VALIDATE_CANARY),
        original(b"\x80\x02]\x85.", VALIDATE_CANARY),
        original(b"not a pickle", VALIDATE_CANARY),
        original(b"x", "wrong"),
        format!("{}{}", "0".repeat(40), "gAJ9cQAu"),
    ]
}

fn assert_no_canary(what: &str, text: &str) {
    for c in CANARIES {
        assert!(!text.contains(c), "{what} contains a key: {text}");
        // nor a long piece of one (a truncated key is still a leak)
        assert!(
            !text.contains(&c[8..24]),
            "{what} contains part of a key: {text}"
        );
    }
}

// ------------------------------------------------------------------ Debug

/// The Debug output of every type that holds keys, pinned.
#[test]
fn debug_output_is_pinned_and_redacted() {
    let key = SecretKey::new(JWT_CANARY);
    assert_eq!(format!("{key:?}"), "SecretKey { .. }");
    assert_eq!(format!("{key:#?}"), "SecretKey { .. }");
    let ring = KeyRing::parse(&format!("{JWT_CANARY}, {OLD_JWT_CANARY}")).unwrap();
    assert_eq!(format!("{ring:?}"), "KeyRing { keys: 2, .. }");
    assert_eq!(
        format!("{:?}", Codec::builder().secret_keys([JWT_CANARY])),
        "CodecBuilder { .. }"
    );

    let codec = Codec::builder()
        .secret_keys([JWT_CANARY, OLD_JWT_CANARY])
        .read_original_format(true)
        .original_validate_key(VALIDATE_CANARY)
        .original_serializer(DataSerializer::Json)
        .original_encrypt_key(ENCRYPT_CANARY)
        .original_crypto_type(CryptoType::AesCtr)
        .original_remove_keys(["_expires"])
        .limits(Limits {
            max_decompressed_size: 4096,
            max_nesting_depth: 20,
        })
        .build()
        .unwrap();
    assert_eq!(
        format!("{codec:?}"),
        "Codec { keys: KeyRing { keys: 2, .. }, bson_mode: true, read_original: true, \
         write_original: false, original: Some(OriginalFormat { validate_key: SecretKey { .. }, \
         serializer: Json, remove_keys: [\"_expires\"], encryption: Some(Encryption { key: \
         SecretKey { .. }, crypto: AesCtr, nonce_bits: 128 }) }), limits: Limits { \
         max_decompressed_size: 4096, max_nesting_depth: 20 } }"
    );
    assert_no_canary("Codec {:#?}", &format!("{codec:#?}"));
    // nor the HMAC states derived from the keys, in any integer notation
    let text = format!("{codec:?} {codec:#?} {key:?} {ring:#?}");
    for state in canary_hmac_states() {
        for w in state.chunks_exact(4) {
            let w = u32::from_ne_bytes(w.try_into().unwrap());
            for shown in [format!("{w}"), format!("{w:x}"), format!("{w:X}")] {
                assert!(!text.contains(&shown), "Debug shows an HMAC state word");
            }
        }
    }

    let config = SessionConfig::builder(codec.clone()).build().unwrap();
    assert_no_canary("SessionConfig Debug", &format!("{config:?} {config:#?}"));
    let session = config
        .load_cookie_header(Some("beaker.session.id=garbage"))
        .unwrap();
    assert_no_canary("Session Debug", &format!("{session:?}"));
}

/// Every secret option name, bare or prefixed, is redacted by BeakerOptions' Debug.
#[test]
fn beaker_options_debug_redacts_every_secret_option() {
    let names = [
        "jwt_secret_keys",
        "original_format_validate_key",
        "original_format_encrypt_key",
        "validate_key",
        "encrypt_key",
    ];
    for prefix in ["", "session.", "beaker.session."] {
        for name in names {
            let o = BeakerOptions::from_pairs([(format!("{prefix}{name}"), JWT_CANARY)]);
            let s = format!("{o:?} {o:#?}");
            assert_no_canary(&format!("{prefix}{name}"), &s);
            assert!(s.contains("redacted"), "{s}");
        }
    }
}

// ------------------------------------------------------------------ error messages

/// No error from decoding, encoding or configuring carries a key, in Display or Debug.
#[test]
fn error_messages_never_contain_keys() {
    let codecs = [
        full_codec(),
        encrypted_codec(CryptoType::AesGcm),
        encrypted_codec(CryptoType::AesCtr),
        Codec::builder()
            .secret_keys([JWT_CANARY])
            .bson_payload(false)
            .build()
            .unwrap(),
    ];
    let mut errors = 0;
    for codec in &codecs {
        for value in hostile_values() {
            if let Err(e) = codec.decode(&value) {
                errors += 1;
                assert_no_canary(e.kind(), &format!("{e} {e:?}"));
            }
        }
        // values the formats cannot hold
        let bad = doc! { "a\0b": 1, "t": beaker_session_jwt::bson::DateTime::now() };
        if let Err(e) = codec.encode(&bad) {
            assert_no_canary(e.kind(), &format!("{e} {e:?}"));
        }
    }
    assert!(errors > 30, "only {errors} errors exercised");

    // configuration errors that involve key options
    let configs: Vec<Vec<(&str, String)>> = vec![
        vec![(
            "session.jwt_secret_keys",
            format!("{JWT_CANARY},,{OLD_JWT_CANARY}"),
        )],
        vec![("session.jwt_secret_keys", format!("{JWT_CANARY},"))],
        vec![
            ("session.jwt_secret_keys", JWT_CANARY.into()),
            ("session.read_original_format", VALIDATE_CANARY.into()),
        ],
        vec![
            ("session.jwt_secret_keys", JWT_CANARY.into()),
            (
                "session.original_format_data_serializer",
                ENCRYPT_CANARY.into(),
            ),
        ],
        vec![
            ("session.jwt_secret_keys", JWT_CANARY.into()),
            ("session.max_decompressed_size", ENCRYPT_CANARY.into()),
        ],
        vec![
            ("session.jwt_secret_keys", JWT_CANARY.into()),
            (
                "session.original_format_encrypt_nonce_bits",
                VALIDATE_CANARY.into(),
            ),
        ],
    ];
    for pairs in configs {
        let e = Codec::from_options(&BeakerOptions::from_pairs(pairs.clone()))
            .expect_err("configuration must be refused");
        assert_no_canary(e.kind(), &format!("{e} {e:?}"));
    }
}

/// An ini file whose key contains a `%(` interpolation: the error must not echo it.
#[test]
fn ini_interpolation_errors_do_not_echo_secret_values() {
    let ini = format!("[app:main]\nsession.jwt_secret_keys = x%({JWT_CANARY})s\n");
    let r = BeakerOptions::from_ini_str(&ini, "app:main");
    if let Err(e) = r {
        assert_no_canary("ini error", &format!("{e} {e:?}"));
    }
}

// ------------------------------------------------------------------ zeroization

/// The scanner itself works: a plain `String` holding a key is found when freed, and
/// the same bytes zeroized first are not (so the zeroization tests cannot pass
/// vacuously).
#[test]
fn scanner_detects_a_key_left_in_freed_memory() {
    let hits = freed_blocks_with_canaries(|| drop(String::from(JWT_CANARY)));
    assert_eq!(hits, 1);
    let hits = freed_blocks_with_canaries(|| {
        drop(zeroize::Zeroizing::new(String::from(JWT_CANARY)));
    });
    assert_eq!(hits, 0);
    // the derived HMAC states too, laid out as the crate stores them ([u32; 8])
    let [inner, outer] = hmac_states(JWT_CANARY.as_bytes());
    let words = |b: [u8; 32]| -> [u32; 8] {
        std::array::from_fn(|i| u32::from_ne_bytes(b[4 * i..4 * i + 4].try_into().unwrap()))
    };
    let hits = freed_blocks_with(canary_hmac_states(), || {
        drop(Box::new(words(inner)));
        drop(Box::new(words(outer)));
    });
    assert_eq!(hits, 2);
    let hits = freed_blocks_with(canary_hmac_states(), || {
        drop(Box::new(zeroize::Zeroizing::new(words(inner))));
    });
    assert_eq!(hits, 0);
}

/// Keys are zeroized when the last handle drops: no freed block ever holds one, nor
/// the HMAC-SHA256 states precomputed from one, through building codecs, signing,
/// verifying (old key too), original-format and encrypted cookies in both ciphers,
/// and every rejection path.
#[test]
fn keys_are_zeroized_on_drop_through_encode_and_decode() {
    let session = doc! { "_id": "0123456789abcdef0123456789abcdef", "user_id": 42 };
    let hits = freed_blocks_with(canary_hmac_states(), || {
        let key = SecretKey::new(JWT_CANARY);
        let clone = key.clone();
        drop(key);
        drop(clone);

        let codec = full_codec();
        let cookie = codec.encode(&session).unwrap();
        assert_eq!(codec.decode(&cookie).unwrap().key_index, Some(0));
        let old = Codec::builder()
            .secret_keys([OLD_JWT_CANARY])
            .build()
            .unwrap();
        let old_cookie = old.encode(&session).unwrap();
        assert_eq!(codec.decode(&old_cookie).unwrap().key_index, Some(1));
        for value in values_without_keys() {
            let _ = codec.decode(&value);
        }
        for crypto in [CryptoType::AesGcm, CryptoType::AesCtr] {
            let enc = encrypted_codec(crypto);
            let cookie = enc.encode(&session).unwrap();
            assert_eq!(
                enc.decode(&cookie)
                    .unwrap()
                    .session
                    .get_i32("user_id")
                    .unwrap(),
                42
            );
            for value in values_without_keys() {
                let _ = enc.decode(&value);
            }
        }
        let plain_original = Codec::builder()
            .secret_keys([JWT_CANARY])
            .read_original_format(true)
            .write_original_format(true)
            .original_validate_key(VALIDATE_CANARY)
            .original_serializer(DataSerializer::Json)
            .build()
            .unwrap();
        let cookie = plain_original.encode(&session).unwrap();
        assert!(plain_original.decode(&cookie).is_ok());
        let config = SessionConfig::builder(codec).build().unwrap();
        let header = format!("beaker.session.id={old_cookie}");
        let s = config.load_cookie_header(Some(&header)).unwrap();
        drop(s);
        drop(config);
        drop(old);
        drop(plain_original);
    });
    assert_eq!(hits, 0, "{hits} freed heap blocks still held key bytes");
}

/// The AES keys derived from `encrypt_key` for each cookie are key material too.
#[test]
fn derived_encryption_keys_are_zeroized() {
    let session = doc! { "user_id": 42 };
    for crypto in [CryptoType::AesGcm, CryptoType::AesCtr] {
        let enc = encrypted_codec(crypto);
        let cookie = enc.encode(&session).unwrap();
        // the nonce text follows the 40 hex digits of the signature: 24 characters
        let nonce = &cookie[40..64];
        let mut derived = [0u8; 32];
        let salt = format!("{VALIDATE_CANARY}{nonce}");
        pbkdf2::pbkdf2_hmac::<sha1::Sha1>(
            ENCRYPT_CANARY.as_bytes(),
            salt.as_bytes(),
            1,
            &mut derived,
        );
        let hits = freed_blocks_with(vec![derived], || {
            assert!(enc.decode(&cookie).is_ok());
        });
        assert_eq!(
            hits, 0,
            "{crypto:?}: the derived AES key was left in freed memory"
        );
    }
}

/// Keys that came from Beaker options (ini files, `--set`) are key material as well:
/// the option set must not leave them in freed memory either.
#[test]
fn keys_from_beaker_options_are_zeroized_on_drop() {
    let hits = freed_blocks_with(canary_hmac_states(), || {
        let options = BeakerOptions::from_pairs([
            ("session.jwt_secret_keys", JWT_CANARY),
            ("session.original_format_validate_key", VALIDATE_CANARY),
            ("session.read_original_format", "true"),
        ]);
        let codec = Codec::from_options(&options).unwrap();
        drop(options);
        drop(codec);
    });
    assert_eq!(
        hits, 0,
        "{hits} freed heap blocks held keys given as Beaker options"
    );
}

// ------------------------------------------------------------------ constant time

/// MAC tags are compared only through `hmac::Mac::verify_slice` / `verify` (constant
/// time): a source audit of every file that computes an HMAC. A tag compared with
/// `==` leaks, byte by byte, how much of a forged tag is right.
#[test]
fn mac_tags_are_compared_in_constant_time() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    let mut verifying_files = 0;
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        let code: String = text
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        if !code.contains("Mac") {
            continue;
        }
        for (i, line) in code.lines().enumerate() {
            let l = line.replace(' ', "");
            let compares = l.contains("==") || l.contains("!=") || l.contains(".eq(");
            assert!(
                !(compares && (l.contains("finalize") || l.contains("into_bytes"))),
                "{}:{}: a MAC output compared with ==: {line}",
                path.display(),
                i + 1
            );
        }
        if code.contains("verify_slice") || code.contains(".verify(") {
            verifying_files += 1;
        }
    }
    // The JWT HMAC is computed from precomputed key states (src/hs256.rs) and its tag
    // compared through `CtOutput`, whose `Eq` is `subtle`'s constant-time `ct_eq`;
    // outside its tests that file compares nothing with `==`/`!=`.
    let hs256 = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/hs256.rs"),
    )
    .unwrap();
    let non_test = hs256.split("#[cfg(test)]").next().unwrap();
    assert!(non_test.contains("CtOutput::<sha2::Sha256>::new"));
    for line in non_test
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
    {
        assert!(
            !line.contains("==") && !line.contains("!="),
            "src/hs256.rs compares with ==: {line}"
        );
    }
    // the JWT verifier and the original-format verifier
    assert!(
        verifying_files >= 2,
        "expected constant-time verify calls, found {verifying_files} files"
    );
}

/// A timing check of the JWT verifier: forged tags that are right in their first 31
/// bytes and those that are wrong from the first byte take the same time. Ignored by
/// default (timing on a shared machine is noisy); run with `--ignored` on a quiet one.
#[test]
#[ignore = "timing-based; run manually on a quiet machine"]
fn forged_tag_timing_does_not_depend_on_matching_prefix() {
    let codec = Codec::builder().secret_keys([JWT_CANARY]).build().unwrap();
    let good = hs256(b"{}", JWT_CANARY);
    let (input, sig) = good.rsplit_once('.').unwrap();
    let mut tag = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    let mut late = tag.clone();
    late[31] ^= 1;
    tag[0] ^= 1;
    let early = format!("{input}.{}", b64url(&tag));
    let late = format!("{input}.{}", b64url(&late));
    let time = |v: &str| {
        let mut best = std::time::Duration::MAX;
        for _ in 0..50 {
            let t = std::time::Instant::now();
            for _ in 0..200 {
                assert!(codec.decode(v).is_err());
            }
            best = best.min(t.elapsed());
        }
        best
    };
    let (e, l) = (time(&early), time(&late));
    let ratio = e.as_secs_f64() / l.as_secs_f64();
    assert!((0.9..1.1).contains(&ratio), "early {e:?} late {l:?}");
}

// ------------------------------------------------------------------ CLI

#[cfg(feature = "cli")]
mod cli {
    use super::*;
    use std::process::{Command, Output, Stdio};

    fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_beaker-cookie"));
        cmd.args(args).stdin(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    }

    fn cookie() -> String {
        Codec::builder()
            .secret_keys([JWT_CANARY])
            .build()
            .unwrap()
            .encode(&doc! { "user_id": 7 })
            .unwrap()
    }

    const WARNING: &str = "visible to other local users";

    /// `--set` with a key warns and names both safer ways; the key itself is never
    /// printed, neither in the warning nor in an error.
    #[test]
    fn set_with_a_key_warns_and_offers_env_and_file() {
        let cookie = cookie();
        for name in [
            "session.jwt_secret_keys",
            "jwt_secret_keys",
            "beaker.session.jwt_secret_keys",
            "session.original_format_validate_key",
            "session.validate_key",
            "session.original_format_encrypt_key",
            "session.encrypt_key",
            // spaces around the name, as in an ini line: still the key option
            "session.jwt_secret_keys ",
            " session.jwt_secret_keys",
        ] {
            let mut args = vec![
                "decode".to_string(),
                "--set".into(),
                format!("session.jwt_secret_keys={JWT_CANARY}"),
            ];
            if name.trim() != "session.jwt_secret_keys" {
                args.extend(["--set".into(), format!("{name}={VALIDATE_CANARY}")]);
                args.extend(["--set".into(), "session.read_original_format=false".into()]);
            } else {
                args[2] = format!("{name}={JWT_CANARY}");
            }
            args.push(cookie.clone());
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = run(&args, &[]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let warnings = stderr.lines().filter(|l| l.contains(WARNING)).count();
            let expected = if name.trim() == "session.jwt_secret_keys" {
                1
            } else {
                2
            };
            assert_eq!(warnings, expected, "--set {name:?}: stderr {stderr}");
            assert!(
                stderr.contains("--set-env") && stderr.contains("--set-file"),
                "{stderr}"
            );
            assert_no_canary("stderr", &stderr);
        }
    }

    /// The environment variable and file routes work, without the warning.
    #[test]
    fn set_env_and_set_file_take_keys_without_warning() {
        let cookie = cookie();
        let out = run(
            &[
                "decode",
                "--set-env",
                "session.jwt_secret_keys=H8_TEST_KEYS",
                &cookie,
            ],
            &[("H8_TEST_KEYS", JWT_CANARY)],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("\"user_id\""));
        assert!(!String::from_utf8_lossy(&out.stderr).contains(WARNING));

        let dir = std::env::temp_dir().join(format!("h8-secrets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("keys");
        std::fs::write(&file, format!("{JWT_CANARY}\n")).unwrap();
        let arg = format!("session.jwt_secret_keys={}", file.display());
        let out = run(&["decode", "--set-file", &arg, &cookie], &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!String::from_utf8_lossy(&out.stderr).contains(WARNING));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A rejected cookie prints its kind, never the key, on stderr and in `--lines` output.
    #[test]
    fn rejections_do_not_print_keys() {
        for value in hostile_values() {
            let out = run(
                &[
                    "decode",
                    "--set-env",
                    "session.jwt_secret_keys=H8_TEST_KEYS",
                    "--set-env",
                    "session.original_format_validate_key=H8_TEST_VALIDATE",
                    "--set",
                    "session.read_original_format=true",
                    &value,
                ],
                &[
                    ("H8_TEST_KEYS", JWT_CANARY),
                    ("H8_TEST_VALIDATE", VALIDATE_CANARY),
                ],
            );
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            if value.contains(JWT_CANARY) {
                // the value itself held a key: it may only come back as the value
                continue;
            }
            assert_no_canary("CLI output", &all);
        }
    }
}

// ------------------------------------------------------------------ logs

/// The middleware's log events (tracing) carry error kinds only: no key, no cookie,
/// no session data, whatever the client sends and however writing fails.
#[cfg(feature = "tower")]
mod logs {
    use super::*;
    use std::convert::Infallible;
    use std::fmt::Write as _;

    use beaker_session_jwt::middleware::{SessionHandle, SessionLayer};
    use http::{Request, Response, StatusCode};
    use tower::{Layer as _, ServiceExt as _};

    static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

    struct Collect(String);

    impl tracing::field::Visit for Collect {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            let _ = write!(self.0, "{}={value:?} ", field.name());
        }
    }

    /// A subscriber that keeps every event and span field as text.
    struct Capture;

    impl tracing::Subscriber for Capture {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, attrs: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            let mut c = Collect(String::new());
            attrs.record(&mut c);
            LOG.lock().unwrap().push(c.0);
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
            let mut c = Collect(String::new());
            values.record(&mut c);
            LOG.lock().unwrap().push(c.0);
        }
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            let mut c = Collect(format!("{} ", event.metadata().level()));
            event.record(&mut c);
            LOG.lock().unwrap().push(c.0);
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    /// Hex text that zlib cannot shrink much (a 64-bit LCG).
    fn incompressible(n: usize) -> String {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                char::from(b"0123456789abcdef"[(x >> 60) as usize])
            })
            .collect()
    }

    #[test]
    fn middleware_logs_carry_kinds_only() {
        let codec = full_codec();
        let mut values = hostile_values();
        values.push(
            codec
                .encode(&doc! { "secret_field": "h8-session-data-Kf8Lw2" })
                .unwrap(),
        );
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        tracing::subscriber::with_default(Capture, || {
            for invalidate in [true, false] {
                let config = SessionConfig::builder(codec.clone())
                    .invalidate_corrupt(invalidate)
                    .build()
                    .unwrap();
                for layer in [
                    SessionLayer::new(config.clone()),
                    SessionLayer::new(config).reject_with(StatusCode::BAD_REQUEST),
                ] {
                    for value in &values {
                        for grow in [false, true] {
                            let inner = tower::service_fn(move |req: Request<String>| async move {
                                if let Some(h) = SessionHandle::from_request(&req) {
                                    let mut s = h.lock();
                                    s.touch();
                                    if grow {
                                        // too large for a cookie: the write fails (500)
                                        s.insert("big", incompressible(6000));
                                        s.save();
                                    }
                                }
                                Ok::<_, Infallible>(Response::new(String::new()))
                            });
                            let req = Request::builder()
                                .header("cookie", format!("beaker.session.id={value}"))
                                .body(String::new())
                                .unwrap();
                            let svc = layer.clone().layer(inner);
                            let _ = rt.block_on(svc.oneshot(req));
                        }
                    }
                }
            }
        });
        let log = LOG.lock().unwrap().join("\n");
        assert!(log.contains("ERROR") && log.contains("WARN"), "{log}");
        assert!(log.contains("kind="), "no events captured: {log}");
        assert_no_canary("log", &log);
        assert!(!log.contains("Kf8Lw2"), "session data in the log: {log}");
        for value in &values {
            if value.len() >= 12 {
                assert!(!log.contains(value.as_str()), "cookie in the log: {log}");
            }
        }
    }
}
