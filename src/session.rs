//! Sessions over `http` headers, with Beaker's semantics.
//!
//! [`SessionConfig`] holds everything a request needs (the [`Codec`], the cookie
//! options, a [`Clock`], the [`SessionMetrics`]); [`SessionConfig::load`] turns a
//! request's `Cookie` header(s) into a [`Session`]; [`Session::finish`] decides,
//! exactly as Beaker's `SessionMiddleware` with beaker-session-jwt's
//! `JWTCookieSession` does, whether the response carries a `Set-Cookie` and what
//! it says (formats.md §3.3):
//!
//! * a session that was never accessed writes nothing (Beaker loads sessions
//!   lazily, on first access);
//! * a new session writes a cookie only when [`save`](Session::save) (or
//!   [`delete`](Session::delete)) was called;
//! * an existing session that was accessed is always written back, with a fresh
//!   `_accessed_time`: in full after `save()`, otherwise as it was loaded (changes
//!   made without `save()` are discarded, as in Beaker);
//! * a cookie verified by an old key or read in the original format is written
//!   back in the current key and format even when the application did not touch
//!   the session (`reissue_cookies`, on by default), so key rotation and format
//!   migration complete as users come back.
//!
//! Beaker loads a session only when the application first touches it, so a bad
//! cookie on a request that never uses the session causes no error there.
//! [`SessionConfig::load_lazy`] gives exactly that ([`LazySession`]);
//! [`SessionConfig::load`] loads at once and tracks accesses instead (a session
//! loaded but never touched still writes nothing).
//!
//! ```
//! use beaker_session_jwt::{BeakerOptions, SessionConfig};
//! use http::HeaderMap;
//!
//! let options = BeakerOptions::from_pairs([
//!     ("session.jwt_secret_keys", "new-key-0123456789, old-key-0123456789"),
//!     ("session.httponly", "true"),
//! ]);
//! let config = SessionConfig::from_options(&options)?;
//!
//! // First request: no cookie, the app logs the user in and saves.
//! let mut session = config.load(&HeaderMap::new())?;
//! assert!(session.is_new());
//! session.insert("user_id", 42);
//! session.save();
//! let set_cookie = session.finish()?.expect("a saved session writes a cookie");
//! let header = set_cookie.to_str().unwrap();
//! assert!(header.starts_with("beaker.session.id=eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9."));
//! assert!(header.contains("; HttpOnly"));
//!
//! // Next request: the browser sends the cookie back.
//! let cookie = header.split(';').next().unwrap();
//! let mut request = HeaderMap::new();
//! request.insert(http::header::COOKIE, cookie.parse().unwrap());
//! let session = config.load(&request)?;
//! assert!(!session.is_new());
//! assert_eq!(session.get("user_id"), Some(&42.into()));
//! # Ok::<(), beaker_session_jwt::Error>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use bson::{Bson, Document};
use http::{HeaderMap, HeaderValue};
use time::Duration;

use crate::codec::{Codec, CookieFormat, Decoded};
use crate::config::BeakerOptions;
use crate::cookies::{
    self, CookieExpires, CookieFlags, DEFAULT_COOKIE_NAME, MAX_COOKIE_VALUE_LEN, SameSite,
    SetCookie,
};
use crate::error::{Error, Result};
use crate::metrics::SessionMetrics;

// ------------------------------------------------------------------------- clock

/// The time source of the session layer: seconds since the Unix epoch, as
/// Python's `time.time()` gives them. Inject a [`ManualClock`] in tests.
pub trait Clock: Send + Sync {
    /// The current time in seconds since the Unix epoch.
    fn now(&self) -> f64;
}

/// The system clock (the default).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> f64 {
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => d.as_secs_f64(),
            Err(e) => -e.duration().as_secs_f64(),
        }
    }
}

/// A clock that only moves when told to; share it through an `Arc`.
///
/// ```
/// use std::sync::Arc;
/// use beaker_session_jwt::{Clock, ManualClock};
///
/// let clock = Arc::new(ManualClock::new(1718000000.5));
/// clock.advance(60.0);
/// assert_eq!(clock.now(), 1718000060.5);
/// ```
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock standing at `now` (seconds since the epoch).
    pub fn new(now: f64) -> Self {
        ManualClock(AtomicU64::new(now.to_bits()))
    }

    /// Sets the time.
    pub fn set(&self, now: f64) {
        self.0.store(now.to_bits(), Ordering::SeqCst);
    }

    /// Moves the time forward by `seconds`.
    pub fn advance(&self, seconds: f64) {
        self.set(self.now() + seconds);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::SeqCst))
    }
}

/// A source of new session ids. The default is `uuid4().hex`, as Beaker's.
pub type IdGenerator = Arc<dyn Fn() -> String + Send + Sync>;

fn uuid4_hex() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

// ------------------------------------------------------------------------- config

struct ConfigInner {
    codec: Codec,
    key: String,
    timeout: Option<u64>,
    cookie_expires: CookieExpires,
    cookie_domain: Option<String>,
    cookie_path: String,
    flags: CookieFlags,
    save_accessed_time: bool,
    invalidate_corrupt: bool,
    reissue_cookies: bool,
    auto: bool,
    clock: Arc<dyn Clock>,
    ids: Option<IdGenerator>,
    metrics: Arc<SessionMetrics>,
}

/// Everything the session layer needs, built once at start-up and shared (cheap to
/// clone).
///
/// Build it from the app's Beaker options ([`from_options`](Self::from_options)) or
/// with the typed [`builder`](Self::builder).
#[derive(Clone)]
pub struct SessionConfig(Arc<ConfigInner>);

