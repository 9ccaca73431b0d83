//! Sync API beside `crossbeam-channel`, measured in the same run:
//!
//! - round trip: this thread `set`s record "ping", an echo thread `get`s it and `set`s it into
//!   "pong", this thread `get`s it back — beside the same echo through two crossbeam channels;
//! - streaming: a producer thread `set`s into a ring, this thread `get`s every value — beside
//!   one bounded crossbeam channel. The ring holds a whole round, so the figure is values
//!   delivered per second (a ring never slows its writer down; a smaller one would overwrite
//!   values, which the reader is told as lag).
//!
//! Run: `cargo bench -p aimdb-bench --bench sync_api` (`-- streaming` or `-- round-trip` for
//! one of the two).
// Test and bench arithmetic on counts and sizes far below every type's limit.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

use std::time::Instant;

use aimdb_bench::{measure_interleaved, quick_mode, report_ratio};
use aimdb_core::{AimDbBuilder, BufferCfg};
use aimdb_tokio::sync_api::GetError;
use aimdb_tokio::{AttachExt, TokioAdapter};

const STREAM_RING: usize = 1 << 16;

#[allow(clippy::too_many_lines)] // A scenario read top to bottom; split, its order would be harder to follow.
fn main() {
    let n: u64 = if quick_mode() { 200 } else { 50_000 };
    assert!(n as usize <= STREAM_RING);
    println!(
        "sync API set->get round trip vs crossbeam echo round trip, {n} round trips per round"
    );

    let mut b = AimDbBuilder::<TokioAdapter>::new();
    for key in ["ping", "pong"] {
        b.configure::<u64>(key, |r| {
            r.buffer(BufferCfg::SpmcRing { capacity: 1024 });
        });
    }
    // Holds a whole round: a ring never makes its writer wait, so a smaller one would count
    // overwritten values (reported as lag) instead of values delivered.
    b.configure::<u64>("stream", |r| {
        r.buffer(BufferCfg::SpmcRing {
            capacity: STREAM_RING,
        });
    });
    let h = b.attach().expect("attach");
    let only = |part: &str| {
        let parts = ["round-trip", "streaming"];
        let named: Vec<String> = std::env::args()
            .filter(|a| parts.contains(&a.as_str()))
            .collect();
        named.is_empty() || named.iter().any(|a| a == part)
    };
    let ping = h.producer::<u64>("ping").expect("producer");
    let ping_in = h.consumer::<u64>("ping").expect("consumer");
    let pong = h.producer::<u64>("pong").expect("producer");
    let pong_in = h.consumer::<u64>("pong").expect("consumer");
    let (to_echo, echo_in) = crossbeam_channel::bounded::<u64>(1024);
    let (echo_out, from_echo) = crossbeam_channel::bounded::<u64>(1024);
    // Round trip: both echo threads run all along (an idle one parks); rounds alternate.
    if only("round-trip") {
        let (ours, base, ratio) = std::thread::scope(|s| {
            s.spawn(|| {
                while let Ok(v) = ping_in.get() {
                    if v == u64::MAX || pong.set(v).is_err() {
                        break;
                    }
                }
            });
            s.spawn(move || {
                while let Ok(v) = echo_in.recv() {
                    if echo_out.send(v).is_err() {
                        break;
                    }
                }
            });
            let result = measure_interleaved(
                n,
                || {
                    let start = Instant::now();
                    for i in 0..n {
                        ping.set(i).expect("set");
                        let _ = pong_in.get();
                    }
                    start.elapsed()
                },
                || {
                    let start = Instant::now();
                    for i in 0..n {
                        to_echo.send(i).expect("send");
                        let _ = from_echo.recv();
                    }
                    start.elapsed()
                },
            );
            ping.set(u64::MAX).expect("set");
            drop(to_echo);
            result
        });
        report_ratio(
            "sync set->get round trip (echo thread)",
            ours,
            "crossbeam echo round trip",
            base,
            ratio,
        );
    }

    // Streaming: a producer thread sets as fast as it can, this thread gets.
    if only("streaming") {
        let p = h.producer::<u64>("stream").expect("producer");
        let c = h.consumer::<u64>("stream").expect("consumer");
        let (tx, rx) = crossbeam_channel::bounded::<u64>(1024);
        let mut delivered = 0u64;
        let (ours, base, ratio) = measure_interleaved(
            n,
            || {
                let start = Instant::now();
                std::thread::scope(|s| {
                    s.spawn(|| {
                        for i in 0..n {
                            p.set(i).expect("set");
                        }
                    });
                    // A ring that overflows reports the missed values as one `Lagged(k)`.
                    let mut seen = 0;
                    while seen < n {
                        match c.get() {
                            Ok(_) => {
                                seen += 1;
                                delivered += 1;
                            }
                            Err(GetError::Lagged(k)) => seen += k,
                            Err(e) => panic!("{e}"),
                        }
                    }
                });
                start.elapsed()
            },
            || {
                let start = Instant::now();
                std::thread::scope(|s| {
                    s.spawn(|| {
                        for i in 0..n {
                            tx.send(i).expect("send");
                        }
                    });
                    for _ in 0..n {
                        let _ = rx.recv();
                    }
                });
                start.elapsed()
            },
        );
        let lagged = h.db().stats("stream").map_or(0, |s| s.lagged);
        report_ratio(
            "sync set/get streaming",
            ours,
            "crossbeam streaming",
            base,
            ratio,
        );
        println!("(streaming, all rounds: {delivered} values delivered, {lagged} lagged)");
    }
    h.detach().expect("detach");
}
