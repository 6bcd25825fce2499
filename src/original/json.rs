//! Beaker's `JsonSerializer` (formats.md §2.3): `zlib.compress(json.dumps(session))`
//! to write, `json.loads(zlib.decompress(data).decode("utf-8"))` to read.

use bson::{Bson, Document};

use crate::codec::Limits;
use crate::error::{Error, Result};
use crate::{payload, pyjson};

/// `zlib.compress(json.dumps(session).encode("utf-8"))`: Python's default separators
/// and `ensure_ascii`, zlib level 6.
///
/// # Errors
/// [`Error::Unserializable`] for values JSON cannot hold (datetimes, bytes, ...).
pub(crate) fn dumps(session: &Document) -> Result<Vec<u8>> {
    let text = pyjson::dumps_default(session)?;
    // level 6 is zlib's default, what Beaker's `zlib.compress(text)` uses
    Ok(payload::zlib_compress(text.as_bytes(), 6))
}

/// Reads a json-serialized original session and applies what beaker-session-jwt
/// does after reading: pops `remove_keys`, then checks that the session can be
/// written again (in BSON mode keys must not hold NUL bytes).
///
/// # Errors
/// [`Error::Zlib`], [`Error::DecompressedTooLarge`], [`Error::InvalidJson`] (also for
/// text that is not strict UTF-8, starts with a BOM or holds a NUL byte, which
/// Python's `str` path rejects), [`Error::NestingTooDeep`],
/// [`Error::IntegerOutOfRange`] / [`Error::LoneSurrogate`] for values a
/// `bson::Document` cannot hold, [`Error::OriginalNotADict`] for a non-object,
/// [`Error::Unconvertible`] for NUL bytes in keys in BSON mode.
pub(crate) fn loads_session(
    data: &[u8],
    remove_keys: &[String],
    bson_mode: bool,
    limits: &Limits,
) -> Result<Document> {
    let bytes = payload::zlib_decompress(data, limits.max_decompressed_size)?;
    let text = python_str(&bytes)?;
    let depth = limits.max_nesting_depth;
    let value = match pyjson::loads_str(text, depth) {
        // a value Python holds but a Document cannot, under a key that is removed
        // anyway: read the other members one by one
        Err(Error::IntegerOutOfRange { key: Some(k) } | Error::LoneSurrogate { key: Some(k) })
            if remove_keys.contains(&k) =>
        {
            Bson::Document(load_members_except(text, remove_keys, depth)?)
        }
        other => other?,
    };
    let Bson::Document(mut session) = value else {
        return Err(Error::OriginalNotADict);
    };
    for key in remove_keys {
        session.remove(key);
    }
    if bson_mode {
        // bson.encode raises InvalidDocument for a NUL in any key, at any depth
        let keys: Vec<String> = session
            .iter()
            .filter(|(k, v)| k.contains('\0') || has_nul_key(v, limits.max_nesting_depth))
            .map(|(k, _)| k.clone())
            .collect();
        if !keys.is_empty() {
            return Err(Error::Unconvertible {
                keys,
                reason: "key names must not contain the NUL byte".into(),
            });
        }
    }
    Ok(session)
}

/// `zlib.decompress(data).decode("utf-8")`: strict UTF-8 (encoded surrogates are
/// refused too). The text then goes to `json.loads` as a `str`, so there is no
/// encoding detection and a leading BOM is an error (`pyjson::loads_str`).
fn python_str(bytes: &[u8]) -> Result<&str> {
    std::str::from_utf8(bytes)
        .map_err(|e| Error::InvalidJson(format!("'utf-8' codec can't decode: {e}")))
}

/// The top-level members of a JSON object text that `pyjson` accepted, parsed one
/// by one, skipping `remove_keys`. Python builds the whole dict first and pops the
/// keys afterwards; the result is the same: for duplicate keys the last value wins
/// at the position of the first, and a removed key leaves no trace.
fn load_members_except(text: &str, remove_keys: &[String], depth: usize) -> Result<Document> {
    let members = top_level_members(text.as_bytes())
        .ok_or_else(|| Error::InvalidJson("not a JSON object".into()))?;
    let mut session = Document::new();
    for (key_text, value_text) in members {
        let key = match pyjson::loads_str(key_text, depth)? {
            Bson::String(k) => k,
            _ => return Err(Error::InvalidJson("object key is not a string".into())),
        };
        if remove_keys.contains(&key) {
            continue;
        }
        let value =
            pyjson::loads_str(value_text, depth.saturating_sub(1)).map_err(|e| match e {
                Error::IntegerOutOfRange { .. } => Error::IntegerOutOfRange {
                    key: Some(key.clone()),
                },
                Error::LoneSurrogate { .. } => Error::LoneSurrogate {
                    key: Some(key.clone()),
                },
                other => other,
            })?;
        session.insert(key, value);
    }
    Ok(session)
}

