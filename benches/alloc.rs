//! Heap use of the codec (issue 6), measured with a counting global allocator.
//!
//! Registered in Cargo.toml with `harness = false`; run with `cargo bench --bench alloc` (it
//! prints Markdown for BENCHMARKS.md). Should the entry be missing, cargo builds this file as
//! a libtest bench with nothing to run (hence the `cfg_attr` below), still warning-free.
//!
//! What it measures, on the fixed inputs of `testdata/bench/inputs.json`:
//! * per call, in steady state (after two warm-up calls on the same thread): number of
//!   allocations, bytes allocated, peak live heap above the level before the call, the
//!   largest single allocation, and bytes still live after the result is dropped;
//! * the first call on a fresh thread (where per-thread compressor state is created);
//! * the steady-state heap of a thread that encodes and decodes 10,000 times (what the
//!   thread keeps between calls, and its peak), and that it is all released when the
//!   thread ends.
//!
//! A zlib level-9 deflate state allocates blocks of 64 KiB and more (window, hash chains,
//! pending buffer) and an inflate state a 32 KiB window, so a largest per-call allocation
//! well under 32 KiB shows that no compressor state is allocated per call.
#![cfg_attr(test, allow(dead_code))]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use beaker_session_jwt::bson::Document;
use beaker_session_jwt::{Codec, DataSerializer, SessionConfig};
use serde_json::Value;

// ------------------------------------------------------------------------- allocator

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

/// The system allocator plus counters. Counting needs a `GlobalAlloc` impl, which is
/// `unsafe` by definition; this bench binary is not part of the library (which forbids
/// unsafe code) and only forwards every call unchanged.
struct Counting;

fn grew(size: usize) {
    ALLOCS.fetch_add(1, Relaxed);
    BYTES.fetch_add(size, Relaxed);
    LARGEST.fetch_max(size, Relaxed);
    let live = LIVE.fetch_add(size, Relaxed) + size;
    PEAK.fetch_max(live, Relaxed);
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged and
// only updates counters afterwards, so `System`'s guarantees carry over.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged (the caller upholds `alloc`'s contract).
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged; `ptr` came from this allocator, i.e. from `System`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded unchanged; `ptr` came from `System`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Clone, Copy)]
struct CallStats {
    allocs: usize,
    bytes: usize,
    peak_above: usize,
    largest: usize,
    retained: isize,
}

/// Runs `f` once and reports what it allocated (its result is dropped inside).
fn measure<T>(f: impl FnOnce() -> T) -> CallStats {
    let live0 = LIVE.load(Relaxed);
    let allocs0 = ALLOCS.load(Relaxed);
    let bytes0 = BYTES.load(Relaxed);
    PEAK.store(live0, Relaxed);
    LARGEST.store(0, Relaxed);
    drop(std::hint::black_box(f()));
    let live1 = LIVE.load(Relaxed);
    CallStats {
        allocs: ALLOCS.load(Relaxed) - allocs0,
        bytes: BYTES.load(Relaxed) - bytes0,
        peak_above: PEAK.load(Relaxed).saturating_sub(live0),
        largest: LARGEST.load(Relaxed),
        retained: live1 as isize - live0 as isize,
    }
}

// ------------------------------------------------------------------------- inputs

struct Case {
    name: String,
    encode_options: Value,
    decode_options: Value,
    session: Document,
    cookie: String,
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).expect("hex in inputs.json"))
        .collect()
}

fn load_inputs() -> (Vec<Case>, String, Value) {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "testdata",
        "bench",
        "inputs.json",
    ]
    .iter()
    .collect();
    let text = std::fs::read_to_string(&path).expect("testdata/bench/inputs.json");
    let v: Value = serde_json::from_str(&text).expect("inputs.json is JSON");
    let cases = v["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| Case {
            name: c["name"].as_str().unwrap_or_default().to_owned(),
            encode_options: c["encode_options"].clone(),
            decode_options: c["decode_options"].clone(),
            session: Document::from_reader(
                hex(c["session_bson_hex"].as_str().unwrap_or_default()).as_slice(),
            )
            .expect("BSON in inputs.json"),
            cookie: c["cookie"].as_str().unwrap_or_default().to_owned(),
        })
        .collect();
    let layer = &v["session_layer"];
    (
        cases,
        layer["cookie_header"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        layer["options"].clone(),
    )
}

