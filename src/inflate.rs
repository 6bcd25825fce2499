//! `zlib.decompress(data)` (RFC 1950 around RFC 1951) of a whole in-memory stream,
//! accepting and rejecting exactly the streams madler zlib 1.2.13 does with
//! `wbits` 15 (CPython's `zlib.decompress`), with the output capped while inflating.
//!
//! Hand-written rather than zlib-rs (flate2) for speed: cookies inflate a few
//! hundred bytes to a few KB from one dynamic-Huffman block, where a streaming
//! inflater spends much of its time building full-size tables and managing its
//! window. Here the whole input is in memory and the output is one `Vec`, so there
//! is no window, no streaming state and no resumable modes; tables are only as
//! large as the block's longest code and are built the libdeflate way (symbols
//! grouped by length while the header is read, entries replicated by doubling).
//! Measured on the bench payloads (158→165, 592→809, 2268→4092 bytes), CPU
//! cycles per call with reused state, same run: zlib-rs 4400 / 11900 / 35800,
//! this inflater 2840 / 8400 / 27000 (libdeflate 5800 / 10200 / 24500).
//! Issue 6 (errors built only when returned, a const bit-reversal table, the
//! code-length reader in registers, shifts by the whole table entry, four or
//! five literals per refill) then took the cycles of a whole
//! `__zlib_decompress` call on the same payloads from 3246 / 9090 / 27629 to
//! 2612 / 7633 / 24822 (medians of 9, same run).
//!
//! Fidelity notes (zlib 1.2.13 `inflate.c`/`inftrees.c`), all errors [`Error::Zlib`]:
//! header `(CMF*256+FLG) % 31 == 0`, CM 8, CINFO ≤ 7, FDICT refused; block type 3;
//! stored LEN/NLEN complement; HLIT ≤ 286, HDIST ≤ 30; code-length repeats (16 with
//! no previous length, any repeat past HLIT+HDIST); EOB must have a code;
//! over-subscribed codes; incomplete codes except a single code of length 1 for
//! literal/lengths and distances (zlib's `max != 1` rule), an empty distance code
//! (error only when a distance is decoded); symbols 286/287 and distances 30/31;
//! a distance beyond the output so far; the Adler-32; truncation. Bytes after the
//! Adler-32 are ignored, as Python does.

use std::sync::OnceLock;

use crate::error::{Error, Result};

/// Bits of the primary literal/length table (longer codes use sub-tables), at
/// most: small blocks are quicker to decode with a small table that is quick
/// to fill, large ones with fewer sub-table lookups.
const LIT_BITS: u32 = 9;
const LIT_BITS_LARGE: u32 = 11;
/// Bits of the primary distance table, at most.
const DIST_BITS: u32 = 7;
const DIST_BITS_LARGE: u32 = 8;
/// Input left from which a block counts as large.
const LARGE_BLOCK: usize = 1024;
/// Bits of the code-length code table (its codes are at most 7 bits).
const PRE_BITS: u32 = 7;

/// Table sizes: the primary table plus at most one sub-table of 2^(15-bits)
/// entries per pair of symbols (a sub-table of a complete code holds at least
/// two codes).
/// (The smaller primary tables give the larger bound.)
const LIT_SIZE: usize = (1 << LIT_BITS) + 144 * (1 << (15 - LIT_BITS));
const DIST_SIZE: usize = (1 << DIST_BITS) + 16 * (1 << (15 - DIST_BITS));
const PRE_SIZE: usize = 1 << PRE_BITS;

// Table entry layout (u32):
//   bits 0..=7   bits consumed: codeword (rest of it in a sub-table) + extra bits;
//                for a sub-table pointer, the primary table's bits. Always below
//                64 (at most 15 + 13), so the hot loops shift the bit buffer by
//                the whole entry (`wrapping_shr` takes it mod 64, as the shift
//                instruction does): no zero-extension in the lookup chain.
//   bits 8..=11  codeword length (where the extra bits start); for a sub-table
//                pointer, the sub-table's index bits
//   bits 12..=15 flags below
//   bits 16..=31 literal byte, length or distance base, code-length symbol, or
//                the sub-table's start
const F_BAD: u32 = 1 << 12;
const F_EOB: u32 = 1 << 13;
const F_SUB: u32 = 1 << 14;
const F_LIT: u32 = 1 << 15;

/// Most bits one iteration of the fast loop takes (a length and a distance:
/// 15 + 5 + 15 + 13; three literals take at most 45).
const FAST_BITS: usize = 48;
/// Output room the fast loop keeps free: the longest match (258) rounded up to
/// whole 8-byte copies, plus one literal.
const FAST_OUT_SLACK: usize = 258 + 8 + 8;

/// RFC 1951 length base and extra bits for symbols 257..=285.
const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// RFC 1951 distance base and extra bits for codes 0..=29.
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// Order of the code-length code lengths in a dynamic block header.
const PRE_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Entry of a literal/length symbol without its codeword length.
#[allow(clippy::indexing_slicing)] // const-evaluated: a bad index fails the build
const fn lit_entry(sym: usize) -> u32 {
    if sym < 256 {
        F_LIT | ((sym as u32) << 16)
    } else if sym == 256 {
        F_EOB
    } else if sym <= 285 {
        ((LEN_BASE[sym - 257] as u32) << 16) | LEN_EXTRA[sym - 257] as u32
    } else {
        // 286 and 287 only exist in the fixed code: zlib reports them invalid.
        F_BAD
    }
}

/// Entry of a distance symbol without its codeword length.
#[allow(clippy::indexing_slicing)] // const-evaluated: a bad index fails the build
const fn dist_entry(sym: usize) -> u32 {
    if sym < 30 {
        ((DIST_BASE[sym] as u32) << 16) | DIST_EXTRA[sym] as u32
    } else {
        // 30 and 31 only exist in the fixed code: zlib reports them invalid.
        F_BAD
    }
}

#[allow(clippy::indexing_slicing)] // const-evaluated: a bad index fails the build
const LIT_ENTRIES: [u32; 288] = {
    let mut t = [0u32; 288];
    let mut i = 0;
    while i < 288 {
        t[i] = lit_entry(i);
        i += 1;
    }
    t
};
#[allow(clippy::indexing_slicing)] // const-evaluated: a bad index fails the build
const DIST_ENTRIES: [u32; 32] = {
    let mut t = [0u32; 32];
    let mut i = 0;
    while i < 32 {
        t[i] = dist_entry(i);
        i += 1;
    }
    t
};
#[allow(clippy::indexing_slicing)] // const-evaluated: a bad index fails the build
const PRE_ENTRIES: [u32; 19] = {
    let mut t = [0u32; 19];
    let mut i = 0;
    while i < 19 {
        t[i] = (i as u32) << 16;
        i += 1;
    }
    t
};

