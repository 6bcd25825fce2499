//! [`Codec`]: encode and decode session cookie values, with format dispatch.
//!
//! The codec is immutable and cheap to clone (`Arc` inside); build it once at
//! start-up from Beaker options ([`Codec::from_options`]) or a typed builder
//! ([`Codec::builder`]) and share it between threads.

use std::fmt;
use std::sync::Arc;

use bson::{Document, RawDocumentBuf};

use crate::config::BeakerOptions;
use crate::error::{Error, Result};
use crate::keys::{KeyRing, SecretKey, aslist};
use crate::{jws, original, payload, pyjson};

/// Default cap on the inflated size of a `bsZ` payload or a json-serialized
/// original cookie: 1 MiB. A real cookie is at most 4 KB on the wire.
pub const DEFAULT_MAX_DECOMPRESSED_SIZE: usize = 1 << 20;

/// Default limit on nesting depth of decoded documents, arrays, JSON and pickles:
/// 200 levels. Python's own recursion limit (1000 frames) stops the reference somewhat
/// later; no real session nests this deep.
pub const DEFAULT_MAX_NESTING_DEPTH: usize = 200;

/// Which format a cookie was read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CookieFormat {
    /// beaker-session-jwt's HS256 JWT (BSON or JSON claims).
    Jwt,
    /// The original Beaker signed cookie (HMAC-SHA1 + base64 of pickle or zlib-JSON).
    Original,
    /// The original Beaker signed cookie with `encrypt_key` (AES-GCM or AES-CTR).
    OriginalEncrypted,
}

/// A decoded cookie: the session and how it was read.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Decoded {
    /// The session, in the order and with the types the reference returns.
    pub session: Document,
    /// The format the cookie was in.
    pub format: CookieFormat,
    /// For JWTs, the position in `jwt_secret_keys` of the key that verified it
    /// (0 = the signing key). `None` for original-format cookies.
    pub key_index: Option<usize>,
}

impl Decoded {
    /// True when the cookie should be written again in the current key and format:
    /// it was verified by an old key or read in the original format.
    pub fn needs_reissue(&self) -> bool {
        self.format != CookieFormat::Jwt || self.key_index != Some(0)
    }
}

/// A decoded cookie whose session stays raw BSON: see [`Codec::decode_raw`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DecodedRaw {
    /// The session as validated BSON bytes. Reading it gives the same keys, order,
    /// types and values as [`Decoded::session`]; [`DecodedRaw::to_document`]
    /// builds that document.
    pub session: RawDocumentBuf,
    /// The format the cookie was in.
    pub format: CookieFormat,
    /// As [`Decoded::key_index`].
    pub key_index: Option<usize>,
}

impl DecodedRaw {
    /// As [`Decoded::needs_reissue`].
    pub fn needs_reissue(&self) -> bool {
        self.format != CookieFormat::Jwt || self.key_index != Some(0)
    }

    /// The session as the [`Document`] [`Codec::decode`] returns for the same cookie.
    ///
    /// # Errors
    /// None in practice: the bytes were validated when decoding. An
    /// [`Error::InvalidBson`] would mean a bug.
    pub fn to_document(&self) -> Result<Document> {
        Document::try_from(&self.session).map_err(|e| Error::InvalidBson(e.to_string()))
    }
}

/// Serializer of the original format (`original_format_data_serializer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DataSerializer {
    /// Pickle protocol 2 (the default). Read by a safe reader that executes nothing.
    #[default]
    Pickle,
    /// zlib-compressed JSON.
    Json,
}

/// Cipher of Beaker's encrypted cookies (`crypto_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CryptoType {
    /// AES-256-GCM, Beaker 1.14's default (`default`, `cryptography`).
    #[default]
    AesGcm,
    /// AES-256-CTR without authentication (`pycryptodome`, `pycrypto`), Beaker ≤ 1.13.
    AesCtr,
}

/// Encryption settings of original-format cookies (`encrypt_key` in plain Beaker).
#[derive(Clone)]
pub struct Encryption {
    pub(crate) key: SecretKey,
    pub(crate) crypto: CryptoType,
    pub(crate) nonce_bits: u32,
}

impl fmt::Debug for Encryption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encryption")
            .field("key", &self.key)
            .field("crypto", &self.crypto)
            .field("nonce_bits", &self.nonce_bits)
            .finish()
    }
}