impl fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &*self.0;
        f.debug_struct("SessionConfig")
            .field("codec", &c.codec)
            .field("key", &c.key)
            .field("timeout", &c.timeout)
            .field("cookie_expires", &c.cookie_expires)
            .field("cookie_domain", &c.cookie_domain)
            .field("cookie_path", &c.cookie_path)
            .field("secure", &c.flags.secure)
            .field("httponly", &c.flags.httponly)
            .field("samesite", &c.flags.samesite)
            .field("save_accessed_time", &c.save_accessed_time)
            .field("invalidate_corrupt", &c.invalidate_corrupt)
            .field("reissue_cookies", &c.reissue_cookies)
            .field("auto", &c.auto)
            .finish_non_exhaustive()
    }
}

fn invalid(option: &str, reason: &str) -> Error {
    Error::InvalidOption {
        option: option.into(),
        reason: reason.into(),
    }
}

/// A string option that Beaker's `coerce_session_params` refuses when empty.
fn non_empty(options: &BeakerOptions, name: &str) -> Result<Option<String>> {
    match options.get(name) {
        None => Ok(None),
        Some(v) if crate::keys::py_strip(v).is_empty() => {
            Err(invalid(name, "empty strings are invalid"))
        }
        Some(v) => Ok(Some(v.to_owned())),
    }
}

impl SessionConfig {
    /// A typed builder around a codec.
    ///
    /// ```
    /// use beaker_session_jwt::{Codec, SessionConfig, cookies::{CookieExpires, SameSite}};
    ///
    /// let codec = Codec::builder().secret_keys(["new-key-0123456789"]).build()?;
    /// let config = SessionConfig::builder(codec)
    ///     .key("sid")
    ///     .timeout(Some(3600))
    ///     .cookie_expires(CookieExpires::After(86400))
    ///     .secure(true)
    ///     .same_site(Some(SameSite::Strict))
    ///     .build()?;
    /// assert_eq!(config.key(), "sid");
    /// # Ok::<(), beaker_session_jwt::Error>(())
    /// ```
    pub fn builder(codec: Codec) -> SessionConfigBuilder {
        SessionConfigBuilder::new(codec)
    }

    /// Builds the configuration from Beaker options, as `SessionMiddleware` reads
    /// them from an ini file: `key`, `timeout`, `cookie_expires`, `cookie_domain`,
    /// `cookie_path`, `secure`, `httponly`, `samesite`, `save_accessed_time`,
    /// `invalidate_corrupt`, `auto`, this crate's `reissue_cookies`, and the
    /// codec's options ([`Codec::from_options`]).
    ///
    /// Rules, as the reference applies them: booleans use Beaker's `asbool`
    /// spellings; `timeout` is a string of digits; `cookie_expires` as in
    /// [`CookieExpires::parse_option`]; `key`, `cookie_domain` and `cookie_path`
    /// must not be empty; `samesite` defaults to `Lax`, an empty value omits the
    /// attribute. `invalidate_corrupt` defaults to true (`SessionMiddleware`'s
    /// default) and, **like the reference**, is not coerced: any non-empty string,
    /// `false` included, leaves it on (Beaker passes the string on and tests its
    /// truth); only an empty value turns it off. Use the builder for a real
    /// boolean.
    ///
    /// ```
    /// use beaker_session_jwt::{BeakerOptions, SessionConfig};
    ///
    /// let ini = "[app:main]\nsession.jwt_secret_keys = k-0123456789abcdef\n\
    ///            session.key = sid\nsession.timeout = 1800\nsession.cookie_expires = 86400\n";
    /// let config = SessionConfig::from_options(&BeakerOptions::from_ini_str(ini, "app:main")?)?;
    /// assert_eq!(config.key(), "sid");
    /// assert_eq!(config.timeout(), Some(1800));
    ///
    /// let bad = BeakerOptions::from_pairs([
    ///     ("session.jwt_secret_keys", "k-0123456789abcdef"),
    ///     ("session.timeout", "60"),
    ///     ("session.save_accessed_time", "false"),
    /// ]);
    /// let err = SessionConfig::from_options(&bad).unwrap_err();
    /// assert!(err.to_string().contains("timeout requires save_accessed_time"));
    /// # Ok::<(), beaker_session_jwt::Error>(())
    /// ```
    ///
    /// # Errors
    /// The codec's configuration errors, [`Error::InvalidBool`] and
    /// [`Error::InvalidOption`] for malformed values, an illegal cookie name (the
    /// reference fails on every cookie it would write), a `cookie_domain` or
    /// `cookie_path` with `;` or control characters, and `timeout` without
    /// `save_accessed_time` ("timeout requires save_accessed_time").
    pub fn from_options(options: &BeakerOptions) -> Result<SessionConfig> {
        Self::builder_from_options(options)?.build()
    }