/// Bits of the largest primary table: `REV` reverses codewords up to this long.
const REV_BITS: usize = 11;
const _: () = assert!(
    LIT_BITS_LARGE as usize <= REV_BITS
        && LIT_BITS as usize <= REV_BITS
        && DIST_BITS_LARGE as usize <= REV_BITS
        && PRE_BITS as usize <= REV_BITS
);
/// `REV[c]` is `c` bit-reversed over `REV_BITS` bits, so a codeword `c` of
/// `len` bits reads as `REV[c] >> (REV_BITS - len)`: a lookup instead of the
/// dozen instructions of `reverse_bits` per symbol on x86-64.
#[allow(clippy::indexing_slicing)] // const-evaluated: a bad index fails the build
const REV: [u16; 1 << REV_BITS] = {
    let mut t = [0u16; 1 << REV_BITS];
    let mut i = 0;
    while i < t.len() {
        t[i] = ((i as u32).reverse_bits() >> (32 - REV_BITS)) as u16;
        i += 1;
    }
    t
};

/// Which code a table decodes: zlib's incompleteness rules differ.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// The code-length code: must be complete (zlib's `type == CODES`).
    Pre,
    /// Literal/length (EOB's presence is checked by the caller).
    Lit,
    /// Distance: may also be empty.
    Dist,
}

/// Symbols grouped by code length, each group in symbol order: the canonical
/// code's order. Filled while the code lengths are read (no sorting pass).
struct ByLength<const N: usize> {
    syms: [[u16; N]; 16],
    count: [u16; 16],
}

impl<const N: usize> ByLength<N> {
    fn new() -> Self {
        ByLength {
            syms: [[0; N]; 16],
            count: [0; 16],
        }
    }

    fn clear(&mut self) {
        self.count = [0; 16];
    }

    /// Appends `sym` with code length `len` (0..=15; group 0 is never read).
    #[inline(always)]
    fn push(&mut self, len: u8, sym: usize) {
        let len = usize::from(len & 15);
        if let (Some(group), Some(n)) = (self.syms.get_mut(len), self.count.get_mut(len))
            && let Some(slot) = group.get_mut(usize::from(*n))
        {
            *slot = sym as u16;
            *n += 1;
        }
    }

    /// Appends symbols `first..first + n`, all of code length `len` (1..=15).
    #[inline(always)]
    fn push_run(&mut self, len: u8, first: usize, n: usize) {
        let len = usize::from(len & 15);
        if let (Some(group), Some(count)) = (self.syms.get_mut(len), self.count.get_mut(len)) {
            let at = usize::from(*count);
            if let Some(slots) = group.get_mut(at..at + n) {
                for (slot, sym) in slots.iter_mut().zip(first..) {
                    *slot = sym as u16;
                }
                *count += n as u16;
            }
        }
    }

    fn from_lens(lens: &[u8]) -> Self {
        let mut s = Self::new();
        s.set_lens(lens);
        s
    }

    /// Regroups the symbols of code lengths `lens` (indexed by symbol).
    fn set_lens(&mut self, lens: &[u8]) {
        self.clear();
        for (sym, &l) in lens.iter().enumerate() {
            if l != 0 {
                self.push(l, sym);
            }
        }
    }

    fn group(&self, len: usize) -> &[u16] {
        let n = usize::from(self.count.get(len).copied().unwrap_or(0));
        self.syms
            .get(len)
            .and_then(|g| g.get(..n))
            .unwrap_or_default()
    }
}

/// Decoding tables of one block, with the primary tables' index bits.
struct Tables {
    lit: [u32; LIT_SIZE],
    dist: [u32; DIST_SIZE],
    lit_bits: u32,
    dist_bits: u32,
}

/// Reusable inflate state: the tables of the current dynamic block and the
/// buffers to build them. Large (about 66 KB), so keep one per thread.
pub(crate) struct Inflater {
    tables: Tables,
    pre: [u32; PRE_SIZE],
    pre_syms: ByLength<19>,
    lit_syms: ByLength<288>,
    dist_syms: ByLength<32>,
}

impl Default for Inflater {
    fn default() -> Self {
        Inflater {
            tables: Tables {
                lit: [0; LIT_SIZE],
                dist: [0; DIST_SIZE],
                lit_bits: 1,
                dist_bits: 1,
            },
            pre: [0; PRE_SIZE],
            pre_syms: ByLength::new(),
            lit_syms: ByLength::new(),
            dist_syms: ByLength::new(),
        }
    }
}

/// The fixed-Huffman tables, built on first use.
fn fixed_tables() -> Result<&'static Tables> {
    static FIXED: OnceLock<Option<Box<Tables>>> = OnceLock::new();
    FIXED
        .get_or_init(|| {
            let mut lens = [0u8; 288];
            for (i, l) in lens.iter_mut().enumerate() {
                *l = match i {
                    0..=143 => 8,
                    144..=255 => 9,
                    256..=279 => 7,
                    _ => 8,
                };
            }
            let mut t = Box::new(Tables {
                lit: [0; LIT_SIZE],
                dist: [0; DIST_SIZE],
                lit_bits: 1,
                dist_bits: 1,
            });
            t.lit_bits = build(
                &mut t.lit,
                &ByLength::<288>::from_lens(&lens),
                LIT_BITS,
                Kind::Lit,
            )
            .ok()?;
            t.dist_bits = build(
                &mut t.dist,
                &ByLength::<32>::from_lens(&[5; 32]),
                DIST_BITS,
                Kind::Dist,
            )
            .ok()?;
            Some(t)
        })
        .as_deref()
        .ok_or_else(zlib_error)
}

/// The error of an invalid stream, built only when it is returned: an eager
/// `ok_or(Error::Zlib)` constructs and drops an `Error` on every success.
#[cold]
fn zlib_error() -> Error {
    Error::Zlib
}

