"""Generate testdata/inflate.json: zlib streams and what CPython's
zlib.decompress(stream) (zlib 1.2.13, wbits 15) makes of them, for the
differential test of src/inflate.rs.

Run with the reference venv:
    /work/.venv-ref/bin/python scripts/gen_inflate_fixtures.py > testdata/inflate.json
Deterministic (seeded). Each case: {"z": base64 stream, "kind": category,
"ok": bool, and for ok cases "len" and "sha256" of the output}.

Categories: streams written by zlib itself (levels 0..9, every strategy, wbits
9..15, empty and multi-block inputs); mutations of small streams (bit flips,
truncations, byte swaps and replacements, inserted/deleted bytes, trailing
garbage); every 2-byte header over a valid body; and hand-built dynamic blocks
with valid, incomplete, over-subscribed, empty and single-code code lengths,
bad repeats, HLIT/HDIST limits, symbols 286/287 and distances 30/31.
"""
import base64
import hashlib
import json
import random
import struct
import sys
import zlib

rng = random.Random(20261123)
cases = []


def record(z, kind):
    z = bytes(z)
    case = {"z": base64.b64encode(z).decode(), "kind": kind}
    try:
        out = zlib.decompress(z)
    except zlib.error:
        case["ok"] = False
    else:
        case["ok"] = True
        case["len"] = len(out)
        case["sha256"] = hashlib.sha256(out).hexdigest()
    cases.append(case)


# ------------------------------------------------------------------ inputs


def words(n):
    vocab = [b"session", b"user", b"_id", b"\x00\x00\x00", b"csrf", b"token", b"cart",
             b"\x02", b"\x10", b"roles", b"admin", b" ", b"{", b"}", b'"', b"1234"]
    out = bytearray()
    while len(out) < n:
        out += rng.choice(vocab)
    return bytes(out[:n])


def random_bytes(n, alphabet=256):
    return bytes(rng.randrange(alphabet) for _ in range(n))


inputs = [b"", b"a", b"\x00", b"ab" * 3, b"\x00" * 300, b"abc" * 1000]
for n in [1, 2, 3, 7, 31, 100, 258, 259, 600, 1000, 4000]:
    inputs.append(words(n))
    inputs.append(random_bytes(n, 16))
for n in [10, 300, 2000]:
    inputs.append(random_bytes(n))
small_inputs = list(inputs)
# Multi-block: long enough for several blocks at every level.
big_inputs = [
    words(20_000),
    random_bytes(3_000, 8) + b"\x00" * 20_000 + random_bytes(3_000),
]

STRATEGIES = [
    ("default", zlib.Z_DEFAULT_STRATEGY),
    ("filtered", zlib.Z_FILTERED),
    ("huffman_only", zlib.Z_HUFFMAN_ONLY),
    ("rle", zlib.Z_RLE),
    ("fixed", zlib.Z_FIXED),
]


def compress(data, level=9, wbits=15, strategy=zlib.Z_DEFAULT_STRATEGY, mem=8):
    c = zlib.compressobj(level, zlib.DEFLATED, wbits, mem, strategy)
    return c.compress(data) + c.flush()


valid_small = []
for data in small_inputs:
    for level in range(10):
        z = compress(data, level)
        record(z, "zlib_level")
        valid_small.append(z)
    for name, strat in STRATEGIES:
        record(compress(data, 6, strategy=strat), "zlib_" + name)
    for wbits in range(9, 16):
        record(compress(data, 9, wbits=wbits), "zlib_wbits")
# Level 0 past 64 KiB: several stored blocks.
record(compress(random_bytes(70_000, 4), 0), "zlib_multiblock_stored")
for data in big_inputs:
    # memLevel 1 makes zlib end a block every 128 symbols.
    for level in [1, 6, 9]:
        record(compress(data, level, mem=1), "zlib_multiblock")
        record(compress(data, level, mem=rng.randrange(2, 10)), "zlib_multiblock")
    for name, strat in STRATEGIES[1:]:
        record(compress(data, 9, strategy=strat, mem=1), "zlib_multiblock_" + name)
    # A sync flush in the middle: an empty stored block between blocks.
    c = zlib.compressobj(9)
    half = len(data) // 2
    record(c.compress(data[:half]) + c.flush(zlib.Z_SYNC_FLUSH) + c.compress(data[half:]) + c.flush(),
           "zlib_sync_flush")
    # Full flush with dictionary reset, and a stored block (level 0) after data.
    c = zlib.compressobj(1)
    record(c.compress(data[:half]) + c.flush(zlib.Z_FULL_FLUSH) + c.compress(data[half:]) + c.flush(),
           "zlib_full_flush")

