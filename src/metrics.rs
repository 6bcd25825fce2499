//! Rotation and migration counters.
//!
//! [`SessionMetrics`] counts, for every session cookie the session layer reads,
//! which key position verified it and which format it was in, and how many were
//! rejected (by [`Error::kind`]). An operator watches these to know when an old key
//! can leave `jwt_secret_keys` (its position stays at zero for a full cookie
//! lifetime) and when `read_original_format` can be switched off.
//!
//! The counters are atomics: recording is lock-free on the hot path, a
//! [`snapshot`](SessionMetrics::snapshot) is cheap, and one `Arc<SessionMetrics>`
//! can be shared by every worker (and by several [`SessionConfig`](crate::SessionConfig)s).
//!
//! ```
//! use beaker_session_jwt::{CookieFormat, SessionMetrics};
//!
//! let metrics = SessionMetrics::new(2);
//! metrics.record_verified(CookieFormat::Jwt, Some(1)); // an old key verified it
//! metrics.record_rejected("bad_signature");
//! let snap = metrics.snapshot();
//! assert_eq!(snap.by_key, vec![0, 1]);
//! assert_eq!(snap.jwt, 1);
//! assert_eq!(snap.rejected.get("bad_signature"), Some(&1));
//! ```

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::codec::CookieFormat;
#[allow(unused_imports)] // for the intra-doc link
use crate::error::Error;

/// Thread-safe counters of what the session layer read and wrote.
#[derive(Debug, Default)]
pub struct SessionMetrics {
    by_key: Vec<AtomicU64>,
    /// JWTs verified by a key position beyond the configured ones (a metrics
    /// object shared by configs with more keys than it was sized for).
    by_key_overflow: AtomicU64,
    jwt: AtomicU64,
    original: AtomicU64,
    original_encrypted: AtomicU64,
    no_cookie: AtomicU64,
    invalidated: AtomicU64,
    timed_out: AtomicU64,
    reissued: AtomicU64,
    // Rejections are rare; a read lock finds the counter of a known kind, the
    // write lock is taken once per new kind.
    rejected: RwLock<BTreeMap<&'static str, AtomicU64>>,
}

/// A point-in-time copy of [`SessionMetrics`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// JWT cookies verified per key position (0 = the signing key).
    pub by_key: Vec<u64>,
    /// JWT cookies verified by a position beyond `by_key` (normally 0).
    pub by_key_overflow: u64,
    /// Cookies read in the JWT format.
    pub jwt: u64,
    /// Cookies read in the original signed format.
    pub original: u64,
    /// Cookies read in the original encrypted format.
    pub original_encrypted: u64,
    /// Requests without a session cookie (new sessions).
    pub no_cookie: u64,
    /// Rejected cookies replaced by a fresh session (`invalidate_corrupt`).
    pub invalidated: u64,
    /// Sessions cleared by `timeout`.
    pub timed_out: u64,
    /// Cookies written back in the current key and format because they were read
    /// with an old key or in the original format.
    pub reissued: u64,
    /// Rejected cookies by [`Error::kind`].
    pub rejected: BTreeMap<String, u64>,
}

impl MetricsSnapshot {
    /// Total rejected cookies.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    /// True when no cookie was verified by a key other than the signing key: the
    /// old keys can be dropped once this holds for a whole cookie lifetime.
    pub fn old_keys_unused(&self) -> bool {
        self.by_key.iter().skip(1).all(|&n| n == 0) && self.by_key_overflow == 0
    }

    /// True when no original-format cookie was read: `read_original_format` can be
    /// switched off once this holds for a whole cookie lifetime.
    pub fn original_format_unused(&self) -> bool {
        self.original == 0 && self.original_encrypted == 0
    }
}

impl SessionMetrics {
    /// Counters for a key ring of `key_count` keys.
    pub fn new(key_count: usize) -> Self {
        SessionMetrics {
            by_key: (0..key_count).map(|_| AtomicU64::new(0)).collect(),
            ..Default::default()
        }
    }

    /// Counts a cookie that decoded: its format and, for JWTs, the key position.
    pub fn record_verified(&self, format: CookieFormat, key_index: Option<usize>) {
        let counter = match format {
            CookieFormat::Jwt => &self.jwt,
            CookieFormat::Original => &self.original,
            CookieFormat::OriginalEncrypted => &self.original_encrypted,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(i) = key_index {
            match self.by_key.get(i) {
                Some(c) => c.fetch_add(1, Ordering::Relaxed),
                None => self.by_key_overflow.fetch_add(1, Ordering::Relaxed),
            };
        }
    }

    /// Counts a rejected cookie under its error kind ([`Error::kind`]).
    pub fn record_rejected(&self, kind: &'static str) {
        if let Ok(map) = self.rejected.read()
            && let Some(c) = map.get(kind)
        {
            c.fetch_add(1, Ordering::Relaxed);
            return;
        }
        // A poisoned lock only means another thread panicked while inserting; the
        // map itself is still consistent, so keep counting.
        let mut map = self.rejected.write().unwrap_or_else(|p| p.into_inner());
        map.entry(kind)
            .or_insert_with(|| AtomicU64::new(0))
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a request without a session cookie.
    pub fn record_no_cookie(&self) {
        self.no_cookie.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a rejected cookie replaced by a fresh session.
    pub fn record_invalidated(&self) {
        self.invalidated.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a session cleared by `timeout`.
    pub fn record_timed_out(&self) {
        self.timed_out.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a cookie re-issued in the current key and format.
    pub fn record_reissued(&self) {
        self.reissued.fetch_add(1, Ordering::Relaxed);
    }

    /// A copy of all counters. Each counter is read atomically; the snapshot as a
    /// whole is not a single atomic cut, which is fine for monitoring.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let rejected = self
            .rejected
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, v)| ((*k).to_owned(), load(v)))
            .collect();
        MetricsSnapshot {
            by_key: self.by_key.iter().map(load).collect(),
            by_key_overflow: load(&self.by_key_overflow),
            jwt: load(&self.jwt),
            original: load(&self.original),
            original_encrypted: load(&self.original_encrypted),
            no_cookie: load(&self.no_cookie),
            invalidated: load(&self.invalidated),
            timed_out: load(&self.timed_out),
            reissued: load(&self.reissued),
            rejected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn counts_from_many_threads() {
        let m = Arc::new(SessionMetrics::new(3));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let m = Arc::clone(&m);
                std::thread::spawn(move || {
                    for i in 0..1000 {
                        m.record_verified(CookieFormat::Jwt, Some((i + t) % 3));
                        if i % 10 == 0 {
                            m.record_rejected(if t % 2 == 0 { "bad_signature" } else { "zlib" });
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let s = m.snapshot();
        assert_eq!(s.by_key.iter().sum::<u64>(), 4000);
        assert_eq!(s.jwt, 4000);
        assert_eq!(s.rejected_total(), 400);
        assert_eq!(s.rejected.get("zlib"), Some(&200));
        assert!(!s.old_keys_unused());
        assert!(s.original_format_unused());
    }

    #[test]
    fn positions_beyond_the_ring_are_counted_apart() {
        let m = SessionMetrics::new(1);
        m.record_verified(CookieFormat::Jwt, Some(0));
        assert!(m.snapshot().old_keys_unused());
        m.record_verified(CookieFormat::Jwt, Some(5));
        m.record_verified(CookieFormat::Original, None);
        let s = m.snapshot();
        assert_eq!(s.by_key, vec![1]);
        assert_eq!(s.by_key_overflow, 1);
        assert!(!s.old_keys_unused());
        assert!(!s.original_format_unused());
    }
}