/// Doubles the filled start `table[..end]` of a table (codes one bit longer).
#[inline(always)]
fn double(table: &mut [u32], end: usize) -> Result<()> {
    if end < 8 {
        // One 8-entry piece rather than a memcpy call for a few bytes. The
        // entries it leaves past `2 * end` are scratch: a later doubling or
        // sub-table overwrites them, and lookups never reach them before.
        let piece = *table.first_chunk::<8>().ok_or_else(zlib_error)?;
        table
            .get_mut(end..end + 8)
            .ok_or_else(zlib_error)?
            .copy_from_slice(&piece);
        return Ok(());
    }
    let (head, tail) = table.split_at_mut_checked(end).ok_or_else(zlib_error)?;
    let tail = tail.get_mut(..end).ok_or_else(zlib_error)?;
    // In 32-byte pieces: tables are small, a memcpy call costs more.
    for (d, s) in tail.chunks_exact_mut(8).zip(head.chunks_exact(8)) {
        d.copy_from_slice(s);
    }
    Ok(())
}

/// Builds the decoding table of a code, refusing what zlib's `inflate_table`
/// refuses, and returns its primary table's index bits (`max_bits` or less
/// when every code is shorter: a smaller table is quicker to fill).
fn build<const N: usize>(
    table: &mut [u32],
    code: &ByLength<N>,
    max_bits: u32,
    kind: Kind,
) -> Result<u32> {
    let entries: &[u32] = match kind {
        Kind::Pre => &PRE_ENTRIES,
        Kind::Lit => &LIT_ENTRIES,
        Kind::Dist => &DIST_ENTRIES,
    };
    let count = &code.count;
    // Kraft: over-subscribed codes are refused; `left` is the unused codespace.
    let mut left: i32 = 1;
    for &c in count.iter().skip(1) {
        left = left * 2 - i32::from(c);
        if left < 0 {
            return Err(Error::Zlib);
        }
    }
    let max = count.iter().rposition(|&c| c != 0).unwrap_or(0);
    if max == 0 {
        // No codes: zlib accepts this and errors when a symbol is decoded. For
        // the code-length code that "symbol" reads as length 0 for every length,
        // which leaves EOB without a code: an error either way.
        if kind == Kind::Pre {
            return Err(Error::Zlib);
        }
        table.get_mut(..2).ok_or_else(zlib_error)?.fill(F_BAD);
        return Ok(1);
    }
    let entry = |sym: u16, len: usize| -> u32 {
        entries.get(usize::from(sym)).copied().unwrap_or(F_BAD) + len as u32 + ((len as u32) << 8)
    };
    if left > 0 {
        // inftrees.c: `if (left > 0 && (type == CODES || max != 1)) return -1;`
        // What is left is a single code of length 1: codeword 0 is the symbol,
        // codeword 1 is invalid.
        if kind == Kind::Pre || max != 1 {
            return Err(Error::Zlib);
        }
        let sym = code.group(1).first().copied().ok_or_else(zlib_error)?;
        let pair = table.get_mut(..2).ok_or_else(zlib_error)?;
        pair.copy_from_slice(&[entry(sym, 1), F_BAD]);
        return Ok(1);
    }

    // Complete code: canonical codewords, counted up per length; the table is
    // indexed by them bit-reversed (the order they are read in). Codes up to
    // `bits` long fill the start of the table, which is doubled each time the
    // length grows (libdeflate's construction). Each index is computed from its
    // own codeword, so the symbols do not wait on one another.
    let bits = (max_bits as usize).min(max);
    let mut next_code = 0u32;
    // The table's filled start: 2^len entries once codes of `len` bits exist.
    let mut end = 0usize;
    for len in 1..=bits {
        let group = code.group(len);
        if end == 0 {
            if group.is_empty() {
                continue;
            }
            end = 1 << len;
        } else {
            double(table, end)?;
            end <<= 1;
        }
        let primary = table.get_mut(..end).ok_or_else(zlib_error)?;
        // Codewords of `len` bits are below 2^len (no over-subscription), and
        // `len <= bits <= REV_BITS`: the masks only spare the bounds checks.
        let shift = REV_BITS - len;
        for (c, &sym) in (next_code as usize..).zip(group) {
            let rev = REV.get(c & (REV.len() - 1)).copied().unwrap_or(0);
            let index = usize::from(rev) >> shift;
            if let Some(slot) = primary.get_mut(index & (end - 1)) {
                *slot = entry(sym, len);
            }
        }
        next_code = (next_code + group.len() as u32) << 1;
    }
    if max <= bits {
        return Ok(bits as u32);
    }
    // The first codeword one bit longer than the primary table, bit-reversed.
    let mut codeword = (next_code.reverse_bits() >> (32 - (bits + 1))) as usize;

    // Longer codes: one sub-table per primary-table prefix, sized for the codes
    // sharing that prefix.
    let mask = (1usize << bits) - 1;
    let mut end = 1usize << bits;
    let mut prefix = usize::MAX;
    let mut sub_start = 0usize;
    for len in bits + 1..=max {
        let group = code.group(len);
        let all_ones = (1usize << len) - 1;
        for (k, &sym) in group.iter().enumerate() {
            if codeword & mask != prefix {
                prefix = codeword & mask;
                sub_start = end;
                let mut sub_bits = len - bits;
                let mut used = group.len() - k;
                while used < 1 << sub_bits {
                    sub_bits += 1;
                    if bits + sub_bits > 15 {
                        // Cannot happen for a complete code; never loop on.
                        return Err(Error::Zlib);
                    }
                    used =
                        (used << 1) + usize::from(count.get(bits + sub_bits).copied().unwrap_or(0));
                }
                end = sub_start + (1 << sub_bits);
                *table.get_mut(prefix).ok_or_else(zlib_error)? =
                    F_SUB | ((sub_start as u32) << 16) | ((sub_bits as u32) << 8) | bits as u32;
            }
            let e = entry(sym, len - bits);
            let stride = 1usize << (len - bits);
            let mut i = sub_start + (codeword >> bits);
            let sub = table.get_mut(..end).ok_or_else(zlib_error)?;
            while let Some(slot) = sub.get_mut(i) {
                *slot = e;
                i += stride;
            }
            if codeword == all_ones {
                return Ok(bits as u32);
            }
            codeword = next_codeword(codeword, all_ones);
        }
    }
    // A complete code ends with the all-ones codeword.
    Err(Error::Zlib)
}

/// The next codeword after `codeword` in bit-reversed counting, `all_ones` being
/// the current length's mask: clear the leading ones, set the highest zero.
fn next_codeword(codeword: usize, all_ones: usize) -> usize {
    let highest_zero = usize::BITS - 1 - (codeword ^ all_ones).leading_zeros();
    let bit = 1usize << highest_zero;
    (codeword & (bit - 1)) | bit
}

