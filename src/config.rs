//! Beaker option names → typed configuration.
//!
//! Operators configure Python apps through ini files (`session.jwt_secret_keys = new, old`
//! under `[app:main]`). [`BeakerOptions`] reads the same files and names, the way
//! Beaker's `SessionMiddleware` does: `beaker.session.NAME`, `session.NAME` and bare
//! `NAME` are all accepted (a prefixed name wins over a bare one); keys that are not
//! session options are ignored, so a whole app ini can be used as it is.
//!
//! ```
//! use beaker_session_jwt::{BeakerOptions, Codec};
//!
//! let ini = "[app:main]\nuse = egg:myapp\nsqlalchemy.url = sqlite://\n\
//!            session.jwt_secret_keys = new-key-0123456789, old-key-0123456789\n";
//! let options = BeakerOptions::from_ini_str(ini, "app:main")?;
//! let codec = Codec::from_options(&options)?;
//! assert_eq!(codec.key_count(), 2);
//! # Ok::<(), beaker_session_jwt::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::py_strip;

/// An option value: may be a key, so it is zeroized when dropped.
type Value = Zeroizing<String>;

/// Option names this crate understands (without prefix). Options outside this list
/// that carry a `session.` / `beaker.session.` prefix are reported by
/// [`BeakerOptions::unknown_options`].
pub const KNOWN_OPTIONS: &[&str] = &[
    // codec (beaker-session-jwt)
    "jwt_secret_keys",
    "bson_compress_jwt_payload",
    "read_original_format",
    "write_original_format",
    "original_format_validate_key",
    "original_format_data_serializer",
    "original_format_remove_keys",
    // codec (ours: encrypted original cookies and limits)
    "original_format_encrypt_key",
    "original_format_crypto_type",
    "original_format_encrypt_nonce_bits",
    "max_decompressed_size",
    "max_nesting_depth",
    // plain Beaker CookieSession names, accepted as aliases of the original_format_* ones
    "validate_key",
    "encrypt_key",
    "crypto_type",
    "encrypt_nonce_bits",
    "data_serializer",
    // session layer (Beaker SessionMiddleware / CookieSession)
    "key",
    "timeout",
    "cookie_expires",
    "cookie_domain",
    "cookie_path",
    "secure",
    "httponly",
    "samesite",
    "save_accessed_time",
    "invalidate_corrupt",
    "reissue_cookies",
    "auto",
    "type",
];

/// True if `name` (with or without a `session.` / `beaker.session.` prefix) is an
/// option this crate understands.
///
/// ```
/// assert!(beaker_session_jwt::config::is_known_option("session.jwt_secret_keys"));
/// assert!(!beaker_session_jwt::config::is_known_option("sqlalchemy.url"));
/// ```
pub fn is_known_option(name: &str) -> bool {
    KNOWN_OPTIONS.contains(&split_prefix(name.trim()).0)
}

/// True if `name` (with or without prefix) is an option whose value is a secret
/// (`jwt_secret_keys`, the validate and encrypt keys).
///
/// ```
/// assert!(beaker_session_jwt::config::is_secret_option("beaker.session.jwt_secret_keys "));
/// assert!(!beaker_session_jwt::config::is_secret_option("session.key"));
/// ```
pub fn is_secret_option(name: &str) -> bool {
    SECRET_OPTIONS.contains(&split_prefix(name.trim()).0)
}

/// Options whose values are secrets: never shown by `Debug`.
const SECRET_OPTIONS: &[&str] = &[
    "jwt_secret_keys",
    "original_format_validate_key",
    "original_format_encrypt_key",
    "validate_key",
    "encrypt_key",
    "secret",
];

/// A set of Beaker options with ini-style string values.
///
/// `Debug` shows option names only for secret options.
#[derive(Clone, Default)]
pub struct BeakerOptions {
    /// Values given with a `session.` or `beaker.session.` prefix.
    prefixed: BTreeMap<String, Value>,
    /// Values given by their bare name.
    bare: BTreeMap<String, Value>,
}

impl fmt::Debug for BeakerOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in self.prefixed.iter().chain(self.bare.iter()) {
            if SECRET_OPTIONS.contains(&name.as_str()) {
                map.entry(name, &"<redacted>");
            } else {
                map.entry(name, &value.as_str());
            }
        }
        map.finish()
    }
}

/// Strips Beaker's option prefixes; returns the bare name and whether a prefix was there.
fn split_prefix(name: &str) -> (&str, bool) {
    if let Some(rest) = name.strip_prefix("beaker.session.") {
        (rest, true)
    } else if let Some(rest) = name.strip_prefix("session.") {
        (rest, true)
    } else {
        (name, false)
    }
}