fn codec_for(options: &Value) -> Option<Codec> {
    let get = |k: &str| options.get(k).and_then(Value::as_str);
    let flag = |k: &str| get(k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let mut b = Codec::builder().secret_keys_str(get("jwt_secret_keys").unwrap_or_default());
    if let Some(v) = get("bson_compress_jwt_payload") {
        b = b.bson_payload(v.eq_ignore_ascii_case("true"));
    }
    b = b
        .read_original_format(flag("read_original_format"))
        .write_original_format(flag("write_original_format"));
    if let Some(k) = get("original_format_validate_key") {
        b = b.original_validate_key(k);
    }
    if get("original_format_data_serializer") == Some("json") {
        b = b.original_serializer(DataSerializer::Json);
    }
    b.build().ok()
}

type Op = Box<dyn Fn() -> bool + Send + Sync>;

fn operations() -> Vec<(String, Op)> {
    let (cases, header, layer_options) = load_inputs();
    let mut ops: Vec<(String, Op)> = Vec::new();
    for case in cases {
        if let Some(codec) = codec_for(&case.decode_options) {
            let cookie = case.cookie.clone();
            ops.push((
                format!("decode/{}", case.name),
                Box::new({
                    let codec = codec.clone();
                    let cookie = cookie.clone();
                    move || codec.decode(&cookie).is_ok()
                }),
            ));
            if ["bson_small", "bson_typical", "bson_large", "json_typical"]
                .contains(&case.name.as_str())
            {
                ops.push((
                    format!("decode_raw/{}", case.name),
                    Box::new(move || codec.decode_raw(&cookie).is_ok()),
                ));
            }
        }
        let encodes = ["bson_small", "bson_typical", "bson_large", "json_typical"];
        if encodes.contains(&case.name.as_str())
            && let Some(codec) = codec_for(&case.encode_options)
        {
            let session = case.session.clone();
            ops.push((
                format!("encode/{}", case.name),
                Box::new(move || codec.encode(&session).is_ok()),
            ));
        }
    }
    if let Some(config) =
        codec_for(&layer_options).and_then(|c| SessionConfig::builder(c).build().ok())
    {
        ops.push((
            "session/load_and_save_typical".into(),
            Box::new(move || {
                let Ok(mut s) = config.load_cookie_header(Some(&header)) else {
                    return false;
                };
                s.insert("last_path", "/account/orders");
                s.save();
                matches!(s.finish(), Ok(Some(_)))
            }),
        ));
    }
    ops
}

fn kib(n: usize) -> String {
    format!("{:.1} KiB", n as f64 / 1024.0)
}

fn main() {
    let ops = operations();
    println!("### Allocations per call (steady state, after two warm-up calls on the thread)\n");
    println!(
        "| operation | ok | allocations | bytes allocated | peak live above start | largest single allocation | live after (result dropped) |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    let mut worst_peak = 0;
    let mut worst_largest = 0;
    for (name, op) in &ops {
        let ok = op() && op();
        let s = measure(op);
        worst_peak = worst_peak.max(s.peak_above);
        worst_largest = worst_largest.max(s.largest);
        println!(
            "| {name} | {} | {} | {} | {} | {} | {} B |",
            if ok { "yes" } else { "FAILED" },
            s.allocs,
            kib(s.bytes),
            kib(s.peak_above),
            kib(s.largest),
            s.retained
        );
    }
    println!(
        "\nPeak per-call allocation (largest peak live heap of one call above its start): {}; \
         largest single allocation in any steady-state call: {}.\n",
        kib(worst_peak),
        kib(worst_largest)
    );

    println!("### First call on a fresh thread (per-thread state created here)\n");
    println!(
        "| operation | allocations | bytes allocated | largest single allocation | kept by the thread after the call |"
    );
    println!("|---|---:|---:|---:|---:|");
    let ops = std::sync::Arc::new(ops);
    for i in 0..ops.len() {
        let ops = ops.clone();
        let (name, s) = std::thread::spawn(move || {
            let (name, op) = &ops[i];
            (name.clone(), measure(op))
        })
        .join()
        .expect("thread");
        println!(
            "| {name} | {} | {} | {} | {} |",
            s.allocs,
            kib(s.bytes),
            kib(s.largest),
            kib(s.retained.max(0) as usize)
        );
    }

    println!("\n### Steady-state heap of a thread that encodes and decodes\n");
    let before = LIVE.load(Relaxed);
    let ops2 = ops.clone();
    let (kept, peak, iterations) = std::thread::spawn(move || {
        let base = LIVE.load(Relaxed);
        PEAK.store(base, Relaxed);
        let wanted = [
            "decode/bson_small",
            "decode/bson_typical",
            "decode/bson_large",
            "encode/bson_small",
            "encode/bson_typical",
            "encode/bson_large",
        ];
        let mut n = 0;
        for _ in 0..10_000 / wanted.len() {
            for (name, op) in ops2.iter() {
                if wanted.contains(&name.as_str()) {
                    op();
                    n += 1;
                }
            }
        }
        (
            LIVE.load(Relaxed).saturating_sub(base),
            PEAK.load(Relaxed).saturating_sub(base),
            n,
        )
    })
    .join()
    .expect("thread");
    let after = LIVE.load(Relaxed);
    println!(
        "{iterations} calls (encode and decode of small, typical and near-4 KB sessions, round robin) \
         on one thread: heap kept by the thread between calls {}, peak heap of the thread {} \
         (target: under 1 MiB: {}); heap after the thread ended {} B above the level before it started.",
        kib(kept),
        kib(peak),
        if peak < 1 << 20 { "met" } else { "NOT met" },
        after as isize - before as isize
    );
}
