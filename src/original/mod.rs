//! The original Beaker cookie format (formats.md §2): signed value, lax base64,
//! pickle and json serializers, encrypted variants. STUB.

use bson::Document;

use crate::codec::{CookieFormat, Limits, OriginalFormat};
use crate::error::{Error, Result};

mod pickle;

/// Reads an original-format cookie value (after the JWT reader gave up).
pub(crate) fn decode(
    value: &str,
    cfg: &OriginalFormat,
    bson_mode: bool,
    limits: &Limits,
) -> Result<(Document, CookieFormat)> {
    let _ = (value, cfg, bson_mode, limits);
    Err(Error::BadOriginalSignature)
}

/// Writes a session in the original format.
pub(crate) fn encode(session: &Document, cfg: &OriginalFormat) -> Result<String> {
    let _ = (session, cfg);
    Err(Error::BadOriginalSignature)
}