    /// Like [`from_options`](Self::from_options), returning the builder so that
    /// code-only settings (clock, id generator, shared metrics) can be added.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use beaker_session_jwt::{BeakerOptions, ManualClock, SessionConfig};
    ///
    /// let options = BeakerOptions::from_pairs([("session.jwt_secret_keys", "k-0123456789abcdef")]);
    /// let config = SessionConfig::builder_from_options(&options)?
    ///     .clock(Arc::new(ManualClock::new(1718000000.0)))
    ///     .build()?;
    /// assert_eq!(config.clock().now(), 1718000000.0);
    /// # Ok::<(), beaker_session_jwt::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`from_options`](Self::from_options), except for the checks
    /// [`SessionConfigBuilder::build`] makes.
    pub fn builder_from_options(options: &BeakerOptions) -> Result<SessionConfigBuilder> {
        let codec = Codec::from_options(options)?;
        let mut b = SessionConfigBuilder::new(codec);
        if let Some(key) = non_empty(options, "key")? {
            b = b.key(key);
        }
        if let Some(t) = options.get("timeout") {
            let digits = t.strip_suffix('\n').unwrap_or(t);
            if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                return Err(invalid("timeout", "expected an integer number of seconds"));
            }
            let secs = digits
                .parse::<u64>()
                .map_err(|_| invalid("timeout", "number too large"))?;
            b = b.timeout(Some(secs));
        }
        if let Some(v) = options.get("cookie_expires") {
            b = b.cookie_expires(CookieExpires::parse_option(v)?);
        }
        if let Some(d) = non_empty(options, "cookie_domain")? {
            b = b.cookie_domain(Some(d));
        }
        if let Some(p) = non_empty(options, "cookie_path")? {
            b = b.cookie_path(p);
        }
        b = b
            .secure(options.get_bool("secure", false)?)
            .httponly(options.get_bool("httponly", false)?)
            .save_accessed_time(options.get_bool("save_accessed_time", true)?)
            .reissue_cookies(options.get_bool("reissue_cookies", true)?)
            .auto(options.get_bool("auto", false)?);
        if let Some(s) = options.get("samesite") {
            b = b.same_site(SameSite::parse_option(s)?);
        }
        if let Some(v) = options.get("invalidate_corrupt") {
            // Beaker does not coerce this option: the ini string's truth decides.
            b = b.invalidate_corrupt(!v.is_empty());
        }
        Ok(b)
    }

    /// Loads the session of a request from its `Cookie` header(s)
    /// ([`cookies::cookie_header_string`]).
    ///
    /// # Errors
    /// Without `invalidate_corrupt`, the codec's error for a cookie it rejects;
    /// with `timeout`, [`Error::InvalidAccessedTime`]. (Beaker also re-encodes the
    /// session as soon as it is loaded, so a loaded session too long to write back
    /// fails there already; that encoding is only needed when no later cookie
    /// replaces it, so here it waits for [`Session::finish`], which reports the
    /// error instead.)
    pub fn load(&self, headers: &HeaderMap) -> Result<Session> {
        self.load_cookie_header(cookies::cookie_header_string(headers).as_deref())
    }

    /// Like [`load`](Self::load), from the `Cookie` header as one string (WSGI's
    /// `HTTP_COOKIE`), for frameworks without `http` types.
    ///
    /// ```
    /// use beaker_session_jwt::{Codec, SessionConfig};
    ///
    /// let config = SessionConfig::builder(Codec::builder().secret_keys(["k-0123456789abcdef"]).build()?).build()?;
    /// // a corrupt cookie becomes a fresh session plus a warning (invalidate_corrupt)
    /// let session = config.load_cookie_header(Some("beaker.session.id=garbage"))?;
    /// assert_eq!(session.warning().map(|w| w.error_kind()), Some("malformed_token"));
    /// assert!(!session.is_new()); // as in Beaker: a cookie was sent
    /// # Ok::<(), beaker_session_jwt::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`load`](Self::load).
    pub fn load_cookie_header(&self, header: Option<&str>) -> Result<Session> {
        let c = &*self.0;
        let mut s = Session::blank(self.clone());
        let id = self.new_id();
        s.data.insert("_id", id);
        let Some(value) = header.and_then(|h| cookies::find_session_cookie(h, &c.key)) else {
            c.metrics.record_no_cookie();
            return Ok(s);
        };
        s.is_new = false;
        match c.codec.decode(&value) {
            Ok(decoded) => {
                let Decoded {
                    session,
                    format,
                    key_index,
                    ..
                } = decoded;
                c.metrics.record_verified(format, key_index);
                s.origin = Some(CookieOrigin { format, key_index });
                for (k, v) in session {
                    s.data.insert(k, v);
                }
            }
            Err(e) => {
                c.metrics.record_rejected(e.kind());
                if !c.invalidate_corrupt {
                    return Err(e);
                }
                c.metrics.record_invalidated();
                s.warning = Some(SessionWarning::CorruptCookie { kind: e.kind() });
                s.clear();
                s.data.insert("_id", self.new_id());
            }
        }
        if let Some(timeout) = c.timeout {
            let now = c.clock.now();
            let last = match s.data.get("_accessed_time") {
                None => now,
                Some(v) => python_number(v).ok_or(Error::InvalidAccessedTime)?,
            };
            // f64 arithmetic, as Python's float comparison (a NaN never times out)
            if now - last > timeout as f64 {
                c.metrics.record_timed_out();
                s.timed_out = true;
                s.clear();
            }
        }
        s.accessed_dict = Some(s.data.clone());
        // Beaker encodes the session here already; that value is only sent when no
        // later cookie replaces it (save_accessed_time off and no save()), so the
        // encoding waits for finish().
        s.create_cookie_deferred()?;
        Ok(s)
    }

    /// Defers loading to the first access, as Beaker's `SessionObject` does: a
    /// request that never touches its session never decodes the cookie and never
    /// fails because of it (unless `reissue_cookies` needs to look, in which case
    /// a failure just means nothing is re-issued).
    ///
    /// ```
    /// use beaker_session_jwt::{Codec, SessionConfig};
    /// use http::{HeaderMap, header::COOKIE};
    ///
    /// let codec = Codec::builder().secret_keys(["k-0123456789abcdef"]).build()?;
    /// let config = SessionConfig::builder(codec).invalidate_corrupt(false).build()?;
    /// let mut headers = HeaderMap::new();
    /// headers.insert(COOKIE, "beaker.session.id=garbage".parse().unwrap());
    ///
    /// let mut untouched = config.load_lazy(&headers);
    /// assert!(untouched.finish()?.is_none()); // never loaded, no error
    ///
    /// let mut touched = config.load_lazy(&headers);
    /// assert!(touched.get().is_err()); // the first access reports the bad cookie
    /// # Ok::<(), beaker_session_jwt::Error>(())
    /// ```
    pub fn load_lazy(&self, headers: &HeaderMap) -> LazySession {
        LazySession {
            config: self.clone(),
            header: cookies::cookie_header_string(headers),
            session: None,
        }
    }

    /// A new, empty session, as for a request without a cookie.
    pub fn new_session(&self) -> Session {
        self.0.metrics.record_no_cookie();
        let mut s = Session::blank(self.clone());
        s.data.insert("_id", self.new_id());
        s
    }

    fn new_id(&self) -> String {
        match &self.0.ids {
            Some(f) => f(),
            None => uuid4_hex(),
        }
    }

    /// The codec.
    pub fn codec(&self) -> &Codec {
        &self.0.codec
    }

    /// The cookie name (`key`).
    pub fn key(&self) -> &str {
        &self.0.key
    }

    /// The `timeout` in seconds, if any.
    pub fn timeout(&self) -> Option<u64> {
        self.0.timeout
    }

    /// The shared counters.
    pub fn metrics(&self) -> &Arc<SessionMetrics> {
        &self.0.metrics
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.0.clock
    }
}

