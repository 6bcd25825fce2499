//! The one error type of the crate.
//!
//! Every failure is a variant of [`Error`]: configuration mistakes (found when a
//! [`Codec`](crate::Codec) is built), rejected cookies (found by `decode`) and values
//! that cannot be written (found by `encode`). Each variant corresponds to an
//! exception the Python reference raises at the same point; [`Error::kind`] gives a
//! stable short name for logs, metrics and the CLI.
//!
//! # Security
//! No message ever contains a key, a cookie or a session value. Messages about
//! rejected cookies stay coarse on purpose: detail about *why* a MAC failed is a
//! side channel.

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Which part of a JWT exceeded joserfc's size limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SizeLimit {
    /// The whole value exceeds 129 536 bytes.
    Value,
    /// The header segment exceeds 512 bytes.
    Header,
    /// The signature segment exceeds 1 024 bytes.
    Signature,
    /// The payload segment exceeds 128 000 bytes.
    Payload,
}

/// Everything that can go wrong in this crate.
///
/// The enum is `#[non_exhaustive]`: match the variants you care about and keep a
/// wildcard arm. Test error kinds with `matches!`, not with message text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---------------------------------------------------------------- configuration
    /// `jwt_secret_keys` is missing (reference: `BeakerException("No jwt_secret_keys specified")`).
    #[error("no jwt_secret_keys specified")]
    NoSecretKeys,
    /// An entry of `jwt_secret_keys` is empty after stripping, e.g. `"a,,b"` or a
    /// trailing comma (reference: `ValueError("oct key material must not be empty")`).
    #[error("oct key material must not be empty (entry {position} of jwt_secret_keys)")]
    EmptySecretKey {
        /// Position of the empty entry in the list, from 0.
        position: usize,
    },
    /// A boolean option is not one of Beaker's `asbool` spellings
    /// (reference: `ValueError("String is not true/false: 'x'")`).
    #[error("option {option} is not true/false")]
    InvalidBool {
        /// The option name (without prefix).
        option: String,
    },
    /// An option has a value of the wrong form (a number, a serializer name, ...).
    #[error("invalid value for option {option}: {reason}")]
    InvalidOption {
        /// The option name (without prefix).
        option: String,
        /// What was expected.
        reason: String,
    },
    /// `read_original_format` or `write_original_format` is on without a validate key
    /// (reference: `BeakerException("No original_format_validate_key specified")`).
    #[error("no original_format_validate_key specified")]
    NoOriginalValidateKey,
    /// An ini file could not be read or has no such section.
    #[error("configuration file: {0}")]
    ConfigFile(String),

    // ---------------------------------------------------------------- JWT structure
    /// A JWT part exceeds joserfc's size limits (reference: `ExceededSizeError`).
    #[error("exceeded size: {0:?} too large")]
    ExceededSize(SizeLimit),
    /// The value is not three dot-separated segments (reference: `DecodeError("Invalid JSON Web Signature")`).
    #[error("not a JSON web signature: expected three dot-separated segments")]
    MalformedToken,
    /// The header segment is not strict base64url of a JSON value (reference: `DecodeError("Invalid header")`).
    #[error("invalid JWT header")]
    InvalidHeader,
    /// The header is a JSON array or string, which the reference trips over with a
    /// `TypeError` that is not treated as "not a JWT".
    #[error("invalid JWT header: not a JSON object")]
    HeaderNotObject,
    /// The header has no `alg` (reference: `MissingAlgorithmError`).
    #[error("missing 'alg' value in JWT header")]
    MissingAlgorithm,
    /// A critical header is missing or `b64: false` lacks `crit` (reference: `MissingCritHeaderError`).
    #[error("missing critical value in JWT header")]
    MissingCritHeader,
    /// A known header field has the wrong type (reference: `InvalidHeaderValueError`).
    #[error("invalid value of a JWT header field")]
    InvalidHeaderValue,
    /// The header holds fields joserfc does not support (reference: `UnsupportedHeaderError`).
    #[error("unsupported field in JWT header")]
    UnsupportedHeader,
    /// `alg` is not a registered JWS algorithm name (reference: `UnsupportedAlgorithmError("... is not supported")`).
    #[error("JWT algorithm is not supported")]
    UnsupportedAlgorithm,
    /// `alg` is a registered name other than HS256, `none` included
    /// (reference: `UnsupportedAlgorithmError("... is not allowed")`).
    #[error("JWT algorithm is not allowed (only HS256 is)")]
    AlgorithmNotAllowed,
    /// The payload segment is not strict base64url (reference: `DecodeError("Invalid payload")`).
    #[error("invalid JWT payload encoding")]
    InvalidPayloadEncoding,
    /// No configured key verifies the signature (reference: `BadSignatureError`).
    #[error("bad signature")]
    BadSignature,
    /// The claims are not a JSON object (reference: `InvalidPayloadError`).
    #[error("invalid JWT claims: not a JSON object")]
    InvalidClaims,

    // ---------------------------------------------------------------- payload
    /// `bsZ` is not a string (reference: `TypeError` from `b85decode`).
    #[error("bsZ claim is not a string")]
    BszNotString,
    /// `bsZ` is not valid base85 (reference: `ValueError` from `b85decode`;
    /// treated as "not a JWT" when the original format is read).
    #[error("invalid base85 in bsZ claim: {0}")]
    Base85(String),
    /// The zlib stream is invalid or truncated (reference: `zlib.error`).
    #[error("invalid zlib data")]
    Zlib,
    /// Inflating would exceed the configured limit (no reference equivalent: it has no cap).
    #[error("decompressed data exceeds the limit of {limit} bytes")]
    DecompressedTooLarge {
        /// The configured limit in bytes.
        limit: usize,
    },
    /// The BSON document is invalid (reference: `bson.errors.InvalidBSON`).
    #[error("invalid BSON: {0}")]
    InvalidBson(String),
    /// Nesting deeper than the configured limit (reference: `RecursionError`).
    #[error("nesting deeper than the limit of {limit} levels")]
    NestingTooDeep {
        /// The configured limit.
        limit: usize,
    },
    /// JSON claims or serialized session could not be parsed.
    #[error("invalid JSON: {0}")]
    InvalidJson(String),
    /// An integer beyond the int64 range, which the reference keeps in JSON mode but a
    /// `bson::Document` cannot hold (a deliberate difference, see the README).
    #[error("integer out of the int64 range{}", key_suffix(.key))]
    IntegerOutOfRange {
        /// The top-level session key holding it, where known.
        key: Option<String>,
    },
    /// A JSON string holding a lone surrogate (`"\ud800"`), which Python keeps in a
    /// `str` but a Rust `String` cannot hold (a deliberate difference, see the README).
    #[error("string with a lone surrogate{}", key_suffix(.key))]
    LoneSurrogate {
        /// The top-level session key holding it, where known.
        key: Option<String>,
    },

    // ---------------------------------------------------------------- encoding
    /// A value has no representation in the target format (reference: `TypeError("Object of
    /// type X is not JSON serializable")` in JSON mode, `bson.errors.InvalidDocument` in BSON mode).
    #[error("cannot serialize value of type {type_name}{}", key_suffix(.key))]
    Unserializable {
        /// The top-level session key holding it, where known.
        key: Option<String>,
        /// The Python type name the reference reports (`datetime`, `bytes`, `ObjectId`, ...).
        type_name: String,
    },
    /// A document key contains a NUL byte, which BSON cannot hold
    /// (reference: `InvalidDocument("Key names must not contain the NULL byte")`).
    #[error("key names must not contain the NUL byte")]
    NulInKey,

    // ---------------------------------------------------------------- original format
    /// The original-format value is empty after stripping quotes (reference: `TypeError` in
    /// beaker-session-jwt; plain Beaker treats it as no cookie).
    #[error("empty original-format cookie value")]
    EmptyOriginalValue,
    /// The HMAC-SHA1 signature of an original-format cookie does not verify
    /// (reference: `BeakerException("Invalid original format signature")`).
    #[error("invalid original format signature")]
    BadOriginalSignature,
    /// The base64 of an original-format cookie is invalid (reference: `binascii.Error`).
    #[error("invalid base64 in original-format cookie: {0}")]
    OriginalBase64(String),
    /// The pickle could not be read (reference: `UnpicklingError`, `EOFError`, ...).
    #[error("invalid pickle: {0}")]
    Pickle(String),
    /// The pickle names a global outside the allow-list; nothing was executed
    /// (reference: it would import and call it).
    #[error("pickle refers to a forbidden global {module}.{name}")]
    ForbiddenGlobal {
        /// Module name as written in the pickle (truncated).
        module: String,
        /// Attribute name as written in the pickle (truncated).
        name: String,
    },
    /// A Python 2 byte string with non-ASCII bytes, which the reference cannot load
    /// (reference: `UnicodeDecodeError` inside `pickle.loads`).
    #[error("pickle holds a Python 2 byte string that is not ASCII")]
    NonAsciiPy2String,
    /// The original session is not a dict (reference: `AttributeError`).
    #[error("original-format session is not a dict")]
    OriginalNotADict,
    /// Session values that the new format cannot hold; add these keys to
    /// `original_format_remove_keys` to drop them (reference: `InvalidDocument`,
    /// `TypeError`, `OverflowError` or `ValueError`, logging all keys).
    #[error("original-format session values cannot be converted ({reason}); offending keys: {}", .keys.join(", "))]
    Unconvertible {
        /// The offending top-level keys.
        keys: Vec<String>,
        /// The first reason found.
        reason: String,
    },
    /// Decrypting an encrypted Beaker cookie failed: wrong key or tampered data
    /// (reference: `InvalidTag`).
    #[error("cannot decrypt original-format cookie")]
    Decrypt,
    /// Encrypting an original-format cookie failed (the OS random generator gave no
    /// nonce); no reference equivalent.
    #[error("cannot encrypt original-format cookie")]
    Encrypt,

    // ---------------------------------------------------------------- cookies and sessions
    /// The cookie value is longer than 4064 characters (reference: `BeakerException("Cookie
    /// value is too long to store")`).
    #[error("cookie value is too long to store ({len} characters, at most 4064)")]
    CookieTooLong {
        /// The length of the value.
        len: usize,
    },
    /// With `timeout` set, the session's `_accessed_time` is not a number
    /// (reference: `TypeError` from `time.time() - session['_accessed_time']`, not
    /// caught by `invalidate_corrupt`).
    #[error("session _accessed_time is not a number")]
    InvalidAccessedTime,
    /// A Set-Cookie attribute taken from the session (`_path`, `_domain`, `_id`)
    /// holds characters a header cannot carry or that would start a new attribute
    /// (`;`, control characters, non-ASCII). The reference writes them unchecked.
    #[error("cannot write Set-Cookie: invalid characters in {attribute}")]
    InvalidCookieAttribute {
        /// The attribute (`Path`, `Domain` or the cookie value).
        attribute: &'static str,
    },
}

