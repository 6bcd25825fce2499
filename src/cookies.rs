//! The `Cookie` request header and the `Set-Cookie` response header.
//!
//! Reading follows beaker-session-jwt's own tolerant parser (formats.md §3.1), so a
//! request selects exactly the cookie value the Python service would decode: a bad
//! cookie elsewhere in the header cannot spoil ours, surrounding `"` are stripped,
//! the last duplicate wins, and a cookie name Python's `http.cookies` refuses is
//! ignored.
//!
//! Writing uses the `cookie` crate's standard RFC 6265 rendering rather than
//! Python's `Morsel.output` quirks (leading space, lower-case `expires`,
//! `DD-Mon-YYYY`, local time labelled GMT): `Expires=Wdy, DD Mon YYYY HH:MM:SS GMT`
//! in real UTC, which browsers and Python's cookie parser both accept. Attribute
//! values and the cookie value are the reference's.
//!
//! ```
//! use beaker_session_jwt::cookies::find_session_cookie;
//!
//! let header = r#"_ga=GA1.2.3; beaker.session.id="eyJhbGciOi.x.y"; theme=dark"#;
//! assert_eq!(find_session_cookie(header, "beaker.session.id").as_deref(), Some("eyJhbGciOi.x.y"));
//! assert_eq!(find_session_cookie(header, "other"), None);
//! ```

use std::fmt;

use http::HeaderValue;
use http::header::{COOKIE, HeaderMap};
use time::{Duration, OffsetDateTime};

use crate::error::{Error, Result};
use crate::keys::py_strip;

/// Beaker refuses cookie values longer than this many characters
/// (`BeakerException("Cookie value is too long to store")`).
pub const MAX_COOKIE_VALUE_LEN: usize = 4064;

/// The default cookie name (Beaker's `key` option).
pub const DEFAULT_COOKIE_NAME: &str = "beaker.session.id";

/// Attribute names `http.cookies.Morsel` reserves; a cookie with such a name can
/// neither be read nor written by the reference.
const RESERVED: &[&str] = &[
    "expires", "path", "comment", "domain", "max-age", "secure", "httponly", "version", "samesite",
];

/// Whether Python's `http.cookies` accepts `name` as a cookie name: one or more of
/// ASCII letters, digits and ``!#$%&'*+-.^_`|~:``, and not one of its reserved
/// attribute names (`path`, `expires`, ... in any case).
///
/// ```
/// use beaker_session_jwt::cookies::is_legal_cookie_name;
/// assert!(is_legal_cookie_name("beaker.session.id"));
/// assert!(!is_legal_cookie_name("my key"));
/// assert!(!is_legal_cookie_name("Path"));
/// assert!(!is_legal_cookie_name(""));
/// ```
pub fn is_legal_cookie_name(name: &str) -> bool {
    let legal_chars = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:".contains(&b));
    legal_chars && !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(name))
}

/// Picks the session cookie's value out of a `Cookie` request header exactly as
/// beaker-session-jwt does; `None` when the request has no usable session cookie
/// (the reference then starts a new session).
///
/// The rules (formats.md §3.1): split at every `;` (quotes do not protect it); skip
/// pieces without `=`; strip the piece and split at its first `=`; the name is not
/// stripped again (`"name = v"` does not match `name`); strip all leading and
/// trailing `"` from the value; the last matching piece wins, even when empty. A
/// `name` that is not a legal cookie name ([`is_legal_cookie_name`]) never
/// matches.
///
/// ```
/// use beaker_session_jwt::cookies::find_session_cookie;
/// let name = "beaker.session.id";
/// assert_eq!(find_session_cookie("beaker.session.id=a; beaker.session.id=b", name).as_deref(), Some("b"));
/// assert_eq!(find_session_cookie("beaker.session.id = a", name), None);
/// assert_eq!(find_session_cookie("beaker.session.id=", name).as_deref(), Some(""));
/// assert_eq!(find_session_cookie("bad\0name=1; evil=\"x; beaker.session.id=v", name).as_deref(), Some("v"));
/// ```
pub fn find_session_cookie(cookie_header: &str, name: &str) -> Option<String> {
    if !is_legal_cookie_name(name) {
        return None;
    }
    let mut found = None;
    for piece in cookie_header.split(';') {
        // stripping only removes whitespace, so the '=' survives it
        if let Some((k, v)) = py_strip(piece).split_once('=')
            && k == name
        {
            found = Some(v.trim_matches('"'));
        }
    }
    found.map(str::to_owned)
}