/// Python's `float(x)` for the numbers a session may hold (`bool` is an `int`).
fn python_number(v: &Bson) -> Option<f64> {
    match *v {
        Bson::Double(f) => Some(f),
        Bson::Int32(i) => Some(f64::from(i)),
        // rounds to nearest, ties to even, as Python's int -> float
        Bson::Int64(i) => Some(i as f64),
        Bson::Boolean(b) => Some(if b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// Typed builder of a [`SessionConfig`]. Every setter documents its default.
#[must_use]
pub struct SessionConfigBuilder {
    codec: Codec,
    key: String,
    timeout: Option<u64>,
    cookie_expires: CookieExpires,
    cookie_domain: Option<String>,
    cookie_path: String,
    flags: CookieFlags,
    save_accessed_time: bool,
    invalidate_corrupt: bool,
    reissue_cookies: bool,
    auto: bool,
    clock: Arc<dyn Clock>,
    ids: Option<IdGenerator>,
    metrics: Option<Arc<SessionMetrics>>,
}

impl fmt::Debug for SessionConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionConfigBuilder")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl SessionConfigBuilder {
    fn new(codec: Codec) -> Self {
        SessionConfigBuilder {
            codec,
            key: DEFAULT_COOKIE_NAME.into(),
            timeout: None,
            cookie_expires: CookieExpires::BrowserSession,
            cookie_domain: None,
            cookie_path: "/".into(),
            flags: CookieFlags {
                secure: false,
                httponly: false,
                samesite: Some(SameSite::Lax),
            },
            save_accessed_time: true,
            invalidate_corrupt: true,
            reissue_cookies: true,
            auto: false,
            clock: Arc::new(SystemClock),
            ids: None,
            metrics: None,
        }
    }

    /// The cookie name (`key`). The default is `beaker.session.id`.
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = key.into();
        self
    }

    /// Seconds after `_accessed_time` at which a session is cleared (`timeout`).
    /// The default is `None` (never). Requires `save_accessed_time`.
    pub fn timeout(mut self, seconds: Option<u64>) -> Self {
        self.timeout = seconds;
        self
    }

    /// The cookie's lifetime in the browser (`cookie_expires`). The default is
    /// [`CookieExpires::BrowserSession`].
    pub fn cookie_expires(mut self, expires: CookieExpires) -> Self {
        self.cookie_expires = expires;
        self
    }

    /// The `Domain` attribute (`cookie_domain`). The default is none.
    pub fn cookie_domain(mut self, domain: Option<String>) -> Self {
        self.cookie_domain = domain;
        self
    }

    /// The `Path` attribute (`cookie_path`). The default is `/`.
    pub fn cookie_path(mut self, path: impl Into<String>) -> Self {
        self.cookie_path = path.into();
        self
    }

    /// The `Secure` flag (`secure`). The default is `false`.
    pub fn secure(mut self, on: bool) -> Self {
        self.flags.secure = on;
        self
    }

    /// The `HttpOnly` flag (`httponly`). The default is `false`.
    pub fn httponly(mut self, on: bool) -> Self {
        self.flags.httponly = on;
        self
    }

    /// The `SameSite` attribute (`samesite`). The default is `Some(SameSite::Lax)`;
    /// `None` omits it.
    pub fn same_site(mut self, same_site: Option<SameSite>) -> Self {
        self.flags.samesite = same_site;
        self
    }

    /// Whether `_accessed_time` is written back on every access
    /// (`save_accessed_time`). The default is `true`.
    pub fn save_accessed_time(mut self, on: bool) -> Self {
        self.save_accessed_time = on;
        self
    }

    /// Whether a rejected cookie becomes a fresh session plus a
    /// [`SessionWarning`] instead of an error (`invalidate_corrupt`). The default is
    /// `true`, `SessionMiddleware`'s.
    pub fn invalidate_corrupt(mut self, on: bool) -> Self {
        self.invalidate_corrupt = on;
        self
    }

    /// Whether a cookie verified by an old key or read in the original format is
    /// written back even when the application did not touch the session
    /// (`reissue_cookies`). The default is `true`. (A session the application
    /// accesses is always written back, as Beaker does.)
    pub fn reissue_cookies(mut self, on: bool) -> Self {
        self.reissue_cookies = on;
        self
    }

    /// Beaker's `auto`: save the whole session on every request that accessed it,
    /// as if `save()` had been called. The default is `false`.
    pub fn auto(mut self, on: bool) -> Self {
        self.auto = on;
        self
    }

    /// The time source. The default is [`SystemClock`].
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The source of new session ids. The default is `uuid4().hex`; replace it only
    /// for deterministic tests.
    pub fn id_generator(mut self, ids: IdGenerator) -> Self {
        self.ids = Some(ids);
        self
    }

    /// Counters to record into, e.g. shared between configurations. The default
    /// is a fresh [`SessionMetrics`] sized for the codec's keys.
    pub fn metrics(mut self, metrics: Arc<SessionMetrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Builds the configuration.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for an illegal cookie name, a domain or path with
    /// `;`, control or non-ASCII characters, and for a timeout without
    /// `save_accessed_time` ("timeout requires save_accessed_time").
    pub fn build(self) -> Result<SessionConfig> {
        if !cookies::is_legal_cookie_name(&self.key) {
            return Err(invalid(
                "key",
                "not a legal cookie name (ASCII letters, digits and !#$%&'*+-.^_`|~: only, not an attribute name)",
            ));
        }
        if self.timeout.is_some() && !self.save_accessed_time {
            return Err(invalid("timeout", "timeout requires save_accessed_time"));
        }
        if let Some(d) = &self.cookie_domain
            && !cookies::is_attribute_safe(d)
        {
            return Err(invalid("cookie_domain", "invalid characters"));
        }
        if !cookies::is_attribute_safe(&self.cookie_path) {
            return Err(invalid("cookie_path", "invalid characters"));
        }
        let metrics = self
            .metrics
            .unwrap_or_else(|| Arc::new(SessionMetrics::new(self.codec.key_count())));
        Ok(SessionConfig(Arc::new(ConfigInner {
            codec: self.codec,
            key: self.key,
            timeout: self.timeout,
            cookie_expires: self.cookie_expires,
            cookie_domain: self.cookie_domain,
            cookie_path: self.cookie_path,
            flags: self.flags,
            save_accessed_time: self.save_accessed_time,
            invalidate_corrupt: self.invalidate_corrupt,
            reissue_cookies: self.reissue_cookies,
            auto: self.auto,
            clock: self.clock,
            ids: self.ids,
            metrics,
        })))
    }
}

// ------------------------------------------------------------------------- lazy

/// A session loaded on first access ([`SessionConfig::load_lazy`]).
#[derive(Debug)]
pub struct LazySession {
    config: SessionConfig,
    header: Option<String>,
    session: Option<Session>,
}

impl LazySession {
    /// The session, loaded now if it was not yet; loading counts as an access.
    ///
    /// # Errors
    /// As [`SessionConfig::load`]; a failed load is retried on the next call, as
    /// Beaker's `SessionObject` does.
    pub fn get(&mut self) -> Result<&mut Session> {
        let session = match self.session.take() {
            Some(s) => s,
            None => self.config.load_cookie_header(self.header.as_deref())?,
        };
        session.touch();
        Ok(self.session.insert(session))
    }

    /// Whether the session was loaded (accessed).
    pub fn is_loaded(&self) -> bool {
        self.session.is_some()
    }

    /// The session, if it was loaded.
    pub fn into_session(self) -> Option<Session> {
        self.session
    }

    /// [`Session::finish`] for a loaded session. An unloaded one writes nothing,
    /// except that with `reissue_cookies` a cookie verified by an old key or read in
    /// the original format is loaded and written back in the current key and
    /// format; if that load fails, nothing is written and no error is reported (the
    /// application never asked for the session).
    ///
    /// # Errors
    /// As [`Session::finish`].
    pub fn finish(&mut self) -> Result<Option<HeaderValue>> {
        if let Some(s) = &mut self.session {
            return s.finish();
        }
        let c = &*self.config.0;
        let has_cookie = self
            .header
            .as_deref()
            .is_some_and(|h| cookies::find_session_cookie(h, &c.key).is_some());
        if !c.reissue_cookies || !has_cookie {
            return Ok(None);
        }
        match self.config.load_cookie_header(self.header.as_deref()) {
            Ok(mut s) if s.needs_reissue() => s.finish(),
            _ => Ok(None),
        }
    }
}

// ------------------------------------------------------------------------- session

/// Why a loaded session is not what the cookie said, for the middleware to log.
/// Never contains the cookie, a key or session data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionWarning {
    /// The cookie was rejected and replaced by a fresh session (`invalidate_corrupt`).
    CorruptCookie {
        /// The rejection's [`Error::kind`].
        kind: &'static str,
    },
}

impl SessionWarning {
    /// The [`Error::kind`] behind the warning.
    pub fn error_kind(&self) -> &'static str {
        match self {
            SessionWarning::CorruptCookie { kind } => kind,
        }
    }
}