/// Settings of the original Beaker format, for the migration window.
#[derive(Debug, Clone)]
pub struct OriginalFormat {
    pub(crate) validate_key: SecretKey,
    pub(crate) serializer: DataSerializer,
    pub(crate) remove_keys: Vec<String>,
    pub(crate) encryption: Option<Encryption>,
}

/// The deepest nesting any setting allows: Python's recursion limit, where the
/// reference stops too. Decoded values are dropped recursively, so this also keeps
/// the stack bounded whatever `max_nesting_depth` says.
pub const MAX_NESTING_DEPTH_CEILING: usize = 1000;

/// Resource limits applied while decoding untrusted (but authenticated) data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Cap on inflated bytes. The default is [`DEFAULT_MAX_DECOMPRESSED_SIZE`].
    pub max_decompressed_size: usize,
    /// Cap on nesting depth. The default is [`DEFAULT_MAX_NESTING_DEPTH`]; values above
    /// [`MAX_NESTING_DEPTH_CEILING`] are lowered to it when the codec is built.
    pub max_nesting_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_decompressed_size: DEFAULT_MAX_DECOMPRESSED_SIZE,
            max_nesting_depth: DEFAULT_MAX_NESTING_DEPTH,
        }
    }
}

pub(crate) struct Inner {
    pub(crate) keys: KeyRing,
    pub(crate) bson_mode: bool,
    pub(crate) read_original: bool,
    pub(crate) write_original: bool,
    pub(crate) original: Option<OriginalFormat>,
    pub(crate) limits: Limits,
}

/// Encodes and decodes session cookie values exactly like beaker-session-jwt's
/// `JWTCookieSession` (and, for the migration window, like Beaker's original
/// `CookieSession`).
///
/// ```
/// use beaker_session_jwt::{Codec, bson::doc};
///
/// let codec = Codec::builder().secret_keys(["new-key-0123456789", "old-key-0123456789"]).build()?;
/// let cookie = codec.encode(&doc! { "_id": "0123456789abcdef0123456789abcdef", "user_id": 42 })?;
/// assert!(cookie.starts_with("eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJic1oiOiJ"));
/// let decoded = codec.decode(&cookie)?;
/// assert_eq!(decoded.session.get_i32("user_id")?, 42);
/// assert_eq!(decoded.key_index, Some(0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Codec(Arc<Inner>);

impl fmt::Debug for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Codec")
            .field("keys", &self.0.keys)
            .field("bson_mode", &self.0.bson_mode)
            .field("read_original", &self.0.read_original)
            .field("write_original", &self.0.write_original)
            .field("original", &self.0.original)
            .field("limits", &self.0.limits)
            .finish()
    }
}

impl Codec {
    /// A typed builder.
    pub fn builder() -> CodecBuilder {
        CodecBuilder::default()
    }