impl BeakerOptions {
    /// An empty option set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Options from `(name, value)` pairs, names as an ini file gives them.
    ///
    /// ```
    /// use beaker_session_jwt::BeakerOptions;
    /// let opts = BeakerOptions::from_pairs([
    ///     ("beaker.session.jwt_secret_keys", "k1"),
    ///     ("bson_compress_jwt_payload", "false"),
    /// ]);
    /// assert_eq!(opts.get("jwt_secret_keys"), Some("k1"));
    /// assert_eq!(opts.get("bson_compress_jwt_payload"), Some("false"));
    /// ```
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let mut opts = Self::new();
        for (k, v) in pairs {
            opts.set(k.as_ref(), v.as_ref());
        }
        opts
    }

    /// Sets one option; `name` may carry a `session.` or `beaker.session.` prefix.
    /// A later value for the same name replaces an earlier one; a prefixed name
    /// always wins over a bare one.
    pub fn set(&mut self, name: &str, value: &str) {
        let (bare, prefixed) = split_prefix(name.trim());
        let map = if prefixed {
            &mut self.prefixed
        } else {
            &mut self.bare
        };
        // a replaced value is a Zeroizing<String>: wiped as it drops
        map.insert(bare.to_owned(), Zeroizing::new(value.to_owned()));
    }

    /// Removes an option (prefixed and bare).
    pub fn remove(&mut self, name: &str) {
        let (bare, _) = split_prefix(name.trim());
        self.prefixed.remove(bare);
        self.bare.remove(bare);
    }

    /// The value of an option by its bare name (`"jwt_secret_keys"`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.prefixed
            .get(name)
            .or_else(|| self.bare.get(name))
            .map(|v| v.as_str())
    }

    /// The value of `name`, else of its plain-Beaker alias `alias`.
    pub(crate) fn get_or_alias(&self, name: &str, alias: &str) -> Option<&str> {
        self.get(name).or_else(|| self.get(alias))
    }

    /// A boolean option with Beaker's `asbool` rules, or `default` when unset.
    ///
    /// # Errors
    /// [`Error::InvalidBool`] for a value that is not one of `true yes on y t 1` /
    /// `false no off n f 0` (case-insensitive, stripped).
    pub fn get_bool(&self, name: &str, default: bool) -> Result<bool> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => asbool(v).ok_or_else(|| Error::InvalidBool {
                option: name.to_owned(),
            }),
        }
    }

    /// Option names that carry a session prefix but are unknown to this crate, e.g.
    /// `session.type` or a typo. Callers warn about them; they are not errors.
    pub fn unknown_options(&self) -> Vec<String> {
        self.prefixed
            .keys()
            .filter(|k| !KNOWN_OPTIONS.contains(&k.as_str()))
            .cloned()
            .collect()
    }

    /// Reads the options of one section of an ini file written the way
    /// Pylons/Pyramid/PasteDeploy apps write `development.ini`: `name = value` or
    /// `name: value`, `#`/`;` comment lines, indented continuation lines, `[DEFAULT]`
    /// values inherited, `%(name)s` interpolation (with `here` and `__file__`).
    ///
    /// # Errors
    /// [`Error::ConfigFile`] when the section does not exist or a line is malformed.
    pub fn from_ini_str(text: &str, section: &str) -> Result<Self> {
        Self::from_ini_with_here(text, section, None)
    }

    /// Like [`from_ini_str`](Self::from_ini_str), reading a file; `%(here)s` is the
    /// file's directory.
    ///
    /// # Errors
    /// [`Error::ConfigFile`] when the file cannot be read or the section is missing.
    pub fn from_ini_file(path: impl AsRef<Path>, section: &str) -> Result<Self> {
        let path = path.as_ref();
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| Error::ConfigFile(format!("cannot read {}: {e}", path.display())))?,
        );
        let abs = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
        Self::from_ini_with_here(&text, section, Some(&abs))
    }

    fn from_ini_with_here(text: &str, section: &str, file: Option<&Path>) -> Result<Self> {
        let sections = parse_ini(text)?;
        let find = |name: &str| sections.iter().find(|(s, _)| s == name).map(|(_, v)| v);
        let wanted =
            find(section).ok_or_else(|| Error::ConfigFile(format!("no section [{section}]")))?;
        let mut vars: BTreeMap<String, Value> = BTreeMap::new();
        if let Some(f) = file {
            vars.insert("__file__".into(), Zeroizing::new(f.display().to_string()));
            if let Some(dir) = f.parent() {
                vars.insert("here".into(), Zeroizing::new(dir.display().to_string()));
            }
        }
        let mut merged: Vec<(String, Value)> = Vec::new();
        if let Some(defaults) = find("DEFAULT") {
            merged.extend(defaults.iter().cloned());
        }
        merged.extend(wanted.iter().cloned());
        for (k, v) in &merged {
            vars.insert(k.clone(), v.clone());
        }
        let mut opts = Self::new();
        for (k, v) in &merged {
            let value = interpolate(v, &vars, 0)?;
            opts.set(k, &value);
        }
        Ok(opts)
    }
}

