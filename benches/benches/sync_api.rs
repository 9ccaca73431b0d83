//! Sync API round trip: `set` on one record and `get` it back through the engine thread, beside a
//! bare `crossbeam-channel` round trip through an echo thread (the same two thread hops with
//! nothing else), measured in the same run.
//!
//! Run: `cargo bench -p aimdb-bench --bench sync_api`

use std::time::Instant;

use aimdb_bench::{measure, quick_mode, report};
use aimdb_core::{AimDbBuilder, BufferCfg};
use aimdb_tokio::sync_api::GetError;
use aimdb_tokio::{AttachExt, TokioAdapter};

fn main() {
    let n: u64 = if quick_mode() { 200 } else { 50_000 };
    println!(
        "sync API set->get round trip vs crossbeam echo round trip, {n} round trips per round"
    );

    let mut b = AimDbBuilder::<TokioAdapter>::new();
    b.configure::<u64>("rt", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 1024 });
    });
    let h = b.attach().expect("attach");
    let p = h.producer::<u64>("rt").expect("producer");
    let c = h.consumer::<u64>("rt").expect("consumer");
    let ours = measure(n, || {
        let start = Instant::now();
        for i in 0..n {
            p.set(i).expect("set");
            let _ = c.get();
        }
        start.elapsed()
    });

    let (to_echo, echo_in) = crossbeam_channel::bounded::<u64>(1024);
    let (echo_out, from_echo) = crossbeam_channel::bounded::<u64>(1024);
    let echo = std::thread::spawn(move || {
        while let Ok(v) = echo_in.recv() {
            if echo_out.send(v).is_err() {
                break;
            }
        }
    });
    let base = measure(n, || {
        let start = Instant::now();
        for i in 0..n {
            to_echo.send(i).expect("send");
            let _ = from_echo.recv();
        }
        start.elapsed()
    });
    drop(to_echo);
    let _ = echo.join();
    report(
        "sync set->get round trip",
        ours,
        "crossbeam echo round trip",
        base,
    );

    // Streaming: set everything, then get everything (throughput, not latency).
    let ours = measure(n, || {
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
                    Ok(_) => seen += 1,
                    Err(GetError::Lagged(k)) => seen += k,
                    Err(e) => panic!("{e}"),
                }
            }
        });
        start.elapsed()
    });
    let (tx, rx) = crossbeam_channel::bounded::<u64>(1024);
    let base = measure(n, || {
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
    });
    let lagged = h.db().stats("rt").map_or(0, |s| s.lagged);
    report("sync set/get streaming", ours, "crossbeam streaming", base);
    println!("(streaming: {lagged} values lagged past the 1024-slot ring in all rounds)");
    h.detach().expect("detach");
}