    /// Builds a codec from Beaker options as an ini file gives them: `jwt_secret_keys`,
    /// `bson_compress_jwt_payload`, `read_original_format`, `write_original_format`,
    /// `original_format_validate_key`, `original_format_data_serializer`,
    /// `original_format_remove_keys`, and this crate's `original_format_encrypt_key`,
    /// `original_format_crypto_type`, `original_format_encrypt_nonce_bits`,
    /// `max_decompressed_size`, `max_nesting_depth`. The plain Beaker names
    /// `validate_key`, `encrypt_key`, `crypto_type`, `encrypt_nonce_bits` and
    /// `data_serializer` are accepted where the `original_format_` name is absent.
    ///
    /// # Errors
    /// Configuration errors named like the reference's: [`Error::NoSecretKeys`],
    /// [`Error::EmptySecretKey`], [`Error::InvalidBool`],
    /// [`Error::NoOriginalValidateKey`], [`Error::InvalidOption`].
    pub fn from_options(options: &BeakerOptions) -> Result<Codec> {
        let mut b = CodecBuilder::default();
        match options.get("jwt_secret_keys") {
            Some(v) => b.keys = Some(KeyRing::parse(v)),
            None => b.keys = Some(Err(Error::NoSecretKeys)),
        }
        b.bson_mode = Some(options.get_bool("bson_compress_jwt_payload", true)?);
        b.read_original = options.get_bool("read_original_format", false)?;
        b.write_original = options.get_bool("write_original_format", false)?;
        b.validate_key = options
            .get_or_alias("original_format_validate_key", "validate_key")
            .filter(|k| !k.is_empty())
            .map(SecretKey::new);
        if let Some(s) = options.get_or_alias("original_format_data_serializer", "data_serializer")
        {
            b.serializer = match s {
                "pickle" => DataSerializer::Pickle,
                "json" => DataSerializer::Json,
                _ => {
                    return Err(Error::InvalidOption {
                        option: "original_format_data_serializer".into(),
                        reason: "expected pickle or json".into(),
                    });
                }
            };
        }
        if let Some(v) = options.get("original_format_remove_keys") {
            b.remove_keys = aslist(v);
        }
        b.encrypt_key = options
            .get_or_alias("original_format_encrypt_key", "encrypt_key")
            .filter(|k| !k.is_empty())
            .map(SecretKey::new);
        if let Some(c) = options.get_or_alias("original_format_crypto_type", "crypto_type") {
            b.crypto = match c.trim() {
                "default" | "cryptography" => CryptoType::AesGcm,
                "pycryptodome" | "pycrypto" => CryptoType::AesCtr,
                _ => {
                    return Err(Error::InvalidOption {
                        option: "original_format_crypto_type".into(),
                        reason: "expected default, cryptography, pycryptodome or pycrypto".into(),
                    });
                }
            };
        }
        if let Some(n) =
            options.get_or_alias("original_format_encrypt_nonce_bits", "encrypt_nonce_bits")
        {
            b.nonce_bits = parse_number("original_format_encrypt_nonce_bits", n)?;
        }
        if let Some(n) = options.get("max_decompressed_size") {
            b.limits.max_decompressed_size = parse_number("max_decompressed_size", n)?;
        }
        if let Some(n) = options.get("max_nesting_depth") {
            b.limits.max_nesting_depth = parse_number("max_nesting_depth", n)?;
        }
        b.build()
    }

    /// Number of JWT keys configured.
    pub fn key_count(&self) -> usize {
        self.0.keys.len()
    }

    /// The resource limits in force.
    pub fn limits(&self) -> Limits {
        self.0.limits
    }

    /// True in BSON mode (`bson_compress_jwt_payload`, the default), false in JSON mode.
    pub fn bson_mode(&self) -> bool {
        self.0.bson_mode
    }

    /// True when original-format cookies are read (`read_original_format`).
    pub fn reads_original_format(&self) -> bool {
        self.0.read_original
    }

    /// True when cookies are written in the original format (`write_original_format`).
    pub fn writes_original_format(&self) -> bool {
        self.0.write_original
    }

    /// The format [`encode`](Self::encode) writes.
    pub fn write_format(&self) -> CookieFormat {
        match (&self.0.original, self.0.write_original) {
            (Some(o), true) if o.encryption.is_some() => CookieFormat::OriginalEncrypted,
            (_, true) => CookieFormat::Original,
            _ => CookieFormat::Jwt,
        }
    }

    /// Encodes a session into a cookie value, as `JWTCookieSession._encrypt_data` does.
    ///
    /// In JWT mode `_expires`, `_path` and `_domain` are dropped; in BSON mode a
    /// top-level `_id` is written first; with `write_original_format` the whole
    /// session is written in the original format.
    ///
    /// # Errors
    /// [`Error::Unserializable`] for values the format cannot hold (JSON mode has no
    /// datetimes or bytes, the json serializer likewise), [`Error::NulInKey`] for a
    /// BSON key with a NUL byte.
    pub fn encode(&self, session: &Document) -> Result<String> {
        let inner = &*self.0;
        if inner.write_original {
            // build() guarantees the settings exist when write_original is on
            let original = inner
                .original
                .as_ref()
                .ok_or(Error::NoOriginalValidateKey)?;
            return original::encode(session, original);
        }
        // `_expires`, `_path` and `_domain` are left out by the claims writers
        let claims = if inner.bson_mode {
            payload::bsz_claims(session)?
        } else {
            pyjson::dumps_claims(session)?
        };
        Ok(jws::sign(claims.as_bytes(), inner.keys.signing_key()))
    }

