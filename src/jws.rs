//! Compact HS256 JWS exactly as joserfc 1.8 reads and writes it (formats.md §1.1-1.7).
//! STUB: to be implemented.

use crate::error::{Error, Result};
use crate::keys::{KeyRing, SecretKey};

/// Signs claims bytes with the signing key: `header.payload.signature`.
pub(crate) fn sign(claims: &[u8], key: &SecretKey) -> String {
    let _ = (claims, key);
    String::new()
}

/// Checks a token in joserfc's order and verifies it with each key in turn.
/// Returns the decoded claims bytes and the index of the key that verified it.
pub(crate) fn verify(token: &str, keys: &KeyRing) -> Result<(Vec<u8>, usize)> {
    let _ = (token, keys);
    Err(Error::MalformedToken)
}