# ---------------------------------------------------------------- mutations

mutable = [z for z in valid_small if len(z) <= 400]


def mutate(z):
    z = bytearray(z)
    op = rng.randrange(8)
    if op == 0:  # bit flips
        for _ in range(rng.choice([1, 1, 1, 2, 3])):
            i = rng.randrange(len(z) * 8)
            z[i // 8] ^= 1 << (i % 8)
        return z, "mut_bitflip"
    if op == 1:  # truncation
        return z[: rng.randrange(len(z))], "mut_truncate"
    if op == 2 and len(z) > 3:  # swap two bytes
        i, j = rng.randrange(len(z)), rng.randrange(len(z))
        z[i], z[j] = z[j], z[i]
        return z, "mut_swap"
    if op == 3:  # replace a byte
        z[rng.randrange(len(z))] = rng.randrange(256)
        return z, "mut_replace"
    if op == 4:  # insert a byte
        z.insert(rng.randrange(len(z) + 1), rng.randrange(256))
        return z, "mut_insert"
    if op == 5 and len(z) > 1:  # delete a byte
        del z[rng.randrange(len(z))]
        return z, "mut_delete"
    if op == 6:  # trailing garbage (ignored by Python)
        return z + random_bytes(rng.randrange(1, 20)), "mut_trailing"
    # flip a bit in the last 6 bytes (end of data, Adler-32)
    i = len(z) - 1 - rng.randrange(min(6, len(z)))
    z[i] ^= 1 << rng.randrange(8)
    return z, "mut_tail_flip"


for _ in range(4000):
    z, kind = mutate(rng.choice(mutable))
    record(z, kind)
# Every truncation of a few streams.
for z in [compress(words(300), 9), compress(words(300), 0), compress(words(300), 6, strategy=zlib.Z_FIXED)]:
    for n in range(len(z)):
        record(z[:n], "truncate_all")

# ------------------------------------------------------------------ headers

body = compress(b"session", 9)[2:]
for cmf in range(256):
    for flg in range(256):
        if (cmf * 256 + flg) % 31 == 0 or rng.random() < 0.01:
            record(bytes([cmf, flg]) + body, "header")
# FDICT with a dictionary id, as zlib writes it.
c = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, zdict=b"session user")
record(c.compress(b"session user session") + c.flush(), "header_fdict")

# ---------------------------------------------------- hand-built deflate data


class Bits:
    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.n = 0

    def put(self, value, n):
        self.acc |= (value & ((1 << n) - 1)) << self.n
        self.n += n
        while self.n >= 8:
            self.out.append(self.acc & 0xFF)
            self.acc >>= 8
            self.n -= 8

    def put_code(self, code, length):
        # Huffman codes go most significant bit first.
        for i in range(length - 1, -1, -1):
            self.put((code >> i) & 1, 1)

    def flush(self):
        if self.n:
            self.out.append(self.acc & 0xFF)
        self.acc = self.n = 0
        return self.out


def canonical(lens):
    """Canonical codes for `lens` (as RFC 1951 assigns them; also for
    incomplete codes). None for over-subscribed ones."""
    maxl = max(lens) if lens else 0
    bl_count = [0] * (maxl + 2)
    for length in lens:
        if length:
            bl_count[length] += 1
    code = 0
    next_code = [0] * (maxl + 2)
    for bits in range(1, maxl + 1):
        code = (code + bl_count[bits - 1]) << 1 if bits > 1 else 0
        next_code[bits] = code
    codes = {}
    for sym, length in enumerate(lens):
        if length:
            c = next_code[length]
            if c >= 1 << length:
                return None
            codes[sym] = (c, length)
            next_code[length] += 1
    return codes


