//! Buffer throughput: lockstep produce→receive per buffer and 1→4 fan-out, each beside the
//! closest `tokio::sync` channel measured in the same run.
//!
//! Run: `cargo bench -p aimdb-bench --bench buffers`

use std::future::Future;
use std::time::{Duration, Instant};

use aimdb_bench::{measure, quick_mode, report};
use aimdb_core::{AimDbBuilder, BufferCfg, Consumer, DbHandle, Producer};
use aimdb_tokio::TokioAdapter;
use tokio::runtime::Runtime;
use tokio::sync::{broadcast, mpsc, watch};

type Rt = TokioAdapter;

fn record(cfg: BufferCfg) -> DbHandle<Rt> {
    let mut b = AimDbBuilder::new().runtime(TokioAdapter::new().expect("tokio"));
    b.configure::<u64>("bench", |r| {
        r.buffer(cfg);
    });
    let db = b.build().expect("graph");
    let h = db.handle();
    // Dropping `db` would close the writer-less record; keep it alive for the whole bench.
    std::mem::forget(db);
    h
}

fn handles(h: &DbHandle<Rt>, readers: usize) -> (Producer<u64, Rt>, Vec<Consumer<u64, Rt>>) {
    let p = h.producer("bench").expect("producer");
    let cs = (0..readers)
        .map(|_| h.consumer("bench").expect("consumer"))
        .collect();
    (p, cs)
}

/// Produce one value, then every reader receives it; `n` times.
fn aimdb_lockstep(rt: &Runtime, cfg: BufferCfg, readers: usize, n: u64) -> aimdb_bench::Throughput {
    let (p, mut cs) = handles(&record(cfg), readers);
    measure(n, || {
        timed(rt, async {
            for i in 0..n {
                p.produce(i);
                for c in cs.iter_mut() {
                    let _ = c.recv().await;
                }
            }
        })
    })
}

fn timed<F: Future<Output = ()>>(rt: &Runtime, f: F) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        f.await;
        start.elapsed()
    })
}

fn main() {
    let n: u64 = if quick_mode() { 1_000 } else { 2_000_000 };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _enter = rt.enter();
    println!("aimdb buffers vs tokio::sync, one thread, {n} messages per round, median of rounds");

    // Lockstep: produce one, receive one.
    let ours = aimdb_lockstep(&rt, BufferCfg::SpmcRing { capacity: 1024 }, 1, n);
    let (tx, mut rx) = broadcast::channel::<u64>(1024);
    let base = measure(n, || {
        timed(&rt, async {
            for i in 0..n {
                let _ = tx.send(i);
                let _ = rx.recv().await;
            }
        })
    });
    report("spmc_ring lockstep", ours, "tokio broadcast lockstep", base);

    let ours = aimdb_lockstep(&rt, BufferCfg::SingleLatest, 1, n);
    let (wtx, mut wrx) = watch::channel(0u64);
    let base = measure(n, || {
        timed(&rt, async {
            for i in 0..n {
                let _ = wtx.send(i);
                let _ = wrx.changed().await;
                let _ = *wrx.borrow_and_update();
            }
        })
    });
    report("single_latest lockstep", ours, "tokio watch lockstep", base);

    let ours = aimdb_lockstep(&rt, BufferCfg::Mailbox, 1, n);
    let (mtx, mut mrx) = mpsc::channel::<u64>(1);
    let base = measure(n, || {
        timed(&rt, async {
            for i in 0..n {
                let _ = mtx.try_send(i);
                let _ = mrx.recv().await;
            }
        })
    });
    report("mailbox lockstep", ours, "tokio mpsc(1) lockstep", base);

    // Fan-out: one producer, four readers, every reader receives every value.
    let ours = aimdb_lockstep(&rt, BufferCfg::SpmcRing { capacity: 1024 }, 4, n);
    let (tx, rx0) = broadcast::channel::<u64>(1024);
    let mut rxs: Vec<_> = (0..4).map(|_| rx0.resubscribe()).collect();
    drop(rx0);
    let base = measure(n, || {
        timed(&rt, async {
            for i in 0..n {
                let _ = tx.send(i);
                for r in rxs.iter_mut() {
                    let _ = r.recv().await;
                }
            }
        })
    });
    report(
        "spmc_ring 1->4 fan-out (values/s)",
        ours,
        "tokio broadcast 1->4",
        base,
    );

    let ours = aimdb_lockstep(&rt, BufferCfg::SingleLatest, 4, n);
    let (wtx, wrx0) = watch::channel(0u64);
    let mut wrxs: Vec<_> = (0..4).map(|_| wrx0.clone()).collect();
    let base = measure(n, || {
        timed(&rt, async {
            for i in 0..n {
                let _ = wtx.send(i);
                for r in wrxs.iter_mut() {
                    let _ = r.changed().await;
                    let _ = *r.borrow_and_update();
                }
            }
        })
    });
    report(
        "single_latest 1->4 fan-out (values/s)",
        ours,
        "tokio watch 1->4",
        base,
    );
}
