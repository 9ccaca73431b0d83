//! The cost of versioned frames on the codec hot path: every postcard payload the gateway
//! decodes or encodes goes through `aimdb_records::frame` (header, version check, schema check),
//! every JSON payload through its `"v"` handling. Baseline: the plain codec on the same value.
//!
//! Run: `cargo bench -p aimdb-bench --bench frames`. Under `cargo test --all-targets` it runs
//! tiny sizes only.

use std::hint::black_box;

use aimdb_bench::{measure_interleaved, quick_mode, report_ratio, time};
use aimdb_records::{frame, id, Codec, Temperature};

fn sample(i: u64) -> Temperature {
    Temperature {
        sensor_id: id("bench-sensor-0123456789abcdefghi").unwrap_or_default(),
        celsius: 21.5,
        timestamp_ms: 1_700_000_000_000 + i,
    }
}

fn main() {
    let n: u64 = if quick_mode() { 1_000 } else { 1_000_000 };
    let value = sample(7);
    let mut framed = Vec::new();
    if let Err(e) = frame::encode_postcard(&value, 1, &mut framed) {
        panic!("encode: {e}");
    }
    let plain = Codec::Postcard.encode_to_vec(&value).unwrap_or_default();
    let json = Codec::Json.encode_to_vec(&value).unwrap_or_default();
    println!(
        "postcard {} bytes plain, {} framed; JSON {} bytes",
        plain.len(),
        framed.len(),
        json.len()
    );

    let out = std::cell::RefCell::new(Vec::with_capacity(128));
    let (s, b, r) = measure_interleaved(
        n,
        || {
            time(|| {
                for i in 0..n {
                    let mut out = out.borrow_mut();
                    out.clear();
                    let _ = frame::encode_postcard(&sample(i), 1, black_box(&mut *out));
                }
            })
        },
        || {
            time(|| {
                for i in 0..n {
                    let mut out = out.borrow_mut();
                    out.clear();
                    let _ = Codec::Postcard.encode(&sample(i), black_box(&mut *out));
                }
            })
        },
    );
    report_ratio("postcard encode, framed", s, "postcard encode, plain", b, r);

    let (s, b, r) = measure_interleaved(
        n,
        || {
            time(|| {
                for _ in 0..n {
                    black_box(frame::decode_postcard::<Temperature>(black_box(&framed)).ok());
                }
            })
        },
        || {
            time(|| {
                for _ in 0..n {
                    black_box(
                        Codec::Postcard
                            .decode::<Temperature>(black_box(&plain))
                            .ok(),
                    );
                }
            })
        },
    );
    report_ratio("postcard decode, framed", s, "postcard decode, plain", b, r);

    let (s, b, r) = measure_interleaved(
        n,
        || {
            time(|| {
                for _ in 0..n {
                    black_box(frame::decode_json::<Temperature>(black_box(&json)).ok());
                }
            })
        },
        || {
            time(|| {
                for _ in 0..n {
                    black_box(Codec::Json.decode::<Temperature>(black_box(&json)).ok());
                }
            })
        },
    );
    report_ratio("JSON decode, versioned", s, "JSON decode, plain", b, r);

    let (s, b, r) = measure_interleaved(
        n,
        || {
            time(|| {
                for i in 0..n {
                    let mut out = out.borrow_mut();
                    out.clear();
                    let _ = frame::encode_json(&sample(i), 1, black_box(&mut *out));
                }
            })
        },
        || {
            time(|| {
                for i in 0..n {
                    let mut out = out.borrow_mut();
                    out.clear();
                    let _ = Codec::Json.encode(&sample(i), black_box(&mut *out));
                }
            })
        },
    );
    report_ratio("JSON encode, versioned", s, "JSON encode, plain", b, r);
}