/// Byte spans (key, value) of the members of a top-level JSON object. Only for
/// text already known to be valid JSON: the scanner tracks strings and brackets,
/// not the grammar. `None` if the text is not an object.
fn top_level_members(s: &[u8]) -> Option<Vec<(&str, &str)>> {
    fn ws(s: &[u8], mut i: usize) -> usize {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = s.get(i) {
            i = i.saturating_add(1);
        }
        i
    }
    /// Index after the closing quote of the string starting at `i`.
    fn string_end(s: &[u8], i: usize) -> Option<usize> {
        let mut j = i.checked_add(1)?;
        loop {
            match s.get(j)? {
                b'\\' => j = j.checked_add(2)?,
                b'"' => return j.checked_add(1),
                _ => j = j.checked_add(1)?,
            }
        }
    }
    fn value_end(s: &[u8], i: usize) -> Option<usize> {
        match s.get(i)? {
            b'"' => string_end(s, i),
            b'{' | b'[' => {
                let mut open = 0usize;
                let mut j = i;
                loop {
                    match s.get(j)? {
                        b'"' => {
                            j = string_end(s, j)?;
                            continue;
                        }
                        b'{' | b'[' => open = open.checked_add(1)?,
                        b'}' | b']' => {
                            open = open.checked_sub(1)?;
                            if open == 0 {
                                return j.checked_add(1);
                            }
                        }
                        _ => {}
                    }
                    j = j.checked_add(1)?;
                }
            }
            _ => {
                let mut j = i;
                while let Some(c) = s.get(j) {
                    if matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r') {
                        break;
                    }
                    j = j.checked_add(1)?;
                }
                Some(j)
            }
        }
    }
    let span = |a: usize, b: usize| s.get(a..b).and_then(|x| std::str::from_utf8(x).ok());
    let mut i = ws(s, 0);
    if s.get(i) != Some(&b'{') {
        return None;
    }
    i = i.checked_add(1)?;
    let mut out = Vec::new();
    loop {
        i = ws(s, i);
        match s.get(i)? {
            b'}' => return Some(out),
            b',' => {
                i = i.checked_add(1)?;
                continue;
            }
            b'"' => {}
            _ => return None,
        }
        let key_end = string_end(s, i)?;
        let key = span(i, key_end)?;
        i = ws(s, key_end);
        if s.get(i) != Some(&b':') {
            return None;
        }
        i = ws(s, i.checked_add(1)?);
        let end = value_end(s, i)?;
        out.push((key, span(i, end)?));
        i = end;
    }
}