fn key_suffix(key: &Option<String>) -> String {
    match key {
        Some(k) => format!(" (key {k:?})"),
        None => String::new(),
    }
}

impl Error {
    /// A stable short name of the error kind, for logs, metrics and the CLI's
    /// `{"error": "<kind>"}` lines.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::NoSecretKeys => "no_secret_keys",
            Error::EmptySecretKey { .. } => "empty_secret_key",
            Error::InvalidBool { .. } => "invalid_bool",
            Error::InvalidOption { .. } => "invalid_option",
            Error::NoOriginalValidateKey => "no_original_validate_key",
            Error::ConfigFile(_) => "config_file",
            Error::ExceededSize(_) => "exceeded_size",
            Error::MalformedToken => "malformed_token",
            Error::InvalidHeader => "invalid_header",
            Error::HeaderNotObject => "header_not_object",
            Error::MissingAlgorithm => "missing_algorithm",
            Error::MissingCritHeader => "missing_crit_header",
            Error::InvalidHeaderValue => "invalid_header_value",
            Error::UnsupportedHeader => "unsupported_header",
            Error::UnsupportedAlgorithm => "unsupported_algorithm",
            Error::AlgorithmNotAllowed => "algorithm_not_allowed",
            Error::InvalidPayloadEncoding => "invalid_payload_encoding",
            Error::BadSignature => "bad_signature",
            Error::InvalidClaims => "invalid_claims",
            Error::BszNotString => "bsz_not_string",
            Error::Base85(_) => "base85",
            Error::Zlib => "zlib",
            Error::DecompressedTooLarge { .. } => "decompressed_too_large",
            Error::InvalidBson(_) => "invalid_bson",
            Error::NestingTooDeep { .. } => "nesting_too_deep",
            Error::InvalidJson(_) => "invalid_json",
            Error::IntegerOutOfRange { .. } => "integer_out_of_range",
            Error::LoneSurrogate { .. } => "lone_surrogate",
            Error::Unserializable { .. } => "unserializable",
            Error::NulInKey => "nul_in_key",
            Error::EmptyOriginalValue => "empty_original_value",
            Error::BadOriginalSignature => "bad_original_signature",
            Error::OriginalBase64(_) => "original_base64",
            Error::Pickle(_) => "pickle",
            Error::ForbiddenGlobal { .. } => "forbidden_global",
            Error::NonAsciiPy2String => "non_ascii_py2_string",
            Error::OriginalNotADict => "original_not_a_dict",
            Error::Unconvertible { .. } => "unconvertible",
            Error::Decrypt => "decrypt",
            Error::Encrypt => "encrypt",
            Error::CookieTooLong { .. } => "cookie_too_long",
            Error::InvalidAccessedTime => "invalid_accessed_time",
            Error::InvalidCookieAttribute { .. } => "invalid_cookie_attribute",
        }
    }

    /// True for configuration errors (the CLI exits 2 for these, 1 for rejected cookies).
    pub fn is_config(&self) -> bool {
        matches!(
            self,
            Error::NoSecretKeys
                | Error::EmptySecretKey { .. }
                | Error::InvalidBool { .. }
                | Error::InvalidOption { .. }
                | Error::NoOriginalValidateKey
                | Error::ConfigFile(_)
        )
    }

    /// Whether the reference treats this JWT failure as "not a JWT at all" and tries the
    /// original format instead (formats.md §1.6: `DecodeError` and `ValueError` only).
    pub(crate) fn falls_back_to_original(&self) -> bool {
        matches!(
            self,
            Error::MalformedToken
                | Error::InvalidHeader
                | Error::InvalidPayloadEncoding
                | Error::Base85(_)
        )
    }
}