impl fmt::Display for SessionWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionWarning::CorruptCookie { kind } => {
                write!(f, "invalidating corrupt session cookie ({kind})")
            }
        }
    }
}

/// How the session's cookie was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CookieOrigin {
    /// The cookie's format.
    pub format: CookieFormat,
    /// For JWTs, the position of the key that verified it (0 = signing key).
    pub key_index: Option<usize>,
}

impl CookieOrigin {
    /// True when the cookie is not in the current key and format
    /// ([`Decoded::needs_reissue`]).
    pub fn needs_reissue(&self) -> bool {
        self.format != CookieFormat::Jwt || self.key_index != Some(0)
    }
}

/// One request's session: a `bson::Document` with Beaker's bookkeeping.
///
/// The document holds what the Python session dict holds, in the same order:
/// `_domain` and `_path` (the configured cookie attributes; never written into
/// JWTs), `_id`, `_creation_time`, `_accessed_time` (floats, seconds since the
/// epoch) and the application's keys.
///
/// Every method except [`save`](Self::save) counts as an access (Beaker loads its
/// session on first access and only then writes a cookie); see
/// [`finish`](Self::finish).
pub struct Session {
    config: SessionConfig,
    data: Document,
    /// The session as loaded (Beaker's `accessed_dict`), restored by an
    /// accessed-only save.
    accessed_dict: Option<Document>,
    is_new: bool,
    /// `save()` or `delete()` was called (SessionObject's `_dirty`).
    dirty: bool,
    accessed: AtomicBool,
    /// The cookie's expiry; `delete()` replaces it by a past date for the rest of
    /// the request, as Beaker's `_set_cookie_expires` does.
    expires: CookieExpires,
    /// A `Domain` once set on Beaker's Morsel stays for the request.
    morsel_domain: Option<String>,
    /// The last cookie created during the request (`cookie_out`, `set_cookie`).
    pending: Option<Pending>,
    origin: Option<CookieOrigin>,
    timed_out: bool,
    warning: Option<SessionWarning>,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("data", &self.data)
            .field("is_new", &self.is_new)
            .field("dirty", &self.dirty)
            .field("accessed", &self.accessed.load(Ordering::Relaxed))
            .field("origin", &self.origin)
            .field("warning", &self.warning)
            .finish_non_exhaustive()
    }
}

