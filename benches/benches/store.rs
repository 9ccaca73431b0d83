//! The history store's write path, measured with the daemon's own code (`aimdbd::store`).
//!
//! 1. **Throughput**: values persisted per second through the batched path (a
//!    `PersistRecord::push` into the `BackgroundSink`, `HistoryWriter` encoding JSON and
//!    committing one transaction per batch with the daemon's default `[store]` settings),
//!    against the same INSERT of the
//!    same JSON executed row by row in autocommit mode (one transaction per value), on the same
//!    schema and pragmas (WAL, `synchronous = NORMAL`), in the same run. Each figure covers
//!    pushing N values and waiting until all are committed.
//! 2. **Latency a persisting record adds to its other readers**: one `spmc_ring` record, a source
//!    producing bursts of values, a reader measuring produce→receive latency; p50/p99 with and
//!    without a persist tap (writing to a real database) on the same record.
//!
//! Run: `cargo bench -p aimdb-bench --bench store`. Under `cargo test --benches` it runs tiny
//! sizes only. Databases go to a temp dir that is removed at the end.
// Test and bench arithmetic on counts and sizes far below every type's limit.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aimdb_bench::{fmt_rate, measure, quick_mode, report, time};
use aimdb_core::{AimDbBuilder, BufferCfg, RecvError};
use aimdb_records::types::Temperature;
use aimdbd::config::StoreConfig;
use aimdbd::store::{schema, writer, Persist, PersistRecord, StoreStatus, Weigh};
use aimdbd::Rt;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

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

/// The daemon's `[store]` defaults, at `path`.
fn store_config(path: &Path) -> StoreConfig {
    StoreConfig {
        path: path.to_path_buf(),
        retention: Duration::from_secs(7 * 86_400),
        max_rows: None,
        sweep_interval: Duration::from_secs(60),
        queue_capacity: 65_536,
        queue_max_bytes: 32 << 20,
        batch_size: 4096,
        batch_delay: Duration::from_millis(100),
    }
}

/// A writer thread on a new database at `path`, and a persist handle for record `key`.
fn persist(path: &Path, key: &str) -> (Persist, PersistRecord) {
    let conn = match schema::open_writer(path) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let status = Arc::new(StoreStatus::default());
    let config = writer::sink_config(&store_config(path));
    let sink = match writer::spawn(conn, path.to_path_buf(), status.clone(), config) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    let p = Persist::new(Some(sink), 32 << 20, "bench", status);
    let rec = p.record(key, "Temperature", "source:bench");
    (p, rec)
}

fn reading(i: u64) -> Temperature {
    Temperature {
        sensor_id: aimdb_records::id("bench-1").unwrap_or_default(),
        celsius: 20.0 + (i % 100) as f32 / 10.0,
        timestamp_ms: 1_700_000_000_000 + i,
    }
}

/// Pushes `n` values through the daemon's batched path, then waits until they are committed.
fn batched_round(rt: &tokio::runtime::Runtime, p: &Persist, rec: &PersistRecord, n: u64) {
    rt.block_on(async {
        for i in 0..n {
            rec.push(reading(i)).await;
        }
        if let Err(e) = p.flush().await {
            panic!("history write failed: {e}");
        }
    });
}

/// The same INSERT of the same JSON, one autocommit transaction per value.
fn autocommit_round(conn: &rusqlite_free::Conn, n: u64) {
    for i in 0..n {
        let json = serde_json::to_string(&reading(i)).unwrap_or_default();
        conn.insert(i as i64, &json);
    }
}

/// The baseline's connection, with only the inherent methods of the daemon's connection type.
mod rusqlite_free {
    pub(crate) struct Conn(pub aimdbd::store::schema::Connection);

