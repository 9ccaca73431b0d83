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

/// Times `n` encodings of fresh values into one reused buffer.
fn encodes(
    out: &std::cell::RefCell<Vec<u8>>,
    n: u64,
    mut encode: impl FnMut(&Temperature, &mut Vec<u8>),
) -> std::time::Duration {
    time(|| {
        for i in 0..n {
            let mut out = out.borrow_mut();
            out.clear();
            encode(&sample(i), black_box(&mut *out));
        }
    })
}

/// Times `n` decodings of `bytes`.
fn decodes<T>(
    n: u64,
    bytes: &[u8],
    mut decode: impl FnMut(&[u8]) -> Option<T>,
) -> std::time::Duration {
    time(|| {
        for _ in 0..n {
            black_box(decode(black_box(bytes)));
        }
    })
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
        || encodes(&out, n, |v, o| drop(frame::encode_postcard(v, 1, o))),
        || encodes(&out, n, |v, o| drop(Codec::Postcard.encode(v, o))),
    );
    report_ratio("postcard encode, framed", s, "postcard encode, plain", b, r);
    let (s, b, r) = measure_interleaved(
        n,
        || {
            decodes(n, &framed, |x| {
                frame::decode_postcard::<Temperature>(x).ok()
            })
        },
        || decodes(n, &plain, |x| Codec::Postcard.decode::<Temperature>(x).ok()),
    );
    report_ratio("postcard decode, framed", s, "postcard decode, plain", b, r);
    let (s, b, r) = measure_interleaved(
        n,
        || decodes(n, &json, |x| frame::decode_json::<Temperature>(x).ok()),
        || decodes(n, &json, |x| Codec::Json.decode::<Temperature>(x).ok()),
    );
    report_ratio("JSON decode, versioned", s, "JSON decode, plain", b, r);
    let (s, b, r) = measure_interleaved(
        n,
        || encodes(&out, n, |v, o| drop(frame::encode_json(v, 1, o))),
        || encodes(&out, n, |v, o| drop(Codec::Json.encode(v, o))),
    );
    report_ratio("JSON encode, versioned", s, "JSON encode, plain", b, r);
}