/// All `Cookie` header lines of a request as one string, the way the Python
/// service sees `HTTP_COOKIE`; `None` when there is no `Cookie` header.
///
/// Bytes are decoded as latin-1 (PEP 3333). Several lines (HTTP/2 sends one per
/// cookie) are joined with `"; "`, as RFC 9113 §8.2.3 prescribes and as a proxy in
/// front of the Python service joins them. Python's own servers differ here
/// (waitress joins repeated headers with `", "`, wsgiref with `","`, which glues
/// the next line's first cookie onto the previous value); HTTP/1.1 clients never
/// send more than one line (RFC 6265 §5.4).
///
/// ```
/// use beaker_session_jwt::cookies::cookie_header_string;
/// use http::{HeaderMap, HeaderValue, header::COOKIE};
///
/// let mut headers = HeaderMap::new();
/// headers.append(COOKIE, HeaderValue::from_static("a=1"));
/// headers.append(COOKIE, HeaderValue::from_static("beaker.session.id=v"));
/// assert_eq!(cookie_header_string(&headers).as_deref(), Some("a=1; beaker.session.id=v"));
/// assert_eq!(cookie_header_string(&HeaderMap::new()), None);
/// ```
pub fn cookie_header_string(headers: &HeaderMap) -> Option<String> {
    let mut out: Option<String> = None;
    for value in headers.get_all(COOKIE) {
        let s = out.get_or_insert_with(String::new);
        if !s.is_empty() {
            s.push_str("; ");
        }
        s.extend(value.as_bytes().iter().map(|&b| char::from(b)));
    }
    out
}

/// The `SameSite` attribute (Beaker's `samesite` option).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SameSite {
    /// `SameSite=Strict`.
    Strict,
    /// `SameSite=Lax` (Beaker's default).
    Lax,
    /// `SameSite=None`. As in the reference, `Secure` is only added when `secure`
    /// is on (browsers refuse `SameSite=None` without it).
    None,
}

impl SameSite {
    /// Parses Beaker's `samesite` string: `Strict`, `Lax` or `None` in any case;
    /// an empty value means no attribute (`Ok(None)`).
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for any other value. The reference copies any
    /// string into the header, which browsers then ignore; refusing it at start-up
    /// is a deliberate difference.
    pub fn parse_option(value: &str) -> Result<Option<SameSite>> {
        match value.to_ascii_lowercase().as_str() {
            "" => Ok(None),
            "strict" => Ok(Some(SameSite::Strict)),
            "lax" => Ok(Some(SameSite::Lax)),
            "none" => Ok(Some(SameSite::None)),
            _ => Err(Error::InvalidOption {
                option: "samesite".into(),
                reason: "expected Strict, Lax, None or an empty value".into(),
            }),
        }
    }

    fn to_cookie(self) -> cookie::SameSite {
        match self {
            SameSite::Strict => cookie::SameSite::Strict,
            SameSite::Lax => cookie::SameSite::Lax,
            SameSite::None => cookie::SameSite::None,
        }
    }
}

impl fmt::Display for SameSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SameSite::Strict => "Strict",
            SameSite::Lax => "Lax",
            SameSite::None => "None",
        })
    }
}

/// When the cookie expires in the browser (Beaker's `cookie_expires`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum CookieExpires {
    /// No `Expires` attribute: a browser-session cookie (`true`, the default).
    #[default]
    BrowserSession,
    /// "Never": 2038-01-19 03:14:07 UTC, i.e. `0x7FFFFFFF` (`false`). The reference
    /// prints that instant in the server's local time labelled GMT; this crate
    /// prints real UTC.
    Never,
    /// This many seconds after the cookie is written (a number of seconds; Python's
    /// `timedelta`).
    After(u64),
    /// A fixed instant (Python's `datetime`; only from code, not from an ini file).
    At(OffsetDateTime),
}

/// Seconds accepted for `cookie_expires`: anything up to the year 9999, the
/// largest date the reference (and the `Expires` format) can print.
const MAX_EXPIRES_SECONDS: u64 = 253_402_300_799;

