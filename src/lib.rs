//! Read and write the session cookies of Python's Beaker sessions, byte-compatible
//! with the Python package `beaker-session-jwt` 1.0.4 (HS256 JWTs whose `bsZ` claim
//! holds base85(zlib(BSON(session)))) and, for the migration window, with Beaker's
//! original signed cookies (HMAC-SHA1 + base64 of pickle or zlib-JSON).
//!
//! # Quick start
//! ```
//! use beaker_session_jwt::{BeakerOptions, Codec, bson::doc};
//!
//! // The same option names the Python app reads from its ini file.
//! let options = BeakerOptions::from_pairs([
//!     ("session.jwt_secret_keys", "new-key-0123456789, old-key-0123456789"),
//! ]);
//! let codec = Codec::from_options(&options)?;
//! let cookie = codec.encode(&doc! { "user_id": 42, "roles": ["admin"] })?;
//! let decoded = codec.decode(&cookie)?;
//! assert_eq!(decoded.session, doc! { "user_id": 42, "roles": ["admin"] });
//! # Ok::<(), beaker_session_jwt::Error>(())
//! ```
//!
//! # Security model
//! A cookie is *signed*, not encrypted: anyone holding a BSON-mode cookie can read
//! the session (base85 and zlib are encodings, not secrecy). The signature protects
//! integrity. Decoding never inflates or parses anything before the MAC verified,
//! inflation and nesting are capped ([`Limits`]), keys are zeroized on drop and
//! never printed, and the pickle reader for original cookies executes nothing.
#![forbid(unsafe_code)]
// No panics reachable from input: outside tests, no unwrap/expect/indexing/panic.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod base85;
mod codec;
pub mod config;
pub mod cookies;
mod doc_build;
pub mod ejson;
pub mod error;
mod hs256;
mod inflate;
mod jws;
mod keys;
pub mod metrics;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod middleware;
mod original;
mod payload;
mod pyjson;
pub mod session;
mod zlib9;

/// Not API: `zlib.decompress(data)` with an output cap, as the decoders inflate
/// (`src/inflate.rs`), for the fuzz targets and benches (feature `fuzzing`).
///
/// # Errors
/// [`Error::Zlib`] where Python's zlib refuses the stream,
/// [`Error::DecompressedTooLarge`] past `cap` bytes.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub fn __zlib_decompress(data: &[u8], cap: usize) -> Result<Vec<u8>, Error> {
    payload::zlib_decompress(data, cap)
}

pub use bson;
pub use codec::{
    Codec, CodecBuilder, CookieFormat, CryptoType, DEFAULT_MAX_DECOMPRESSED_SIZE,
    DEFAULT_MAX_NESTING_DEPTH, DataSerializer, Decoded, DecodedRaw, Encryption, Limits,
    MAX_NESTING_DEPTH_CEILING, OriginalFormat,
};
pub use config::BeakerOptions;
pub use error::{Error, Result};
pub use keys::{KeyRing, SecretKey};
pub use metrics::{MetricsSnapshot, SessionMetrics};
pub use session::{
    Clock, CookieOrigin, IdGenerator, LazySession, ManualClock, Session, SessionConfig,
    SessionConfigBuilder, SessionWarning, SystemClock,
};

#[doc = include_str!("../README.md")]
#[cfg(doctest)]
struct ReadmeDoctests;
