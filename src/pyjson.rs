//! Python's `json` module, as the reference uses it: `json.loads` (NaN/Infinity,
//! unbounded ints, duplicate keys, UTF-16/32 detection) and `json.dumps` rendering
//! (Python float repr, raw UTF-8 or `\uXXXX` escapes). STUB.

use bson::{Bson, Document};

use crate::error::{Error, Result};

/// `json.dumps(claims, ensure_ascii=False, separators=(",", ":"))` of a JSON-mode
/// session, with joserfc's top-level `exp`/`iat`/`nbf` datetime conversion.
pub(crate) fn dumps_claims(session: &Document) -> Result<String> {
    let _ = session;
    Err(Error::InvalidJson("unimplemented".into()))
}

/// `json.dumps(session)` with Python's defaults (`", "`, `": "`, `ensure_ascii=True`),
/// as the original format's json serializer writes it.
pub(crate) fn dumps_default(session: &Document) -> Result<String> {
    let _ = session;
    Err(Error::InvalidJson("unimplemented".into()))
}

/// `json.loads(bytes)`: any JSON value; integers beyond int64 are
/// [`Error::IntegerOutOfRange`] naming the top-level key; depth capped.
pub(crate) fn loads(bytes: &[u8], max_depth: usize) -> Result<Bson> {
    let _ = (bytes, max_depth);
    Err(Error::InvalidJson("unimplemented".into()))
}