/// Beaker's `asbool`: strip, lower-case, then the two word lists.
pub fn asbool(value: &str) -> Option<bool> {
    match py_strip(value).to_lowercase().as_str() {
        "true" | "yes" | "on" | "y" | "t" | "1" => Some(true),
        "false" | "no" | "off" | "n" | "f" | "0" => Some(false),
        _ => None,
    }
}

type IniSections = Vec<(String, Vec<(String, Value)>)>;

fn parse_ini(text: &str) -> Result<IniSections> {
    let mut sections: IniSections = Vec::new();
    for (lineno, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let indented = line.len() != trimmed.len();
        // an indented line continues the previous value
        if let (true, Some((_, v))) = (
            indented,
            sections.last_mut().and_then(|(_, e)| e.last_mut()),
        ) {
            v.push('\n');
            v.push_str(trimmed);
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[') {
            let name = name.strip_suffix(']').ok_or_else(|| {
                Error::ConfigFile(format!("line {}: malformed section header", lineno + 1))
            })?;
            sections.push((name.trim().to_owned(), Vec::new()));
            continue;
        }
        let sep = trimmed.find(['=', ':']).ok_or_else(|| {
            Error::ConfigFile(format!("line {}: expected name = value", lineno + 1))
        })?;
        let (name, value) = (trimmed[..sep].trim(), trimmed[sep + 1..].trim());
        match sections.last_mut() {
            Some((_, entries)) => {
                entries.retain(|(k, _)| k != name);
                entries.push((name.to_owned(), Zeroizing::new(value.to_owned())));
            }
            None => {
                return Err(Error::ConfigFile(format!(
                    "line {}: option outside any section",
                    lineno + 1
                )));
            }
        }
    }
    Ok(sections)
}

/// ConfigParser's basic interpolation: `%(name)s` and `%%`.
fn interpolate(value: &str, vars: &BTreeMap<String, Value>, depth: usize) -> Result<Value> {
    if !value.contains('%') {
        return Ok(Zeroizing::new(value.to_owned()));
    }
    if depth > 10 {
        return Err(Error::ConfigFile("interpolation too deep".into()));
    }
    // sized for the whole result up front: a growing String would leave copies of
    // (possibly secret) text in freed memory
    let mut out = Zeroizing::new(String::with_capacity(value.len() + 4096));
    let mut rest = value;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(r) = after.strip_prefix('%') {
            out.push('%');
            rest = r;
        } else if let Some(r) = after.strip_prefix('(') {
            let end = r
                .find(")s")
                .ok_or_else(|| Error::ConfigFile("bad interpolation syntax".into()))?;
            let name = &r[..end];
            let v = vars
                .get(name)
                // the name is not echoed: it may be part of a secret value
                .ok_or_else(|| Error::ConfigFile("unknown %(name)s interpolation".into()))?;
            out.push_str(&interpolate(v, vars, depth + 1)?);
            rest = &r[end + 2..];
        } else {
            return Err(Error::ConfigFile(
                "'%' must be followed by '%' or '('".into(),
            ));
        }
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_precedence() {
        let o = BeakerOptions::from_pairs([
            ("session.timeout", "10"),
            ("timeout", "20"),
            ("beaker.session.key", "a"),
            ("session.key", "b"),
        ]);
        assert_eq!(o.get("timeout"), Some("10"));
        assert_eq!(o.get("key"), Some("b"));
    }

    #[test]
    fn asbool_spellings() {
        assert_eq!(asbool(" No "), Some(false));
        assert_eq!(asbool("TRUE"), Some(true));
        assert_eq!(asbool("maybe"), None);
        let o = BeakerOptions::from_pairs([("x", "maybe")]);
        assert!(matches!(
            o.get_bool("x", true),
            Err(Error::InvalidBool { .. })
        ));
    }

    #[test]
    fn ini_sections_defaults_interpolation_and_unknowns() {
        let ini = "# comment\n[DEFAULT]\ndebug = true\nbase = /srv\n\n[app:main]\n\
                   use = egg:app\nsession.cookie_path = %(base)s/app\n\
                   session.jwt_secret_keys = a,\n   b\nsession.bogus = 1\n[other]\nsession.key = x\n";
        let o = BeakerOptions::from_ini_str(ini, "app:main").unwrap();
        assert_eq!(o.get("cookie_path"), Some("/srv/app"));
        assert_eq!(o.get("jwt_secret_keys"), Some("a,\nb"));
        assert_eq!(o.get("key"), None);
        assert_eq!(o.unknown_options(), vec!["bogus".to_string()]);
        assert!(matches!(
            BeakerOptions::from_ini_str(ini, "nope"),
            Err(Error::ConfigFile(_))
        ));
    }

    #[test]
    fn debug_redacts_secrets() {
        let o = BeakerOptions::from_pairs([("session.jwt_secret_keys", "hunter2"), ("key", "k")]);
        let s = format!("{o:?}");
        assert!(!s.contains("hunter2"), "{s}");
        assert!(s.contains("<redacted>"));
    }
}