impl Session {
    fn blank(config: SessionConfig) -> Session {
        let expires = config.0.cookie_expires;
        let mut s = Session {
            config,
            data: Document::new(),
            accessed_dict: None,
            is_new: true,
            dirty: false,
            accessed: AtomicBool::new(false),
            expires,
            morsel_domain: None,
            pending: None,
            origin: None,
            timed_out: false,
            warning: None,
        };
        s.clear();
        s
    }

    fn touch_inner(&self) {
        self.accessed.store(true, Ordering::Relaxed);
    }

    /// Beaker's `clear()`: empties the session but keeps `_domain` and `_path`.
    fn clear(&mut self) {
        let c = &*self.config.0;
        let mut d = Document::new();
        d.insert(
            "_domain",
            c.cookie_domain
                .as_ref()
                .map_or(Bson::Null, |s| Bson::String(s.clone())),
        );
        d.insert("_path", c.cookie_path.clone());
        self.data = d;
    }

    /// The value of a key.
    pub fn get(&self, key: &str) -> Option<&Bson> {
        self.touch_inner();
        self.data.get(key)
    }

    /// Whether the session has a key.
    pub fn contains_key(&self, key: &str) -> bool {
        self.touch_inner();
        self.data.contains_key(key)
    }

    /// Sets a key (an existing key keeps its position, as in a Python dict).
    pub fn insert(&mut self, key: impl Into<String>, value: impl Into<Bson>) -> Option<Bson> {
        self.touch_inner();
        self.data.insert(key, value)
    }

    /// Removes a key (the others keep their order).
    pub fn remove(&mut self, key: &str) -> Option<Bson> {
        self.touch_inner();
        self.data.remove(key)
    }

