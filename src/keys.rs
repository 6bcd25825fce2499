//! Secret keys: Beaker's `aslist` parsing of `jwt_secret_keys`, zeroized storage and
//! redacted `Debug`.

use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::hs256::Hs256Key;

/// Keys shorter than this only draw a warning from the reference (joserfc); we
/// accept them too and report them through [`KeyRing::short_keys`].
pub const SHORT_KEY_BYTES: usize = 14;

/// One secret key: the UTF-8 bytes of a stripped key string, exactly what the
/// reference passes to HMAC. Zeroized on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey(Arc<KeyMaterial>);

/// The key bytes and, derived from them once, HMAC-SHA256's keyed states (as secret
/// as the key, zeroized on drop too), so no JWT sign or verify redoes the key schedule.
struct KeyMaterial {
    bytes: Zeroizing<Vec<u8>>,
    hs256: Hs256Key,
}

impl SecretKey {
    /// Wraps raw key bytes.
    ///
    /// ```
    /// use beaker_session_jwt::SecretKey;
    /// let key = SecretKey::new("s3cret");
    /// assert_eq!(format!("{key:?}"), "SecretKey { .. }");
    /// ```
    pub fn new(bytes: impl AsRef<[u8]>) -> Self {
        let bytes = Zeroizing::new(bytes.as_ref().to_vec());
        let hs256 = Hs256Key::new(&bytes);
        SecretKey(Arc::new(KeyMaterial { bytes, hs256 }))
    }

    /// The key bytes, for the MAC computations of this crate.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0.bytes
    }

    /// The precomputed HMAC-SHA256 key, for the JWT signatures.
    pub(crate) fn hs256(&self) -> &Hs256Key {
        &self.0.hs256
    }

    /// Length of the key in bytes.
    pub fn len(&self) -> usize {
        self.0.bytes.len()
    }

    /// True if the key has no bytes (never the case for keys from [`KeyRing::parse`]).
    pub fn is_empty(&self) -> bool {
        self.0.bytes.is_empty()
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey { .. }")
    }
}

/// The ordered list of JWT keys: the first signs, every one verifies.
#[derive(Clone)]
pub struct KeyRing {
    /// The first key, kept apart so that getting it cannot fail.
    signing: SecretKey,
    keys: Vec<SecretKey>,
}

impl KeyRing {
    /// Parses `jwt_secret_keys` the way beaker-session-jwt does: Beaker's
    /// `aslist(value, sep=",")` (split on commas, strip each piece), then each piece
    /// is used as the UTF-8 bytes of the key.
    ///
    /// # Errors
    /// [`Error::EmptySecretKey`] when a piece is empty after stripping (`"a,,b"`, a
    /// trailing comma, or an empty value), as the reference's
    /// `ValueError("oct key material must not be empty")`.
    ///
    /// ```
    /// use beaker_session_jwt::KeyRing;
    /// let ring = KeyRing::parse(" new key , old-key ").unwrap();
    /// assert_eq!(ring.len(), 2);
    /// assert!(KeyRing::parse("a,,b").is_err());
    /// ```
    pub fn parse(value: &str) -> Result<Self> {
        let keys = value
            .split(',')
            .map(py_strip)
            .enumerate()
            .map(|(position, piece)| {
                if piece.is_empty() {
                    Err(Error::EmptySecretKey { position })
                } else {
                    Ok(SecretKey::new(piece.as_bytes()))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Self::from_keys(keys)
    }

    /// Builds a ring from keys, first one signing.
    ///
    /// # Errors
    /// [`Error::NoSecretKeys`] for an empty list, [`Error::EmptySecretKey`] for an
    /// empty key.
    pub fn from_keys(keys: Vec<SecretKey>) -> Result<Self> {
        let signing = keys.first().cloned().ok_or(Error::NoSecretKeys)?;
        if let Some(position) = keys.iter().position(SecretKey::is_empty) {
            return Err(Error::EmptySecretKey { position });
        }
        Ok(KeyRing { signing, keys })
    }

    /// The signing key (the first).
    pub fn signing_key(&self) -> &SecretKey {
        &self.signing
    }

    /// All keys in verification order.
    pub fn keys(&self) -> &[SecretKey] {
        &self.keys
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Always false: a ring holds at least one key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Positions of keys shorter than 14 bytes, which the reference accepts with a
    /// warning. Use it to warn at start-up.
    pub fn short_keys(&self) -> Vec<usize> {
        self.keys
            .iter()
            .enumerate()
            .filter(|(_, k)| k.len() < SHORT_KEY_BYTES)
            .map(|(i, _)| i)
            .collect()
    }
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyRing {{ keys: {}, .. }}", self.keys.len())
    }
}

/// Python's `str.strip()` with no argument: strips Unicode whitespace, like
/// Rust's `trim`, plus the ASCII separators 0x1C..0x1F that Python also counts.
pub(crate) fn py_strip(s: &str) -> &str {
    s.trim_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c))
}

/// Beaker's `aslist(value, sep=",")`: split on commas, strip each piece; empty
/// pieces are kept.
pub(crate) fn aslist(value: &str) -> Vec<String> {
    value.split(',').map(|s| py_strip(s).to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let ring = KeyRing::parse("topsecret,other").unwrap();
        assert_eq!(format!("{ring:?}"), "KeyRing { keys: 2, .. }");
        assert_eq!(format!("{:?}", ring.signing_key()), "SecretKey { .. }");
    }

    #[test]
    fn aslist_rules() {
        let ring = KeyRing::parse("  a b ,c\t").unwrap();
        assert_eq!(ring.keys()[0].bytes(), b"a b");
        assert_eq!(ring.keys()[1].bytes(), b"c");
        assert!(matches!(
            KeyRing::parse("a,"),
            Err(Error::EmptySecretKey { position: 1 })
        ));
        assert!(matches!(
            KeyRing::parse(""),
            Err(Error::EmptySecretKey { position: 0 })
        ));
        assert!(matches!(
            KeyRing::from_keys(vec![]),
            Err(Error::NoSecretKeys)
        ));
        assert_eq!(aslist("x, y,,"), vec!["x", "y", "", ""]);
    }

    #[test]
    fn short_keys_are_reported() {
        let ring = KeyRing::parse("short, a-much-longer-key-of-many-bytes").unwrap();
        assert_eq!(ring.short_keys(), vec![0]);
    }
}
