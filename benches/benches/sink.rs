//! `BackgroundSink` throughput against the naive alternative, one `spawn_blocking` per item.
//!
//! Both sides do the same blocking work per item (format it into a `std::io::sink()` and add it
//! to a running sum); the subject hands items to a sink that drains them in batches on its own
//! thread, the baseline awaits a `spawn_blocking` for each item. Each figure covers pushing N
//! items and waiting until all of them are processed (`flush`).
//!
//! Run: `cargo bench -p aimdb-bench --bench sink`. Under `cargo test --all-targets` it runs tiny
//! sizes only.

use std::hint::black_box;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aimdb_bench::{measure, quick_mode, report, time};
use aimdb_tokio::concurrency::{BackgroundSink, RetryPolicy, SinkConfig};

/// The per-item blocking work both sides do.
fn work(out: &mut impl Write, sum: &AtomicU64, v: u64) {
    // Writing to io::sink() cannot fail; the result is irrelevant to the measurement.
    let _ = writeln!(out, "reading {v}");
    sum.fetch_add(black_box(v), Ordering::Relaxed);
}

fn runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("cannot build a Tokio runtime: {e}"),
    }
}

fn sink(sum: Arc<AtomicU64>) -> BackgroundSink<u64> {
    let config = SinkConfig {
        name: "bench".into(),
        capacity: 4096,
        max_batch: 256,
        max_delay: Duration::from_millis(1),
        retry: RetryPolicy::none(),
        ..SinkConfig::default()
    };
    let mut out = std::io::sink();
    let drain = move |batch: &mut Vec<u64>| -> Result<(), std::io::Error> {
        for v in batch.iter() {
            work(&mut out, &sum, *v);
        }
        Ok(())
    };
    match BackgroundSink::spawn(config, drain) {
        Ok(s) => s,
        Err(e) => panic!("cannot start the sink: {e}"),
    }
}

/// Pushes `n` items from `producers` tasks into the sink, then flushes.
fn sink_round(rt: &tokio::runtime::Runtime, sink: &BackgroundSink<u64>, producers: u64, n: u64) {
    rt.block_on(async {
        let per = n / producers;
        let tasks: Vec<_> = (0..producers)
            .map(|p| {
                let sink = sink.clone();
                tokio::spawn(async move {
                    for i in 0..per {
                        if sink.push(p * per + i).await.is_err() {
                            panic!("sink closed during the benchmark");
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            if t.await.is_err() {
                panic!("producer failed");
            }
        }
        if let Err(e) = sink.flush().await {
            panic!("drain failed: {e}");
        }
    });
}

/// Each of `producers` tasks awaits one `spawn_blocking` per item.
fn per_item_round(rt: &tokio::runtime::Runtime, sum: &Arc<AtomicU64>, producers: u64, n: u64) {
    rt.block_on(async {
        let per = n / producers;
        let tasks: Vec<_> = (0..producers)
            .map(|p| {
                let sum = Arc::clone(sum);
                tokio::spawn(async move {
                    for i in 0..per {
                        let sum = Arc::clone(&sum);
                        let v = p * per + i;
                        let done = tokio::task::spawn_blocking(move || {
                            work(&mut std::io::sink(), &sum, v);
                        })
                        .await;
                        if done.is_err() {
                            panic!("blocking task failed");
                        }
                    }
                })
            })
            .collect();
        for t in tasks {
            if t.await.is_err() {
                panic!("producer failed");
            }
        }
    });
}

fn main() {
    let (n_sink, n_baseline) = if quick_mode() {
        (400, 40)
    } else {
        (400_000, 40_000)
    };
    let rt = runtime();
    let sum = Arc::new(AtomicU64::new(0));
    let sink = sink(Arc::clone(&sum));

    println!("BackgroundSink vs one spawn_blocking per item (2 Tokio workers; median of rounds)");
    for producers in [1u64, 4] {
        let subject = measure(n_sink, || {
            time(|| sink_round(&rt, &sink, producers, n_sink))
        });
        let baseline = measure(n_baseline, || {
            time(|| per_item_round(&rt, &sum, producers, n_baseline))
        });
        report(
            &format!("sink push+flush, {producers} producer(s), batch<=256"),
            subject,
            &format!("spawn_blocking per item, {producers} prod."),
            baseline,
        );
    }
    let stats = rt.block_on(sink.shutdown());
    if stats.drained != stats.pushed {
        panic!("sink lost items: {stats:?}");
    }
    black_box(sum.load(Ordering::Relaxed));
}