def huffman_lengths(freqs, limit):
    """Length-limited code lengths for symbol frequencies (simple heuristic:
    package-free, by repeatedly flattening). Returns a complete code."""
    import heapq

    syms = [s for s, f in enumerate(freqs) if f]
    if not syms:
        return [0] * len(freqs)
    if len(syms) == 1:
        lens = [0] * len(freqs)
        lens[syms[0]] = 1
        # Make it complete with a second symbol.
        if len(freqs) > 1:
            lens[0 if syms[0] != 0 else 1] = 1
        return lens
    scale = 1
    while True:
        heap = [(max(1, freqs[s] // scale), i, [s]) for i, s in enumerate(syms)]
        heapq.heapify(heap)
        depth = {s: 0 for s in syms}
        counter = len(heap)
        while len(heap) > 1:
            f1, _, a = heapq.heappop(heap)
            f2, _, b = heapq.heappop(heap)
            for s in a + b:
                depth[s] += 1
            counter += 1
            heapq.heappush(heap, (f1 + f2, counter, a + b))
        if max(depth.values()) <= limit:
            lens = [0] * len(freqs)
            for s, d in depth.items():
                lens[s] = d
            return lens
        scale *= 2


ORDER = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]
LEN_BASE = [3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83,
            99, 115, 131, 163, 195, 227, 258]
LEN_EXTRA = [0] * 8 + [1] * 4 + [2] * 4 + [3] * 4 + [4] * 4 + [5] * 4 + [0]
DIST_BASE = [1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769,
             1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]
DIST_EXTRA = [0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11,
              11, 12, 12, 13, 13]


def rle_lengths(lens):
    """Code-length symbols (sym, extra_value, extra_bits) for `lens`, using
    16/17/18 runs like zlib does."""
    out = []
    i = 0
    while i < len(lens):
        v = lens[i]
        run = 1
        while i + run < len(lens) and lens[i + run] == v:
            run += 1
        if v == 0 and run >= 3:
            r = min(run, 138)
            out.append((18, r - 11, 7) if r >= 11 else (17, r - 3, 3))
            i += r
        elif v != 0 and run >= 4 and rng.random() < 0.8:
            out.append((v, 0, 0))
            r = min(run - 1, 6)
            if r >= 3:
                out.append((16, r - 3, 2))
                i += 1 + r
            else:
                i += 1
        else:
            out.append((v, 0, 0))
            i += 1
    return out


def dynamic_block(lit_lens, dist_lens, symbols, final=True, writer=None, hlit=None,
                  hdist=None, code_syms=None, pre_lens=None, hclen=None):
    """Writes one dynamic block. `symbols`: list of ("lit", byte) / ("match",
    length, distance) / ("eob",) / ("raw_lit", sym) encoded with the given
    codes (the caller makes sure those symbols have codes)."""
    w = writer or Bits()
    w.put(1 if final else 0, 1)
    w.put(2, 2)
    hlit = len(lit_lens) if hlit is None else hlit
    hdist = len(dist_lens) if hdist is None else hdist
    code_syms = rle_lengths(lit_lens + dist_lens) if code_syms is None else code_syms
    if pre_lens is None:
        freqs = [0] * 19
        for s, _, _ in code_syms:
            freqs[s] += 1
        pre_lens = huffman_lengths(freqs, 7)
    if hclen is None:
        hclen = 19
        while hclen > 4 and pre_lens[ORDER[hclen - 1]] == 0:
            hclen -= 1
    w.put(hlit - 257, 5)
    w.put(hdist - 1, 5)
    w.put(hclen - 4, 4)
    for i in range(hclen):
        w.put(pre_lens[ORDER[i]], 3)
    pre_codes = canonical(pre_lens) or {}
    for s, extra, nbits in code_syms:
        c = pre_codes.get(s)
        if c is None:
            w.put(rng.getrandbits(7), 7)
        else:
            w.put_code(*c)
        w.put(extra, nbits)
    lit_codes = canonical(lit_lens) or {}
    dist_codes = canonical(dist_lens) or {}
    for s in symbols:
        if s[0] == "lit":
            w.put_code(*lit_codes[s[1]])
        elif s[0] == "raw_lit":
            w.put_code(*lit_codes[s[1]])
        elif s[0] == "eob":
            w.put_code(*lit_codes[256])
        elif s[0] == "match":
            _, length, dist = s
            li = max(i for i, b in enumerate(LEN_BASE) if b <= length)
            if length == 258:
                li = 28
            w.put_code(*lit_codes[257 + li])
            w.put(length - LEN_BASE[li], LEN_EXTRA[li])
            di = max(i for i, b in enumerate(DIST_BASE) if b <= dist)
            w.put_code(*dist_codes[di])
            w.put(dist - DIST_BASE[di], DIST_EXTRA[di])
        elif s[0] == "dist_sym":
            # a length symbol then a raw distance symbol
            _, lsym, dsym = s
            w.put_code(*lit_codes[lsym])
            w.put(0, LEN_EXTRA[lsym - 257])
            w.put_code(*dist_codes[dsym])
            w.put(0, DIST_EXTRA[dsym] if dsym < 30 else 0)
    return w


def wrap(blocks_writer, output, good_adler=True):
    data = bytes(blocks_writer.flush())
    a = zlib.adler32(output)
    if not good_adler:
        a ^= 1 << rng.randrange(32)
    return b"\x78\xda" + data + struct.pack(">I", a)


def simulate(symbols):
    out = bytearray()
    for s in symbols:
        if s[0] == "lit":
            out.append(s[1])
        elif s[0] == "match":
            _, length, dist = s
            for _ in range(length):
                out.append(out[-dist] if dist <= len(out) else 0)
    return bytes(out)


def random_symbols(lit_lens, dist_lens, n, allow_far=False):
    lits = [s for s in range(256) if s < len(lit_lens) and lit_lens[s]]
    lens_ok = [s for s in range(257, min(286, len(lit_lens))) if lit_lens[s]]
    dists_ok = [s for s in range(min(30, len(dist_lens))) if dist_lens[s]]
    syms = []
    produced = 0
    for _ in range(n):
        if lens_ok and dists_ok and produced > 0 and rng.random() < 0.3:
            lsym = rng.choice(lens_ok)
            li = lsym - 257
            length = LEN_BASE[li] + rng.randrange(1 << LEN_EXTRA[li])
            dsym = rng.choice(dists_ok)
            dist = DIST_BASE[dsym] + rng.randrange(1 << DIST_EXTRA[dsym])
            if dist > produced and not allow_far:
                continue
            syms.append(("match", length, dist))
            produced += length
        elif lits:
            syms.append(("lit", rng.choice(lits)))
            produced += 1
    syms.append(("eob",))
    return syms


def random_code(nsyms, used, limit, must=()):
    freqs = [0] * nsyms
    for s in rng.sample(range(nsyms), min(used, nsyms)):
        freqs[s] = rng.randrange(1, 1000)
    for s in must:
        if s < nsyms:
            freqs[s] = max(freqs[s], 1)
    return huffman_lengths(freqs, limit)


def hand_case(kind, lit_lens, dist_lens, symbols=None, good_adler=True, **kw):
    if symbols is None:
        try:
            symbols = random_symbols(lit_lens, dist_lens, rng.randrange(1, 200))
        except (KeyError, ValueError):
            symbols = [("eob",)]
    try:
        w = dynamic_block(lit_lens, dist_lens, symbols, **kw)
    except KeyError:
        # A symbol without a code (broken code on purpose): random bits instead.
        w = dynamic_block(lit_lens, dist_lens, [], **kw)
        w.put(rng.getrandbits(64), 64)
    record(wrap(w, simulate(symbols), good_adler), kind)


for _ in range(300):
    nlit = rng.randrange(257, 287)
    ndist = rng.randrange(1, 31)
    lit = random_code(nlit, rng.randrange(1, nlit), 15, must=(256,))
    dist = random_code(ndist, rng.randrange(1, ndist + 1), 15)
    hand_case("hand_valid", lit, dist)
    hand_case("hand_bad_adler", lit, dist, good_adler=False)
    # Perturbed lengths: incomplete or over-subscribed codes.
    for which in ("lit", "dist"):
        l2, d2 = list(lit), list(dist)
        target = l2 if which == "lit" else d2
        i = rng.randrange(len(target))
        target[i] = max(0, min(15, target[i] + rng.choice([-1, 1, 2, -5])))
        hand_case("hand_perturbed_" + which, l2, d2)
    # Codes longer than the primary tables (up to 15 bits).
    lit15 = [0] * 286
    for s in range(286):
        lit15[s] = 8
    # Kraft-complete mix of long codes: 2^-k sums.
    hand_case("hand_valid_long", random_code(286, 286, 15, must=(256,)),
              random_code(30, 30, 15))

# Single-code cases (zlib's incomplete-code exception and its limits).
for _ in range(40):
    nlit = rng.randrange(257, 287)
    # Literal/length code with only EOB, length 1: allowed (codeword 1 invalid).
    lit = [0] * nlit
    lit[256] = 1
    hand_case("hand_lit_eob_only", lit, [0] * rng.randrange(1, 31), symbols=[("eob",)])
    # Same but EOB length 2 (incomplete, max != 1): refused.
    lit2 = [0] * nlit
    lit2[256] = 2
    hand_case("hand_lit_eob_len2", lit2, [0], symbols=[("eob",)])
    # One distance code of length 1 (allowed), used by matches.
    ndist = rng.randrange(1, 31)
    d = [0] * ndist
    d[rng.randrange(ndist)] = 1
    lit = random_code(nlit, 60, 15, must=(256, 257, 258))
    hand_case("hand_dist_single", lit, d)
    # One distance code of length 2: refused.
    d2 = [0] * ndist
    d2[rng.randrange(ndist)] = 2
    hand_case("hand_dist_single_len2", lit, d2)
    # No distance codes: fine until a distance is decoded.
    litonly = random_code(nlit, 40, 15, must=(256,))
    hand_case("hand_dist_empty_literals", litonly, [0] * ndist)
    syms = [("lit", s) for s in range(256) if litonly[s]][:3]
    lsyms = [s for s in range(257, nlit) if litonly[s]]
    if lsyms and syms:
        try:
            w = dynamic_block(litonly, [0] * ndist, syms)
            w.put_code(*canonical(litonly)[lsyms[0]])
            w.put(rng.getrandbits(16), 16)
            record(wrap(w, b""), "hand_dist_empty_used")
        except KeyError:
            pass
    # Single distance code used with the invalid codeword (bit 1).
    if lsyms and syms:
        w = dynamic_block(litonly, d, syms)
        w.put_code(*canonical(litonly)[lsyms[0]])
        w.put(0, LEN_EXTRA[lsyms[0] - 257])
        w.put(1, 1)
        w.put(0, 16)
        record(wrap(w, b""), "hand_dist_single_bad_bit")

# Header limits and repeat rules.
for _ in range(60):
    lit = random_code(286, 100, 15, must=(256,))
    dist = random_code(30, 10, 15)
    # HLIT 287/288 and HDIST 31/32: too many symbols.
    for hl, hd in [(287, 30), (288, 30), (286, 31), (286, 32)]:
        ll = lit + [0] * (hl - 286)
        dd = dist + [0] * (hd - 30)
        hand_case("hand_too_many", ll, dd, symbols=[("eob",)])
    # Repeat (16) as the very first code length.
    cs = [(16, rng.randrange(4), 2)] + rle_lengths(lit + dist)
    hand_case("hand_repeat_first", lit, dist, symbols=[("eob",)], code_syms=cs)
    # A run past HLIT + HDIST.
    cs = rle_lengths(lit + dist)
    cs.append(rng.choice([(17, 7, 3), (18, 127, 7), (16, 3, 2), (8, 0, 0)]))
    hand_case("hand_repeat_past_end", lit, dist, symbols=[("eob",)], code_syms=cs)
    # A run crossing from literal/length lengths into distance lengths.
    l3 = random_code(286, 100, 15, must=(256,))
    l3[-3:] = [5, 5, 5]
    d3 = [5, 5, 5] + [0] * 27
    hand_case("hand_repeat_cross", l3, d3)
    # EOB without a code.
    l4 = list(lit)
    l4[256] = 0
    hand_case("hand_no_eob", l4, dist, symbols=[("eob",)])
    # Code-length code: incomplete, over-subscribed, single code, empty.
    freqs = [0] * 19
    for s, _, _ in rle_lengths(lit + dist):
        freqs[s] += 1
    pl = huffman_lengths(freqs, 7)
    bad = list(pl)
    i = rng.choice([k for k in range(19) if bad[k]])
    bad[i] = min(7, bad[i] + 1)
    hand_case("hand_precode_incomplete", lit, dist, symbols=[("eob",)], pre_lens=bad)
    bad = list(pl)
    i = rng.choice([k for k in range(19) if bad[k]])
    bad[i] = max(1, bad[i] - 1)
    hand_case("hand_precode_oversubscribed", lit, dist, symbols=[("eob",)], pre_lens=bad)
    single = [0] * 19
    single[rng.randrange(19)] = 1
    hand_case("hand_precode_single", lit, dist, symbols=[("eob",)], pre_lens=single)
    hand_case("hand_precode_empty", lit, dist, symbols=[("eob",)], pre_lens=[0] * 19)

# Fixed-code specials: symbols 286/287, distance codes 30/31, far distances.
def fixed_block(symbols, final=True, w=None):
    w = w or Bits()
    w.put(1 if final else 0, 1)
    w.put(1, 2)
    for s in symbols:
        if s[0] == "lit":
            v = s[1]
            if v < 144:
                w.put_code(0x30 + v, 8)
            else:
                w.put_code(0x190 + v - 144, 9)
        elif s[0] == "sym":
            v = s[1]
            if v < 280:
                w.put_code(v - 256, 7)
            else:
                w.put_code(0xC0 + v - 280, 8)
            if len(s) > 2:
                w.put(s[2], s[3])
        elif s[0] == "dist":
            w.put_code(s[1], 5)
            w.put(s[2], s[3])
        elif s[0] == "eob":
            w.put_code(0, 7)
    return w


for _ in range(40):
    lits = [("lit", rng.randrange(256)) for _ in range(rng.randrange(1, 20))]
    out = bytes(s[1] for s in lits)
    for sym in (286, 287):
        record(wrap(fixed_block(lits + [("sym", sym), ("eob",)]), out), "fixed_sym_%d" % sym)
    for dsym in (30, 31):
        record(wrap(fixed_block(lits + [("sym", 257), ("dist", dsym, 0, 0), ("eob",)]), out),
               "fixed_dist_%d" % dsym)
    # Distance exactly the output so far (ok) and one more (too far back).
    n = len(out)
    for dist in (n, n + 1):
        di = max(i for i, b in enumerate(DIST_BASE) if b <= dist)
        syms = lits + [("sym", 257), ("dist", di, dist - DIST_BASE[di], DIST_EXTRA[di]), ("eob",)]
        expect = out + bytes(out[-dist] if dist <= n else 0 for _ in range(3)) if dist <= n else out
        if dist <= n:
            expect = bytearray(out)
            for _ in range(3):
                expect.append(expect[-dist])
            expect = bytes(expect)
        record(wrap(fixed_block(syms), expect), "fixed_dist_edge")
    # Stored block with bad NLEN, and a stored block then a fixed block.
    w = Bits()
    w.put(0, 1)
    w.put(0, 2)
    w.flush()
    payload = random_bytes(rng.randrange(0, 40))
    nlen = (~len(payload)) & 0xFFFF
    if rng.random() < 0.5:
        nlen ^= 1 << rng.randrange(16)
    w.out += struct.pack("<HH", len(payload), nlen) + payload
    fixed_block(lits + [("eob",)], w=w)
    record(wrap(w, payload + out), "stored_then_fixed")
    # Block type 3.
    w = Bits()
    w.put(1, 1)
    w.put(3, 2)
    w.put(rng.getrandbits(32), 32)
    record(wrap(w, b""), "btype3")
    # Non-final fixed block followed by nothing (truncated after a block).
    record(wrap(fixed_block(lits + [("eob",)], final=False), out)[:-4], "nonfinal_truncated")

json.dump({"generator": "scripts/gen_inflate_fixtures.py", "python_zlib": zlib.ZLIB_RUNTIME_VERSION,
           "cases": cases}, sys.stdout, separators=(",", ":"))
sys.stdout.write("\n")