/// The 8 bytes at `pos` as a little-endian word.
#[inline(always)]
fn load8(data: &[u8], pos: usize) -> Option<u64> {
    data.get(pos..)
        .and_then(|s| s.first_chunk::<8>())
        .map(|b| u64::from_le_bytes(*b))
}

/// `load8` near the end: the bytes left, zero-padded.
#[cold]
fn load_padded(data: &[u8], pos: usize) -> u64 {
    let mut word = [0u8; 8];
    let rest = data.get(pos..).unwrap_or_default();
    let n = rest.len().min(8);
    if let (Some(dst), Some(src)) = (word.get_mut(..n), rest.get(..n)) {
        dst.copy_from_slice(src);
    }
    u64::from_le_bytes(word)
}

/// Bit reader and output of one `inflate` call.
struct Stream<'a> {
    input: &'a [u8],
    /// Next input byte to load into `bitbuf`. May pass the end: zeros are
    /// loaded there, and consuming any of their bits means the stream is
    /// truncated.
    pos: usize,
    /// Loaded bits, least significant first. Bits above `bitsleft` are either
    /// zero or the true next input bits (so OR-ing them in again is harmless).
    bitbuf: u64,
    bitsleft: u32,
    out: &'a mut Vec<u8>,
    /// Bytes produced so far; `out` is longer, its tail is scratch.
    op: usize,
    cap: usize,
}