impl CookieExpires {
    /// Parses the ini value of `cookie_expires` with `SessionMiddleware`'s rules
    /// (formats.md §3.2): Beaker's boolean spellings first (`true yes on y t 1` →
    /// [`BrowserSession`](Self::BrowserSession), `false no off n f 0` →
    /// [`Never`](Self::Never), case-insensitive, stripped), then a string of digits
    /// = seconds ([`After`](Self::After)).
    ///
    /// ```
    /// use beaker_session_jwt::cookies::CookieExpires;
    /// assert_eq!(CookieExpires::parse_option("True")?, CookieExpires::BrowserSession);
    /// assert_eq!(CookieExpires::parse_option("0")?, CookieExpires::Never);
    /// assert_eq!(CookieExpires::parse_option("1")?, CookieExpires::BrowserSession);
    /// assert_eq!(CookieExpires::parse_option("3600")?, CookieExpires::After(3600));
    /// assert!(CookieExpires::parse_option("tomorrow").is_err());
    /// # Ok::<(), beaker_session_jwt::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidOption`] for anything else, including dates (the reference
    /// refuses strings that are not booleans or digits), `00` (the reference then
    /// fails on every cookie it writes) and numbers beyond the year 9999.
    pub fn parse_option(value: &str) -> Result<CookieExpires> {
        let invalid = |reason: &str| Error::InvalidOption {
            option: "cookie_expires".into(),
            reason: reason.into(),
        };
        if let Some(b) = crate::config::asbool(value) {
            return Ok(if b {
                CookieExpires::BrowserSession
            } else {
                CookieExpires::Never
            });
        }
        // Python's re `^\d+$` also matches before one trailing newline
        let digits = value.strip_suffix('\n').unwrap_or(value);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid("expected true, false or a number of seconds"));
        }
        match digits.parse::<u64>() {
            Ok(0) => Err(invalid(
                "0 seconds (written 00) is refused by the reference",
            )),
            Ok(n) if n <= MAX_EXPIRES_SECONDS => Ok(CookieExpires::After(n)),
            _ => Err(invalid("number of seconds too large")),
        }
    }

    /// The `Expires` instant for a cookie written at `now` (seconds since the
    /// epoch), or `None` for a browser-session cookie.
    ///
    /// # Errors
    /// [`Error::InvalidOption`] when the date falls beyond the year 9999.
    pub fn resolve(&self, now: f64) -> Result<Option<OffsetDateTime>> {
        match *self {
            CookieExpires::BrowserSession => Ok(None),
            CookieExpires::Never => Ok(OffsetDateTime::from_unix_timestamp(0x7FFF_FFFF).ok()),
            CookieExpires::At(t) => Ok(Some(t)),
            CookieExpires::After(secs) => {
                let secs = i64::try_from(secs).ok().map(Duration::seconds);
                secs.and_then(|d| datetime_from_epoch(now)?.checked_add(d))
                    .filter(|t| t.year() <= 9999)
                    .map(Some)
                    .ok_or_else(|| Error::InvalidOption {
                        option: "cookie_expires".into(),
                        reason: "expiry date beyond the year 9999".into(),
                    })
            }
        }
    }
}

/// `datetime.fromtimestamp(now, timezone.utc)`: rounded half-even to microseconds.
pub(crate) fn datetime_from_epoch(now: f64) -> Option<OffsetDateTime> {
    let micros = (now * 1e6).round_ties_even();
    if !micros.is_finite() || micros.abs() > 1e17 {
        return None;
    }
    // in range: |micros| <= 1e17 fits i128 exactly after the float conversion
    let nanos = (micros as i128).checked_mul(1000)?;
    OffsetDateTime::from_unix_timestamp_nanos(nanos).ok()
}

/// What one `Set-Cookie` header carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SetCookie {
    pub(crate) value: String,
    pub(crate) domain: Option<String>,
    pub(crate) path: String,
    pub(crate) expires: Option<OffsetDateTime>,
}

/// Static attributes from the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CookieFlags {
    pub(crate) secure: bool,
    pub(crate) httponly: bool,
    pub(crate) samesite: Option<SameSite>,
}

/// Whether `s` can appear as an attribute value: visible ASCII and space, no `;`.
pub(crate) fn is_attribute_safe(s: &str) -> bool {
    s.bytes().all(|b| (b' '..=b'~').contains(&b) && b != b';')
}