    /// The keys and values, in order.
    pub fn iter(&self) -> bson::document::Iter<'_> {
        self.touch_inner();
        self.data.iter()
    }

    /// The whole session.
    pub fn document(&self) -> &Document {
        self.touch_inner();
        &self.data
    }

    /// The whole session, mutable.
    pub fn document_mut(&mut self) -> &mut Document {
        self.touch_inner();
        &mut self.data
    }

    /// The session id (`_id`).
    pub fn id(&self) -> Option<&str> {
        self.touch_inner();
        self.data.get_str("_id").ok()
    }

    /// True when the request carried no session cookie. (A rejected cookie replaced
    /// under `invalidate_corrupt`, or a timed-out one, still counts as not new, as
    /// in Beaker.)
    pub fn is_new(&self) -> bool {
        self.touch_inner();
        self.is_new
    }

    /// Marks the session as accessed without reading it.
    pub fn touch(&self) {
        self.touch_inner();
    }

    /// Whether the application accessed the session.
    pub fn was_accessed(&self) -> bool {
        self.accessed.load(Ordering::Relaxed)
    }

    /// How the cookie was read; `None` for new or invalidated sessions.
    pub fn origin(&self) -> Option<CookieOrigin> {
        self.origin
    }

    /// True when the cookie was verified by an old key or read in the original
    /// format, so that it will be written back in the current key and format.
    pub fn needs_reissue(&self) -> bool {
        self.origin.is_some_and(|o| o.needs_reissue())
    }

    /// True when `timeout` cleared the session.
    pub fn timed_out(&self) -> bool {
        self.timed_out
    }

    /// The warning to log, if the cookie was rejected and replaced.
    pub fn warning(&self) -> Option<&SessionWarning> {
        self.warning.as_ref()
    }

    /// Asks for the whole session to be written when the request finishes
    /// (`SessionObject.save()`: it only marks the session; like it, this alone does
    /// not count as an access).
    pub fn save(&mut self) {
        self.dirty = true;
    }

    /// Beaker's `save(accessed_only=True)`, now: unless the session is new or
    /// `save_accessed_time` is off, discards changes since loading and creates a
    /// cookie with only `_accessed_time` renewed. [`finish`](Self::finish) does this
    /// by itself when `save()` was not called.
    ///
    /// # Errors
    /// As [`finish`](Self::finish).
    pub fn save_accessed_only(&mut self) -> Result<()> {
        self.touch_inner();
        if self.is_new || !self.config.0.save_accessed_time {
            return Ok(());
        }
        self.clear();
        if let Some(loaded) = &self.accessed_dict {
            for (k, v) in loaded {
                self.data.insert(k.clone(), v.clone());
            }
        }
        self.create_cookie()
    }

    /// Deletes the session: a cookie dated a year back replaces the browser's, and
    /// the session is cleared. As in Beaker, the deletion date stays for the rest of
    /// the request and the session is then saved, so the response carries a fresh,
    /// already expired session cookie.
    pub fn delete(&mut self) {
        self.touch_inner();
        self.dirty = true;
        let now = self.config.0.clock.now();
        let past = cookies::datetime_from_epoch(now)
            .and_then(|t| t.checked_sub(Duration::days(365)))
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        self.expires = CookieExpires::At(past);
        self.update_morsel_domain();
        // Beaker's _set_cookie_values: the value is the bare session id
        let value = self.data.get_str("_id").unwrap_or_default().to_owned();
        self.pending = Some(Pending::Ready(SetCookie {
            value,
            domain: self.morsel_domain.clone(),
            path: self.cookie_path(),
            expires: Some(past),
        }));
        self.clear();
    }

    /// Clears the session and gives it a new id. As in Beaker, call
    /// [`save`](Self::save) too, or an existing session is written back as loaded.
    pub fn invalidate(&mut self) {
        self.touch_inner();
        self.clear();
        let id = self.config.new_id();
        self.data.insert("_id", id);
    }

    /// Ends the request the way `SessionMiddleware` does and returns the
    /// `Set-Cookie` header to add, if any. Call it once, after the handler ran.
    ///
    /// Nothing is written for a session that was not accessed (unless its cookie
    /// needs re-issuing and `reissue_cookies` is on). Otherwise: with `auto`, or
    /// after [`save`](Self::save)/[`delete`](Self::delete), the whole session is
    /// written; else, with `save_accessed_time`, an existing session is written
    /// back as loaded with a new `_accessed_time`; a new unsaved session writes
    /// nothing.
    ///
    /// # Errors
    /// [`Error::CookieTooLong`] (more than 4064 characters), the codec's encoding
    /// errors ([`Error::Unserializable`], ...) and
    /// [`Error::InvalidCookieAttribute`]; in every case nothing was sent.
    pub fn finish(&mut self) -> Result<Option<HeaderValue>> {
        let config = self.config.clone();
        let c = &*config.0;
        let forced = c.reissue_cookies && self.needs_reissue() && !self.timed_out;
        if !self.was_accessed() && !forced {
            return Ok(None);
        }
        if c.auto || self.dirty {
            self.create_cookie()?;
        } else if c.save_accessed_time {
            self.save_accessed_only()?;
        }
        let pending = match self.pending.take() {
            None => return Ok(None),
            Some(Pending::Ready(p)) => p,
            Some(Pending::Deferred { snapshot, cookie }) => SetCookie {
                value: encode_checked(&c.codec, &snapshot)?,
                ..cookie
            },
        };
        let header = cookies::render_set_cookie(&c.key, &pending, &c.flags);
        self.pending = Some(Pending::Ready(pending));
        let header = header?;
        if self.needs_reissue() {
            c.metrics.record_reissued();
        }
        Ok(Some(header))
    }

    fn cookie_path(&self) -> String {
        match self.data.get("_path") {
            Some(Bson::String(p)) => p.clone(),
            _ => "/".into(),
        }
    }

    /// Beaker sets `Domain` on its Morsel only when `_domain` is truthy, and never
    /// removes it.
    fn update_morsel_domain(&mut self) {
        if let Some(Bson::String(d)) = self.data.get("_domain")
            && !d.is_empty()
        {
            self.morsel_domain = Some(d.clone());
        }
    }

    /// Beaker's `_create_cookie`.
    fn create_cookie(&mut self) -> Result<()> {
        self.create_cookie_inner(false)
    }

    /// Beaker's `_create_cookie`, with the encoding left to [`finish`](Self::finish).
    fn create_cookie_deferred(&mut self) -> Result<()> {
        self.create_cookie_inner(true)
    }

    fn create_cookie_inner(&mut self, defer: bool) -> Result<()> {
        let config = self.config.clone();
        let c = &*config.0;
        let now = c.clock.now();
        if !self.data.contains_key("_creation_time") {
            self.data.insert("_creation_time", now);
        }
        if !self.data.contains_key("_id") {
            let id = self.config.new_id();
            self.data.insert("_id", id);
        }
        self.data.insert("_accessed_time", now);
        let value = if defer {
            String::new()
        } else {
            encode_checked(&c.codec, &self.data)?
        };
        let expires = self.expires.resolve(now)?;
        self.update_morsel_domain();
        let cookie = SetCookie {
            value,
            domain: self.morsel_domain.clone(),
            path: self.cookie_path(),
            expires,
        };
        self.pending = Some(if defer {
            Pending::Deferred {
                snapshot: self.data.clone(),
                cookie,
            }
        } else {
            Pending::Ready(cookie)
        });
        Ok(())
    }
}

/// The cookie created last during the request (Beaker's `cookie_out`).
enum Pending {
    Ready(SetCookie),
    /// Created at load: everything but the encoded value, which is computed from
    /// the snapshot only if this cookie is the one sent.
    Deferred {
        snapshot: Document,
        cookie: SetCookie,
    },
}