impl Stream<'_> {
    /// Loads whole bytes until at least 56 bits are buffered.
    #[inline(always)]
    fn refill(&mut self) {
        if let Some(w) = load8(self.input, self.pos) {
            self.bitbuf |= w << self.bitsleft;
            self.pos += ((63 - self.bitsleft) >> 3) as usize;
            self.bitsleft |= 56;
        } else {
            self.refill_tail();
        }
    }

    /// Near the end of the input: byte by byte, zeros past the end.
    #[cold]
    fn refill_tail(&mut self) {
        while self.bitsleft <= 56 {
            let byte = self.input.get(self.pos).copied().unwrap_or(0);
            self.bitbuf |= u64::from(byte) << self.bitsleft;
            self.pos += 1;
            self.bitsleft += 8;
        }
    }

    /// Takes `n` (≤ 32) bits.
    fn bits(&mut self, n: u32) -> u32 {
        if self.bitsleft < n {
            self.refill();
        }
        let v = (self.bitbuf & ((1u64 << n) - 1)) as u32;
        self.consume(n);
        v
    }

    #[inline(always)]
    fn consume(&mut self, n: u32) {
        self.bitbuf >>= n;
        self.bitsleft -= n;
    }

    /// Zero bytes loaded past the end of the input.
    #[inline(always)]
    fn overread(&self) -> usize {
        self.pos.saturating_sub(self.input.len())
    }

    /// Whether bits past the end of the input were consumed.
    #[inline(always)]
    fn truncated(&self) -> bool {
        (self.bitsleft as usize) < self.overread() * 8
    }

    /// Drops the bits up to the next byte boundary and returns that byte's
    /// position in the input, emptying the bit buffer.
    fn align(&mut self) -> Result<usize> {
        let whole = (self.bitsleft / 8) as usize;
        if whole < self.overread() {
            return Err(Error::Zlib);
        }
        let at = self.pos - whole;
        self.bitbuf = 0;
        self.bitsleft = 0;
        self.pos = at;
        Ok(at)
    }

    /// Makes room for `n` more output bytes, refusing to pass the cap. `out`
    /// never grows beyond `cap` bytes, so `room` needs no check of its own.
    #[cold]
    fn grow(&mut self, n: usize) -> Result<()> {
        let need = match self.op.checked_add(n) {
            Some(need) if need <= self.cap => need,
            _ => return Err(Error::DecompressedTooLarge { limit: self.cap }),
        };
        let len = self.out.len();
        if need > len {
            let new_len = need.max(len.saturating_mul(2)).min(self.cap);
            self.out.reserve_exact(new_len - len);
            self.out.resize(new_len, 0);
        }
        Ok(())
    }

    #[inline(always)]
    fn room(&mut self, n: usize) -> Result<()> {
        if self.out.len() - self.op < n {
            self.grow(n)?;
        }
        Ok(())
    }

    /// Decodes one stored block.
    fn stored(&mut self) -> Result<()> {
        let at = self.align()?;
        let head = self.input.get(at..at + 4).ok_or_else(zlib_error)?;
        let len = u16::from_le_bytes([
            head.first().copied().unwrap_or(0),
            head.get(1).copied().unwrap_or(0),
        ]);
        let nlen = u16::from_le_bytes([
            head.get(2).copied().unwrap_or(0),
            head.get(3).copied().unwrap_or(0),
        ]);
        if len != !nlen {
            return Err(Error::Zlib);
        }
        let start = at + 4;
        let data = self.input.get(start..).unwrap_or_default();
        let avail = data.len().min(usize::from(len));
        // zlib copies what there is before noticing the truncation.
        self.room(avail)?;
        let src = data.get(..avail).ok_or_else(zlib_error)?;
        self.out
            .get_mut(self.op..self.op + avail)
            .ok_or_else(zlib_error)?
            .copy_from_slice(src);
        self.op += avail;
        if avail < usize::from(len) {
            return Err(Error::Zlib);
        }
        self.pos = start + avail;
        Ok(())
    }

    /// Reads a dynamic block header into `inf`'s tables.
    fn dynamic_header(&mut self, inf: &mut Inflater) -> Result<()> {
        self.refill();
        let nlen = 257 + self.bits(5) as usize;
        let ndist = 1 + self.bits(5) as usize;
        let ncode = 4 + self.bits(4) as usize;
        if nlen > 286 || ndist > 30 {
            return Err(Error::Zlib);
        }
        let mut pre_lens = [0u8; 19];
        for &i in PRE_ORDER.get(..ncode).unwrap_or_default() {
            let v = self.bits(3) as u8;
            if let Some(l) = pre_lens.get_mut(i) {
                *l = v;
            }
        }
        // Grouped in the reused `pre_syms`: a fresh one per block costs more to
        // zero and move than the grouping itself.
        inf.pre_syms.set_lens(&pre_lens);
        let pre_bits = build(&mut inf.pre, &inf.pre_syms, PRE_BITS, Kind::Pre)?;
        let pre_mask = (1u64 << pre_bits) - 1;

        let total = nlen + ndist;
        let (lit_syms, dist_syms) = (&mut inf.lit_syms, &mut inf.dist_syms);
        lit_syms.clear();
        dist_syms.clear();
        // The bit reader in locals (written back below): kept in registers, the
        // lookups' latency chain has no store and reload in it.
        let input = self.input;
        let mut bitbuf = self.bitbuf;
        let mut bitsleft = self.bitsleft;
        let mut pos = self.pos;
        // EOB's code length, and the previous code length (for repeats).
        let mut eob_len = 0;
        let mut prev: Option<u8> = None;
        let mut i = 0;
        while i < total {
            // A code-length code (≤ 7 bits) and its extra bits (≤ 7).
            if bitsleft < 14 {
                // Whole bytes up to 56..=63 bits, zeros past the end (as `refill`).
                let w = match load8(input, pos) {
                    Some(w) => w,
                    None => load_padded(input, pos),
                };
                bitbuf |= w << bitsleft;
                pos += ((63 - bitsleft) >> 3) as usize;
                bitsleft |= 56;
            }
            const { assert!(PRE_SIZE.is_power_of_two()) };
            let e = inf
                .pre
                .get((bitbuf & pre_mask) as usize & (PRE_SIZE - 1))
                .copied()
                .unwrap_or(F_BAD);
            bitbuf = bitbuf.wrapping_shr(e);
            bitsleft -= e & 0xff;
            let sym = (e >> 16) as u8;
            if sym < 16 {
                // The common case, kept short. Unused symbols (length 0) are
                // pushed too, into group 0, which nothing reads: no branch.
                if i < nlen {
                    lit_syms.push(sym, i);
                } else {
                    dist_syms.push(sym, i - nlen);
                }
                if i == 256 {
                    eob_len = sym;
                }
                prev = Some(sym);
                i += 1;
                continue;
            }
            // Extra bits: at least 7 are buffered (14 before the code).
            let (len, repeat, extra) = match sym {
                16 => {
                    let Some(p) = prev else {
                        return Err(Error::Zlib);
                    };
                    (p, 3 + (bitbuf & 3) as usize, 2)
                }
                17 => (0, 3 + (bitbuf & 7) as usize, 3),
                _ => (0, 11 + (bitbuf & 127) as usize, 7),
            };
            bitbuf >>= extra;
            bitsleft -= extra;
            if i + repeat > total {
                return Err(Error::Zlib);
            }
            if len != 0 {
                // A run may cross from the literal/length lengths into the
                // distance lengths.
                let in_lit = nlen.saturating_sub(i).min(repeat);
                lit_syms.push_run(len, i, in_lit);
                dist_syms.push_run(len, (i + in_lit).saturating_sub(nlen), repeat - in_lit);
            }
            if (i..i + repeat).contains(&256) {
                eob_len = len;
            }
            prev = Some(len);
            i += repeat;
        }
        self.bitbuf = bitbuf;
        self.bitsleft = bitsleft;
        self.pos = pos;
        if self.truncated() || eob_len == 0 {
            return Err(Error::Zlib);
        }
        let large = self.input.len().saturating_sub(self.pos) >= LARGE_BLOCK;
        let (lit_bits, dist_bits) = if large {
            (LIT_BITS_LARGE, DIST_BITS_LARGE)
        } else {
            (LIT_BITS, DIST_BITS)
        };
        inf.tables.lit_bits = build(&mut inf.tables.lit, &inf.lit_syms, lit_bits, Kind::Lit)?;
        inf.tables.dist_bits = build(&mut inf.tables.dist, &inf.dist_syms, dist_bits, Kind::Dist)?;
        Ok(())
    }

    /// Decodes the symbols of one Huffman block up to its end-of-block code.
    fn huffman(&mut self, t: &Tables) -> Result<()> {
        loop {
            if self.fast_loop(t)? {
                return Ok(());
            }
            if self.slow_symbol(t)? {
                return Ok(());
            }
        }
    }

    /// Decodes symbols while the input and output have room for a whole symbol
    /// without any checks on either end. Returns true at the end of the block.
    ///
    /// libdeflate's scheme: the next table entry is looked up as soon as its
    /// bits are known (before the refill or the match copy), and up to three
    /// literals are decoded per refill, which keeps the lookups' latency chain
    /// short.
    #[inline(always)]
    fn fast_loop(&mut self, t: &Tables) -> Result<bool> {
        let input = self.input;
        let buf = self.out.as_mut_slice();
        let Some(out_end) = buf.len().checked_sub(FAST_OUT_SLACK) else {
            return Ok(false);
        };
        let in_bits = input.len() * 8;
        // At the top of the loop 56..=63 bits are buffered (just refilled); with
        // `pos <= in_end` at most one of those bytes is a zero past the end, so
        // FAST_BITS bits of real input are there.
        const { assert!(56 - 8 >= FAST_BITS) };
        let in_end = input.len() + 1;
        let mut bitbuf = self.bitbuf;
        let mut bitsleft = self.bitsleft;
        let mut pos = self.pos;
        let mut op = self.op;
        // Iterations need FAST_BITS unconsumed bits of real input: none of the
        // zeros loaded past the end is ever taken here.
        let enough_input =
            |pos: usize, bitsleft: u32| pos * 8 + FAST_BITS <= in_bits + bitsleft as usize;
        if !enough_input(pos, bitsleft) || op > out_end {
            return Ok(false);
        }

        // Loads whole bytes up to 56..=63 bits (zeros past the end).
        macro_rules! refill {
            () => {
                let w = match load8(input, pos) {
                    Some(w) => w,
                    None => load_padded(input, pos),
                };
                bitbuf |= w << bitsleft;
                pos += ((63 - bitsleft) >> 3) as usize;
                bitsleft |= 56;
            };
        }
        // Takes the bits of entry `$e`, returning the bit buffer before.
        macro_rules! consume {
            ($e:expr) => {{
                let saved = bitbuf;
                bitbuf = bitbuf.wrapping_shr($e);
                bitsleft -= $e & 0xff;
                saved
            }};
        }
        // The extra bits of a length or distance entry `$e` taken from `$saved`.
        macro_rules! value {
            ($e:expr, $saved:expr) => {
                ($e >> 16) as usize
                    + (($saved & ((1u64 << ($e & 0xff)) - 1)) >> (($e >> 8) & 15)) as usize
            };
        }

        let lit_mask = (1u64 << t.lit_bits) - 1;
        let dist_mask = (1u64 << t.dist_bits) - 1;
        const { assert!(4 * LIT_BITS_LARGE + LIT_BITS_LARGE <= 56 && 4 * 11 <= FAST_BITS) };
        const { assert!(6 * 9 <= 56 && 5 * 9 <= FAST_BITS && LIT_BITS <= 9) };
        let five_literals = t.lit_bits <= 9;
        let mut result = Ok(false);
        refill!();
        // Entry of the next literal/length symbol, its bits not yet taken.
        let mut e = lit_primary(&t.lit, bitbuf & lit_mask);
        while pos <= in_end && op <= out_end {
            // At least 56 bits are buffered here.
            let mut saved = consume!(e);
            if e & F_LIT != 0 {
                // A literal of the primary table takes at most `lit_bits` (≤ 11)
                // bits: after four, 12 bits are still buffered for the next
                // lookup; with a table of at most 9 bits, after five, 11.
                let lit = (e >> 16) as u8;
                e = lit_primary(&t.lit, bitbuf & lit_mask);
                if let Some(b) = buf.get_mut(op) {
                    *b = lit;
                }
                op += 1;
                // The next literal, if the entry looked up is one.
                macro_rules! literal {
                    () => {{
                        let is_lit = e & F_LIT != 0;
                        if is_lit {
                            consume!(e);
                            let lit = (e >> 16) as u8;
                            e = lit_primary(&t.lit, bitbuf & lit_mask);
                            if let Some(b) = buf.get_mut(op) {
                                *b = lit;
                            }
                            op += 1;
                        }
                        is_lit
                    }};
                }
                if literal!() && literal!() && literal!() && five_literals {
                    literal!();
                }
                refill!();
                continue;
            }
            if e & F_SUB != 0 {
                // The primary table's bits are taken; the rest indexes the
                // sub-table.
                e = lit_at(
                    &t.lit,
                    u64::from(e >> 16) + (bitbuf & ((1u64 << ((e >> 8) & 15)) - 1)),
                );
                saved = consume!(e);
                if e & F_LIT != 0 {
                    if let Some(b) = buf.get_mut(op) {
                        *b = (e >> 16) as u8;
                    }
                    op += 1;
                    refill!();
                    e = lit_primary(&t.lit, bitbuf & lit_mask);
                    continue;
                }
            }
            if e & (F_EOB | F_BAD) != 0 {
                result = if e & F_BAD != 0 {
                    Err(Error::Zlib)
                } else {
                    Ok(true)
                };
                break;
            }
            // A length: at most 20 bits taken, so the distance's 28 are buffered.
            let len = value!(e, saved);
            let mut d = dist_primary(&t.dist, bitbuf & dist_mask);
            saved = consume!(d);
            if d & F_SUB != 0 {
                d = dist_at(
                    &t.dist,
                    u64::from(d >> 16) + (bitbuf & ((1u64 << ((d >> 8) & 15)) - 1)),
                );
                saved = consume!(d);
            }
            if d & F_BAD != 0 {
                result = Err(Error::Zlib);
                break;
            }
            let dist = value!(d, saved);
            if dist > op {
                result = Err(Error::Zlib);
                break;
            }
            refill!();
            e = lit_primary(&t.lit, bitbuf & lit_mask);
            copy_match_fast(buf, op, dist, len);
            op += len;
        }
        self.bitbuf = bitbuf;
        self.bitsleft = bitsleft;
        self.pos = pos;
        self.op = op;
        result
    }

    /// One table entry (through its sub-table if any) with every check, its bits
    /// consumed; also the bit buffer as it was before them (for the extra bits).
    /// `at` reads the table, `mask` selects the primary index bits.
    #[cold]
    fn checked_entry(&mut self, at: impl Fn(u64) -> u32, mask: u64) -> Result<(u32, u64)> {
        self.refill();
        let mut e = at(self.bitbuf & mask);
        if e & F_SUB != 0 {
            self.consume(e & 0xff);
            e = at(u64::from(e >> 16) + (self.bitbuf & ((1u64 << ((e >> 8) & 15)) - 1)));
        }
        if e & F_BAD != 0 {
            return Err(Error::Zlib);
        }
        let saved = self.bitbuf;
        self.consume(e & 0xff);
        if self.truncated() {
            return Err(Error::Zlib);
        }
        Ok((e, saved))
    }

    /// Decodes one symbol with every check (near either end). Returns true at
    /// the end of the block.
    #[cold]
    fn slow_symbol(&mut self, t: &Tables) -> Result<bool> {
        let lit_mask = (1u64 << t.lit_bits) - 1;
        let dist_mask = (1u64 << t.dist_bits) - 1;
        let (e, saved) = self.checked_entry(|i| lit_at(&t.lit, i), lit_mask)?;
        let n = e & 0xff;
        if e & F_LIT != 0 {
            self.room(1)?;
            if let Some(b) = self.out.get_mut(self.op) {
                *b = (e >> 16) as u8;
            }
            self.op += 1;
            return Ok(false);
        }
        if e & F_EOB != 0 {
            return Ok(true);
        }
        let len = (e >> 16) as usize + ((saved & ((1u64 << n) - 1)) >> ((e >> 8) & 15)) as usize;

        let (d, saved) = self.checked_entry(|i| dist_at(&t.dist, i), dist_mask)?;
        let n = d & 0xff;
        let dist = (d >> 16) as usize + ((saved & ((1u64 << n) - 1)) >> ((d >> 8) & 15)) as usize;
        if dist > self.op {
            return Err(Error::Zlib);
        }
        self.room(len)?;
        let op = self.op;
        let buf = self.out.get_mut(..op + len).ok_or_else(zlib_error)?;
        if dist >= len {
            buf.copy_within(op - dist..op - dist + len, op);
        } else {
            for i in op..op + len {
                let b = buf.get(i - dist).copied().unwrap_or(0);
                if let Some(slot) = buf.get_mut(i) {
                    *slot = b;
                }
            }
        }
        self.op += len;
        Ok(false)
    }
}