/// Renders a `Set-Cookie` header value with the cookie crate.
pub(crate) fn render_set_cookie(
    name: &str,
    c: &SetCookie,
    flags: &CookieFlags,
) -> Result<HeaderValue> {
    // The name was checked when the configuration was built; values and attributes
    // may come from session data (original-format cookies carry _path/_domain).
    if !c
        .value
        .bytes()
        .all(|b| (b'!'..=b'~').contains(&b) && b != b';')
    {
        return Err(Error::InvalidCookieAttribute { attribute: "value" });
    }
    if !is_attribute_safe(&c.path) {
        return Err(Error::InvalidCookieAttribute { attribute: "Path" });
    }
    let mut cookie = cookie::Cookie::new(name.to_owned(), c.value.clone());
    if let Some(d) = &c.domain {
        if !is_attribute_safe(d) {
            return Err(Error::InvalidCookieAttribute {
                attribute: "Domain",
            });
        }
        cookie.set_domain(d.clone());
    }
    cookie.set_path(c.path.clone());
    cookie.set_http_only(flags.httponly.then_some(true));
    // Explicit, so that SameSite=None does not add Secure behind the config's back
    cookie.set_secure(Some(flags.secure));
    cookie.set_same_site(flags.samesite.map(SameSite::to_cookie));
    if let Some(t) = c.expires {
        cookie.set_expires(t);
    }
    HeaderValue::from_str(&cookie.to_string())
        .map_err(|_| Error::InvalidCookieAttribute { attribute: "value" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sc(value: &str) -> SetCookie {
        SetCookie {
            value: value.into(),
            domain: None,
            path: "/".into(),
            expires: None,
        }
    }

    #[test]
    fn renders_with_rfc_dates_in_utc() {
        let flags = CookieFlags {
            secure: true,
            httponly: true,
            samesite: Some(SameSite::Strict),
        };
        let mut c = sc("abc");
        c.domain = Some(".example.com".into());
        c.expires = CookieExpires::Never.resolve(0.0).unwrap();
        let h = render_set_cookie("beaker.session.id", &c, &flags).unwrap();
        let s = h.to_str().unwrap();
        assert!(s.starts_with("beaker.session.id=abc; "), "{s}");
        assert!(s.contains("; Expires=Tue, 19 Jan 2038 03:14:07 GMT"), "{s}");
        assert!(s.contains("; HttpOnly") && s.contains("; Secure"), "{s}");
        assert!(
            s.contains("; SameSite=Strict") && s.contains("; Path=/"),
            "{s}"
        );
    }

    #[test]
    fn samesite_none_without_secure_stays_without_secure() {
        let flags = CookieFlags {
            secure: false,
            httponly: false,
            samesite: Some(SameSite::None),
        };
        let s = render_set_cookie("k", &sc("v"), &flags).unwrap();
        assert_eq!(s.to_str().unwrap(), "k=v; SameSite=None; Path=/");
    }

    #[test]
    fn attribute_injection_is_refused() {
        let flags = CookieFlags {
            secure: false,
            httponly: false,
            samesite: None,
        };
        let mut c = sc("v");
        c.path = "/; Domain=evil.com".into();
        assert!(matches!(
            render_set_cookie("k", &c, &flags),
            Err(Error::InvalidCookieAttribute { attribute: "Path" })
        ));
        let c = sc("a b");
        assert!(render_set_cookie("k", &c, &flags).is_err());
    }

    #[test]
    fn expires_after_seconds_truncates_like_python() {
        // 1718000001.25 + 3600 -> Mon, 10 Jun 2024 07:13:21 (reference: "10-Jun-2024 07:13:21")
        let t = CookieExpires::After(3600)
            .resolve(1718000001.25)
            .unwrap()
            .unwrap();
        assert_eq!(t.unix_timestamp(), 1718003601);
        assert!(
            CookieExpires::After(MAX_EXPIRES_SECONDS)
                .resolve(1.7e9)
                .is_err()
        );
    }

    #[test]
    fn expires_option_rules() {
        for (v, want) in [
            ("yes", CookieExpires::BrowserSession),
            (" OFF ", CookieExpires::Never),
            ("60\n", CookieExpires::After(60)),
        ] {
            assert_eq!(CookieExpires::parse_option(v).unwrap(), want, "{v:?}");
        }
        for v in ["", "00", " 60", "-5", "1.5", "2038-01-19"] {
            assert!(CookieExpires::parse_option(v).is_err(), "{v:?}");
        }
    }
}