fn has_nul_key(value: &Bson, depth_left: usize) -> bool {
    // loads already capped the depth; the counter only keeps this total
    let Some(depth_left) = depth_left.checked_sub(1) else {
        return false;
    };
    match value {
        Bson::Document(d) => d
            .iter()
            .any(|(k, v)| k.contains('\0') || has_nul_key(v, depth_left)),
        Bson::Array(a) => a.iter().any(|v| has_nul_key(v, depth_left)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn inflate_like_python() {
        let c = zlib(b"{}");
        assert_eq!(payload::zlib_decompress(&c, 100).unwrap(), b"{}");
        // trailing garbage after the stream end is ignored (zlib.decompress does too)
        let mut trailing = c.clone();
        trailing.extend_from_slice(b"garbage");
        assert_eq!(payload::zlib_decompress(&trailing, 100).unwrap(), b"{}");
        // truncated / empty: "incomplete or truncated stream"
        assert!(matches!(
            payload::zlib_decompress(&c[..c.len() - 1], 100),
            Err(Error::Zlib)
        ));
        assert!(matches!(
            payload::zlib_decompress(b"", 100),
            Err(Error::Zlib)
        ));
        // pickle data read as json: "incorrect header check"
        assert!(matches!(
            payload::zlib_decompress(b"\x80\x02}q\x00.", 100),
            Err(Error::Zlib)
        ));
    }

    #[test]
    fn inflate_cap_is_enforced_while_inflating() {
        let bomb = zlib(&vec![b' '; 10 << 20]);
        assert!(bomb.len() < 20_000);
        assert!(matches!(
            payload::zlib_decompress(&bomb, 1 << 20),
            Err(Error::DecompressedTooLarge { limit }) if limit == 1 << 20
        ));
        let exact = zlib(&[b'a'; 1000]);
        assert_eq!(payload::zlib_decompress(&exact, 1000).unwrap().len(), 1000);
        assert!(matches!(
            payload::zlib_decompress(&exact, 999),
            Err(Error::DecompressedTooLarge { .. })
        ));
    }

    fn load(text: &[u8], remove: &[&str], bson_mode: bool) -> Result<Document> {
        let remove: Vec<String> = remove.iter().map(|k| (*k).to_owned()).collect();
        loads_session(&zlib(text), &remove, bson_mode, &Limits::default())
    }

    #[test]
    fn python_str_path_rejections() {
        assert!(load(b"{\"a\": 1}", &[], true).is_ok());
        // json.loads(str) refuses a BOM and NUL bytes (json.loads(bytes) would
        // detect UTF-8-sig / UTF-16-LE instead)
        for bad in [
            &b"\xef\xbb\xbf{}"[..],
            b"{\x00}\x00",
            b"{\"a\": \"\xff\"}",
            b"\"\xed\xa0\x80\"",
        ] {
            assert!(
                matches!(load(bad, &[], true), Err(Error::InvalidJson(_))),
                "{bad:?}"
            );
        }
        assert!(matches!(
            load(b"[1, 2]", &[], true),
            Err(Error::OriginalNotADict)
        ));
    }

    /// Values a Document cannot hold (ints beyond int64, lone surrogates) do not
    /// matter when their key is removed, as in Python (pop before the check).
    #[test]
    fn unholdable_values_under_removed_keys() {
        let text = br#"{"a": 1, "huge": 123456789012345678901234567890, "s": "\ud800", "a": [2], "b": {"c": 3}}"#;
        assert!(matches!(
            load(text, &[], false),
            Err(Error::IntegerOutOfRange { key: Some(k) }) if k == "huge"
        ));
        assert!(matches!(
            load(text, &["huge"], false),
            Err(Error::LoneSurrogate { key: Some(k) }) if k == "s"
        ));
        let doc = load(text, &["huge", "s"], true).unwrap();
        assert_eq!(doc, bson::doc! {"a": [2], "b": {"c": 3}});
        let doc = load(text, &["s", "huge", "a"], true).unwrap();
        assert_eq!(doc, bson::doc! {"b": {"c": 3}});
    }

    #[test]
    fn member_scanner_spans() {
        let text = r#" { "a" : "x\"}" , "b":[1,{"c":"]"}], "d":-1.5e3,"e":{} } "#;
        let m = top_level_members(text.as_bytes()).unwrap();
        let got: Vec<(&str, &str)> = m.into_iter().collect();
        assert_eq!(
            got,
            [
                (r#""a""#, r#""x\"}""#),
                (r#""b""#, r#"[1,{"c":"]"}]"#),
                (r#""d""#, "-1.5e3"),
                (r#""e""#, "{}")
            ]
        );
        assert!(top_level_members(b"[1]").is_none());
        assert_eq!(top_level_members(b"{}").unwrap(), []);
    }

    #[test]
    fn nul_in_key_only_refused_in_bson_mode() {
        let data = zlib(br#"{"a\u0000b": 1, "n": {"x\u0000": 2}}"#);
        let limits = Limits::default();
        let doc = loads_session(&data, &[], false, &limits).unwrap();
        assert_eq!(doc.keys().collect::<Vec<_>>(), ["a\0b", "n"]);
        match loads_session(&data, &[], true, &limits) {
            Err(Error::Unconvertible { keys, .. }) => assert_eq!(keys, ["a\0b", "n"]),
            other => panic!("{other:?}"),
        }
        let doc = loads_session(&data, &["a\0b".into(), "n".into()], true, &limits).unwrap();
        assert!(doc.is_empty());
    }
}