#[inline(always)]
fn lit_at(t: &[u32; LIT_SIZE], i: u64) -> u32 {
    t.get(i as usize).copied().unwrap_or(F_BAD)
}

/// `lit_at` for an index masked to the primary table (no bounds check left).
#[inline(always)]
fn lit_primary(t: &[u32; LIT_SIZE], masked: u64) -> u32 {
    const { assert!(1 << LIT_BITS_LARGE <= LIT_SIZE) };
    lit_at(t, masked & ((1 << LIT_BITS_LARGE) - 1))
}

/// `dist_at` for an index masked to the primary table.
#[inline(always)]
fn dist_primary(t: &[u32; DIST_SIZE], masked: u64) -> u32 {
    const { assert!(1 << DIST_BITS_LARGE <= DIST_SIZE) };
    dist_at(t, masked & ((1 << DIST_BITS_LARGE) - 1))
}

#[inline(always)]
fn dist_at(t: &[u32; DIST_SIZE], i: u64) -> u32 {
    t.get(i as usize).copied().unwrap_or(F_BAD)
}

/// Copies a match of `len` bytes from `dist` back to `op`, possibly writing up
/// to 7 scratch bytes past `op + len` (the fast loop keeps room for them).
/// `1 <= dist <= op` and `op + len + 8 <= buf.len()`.
#[inline(always)]
fn copy_match_fast(buf: &mut [u8], op: usize, dist: usize, len: usize) {
    let src = op - dist;
    if dist >= 8 {
        // 8 bytes at a time: each read only covers bytes already written.
        let mut s = src;
        let mut d = op;
        let end = op + len;
        while d < end {
            if let Some(w) = load8(buf, s)
                && let Some(dst) = buf.get_mut(d..d + 8)
            {
                dst.copy_from_slice(&w.to_le_bytes());
            }
            s += 8;
            d += 8;
        }
    } else if dist == 1 {
        let b = buf.get(src).copied().unwrap_or(0);
        if let Some(dst) = buf.get_mut(op..op + len) {
            dst.fill(b);
        }
    } else {
        for i in op..op + len {
            let b = buf.get(i - dist).copied().unwrap_or(0);
            if let Some(slot) = buf.get_mut(i) {
                *slot = b;
            }
        }
    }
}

