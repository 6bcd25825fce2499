//! Building a `bson::Document` whose number of keys is known up front.
//!
//! bson 3 has no `Document::with_capacity`: a document built by `insert` grows its
//! hash index and its entry vector 4 → 8 → 16 → … slots, rehashing and moving
//! every entry (136 bytes) at each step, and draws a fresh hasher seed (decoding a
//! typical session takes 10% fewer cycles without that). A clone of an empty
//! document keeps the index size of its source (indexmap clones the index table as
//! is) and its first insert sizes the entries to match, so cloning a pre-grown
//! empty template gives a document sized once, with no rehash.

use std::cell::RefCell;

use bson::{Bson, Document};

/// Key counts of the templates: what the index's power-of-two sizes hold (7/8
/// load). An empty document allocates nothing; documents above 224 keys start
/// from the largest template and grow as usual.
const CLASSES: [usize; 7] = [0, 3, 7, 14, 28, 56, 224];

thread_local! {
    /// One empty document per size class, made on first use, its index already
    /// grown to hold that many keys (but no entry storage: see [`template`]).
    static TEMPLATES: RefCell<[Option<Document>; CLASSES.len()]> =
        const { RefCell::new([const { None }; CLASSES.len()]) };
}

/// Entry buffers kept above this many entries are released after use (an entry
/// is 128 bytes).
const KEEP_ENTRIES: usize = 256;

/// A key and its value waiting for their document to close. The key is boxed so
/// that an entry is 128 bytes, which the compiler copies inline (a `String` key
/// makes it 136 and each push a call to `memmove`).
pub(crate) type Entry = (Box<str>, Bson);

thread_local! {
    static ENTRIES: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's (empty) buffer for collecting documents' entries
/// before [`document_from`], so the buffer is not regrown per call.
pub(crate) fn with_entries<T>(f: impl FnOnce(&mut Vec<Entry>) -> T) -> T {
    let mut entries = ENTRIES
        .with(|cell| cell.try_borrow_mut().map(|mut e| std::mem::take(&mut *e)))
        .unwrap_or_default();
    let out = f(&mut entries);
    // What an error left behind is dropped here.
    entries.clear();
    if entries.capacity() <= KEEP_ENTRIES {
        ENTRIES.with(|cell| {
            if let Ok(mut kept) = cell.try_borrow_mut() {
                *kept = entries;
            }
        });
    }
    out
}

/// An empty document whose index holds `keys` keys without growing.
fn template(keys: usize) -> Document {
    let mut grown = Document::new();
    for i in 0..keys {
        grown.insert(i.to_string(), Bson::Null);
    }
    // `clear` keeps both allocations; the clone keeps only the index's size (an
    // empty clone copies no entries), so a template costs ~9 bytes per slot.
    grown.clear();
    grown.clone()
}

/// An empty document with room for `keys` keys.
fn with_capacity(keys: usize) -> Document {
    let class = CLASSES
        .iter()
        .position(|&c| c >= keys)
        .unwrap_or(CLASSES.len() - 1);
    TEMPLATES.with(|cell| {
        let Ok(mut templates) = cell.try_borrow_mut() else {
            return Document::new();
        };
        match templates.get_mut(class) {
            Some(slot) => slot
                .get_or_insert_with(|| template(CLASSES.get(class).copied().unwrap_or(0)))
                .clone(),
            None => Document::new(),
        }
    })
}

/// The document `insert`ing each entry in turn would give (a repeated key keeps
/// its first position and takes the last value), sized once for all of them.
pub(crate) fn document_from(entries: impl ExactSizeIterator<Item = Entry>) -> Document {
    let mut doc = with_capacity(entries.len());
    for (key, value) in entries {
        doc.insert(key.into_string(), value);
    }
    doc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_document_as_inserting_one_by_one() {
        for n in [0usize, 1, 3, 4, 7, 8, 14, 15, 28, 29, 56, 57, 224, 225, 300] {
            // Every third key repeats an earlier one: last value, first position.
            let entries: Vec<Entry> = (0..n)
                .map(|i| {
                    let key = if i % 3 == 2 { i / 2 } else { i };
                    (format!("k{key}").into_boxed_str(), Bson::Int64(i as i64))
                })
                .collect();
            let mut expected = Document::new();
            for (k, v) in entries.clone() {
                expected.insert(k.into_string(), v);
            }
            let built = document_from(entries.into_iter());
            assert_eq!(built, expected, "{n} entries");
            let keys: Vec<&String> = built.keys().collect();
            let want: Vec<&String> = expected.keys().collect();
            assert_eq!(keys, want, "{n} entries: order");
        }
    }

    #[test]
    fn templates_stay_empty() {
        let mut d = with_capacity(20);
        d.insert("a", 1);
        assert_eq!(with_capacity(20).len(), 0);
        assert_eq!(d.len(), 1);
    }
}