    /// Decodes a cookie value (as selected from the `Cookie` header), as
    /// `JWTCookieSession._decrypt_data` does.
    ///
    /// The session comes as a [`Document`], ready to change and encode again.
    /// Building it (an allocation per key and string) is a third to a half of the
    /// cost of a decode: a service that only reads the session should use
    /// [`decode_raw`](Self::decode_raw), which gives the same session as
    /// validated raw BSON.
    ///
    /// # Errors
    /// A typed error for every rejection, at the point where the reference rejects:
    /// see [`Error`]. With `read_original_format`, values that are not a JWT at all
    /// are read as original cookies instead.
    pub fn decode(&self, value: &str) -> Result<Decoded> {
        let inner = &*self.0;
        let (session, format, key_index) = self.decode_with(
            value,
            |claims| payload::session_from_claims(claims, inner.bson_mode, &inner.limits),
            Ok,
        )?;
        Ok(Decoded {
            session,
            format,
            key_index,
        })
    }

    /// Decodes a cookie like [`Codec::decode`] (same checks, same errors, same
    /// session) but keeps the session as validated raw BSON instead of building a
    /// [`Document`]: for a BSON-mode JWT the inflated bytes themselves, read
    /// lazily. Building a `Document` is most of the cost of decoding a session
    /// (an allocation per key and string), so a service that reads a few keys per
    /// request saves most of it.
    ///
    /// JSON-mode claims are written as BSON while they are parsed (no `Document`
    /// either). Sessions whose raw bytes would read differently from the document
    /// (pymongo's legacy-type mapping, `DBRef` ordering, duplicate keys, JSON
    /// values or text the direct writer leaves alone) and original-format cookies
    /// are converted from the document, so the view always matches
    /// [`Decoded::session`].
    ///
    /// ```
    /// use beaker_session_jwt::{BeakerOptions, Codec, bson::doc};
    ///
    /// let codec = Codec::from_options(&BeakerOptions::from_pairs([
    ///     ("session.jwt_secret_keys", "key-0123456789abcdef"),
    /// ]))?;
    /// let cookie = codec.encode(&doc! { "user_id": 42, "name": "Zoë" })?;
    /// let raw = codec.decode_raw(&cookie)?;
    /// assert_eq!(raw.session.get_i32("user_id").ok(), Some(42));
    /// assert_eq!(raw.to_document()?, codec.decode(&cookie)?.session);
    /// # Ok::<(), beaker_session_jwt::Error>(())
    /// ```
    ///
    /// # Errors
    /// Those of [`Codec::decode`]; also [`Error::NulInKey`] for a JSON-mode or
    /// original-format session with a key containing NUL, which BSON cannot hold.
    pub fn decode_raw(&self, value: &str) -> Result<DecodedRaw> {
        let inner = &*self.0;
        let (session, format, key_index) = self.decode_with(
            value,
            |claims| payload::session_raw_from_claims(claims, inner.bson_mode, &inner.limits),
            |doc| payload::to_raw(&doc),
        )?;
        Ok(DecodedRaw {
            session,
            format,
            key_index,
        })
    }

    /// The JWT path (`jwt` reads the verified claims), falling back to the
    /// original format (`from_original` converts its session) where the
    /// reference does.
    fn decode_with<T>(
        &self,
        value: &str,
        jwt: impl FnOnce(&[u8]) -> Result<T>,
        from_original: impl FnOnce(Document) -> Result<T>,
    ) -> Result<(T, CookieFormat, Option<usize>)> {
        let inner = &*self.0;
        let verified = jws::verify(value, &inner.keys)
            .and_then(|(claims, key_index)| Ok((jwt(&claims)?, key_index)));
        match verified {
            Ok((session, key_index)) => Ok((session, CookieFormat::Jwt, Some(key_index))),
            Err(e) if inner.read_original && e.falls_back_to_original() => {
                let original = inner
                    .original
                    .as_ref()
                    .ok_or(Error::NoOriginalValidateKey)?;
                let (session, format) =
                    original::decode(value, original, inner.bson_mode, &inner.limits)?;
                Ok((from_original(session)?, format, None))
            }
            Err(e) => Err(e),
        }
    }
}

fn parse_number<T: std::str::FromStr>(option: &str, value: &str) -> Result<T> {
    value.trim().parse().map_err(|_| Error::InvalidOption {
        option: option.into(),
        reason: "expected a non-negative integer".into(),
    })
}

/// Typed builder of a [`Codec`]. Every setter documents its default.
#[derive(Default)]
#[must_use]
pub struct CodecBuilder {
    keys: Option<Result<KeyRing>>,
    bson_mode: Option<bool>,
    read_original: bool,
    write_original: bool,
    validate_key: Option<SecretKey>,
    serializer: DataSerializer,
    remove_keys: Vec<String>,
    encrypt_key: Option<SecretKey>,
    crypto: CryptoType,
    nonce_bits: u32,
    limits: Limits,
}