    impl Conn {
        pub(crate) fn insert(&self, ts_ms: i64, json: &str) {
            let done = self
                .0
                .prepare_cached(
                    "INSERT INTO history (key, ts_ms, node, source, value) VALUES (?1, ?2, ?3, ?4, ?5)",
                )
                .and_then(|mut s| {
                    s.execute(("bench.autocommit", ts_ms, "bench", "source:bench", json))
                });
            if let Err(e) = done {
                panic!("insert: {e}");
            }
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Sample {
    seq: u64,
    sent_ns: u64,
    celsius: f32,
}

/// Fixed-size: its own size counts against `queue_max_bytes`.
impl Weigh for Sample {}
impl aimdbd::record_types::JsonForm for Sample {}

/// Produce→receive latencies (ns) of one reader of a ring record, with or without a persist
/// tap on the same record. Values come in bursts of `burst` every millisecond.
fn latency_round(
    rt: &tokio::runtime::Runtime,
    n: u64,
    burst: u64,
    store: Option<&PersistRecord>,
) -> Vec<u64> {
    rt.block_on(async {
        let base = Instant::now();
        let latencies = Arc::new(Mutex::new(Vec::with_capacity(n as usize)));
        let done = Arc::new(tokio::sync::Notify::new());
        let runtime = match Rt::new() {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        let mut b = AimDbBuilder::new().runtime(runtime);
        b.configure::<Sample>("bench.latency", |reg| {
            reg.buffer(BufferCfg::SpmcRing { capacity: 8192 });
            let (lat, done) = (latencies.clone(), done.clone());
            reg.tap(move |_ctx, mut c| async move {
                let mut seen = 0u64;
                loop {
                    match c.recv().await {
                        Ok(s) => {
                            let now = base.elapsed().as_nanos() as u64;
                            lat.lock().push(now.saturating_sub(s.sent_ns));
                            seen += 1;
                        }
                        Err(RecvError::Lagged(k)) => seen += k,
                        Err(RecvError::Closed) => break,
                    }
                    if seen == n {
                        done.notify_one();
                    }
                }
            });
            if let Some(rec) = store {
                let rec = rec.clone();
                reg.tap_named("store", move |_ctx, c| rec.run(c));
            }
        });
        let db = match b.build() {
            Ok(db) => db,
            Err(e) => panic!("{e}"),
        };
        let handle = db.handle();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let graph = tokio::spawn(db.run_until(async move {
            let _ = stopped.await;
        }));
        let producer = match handle.producer::<Sample>("bench.latency") {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        let mut seq = 0;
        while seq < n {
            tick.tick().await;
            for _ in 0..burst.min(n - seq) {
                let sent_ns = base.elapsed().as_nanos() as u64;
                producer.produce(Sample {
                    seq,
                    sent_ns,
                    celsius: 21.5,
                });
                seq += 1;
            }
        }
        done.notified().await;
        // The record closes (and its readers end) once its last producer is gone.
        drop(producer);
        let _ = stop.send(());
        let _ = graph.await;
        let mut v = std::mem::take(&mut *latencies.lock());
        v.sort_unstable();
        v
    })
}

fn percentile(sorted: &[u64], p: usize) -> Duration {
    let i = (sorted.len() * p / 100).min(sorted.len().saturating_sub(1));
    Duration::from_nanos(sorted.get(i).copied().unwrap_or(0))
}

fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("aimdb-bench-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        panic!("{}: {e}", dir.display());
    }
    dir
}

fn main() {
    let quick = quick_mode();
    let (n_batched, n_autocommit, n_latency) = if quick {
        (4_000, 300, 2_000)
    } else {
        (200_000, 20_000, 100_000)
    };
    let dir = temp_dir();
    let rt = runtime();

    println!("History store: batched writer vs autocommit rows (WAL, synchronous=NORMAL; median of rounds)");
    let (p, rec) = persist(&dir.join("batched.db"), "bench.batched");
    let baseline_conn = match schema::open_writer(&dir.join("autocommit.db")) {
        Ok(c) => rusqlite_free::Conn(c),
        Err(e) => panic!("{e}"),
    };
    let subject = measure(n_batched, || {
        time(|| batched_round(&rt, &p, &rec, n_batched))
    });
    let baseline = measure(n_autocommit, || {
        time(|| autocommit_round(&baseline_conn, n_autocommit))
    });
    report(
        "persisted values, batched (default [store])",
        subject,
        "row-by-row autocommit INSERT",
        baseline,
    );

    // 100 values per ms: 100 k/s offered to a ring with one measuring reader.
    let burst = 100;
    let (_lp, lrec) = persist(&dir.join("latency.db"), "bench.latency");
    // Interleaved rounds; each figure is the median over rounds of that round's percentile.
    let rounds = if quick { 3 } else { 7 };
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let v = latency_round(&rt, n_latency, burst, None);
        without.push((percentile(&v, 50), percentile(&v, 99)));
        let v = latency_round(&rt, n_latency, burst, Some(&lrec));
        with.push((percentile(&v, 50), percentile(&v, 99)));
    }
    let median = |v: &mut Vec<(Duration, Duration)>,
                  pick: fn(&(Duration, Duration)) -> Duration| {
        let mut x: Vec<Duration> = v.iter().map(pick).collect();
        x.sort_unstable();
        x[x.len() / 2]
    };
    let (p50w, p99w) = (median(&mut with, |p| p.0), median(&mut with, |p| p.1));
    let (p50o, p99o) = (median(&mut without, |p| p.0), median(&mut without, |p| p.1));
    println!(
        "{:<44} {:>12}  | {:<32} {:>12}  | ratio {:>5.2}",
        "reader p99 latency, record persisted",
        format!("{p99w:.1?}"),
        "same record, not persisted",
        format!("{p99o:.1?}"),
        p99w.as_secs_f64() / p99o.as_secs_f64().max(1e-9)
    );
    println!(
        "{:<44} {:>12}  | {:<32} {:>12}  | ({} values at {} per round)",
        "reader p50 latency, record persisted",
        format!("{p50w:.1?}"),
        "same record, not persisted",
        format!("{p50o:.1?}"),
        n_latency,
        fmt_rate(burst as f64 * 1000.0)
    );
    if let Err(e) = rt.block_on(p.flush()) {
        panic!("{e}");
    }
    drop(rt);
    let _ = std::fs::remove_dir_all(&dir);
}
