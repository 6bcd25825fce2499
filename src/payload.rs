//! The `bsZ` payload: BSON (top-level `_id` first) → zlib level 9 → base85, and the
//! claims → session merge of the reference. STUB.

use bson::Document;

use crate::codec::Limits;
use crate::error::{Error, Result};

/// The claims JSON text `{"bsZ":"<base85(zlib(bson))>"}` for a session.
pub(crate) fn bsz_claims(session: &Document) -> Result<String> {
    let _ = session;
    Err(Error::Zlib)
}

/// The session held by verified claims bytes, as `_decrypt_data` computes it.
pub(crate) fn session_from_claims(
    claims: &[u8],
    bson_mode: bool,
    limits: &Limits,
) -> Result<Document> {
    let _ = (claims, bson_mode, limits);
    Err(Error::InvalidClaims)
}