impl Inflater {
    /// `zlib.decompress(input)` into `out` (cleared first), refusing to produce
    /// more than `cap` bytes.
    ///
    /// # Errors
    /// [`Error::Zlib`] for a stream zlib rejects (invalid, truncated, bad check),
    /// [`Error::DecompressedTooLarge`] as soon as the output would pass `cap`.
    pub(crate) fn inflate(&mut self, input: &[u8], out: &mut Vec<u8>, cap: usize) -> Result<()> {
        out.clear();
        let (cmf, flg) = match input {
            [cmf, flg, ..] => (*cmf, *flg),
            _ => return Err(Error::Zlib),
        };
        if ((u16::from(cmf) << 8) | u16::from(flg)) % 31 != 0
            || cmf & 0x0f != 8
            || (cmf >> 4) > 7
            || flg & 0x20 != 0
        {
            return Err(Error::Zlib);
        }
        // A first guess at the output size with room for the fast loop; grown
        // (up to `cap` bytes) as needed.
        let guess = input
            .len()
            .saturating_mul(2)
            .saturating_add(FAST_OUT_SLACK + 256)
            .min(cap);
        out.reserve_exact(guess);
        out.resize(guess, 0);
        let mut s = Stream {
            input,
            pos: 2,
            bitbuf: 0,
            bitsleft: 0,
            out,
            op: 0,
            cap,
        };
        let r = self.blocks(&mut s);
        let (op, at) = (s.op, s.pos);
        out.truncate(op);
        r?;
        let check = input.get(at..at + 4).ok_or_else(zlib_error)?;
        let want = u32::from_be_bytes([
            check.first().copied().unwrap_or(0),
            check.get(1).copied().unwrap_or(0),
            check.get(2).copied().unwrap_or(0),
            check.get(3).copied().unwrap_or(0),
        ]);
        if adler32(out) != want {
            return Err(Error::Zlib);
        }
        Ok(())
    }

    /// Decodes blocks up to the final one, leaving `s.pos` at the Adler-32.
    fn blocks(&mut self, s: &mut Stream<'_>) -> Result<()> {
        loop {
            s.refill();
            let header = s.bits(3);
            if s.truncated() {
                return Err(Error::Zlib);
            }
            match header >> 1 {
                0 => s.stored()?,
                1 => s.huffman(fixed_tables()?)?,
                2 => {
                    s.dynamic_header(self)?;
                    s.huffman(&self.tables)?;
                }
                _ => return Err(Error::Zlib),
            }
            if header & 1 != 0 {
                s.align()?;
                return Ok(());
            }
        }
    }
}