/// `_encrypt_data` plus `_create_cookie`'s length check.
fn encode_checked(codec: &Codec, session: &Document) -> Result<String> {
    let value = codec.encode(session)?;
    let len = value.chars().count();
    if len > MAX_COOKIE_VALUE_LEN {
        return Err(Error::CookieTooLong { len });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(opts: &[(&str, &str)]) -> Result<SessionConfig> {
        let mut o = BeakerOptions::from_pairs([("session.jwt_secret_keys", "k-0123456789abcdef")]);
        for (k, v) in opts {
            o.set(k, v);
        }
        SessionConfig::from_options(&o)
    }

    #[test]
    fn option_errors() {
        for (k, v) in [
            ("session.key", ""),
            ("session.key", "my key"),
            ("session.key", "path"),
            ("session.timeout", "1.5"),
            ("session.timeout", " 5"),
            ("session.cookie_domain", " "),
            ("session.cookie_path", ""),
            ("session.cookie_path", "/a;b"),
            ("session.samesite", "sometimes"),
            ("session.secure", "maybe"),
            ("session.cookie_expires", "2038-01-19"),
        ] {
            assert!(config(&[(k, v)]).is_err(), "{k}={v:?}");
        }
        let e = config(&[("timeout", "0"), ("save_accessed_time", "no")]).unwrap_err();
        assert!(
            e.to_string()
                .contains("timeout requires save_accessed_time"),
            "{e}"
        );
    }

    #[test]
    fn invalidate_corrupt_is_string_truth_like_beaker() {
        assert!(
            config(&[("invalidate_corrupt", "false")])
                .unwrap()
                .0
                .invalidate_corrupt
        );
        assert!(
            !config(&[("invalidate_corrupt", "")])
                .unwrap()
                .0
                .invalidate_corrupt
        );
        assert!(config(&[]).unwrap().0.invalidate_corrupt);
    }

    #[test]
    fn untouched_new_session_writes_nothing() {
        let cfg = config(&[]).unwrap();
        let mut s = cfg.load(&HeaderMap::new()).unwrap();
        assert!(s.finish().unwrap().is_none());
        let mut s = cfg.load(&HeaderMap::new()).unwrap();
        s.insert("x", 1); // changed but not saved: Beaker writes nothing
        assert!(s.finish().unwrap().is_none());
        let mut s = cfg.new_session();
        s.save(); // save alone is not an access in Beaker's SessionObject
        assert!(s.finish().unwrap().is_none());
    }

    #[test]
    fn fresh_session_layout_matches_beaker() {
        let n = Arc::new(AtomicU64::new(0));
        let cfg = SessionConfig::builder(
            Codec::builder()
                .secret_keys(["k-0123456789abcdef"])
                .build()
                .unwrap(),
        )
        .cookie_domain(Some("example.com".into()))
        .id_generator(Arc::new(move || {
            format!("{:032x}", n.fetch_add(1, Ordering::SeqCst) + 1)
        }))
        .build()
        .unwrap();
        let s = cfg.new_session();
        let keys: Vec<&str> = s.document().keys().map(String::as_str).collect();
        assert_eq!(keys, ["_domain", "_path", "_id"]);
        assert_eq!(s.id(), Some("00000000000000000000000000000001"));
        assert_eq!(s.get("_domain"), Some(&Bson::String("example.com".into())));
    }

    #[test]
    fn sessions_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Session>();
        send_sync::<SessionConfig>();
        send_sync::<LazySession>();
    }

    #[test]
    fn lazy_session_loads_on_first_access_only() {
        let cfg = config(&[("invalidate_corrupt", "")]).unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            HeaderValue::from_static("beaker.session.id=x.y.z"),
        );
        let mut lazy = cfg.load_lazy(&headers);
        // reissue_cookies probes the cookie: it is rejected (and counted), no error
        assert!(lazy.finish().unwrap().is_none());
        assert!(!lazy.is_loaded());
        assert_eq!(cfg.metrics().snapshot().rejected_total(), 1);
        let quiet = config(&[("invalidate_corrupt", ""), ("reissue_cookies", "off")]).unwrap();
        assert!(quiet.load_lazy(&headers).finish().unwrap().is_none());
        assert_eq!(quiet.metrics().snapshot().rejected_total(), 0);
        let mut lazy = cfg.load_lazy(&HeaderMap::new());
        let s = lazy.get().unwrap();
        assert!(s.is_new());
        s.insert("a", 1);
        s.save();
        assert!(lazy.is_loaded());
        let err = cfg.load_lazy(&headers).get().unwrap_err();
        assert!(
            matches!(err, Error::InvalidHeader | Error::MalformedToken),
            "{err}"
        );
    }

    #[test]
    fn oversized_loaded_cookie_fails_at_finish_not_silently() {
        // A signed cookie beyond 4064 characters (Beaker never writes one; another
        // writer might): Beaker fails when re-encoding it at load, here at finish.
        let mut x: u32 = 12345;
        let noise: String = (0..4000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                char::from(b'a' + u8::try_from((x >> 16) % 26).unwrap())
            })
            .collect();
        for extra in [&[][..], &[("save_accessed_time", "false")][..]] {
            let cfg = config(extra).unwrap();
            let value = cfg
                .codec()
                .encode(&bson::doc! { "blob": noise.clone() })
                .unwrap();
            assert!(value.len() > MAX_COOKIE_VALUE_LEN);
            let mut s = cfg
                .load_cookie_header(Some(&format!("beaker.session.id={value}")))
                .unwrap();
            s.touch();
            assert!(matches!(s.finish(), Err(Error::CookieTooLong { .. })));
        }
    }

    #[test]
    fn python_numbers() {
        assert_eq!(python_number(&Bson::Boolean(true)), Some(1.0));
        assert_eq!(
            python_number(&Bson::Int64(1 << 53)),
            Some(9007199254740992.0)
        );
        assert_eq!(python_number(&Bson::String("1".into())), None);
    }
}