impl fmt::Debug for CodecBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodecBuilder").finish_non_exhaustive()
    }
}

impl CodecBuilder {
    /// The JWT keys, signing key first. There is no default: at least one is required.
    pub fn secret_keys<I, K>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = K>,
        K: AsRef<[u8]>,
    {
        self.keys = Some(KeyRing::from_keys(
            keys.into_iter().map(SecretKey::new).collect(),
        ));
        self
    }

    /// The JWT keys as the ini value of `jwt_secret_keys` (`"new, old"`).
    pub fn secret_keys_str(mut self, value: &str) -> Self {
        self.keys = Some(KeyRing::parse(value));
        self
    }

    /// BSON mode (`bson_compress_jwt_payload`). The default is `true`.
    pub fn bson_payload(mut self, on: bool) -> Self {
        self.bson_mode = Some(on);
        self
    }

    /// Read original-format cookies (`read_original_format`). The default is `false`.
    pub fn read_original_format(mut self, on: bool) -> Self {
        self.read_original = on;
        self
    }

    /// Write original-format cookies (`write_original_format`). The default is `false`.
    pub fn write_original_format(mut self, on: bool) -> Self {
        self.write_original = on;
        self
    }

    /// The original format's HMAC-SHA1 key (`original_format_validate_key`). No default;
    /// required when reading or writing the original format.
    pub fn original_validate_key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.validate_key = Some(SecretKey::new(key));
        self
    }

    /// The original format's serializer. The default is [`DataSerializer::Pickle`].
    pub fn original_serializer(mut self, serializer: DataSerializer) -> Self {
        self.serializer = serializer;
        self
    }

    /// Keys dropped from original-format sessions on reading
    /// (`original_format_remove_keys`). The default is none.
    pub fn original_remove_keys<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.remove_keys = keys.into_iter().map(Into::into).collect();
        self
    }

    /// Beaker's `encrypt_key` for encrypted original cookies. The default is none
    /// (cookies are signed only).
    pub fn original_encrypt_key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.encrypt_key = Some(SecretKey::new(key));
        self
    }

    /// Cipher of encrypted original cookies. The default is [`CryptoType::AesGcm`].
    pub fn original_crypto_type(mut self, crypto: CryptoType) -> Self {
        self.crypto = crypto;
        self
    }

    /// Nonce size of encrypted original cookies in bits (`encrypt_nonce_bits`). The
    /// default is 128.
    pub fn original_encrypt_nonce_bits(mut self, bits: u32) -> Self {
        self.nonce_bits = bits;
        self
    }

    /// Resource limits. The default is [`Limits::default`].
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Builds the codec.
    ///
    /// # Errors
    /// [`Error::NoSecretKeys`] / [`Error::EmptySecretKey`] for missing or empty keys,
    /// [`Error::NoOriginalValidateKey`] when the original format is read or written
    /// without a validate key, [`Error::InvalidOption`] for a nonce size that is not a
    /// positive multiple of 8.
    pub fn build(self) -> Result<Codec> {
        let keys = self.keys.unwrap_or(Err(Error::NoSecretKeys))?;
        let bson_mode = self.bson_mode.unwrap_or(true);
        let nonce_bits = if self.nonce_bits == 0 {
            128
        } else {
            self.nonce_bits
        };
        if nonce_bits % 8 != 0 {
            return Err(Error::InvalidOption {
                option: "original_format_encrypt_nonce_bits".into(),
                reason: "expected a positive multiple of 8".into(),
            });
        }
        if (self.read_original || self.write_original) && self.validate_key.is_none() {
            return Err(Error::NoOriginalValidateKey);
        }
        let original = self.validate_key.map(|validate_key| OriginalFormat {
            validate_key,
            serializer: self.serializer,
            remove_keys: self.remove_keys,
            encryption: self.encrypt_key.map(|key| Encryption {
                key,
                crypto: self.crypto,
                nonce_bits,
            }),
        });
        let mut limits = self.limits;
        limits.max_nesting_depth = limits.max_nesting_depth.min(MAX_NESTING_DEPTH_CEILING);
        Ok(Codec(Arc::new(Inner {
            keys,
            bson_mode,
            read_original: self.read_original,
            write_original: self.write_original,
            original,
            limits,
        })))
    }
}