/// Adler-32 of `data`: sixteen independent lanes over 16-byte blocks (which
/// the compiler turns into vector adds), reduced modulo 65521 often enough
/// that no lane overflows.
pub(crate) fn adler32(data: &[u8]) -> u32 {
    const MOD: u64 = 65521;
    const LANES: usize = 16;
    // Per lane, the weighted sum stays below 255 * n(n+1)/2 < 2^32 for n ≤ 5552.
    const CHUNK: usize = 5552 * LANES;
    let mut a: u64 = 1;
    let mut b: u64 = 0;
    for chunk in data.chunks(CHUNK) {
        let (blocks, tail) = chunk.as_chunks::<LANES>();
        let mut la = [0u32; LANES];
        let mut lb = [0u32; LANES];
        for block in blocks {
            for (x, &byte) in la.iter_mut().zip(block) {
                *x += u32::from(byte);
            }
            for (y, &x) in lb.iter_mut().zip(&la) {
                *y += x;
            }
        }
        // Bytes k = 16t + j of n: b gains n*a + Σ (n - k) byte_k, which is
        // 16 Σ lb[j] - Σ j la[j].
        let n = (blocks.len() * LANES) as u64;
        b += n * a;
        for (j, (&x, &y)) in la.iter().zip(lb.iter()).enumerate() {
            a += u64::from(x);
            // (+ a multiple of MOD keeps the subtraction from wrapping)
            b += LANES as u64 * u64::from(y) + MOD * LANES as u64 * 255 - j as u64 * u64::from(x);
        }
        for &byte in tail {
            a += u64::from(byte);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    ((b as u32) << 16) | a as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adler_naive(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &x in data {
            a = (a + u32::from(x)) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    }

    #[test]
    fn adler32_matches_the_definition() {
        let mut x = 12345u32;
        let data: Vec<u8> = (0..300_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                (x >> 16) as u8
            })
            .collect();
        for len in [
            0, 1, 15, 16, 17, 255, 5551, 5552, 5553, 88_831, 88_832, 88_833, 300_000,
        ] {
            assert_eq!(adler32(&data[..len]), adler_naive(&data[..len]), "{len}");
        }
        let ff = vec![0xffu8; 200_000];
        for len in [88_832, 100_000, 200_000] {
            assert_eq!(adler32(&ff[..len]), adler_naive(&ff[..len]), "{len}");
        }
    }
}

/// Differential tests against CPython's zlib (fixtures) and zlib-rs (flate2).
#[cfg(test)]
mod differential {
    use std::io::Write as _;

    use base64::Engine as _;
    use proptest::prelude::*;
    use sha2::{Digest as _, Sha256};

    use super::*;

    const BIG_CAP: usize = 1 << 30;

    fn ours(z: &[u8], cap: usize) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        Inflater::default().inflate(z, &mut out, cap)?;
        Ok(out)
    }

    /// `zlib.decompress(z)` through zlib-rs: the whole input, trailing bytes
    /// ignored, `None` for any error or truncation.
    fn zlib_rs(z: &[u8]) -> Option<Vec<u8>> {
        let mut d = flate2::Decompress::new(true);
        let mut out = Vec::with_capacity(1024);
        loop {
            let consumed = usize::try_from(d.total_in()).ok()?;
            let before = out.len();
            let status = d
                .decompress_vec(&z[consumed..], &mut out, flate2::FlushDecompress::Finish)
                .ok()?;
            match status {
                flate2::Status::StreamEnd => return Some(out),
                _ if out.len() == out.capacity() => out.reserve(out.len()),
                _ if out.len() != before || d.total_in() as usize != consumed => {}
                _ => return None,
            }
        }
    }

    /// Every stream of testdata/inflate.json (scripts/gen_inflate_fixtures.py:
    /// CPython's zlib.decompress on zlib's own streams, mutations and
    /// hand-built edge cases) gives Python's outcome; valid ones also inflate
    /// under a cap of exactly their size and fail one byte below.
    #[test]
    fn agrees_with_python_zlib_on_every_fixture() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/inflate.json");
        let text = std::fs::read_to_string(path).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
        let cases = doc["cases"].as_array().unwrap();
        assert!(cases.len() > 10_000);
        let mut inflater = Inflater::default();
        let (mut ok, mut err) = (0, 0);
        for (i, case) in cases.iter().enumerate() {
            let z = base64::engine::general_purpose::STANDARD
                .decode(case["z"].as_str().unwrap())
                .unwrap();
            let kind = case["kind"].as_str().unwrap();
            let mut out = Vec::new();
            let got = inflater.inflate(&z, &mut out, BIG_CAP);
            if case["ok"].as_bool().unwrap() {
                assert!(
                    got.is_ok(),
                    "case {i} ({kind}): Python inflates it, we say {got:?}"
                );
                let len = case["len"].as_u64().unwrap() as usize;
                assert_eq!(out.len(), len, "case {i} ({kind})");
                let sha = Sha256::digest(&out);
                let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
                assert_eq!(hex, case["sha256"].as_str().unwrap(), "case {i} ({kind})");
                assert!(
                    inflater.inflate(&z, &mut out, len).is_ok(),
                    "case {i}: exact cap"
                );
                if len > 0 {
                    assert!(
                        matches!(
                            inflater.inflate(&z, &mut out, len - 1),
                            Err(Error::DecompressedTooLarge { limit }) if limit == len - 1
                        ),
                        "case {i} ({kind}): cap one below"
                    );
                }
                ok += 1;
            } else {
                assert!(
                    matches!(got, Err(Error::Zlib)),
                    "case {i} ({kind}): Python refuses it, we say {:?}",
                    got.map(|()| out.len())
                );
                err += 1;
            }
        }
        assert!(ok > 2000 && err > 5000, "{ok} {err}");
    }

    #[test]
    fn cap_is_exact_and_output_never_exceeds_it() {
        // A bomb: 10 MB of zeros, inflated under small caps.
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(9));
        e.write_all(&vec![0u8; 10 << 20]).unwrap();
        let bomb = e.finish().unwrap();
        for cap in [0, 1, 255, 256, 257, 1000, 65_536, 1 << 20] {
            let mut out = Vec::new();
            assert!(matches!(
                Inflater::default().inflate(&bomb, &mut out, cap),
                Err(Error::DecompressedTooLarge { limit }) if limit == cap
            ));
            assert!(
                out.capacity() <= cap.max(1).saturating_add(1) || out.capacity() <= 8,
                "{cap}"
            );
        }
        assert_eq!(ours(&bomb, 10 << 20).unwrap().len(), 10 << 20);
    }

    fn compressed(data: &[u8], level: u32) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn data_strategy() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..3000),
            proptest::collection::vec(0u8..4, 0..5000),
            proptest::collection::vec(prop_oneof![Just(0u8), Just(b'a'), any::<u8>()], 0..5000),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn roundtrips_zlib_rs_streams(data in data_strategy(), level in 0u32..=9) {
            let z = compressed(&data, level);
            prop_assert_eq!(ours(&z, BIG_CAP).unwrap(), data);
        }

        #[test]
        fn mutated_streams_agree_with_zlib_rs(
            data in data_strategy(),
            level in 0u32..=9,
            flips in proptest::collection::vec((any::<prop::sample::Index>(), 0u8..8), 1..4),
            cut in any::<prop::sample::Index>(),
            truncate in any::<bool>(),
        ) {
            let mut z = compressed(&data, level);
            for (at, bit) in flips {
                let i = at.index(z.len());
                z[i] ^= 1 << bit;
            }
            if truncate {
                z.truncate(cut.index(z.len() + 1));
            }
            let want = zlib_rs(&z);
            match ours(&z, BIG_CAP) {
                Ok(out) => prop_assert_eq!(Some(out), want),
                Err(e) => {
                    prop_assert!(matches!(e, Error::Zlib));
                    prop_assert_eq!(None, want);
                }
            }
        }

        #[test]
        fn random_bytes_agree_with_zlib_rs(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
            // A valid header, then anything.
            let mut z = vec![0x78, 0x9c];
            z.extend_from_slice(&tail);
            let want = zlib_rs(&z);
            prop_assert_eq!(ours(&z, BIG_CAP).ok(), want);
        }
    }
}
