//! Beaker's `JsonSerializer` (formats.md §2.3): `zlib.compress(json.dumps(session))`
//! to write, `json.loads(zlib.decompress(data).decode("utf-8"))` to read.

use std::io::Write as _;

use bson::{Bson, Document};
use flate2::{Decompress, FlushDecompress, Status};

use crate::codec::Limits;
use crate::error::{Error, Result};
use crate::pyjson;

/// `zlib.compress(json.dumps(session).encode("utf-8"))`: Python's default separators
/// and `ensure_ascii`, zlib level 6.
///
/// # Errors
/// [`Error::Unserializable`] for values JSON cannot hold (datetimes, bytes, ...).
pub(crate) fn dumps(session: &Document) -> Result<Vec<u8>> {
    let text = pyjson::dumps_default(session)?;
    let mut enc = flate2::write::ZlibEncoder::new(
        Vec::with_capacity(text.len() / 2 + 16),
        flate2::Compression::new(6),
    );
    enc.write_all(text.as_bytes()).map_err(|_| Error::Zlib)?;
    enc.finish().map_err(|_| Error::Zlib)
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
    let text = inflate(data, limits.max_decompressed_size)?;
    check_python_str_path(&text)?;
    let value = pyjson::loads(&text, limits.max_nesting_depth)?;
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

/// Beaker decodes the inflated bytes as strict UTF-8 and gives `json.loads` a `str`:
/// no encoding detection, a leading BOM is an error, and a NUL byte can never be
/// valid JSON text (not whitespace, not allowed raw in strings). With those ruled
/// out, `pyjson::loads` on the bytes behaves exactly like `json.loads` on the str.
fn check_python_str_path(text: &[u8]) -> Result<()> {
    let s = std::str::from_utf8(text)
        .map_err(|e| Error::InvalidJson(format!("'utf-8' codec can't decode: {e}")))?;
    if s.starts_with('\u{feff}') {
        return Err(Error::InvalidJson(
            "Unexpected UTF-8 BOM (decode using utf-8-sig)".into(),
        ));
    }
    if s.contains('\0') {
        return Err(Error::InvalidJson("NUL byte in JSON text".into()));
    }
    Ok(())
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

/// `zlib.decompress(data)` with an output cap checked while inflating. Like Python,
/// bytes after the end of the stream are ignored and a truncated stream is an error.
pub(crate) fn inflate(data: &[u8], cap: usize) -> Result<Vec<u8>> {
    let mut z = Decompress::new(true);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let consumed = usize::try_from(z.total_in()).map_err(|_| Error::Zlib)?;
        let input = data.get(consumed..).unwrap_or_default();
        let (in_before, out_before) = (z.total_in(), z.total_out());
        let status = z
            .decompress(input, &mut buf, FlushDecompress::None)
            .map_err(|_| Error::Zlib)?;
        let produced =
            usize::try_from(z.total_out().saturating_sub(out_before)).map_err(|_| Error::Zlib)?;
        out.extend_from_slice(buf.get(..produced).unwrap_or_default());
        if out.len() > cap {
            return Err(Error::DecompressedTooLarge { limit: cap });
        }
        match status {
            Status::StreamEnd => return Ok(out),
            // no progress possible: the input ended before the stream did
            _ if produced == 0 && z.total_in() == in_before => return Err(Error::Zlib),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn inflate_like_python() {
        let c = zlib(b"{}");
        assert_eq!(inflate(&c, 100).unwrap(), b"{}");
        // trailing garbage after the stream end is ignored (zlib.decompress does too)
        let mut trailing = c.clone();
        trailing.extend_from_slice(b"garbage");
        assert_eq!(inflate(&trailing, 100).unwrap(), b"{}");
        // truncated / empty: "incomplete or truncated stream"
        assert!(matches!(inflate(&c[..c.len() - 1], 100), Err(Error::Zlib)));
        assert!(matches!(inflate(b"", 100), Err(Error::Zlib)));
        // pickle data read as json: "incorrect header check"
        assert!(matches!(inflate(b"\x80\x02}q\x00.", 100), Err(Error::Zlib)));
    }

    #[test]
    fn inflate_cap_is_enforced_while_inflating() {
        let bomb = zlib(&vec![b' '; 10 << 20]);
        assert!(bomb.len() < 20_000);
        assert!(matches!(
            inflate(&bomb, 1 << 20),
            Err(Error::DecompressedTooLarge { limit }) if limit == 1 << 20
        ));
        let exact = zlib(&[b'a'; 1000]);
        assert_eq!(inflate(&exact, 1000).unwrap().len(), 1000);
        assert!(matches!(
            inflate(&exact, 999),
            Err(Error::DecompressedTooLarge { .. })
        ));
    }

    #[test]
    fn python_str_path_rejections() {
        assert!(check_python_str_path(b"{\"a\": 1}").is_ok());
        assert!(matches!(
            check_python_str_path(b"\xef\xbb\xbf{}"),
            Err(Error::InvalidJson(_))
        ));
        // would be detected as UTF-16-LE by json.loads(bytes), not by json.loads(str)
        assert!(matches!(
            check_python_str_path(b"{\x00}\x00"),
            Err(Error::InvalidJson(_))
        ));
        assert!(matches!(
            check_python_str_path(b"{\"a\": \"\xff\"}"),
            Err(Error::InvalidJson(_))
        ));
        // an encoded surrogate is not strict UTF-8
        assert!(matches!(
            check_python_str_path(b"\"\xed\xa0\x80\""),
            Err(Error::InvalidJson(_))
        ));
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
