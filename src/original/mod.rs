//! The original Beaker cookie format (formats.md §2): signed value, lax base64,
//! pickle and json serializers, encrypted variants.
//!
//! Reading follows beaker-session-jwt's fallback (§2.5): signature, base64 (or
//! decryption for Beaker's `encrypt_key` cookies, which the Python package itself
//! cannot read), serializer, `original_format_remove_keys`, then the check that the
//! session can be written again. Writing follows `write_original_format` (§2.5a)
//! and, with an encryption key, Beaker's `CookieSession._encrypt_data` (§2.6).

use bson::Document;

use crate::codec::{CookieFormat, DataSerializer, Limits, OriginalFormat};
use crate::error::{Error, Result};

mod encrypted;
mod json;
mod pickle;
mod signed;

/// Reads an original-format cookie value (after the JWT reader gave up).
///
/// # Errors
/// [`Error::EmptyOriginalValue`], [`Error::BadOriginalSignature`],
/// [`Error::OriginalBase64`], [`Error::Decrypt`], then the serializer's errors
/// (pickle: [`Error::Pickle`], [`Error::ForbiddenGlobal`], [`Error::NonAsciiPy2String`];
/// json: [`Error::Zlib`], [`Error::InvalidJson`], ...), [`Error::OriginalNotADict`]
/// and [`Error::Unconvertible`] / [`Error::IntegerOutOfRange`] for values the new
/// format cannot hold.
pub(crate) fn decode(
    value: &str,
    cfg: &OriginalFormat,
    bson_mode: bool,
    limits: &Limits,
) -> Result<(Document, CookieFormat)> {
    // SignedCookie.value_decode: val.strip('"')
    let value = value.trim_matches('"');
    if value.is_empty() {
        return Err(Error::EmptyOriginalValue);
    }
    let validate_key = cfg.validate_key.bytes();
    let payload = signed::verify(value, validate_key)?;
    let (data, format) = match &cfg.encryption {
        Some(enc) => (
            encrypted::open(payload, validate_key, enc)?,
            CookieFormat::OriginalEncrypted,
        ),
        None => (signed::b64decode(payload)?, CookieFormat::Original),
    };
    let session = match cfg.serializer {
        DataSerializer::Pickle => load_pickle(&data, cfg, bson_mode, limits)?,
        DataSerializer::Json => json::loads_session(&data, &cfg.remove_keys, bson_mode, limits)?,
    };
    Ok((session, format))
}

fn load_pickle(
    data: &[u8],
    cfg: &OriginalFormat,
    bson_mode: bool,
    limits: &Limits,
) -> Result<Document> {
    let value = pickle::loads(data, limits)?;
    pickle::to_session(value, &cfg.remove_keys, bson_mode)
}

/// Writes a session in the original format: `hex(HMAC-SHA1) ++ b64(serialized)`, or
/// with an encryption key `hex(HMAC-SHA1) ++ nonce ++ b64(encrypted)`.
///
/// # Errors
/// [`Error::Unserializable`] for values the serializer cannot hold,
/// [`Error::InvalidOption`] for non-ASCII keys with encryption, [`Error::Encrypt`].
pub(crate) fn encode(session: &Document, cfg: &OriginalFormat) -> Result<String> {
    let data = match cfg.serializer {
        DataSerializer::Pickle => pickle::dumps(session)?,
        DataSerializer::Json => json::dumps(session)?,
    };
    let validate_key = cfg.validate_key.bytes();
    let body = match &cfg.encryption {
        Some(enc) => encrypted::seal(&data, validate_key, enc)?,
        None => signed::b64encode(&data),
    };
    Ok(signed::sign(&body, validate_key))
}
