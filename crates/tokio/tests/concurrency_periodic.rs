//! `PeriodicWorker`: the schedule and its missed-tick behaviours (under paused time, so exact),
//! errors that are counted but not fatal, stop after the current tick, blocking ticks, panics.
// Test and bench arithmetic on counts and sizes far below every type's limit.
#![allow(
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss
)]

use std::sync::Arc;
use std::thread::ThreadId;
use std::time::Duration;

use aimdb_tokio::concurrency::{
    BlockingPeriodicTask, MissedTicks, PeriodicConfig, PeriodicError, PeriodicTask, PeriodicWorker,
    Tick,
};
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::time::{timeout, Instant};

const PERIOD: Duration = Duration::from_millis(100);
const HANG: Duration = Duration::from_secs(30);

/// Records each tick's schedule (ms after `base`), sleeps `long_ms` on tick `long_seq`, fails odd
/// ticks when asked, and reports each finished tick.
struct Probe {
    base: Instant,
    offsets: Arc<Mutex<Vec<u64>>>,
    long_seq: Option<u64>,
    long_ms: u64,
    fail_odd: bool,
    done: mpsc::UnboundedSender<u64>,
}

impl PeriodicTask for Probe {
    type Error = String;

    async fn tick(&mut self, tick: Tick) -> Result<(), String> {
        let offset = tick.scheduled.duration_since(self.base).as_millis() as u64;
        self.offsets.lock().push(offset);
        if self.long_seq == Some(tick.seq) {
            tokio::time::sleep(Duration::from_millis(self.long_ms)).await;
        }
        let _ = self.done.send(tick.seq);
        if self.fail_odd && tick.seq % 2 == 1 {
            return Err(format!("tick {} failed", tick.seq));
        }
        Ok(())
    }
}

fn probe() -> (Probe, Arc<Mutex<Vec<u64>>>, mpsc::UnboundedReceiver<u64>) {
    let offsets = Arc::new(Mutex::new(Vec::new()));
    let (done, rx) = mpsc::unbounded_channel();
    let p = Probe {
        base: Instant::now(),
        offsets: Arc::clone(&offsets),
        long_seq: None,
        long_ms: 0,
        fail_odd: false,
        done,
    };
    (p, offsets, rx)
}

async fn wait_for_tick(rx: &mut mpsc::UnboundedReceiver<u64>, seq: u64) {
    loop {
        match timeout(HANG, rx.recv()).await.expect("tick in time") {
            Some(s) if s >= seq => return,
            Some(_) => {}
            None => panic!("worker ended"),
        }
    }
}

#[test]
fn worker_is_send_sync() {
    fn assert_traits<T: Send + Sync + 'static>() {}
    assert_traits::<PeriodicWorker>();
}

#[tokio::test(start_paused = true)]
async fn ticks_follow_the_period_from_the_first_immediate_tick() {
    let (p, offsets, mut done) = probe();
    let worker = PeriodicWorker::spawn(PeriodicConfig::new("t", PERIOD), p).expect("spawn");
    wait_for_tick(&mut done, 4).await;
    let stats = worker.stop().await.expect("stopped");
    assert_eq!(*offsets.lock(), vec![0, 100, 200, 300, 400]);
    assert_eq!((stats.ticks, stats.errors, stats.missed), (5, 0, 0));
}

#[tokio::test(start_paused = true)]
async fn delay_first_waits_one_period() {
    let (p, offsets, mut done) = probe();
    let mut cfg = PeriodicConfig::new("t", PERIOD);
    cfg.delay_first = true;
    let worker = PeriodicWorker::spawn(cfg, p).expect("spawn");
    wait_for_tick(&mut done, 1).await;
    worker.stop().await.expect("stopped");
    assert_eq!(*offsets.lock(), vec![100, 200]);
}

/// Tick 0 takes 350 ms (3.5 periods); returns the schedule of the first four ticks and `missed`.
async fn long_first_tick(missed: MissedTicks) -> (Vec<u64>, u64) {
    let (mut p, offsets, mut done) = probe();
    p.long_seq = Some(0);
    p.long_ms = 350;
    let mut cfg = PeriodicConfig::new("t", PERIOD);
    cfg.missed = missed;
    let worker = PeriodicWorker::spawn(cfg, p).expect("spawn");
    wait_for_tick(&mut done, 3).await;
    let stats = worker.stop().await.expect("stopped");
    let offsets = offsets.lock().clone();
    (offsets, stats.missed)
}

#[tokio::test(start_paused = true)]
async fn skip_drops_the_ticks_that_fell_due_and_keeps_the_grid() {
    // Tick 1 (due at 100) runs late at 350; 200 and 300 are skipped; 400 is back on the grid.
    assert_eq!(
        long_first_tick(MissedTicks::Skip).await,
        (vec![0, 100, 400, 500], 2)
    );
}

#[tokio::test(start_paused = true)]
async fn burst_runs_every_tick_to_catch_up() {
    // 100 and 200 run a period or more late (counted), 300 runs 50 ms late (not counted).
    assert_eq!(
        long_first_tick(MissedTicks::Burst).await,
        (vec![0, 100, 200, 300], 2)
    );
}

#[tokio::test(start_paused = true)]
async fn delay_shifts_the_schedule_after_the_late_tick() {
    // Tick 1 runs late at 350; the next is due one period later, at 450.
    assert_eq!(
        long_first_tick(MissedTicks::Delay).await,
        (vec![0, 100, 450, 550], 2)
    );
}

#[tokio::test(start_paused = true)]
async fn the_default_is_skip() {
    assert_eq!(PeriodicConfig::new("t", PERIOD).missed, MissedTicks::Skip);
}

#[tokio::test(start_paused = true)]
async fn tick_errors_are_counted_and_not_fatal() {
    let (mut p, _offsets, mut done) = probe();
    p.fail_odd = true;
    let worker = PeriodicWorker::spawn(PeriodicConfig::new("t", PERIOD), p).expect("spawn");
    wait_for_tick(&mut done, 5).await;
    // Tick 5 returns right after reporting; tick 6 is due 100 ms later.
    tokio::time::sleep(PERIOD / 2).await;
    assert_eq!(worker.last_error().as_deref(), Some("tick 5 failed"));
    let stats = worker.stop().await.expect("stopped");
    assert_eq!((stats.ticks, stats.errors), (6, 3));
}

#[tokio::test(start_paused = true)]
async fn stop_lets_the_current_tick_finish() {
    let (mut p, offsets, mut done) = probe();
    p.long_seq = Some(1);
    p.long_ms = 10_000;
    let worker = PeriodicWorker::spawn(PeriodicConfig::new("t", PERIOD), p).expect("spawn");
    // Tick 1 has started (its schedule is recorded) and is sleeping for 10 s.
    wait_for_tick(&mut done, 0).await;
    while offsets.lock().len() < 2 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let before = Instant::now();
    let stats = worker.stop().await.expect("stopped");
    assert!(Instant::now() - before >= Duration::from_millis(9_000));
    assert_eq!(stats.ticks, 2, "the long tick ran to completion");
    assert_eq!(done.recv().await, Some(1));
}

struct DropSignal(Option<tokio::sync::oneshot::Sender<()>>);

impl Drop for DropSignal {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

struct Idle(#[allow(dead_code)] DropSignal);

impl PeriodicTask for Idle {
    type Error = String;

    async fn tick(&mut self, _tick: Tick) -> Result<(), String> {
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn dropping_the_worker_stops_it() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let worker =
        PeriodicWorker::spawn(PeriodicConfig::new("t", PERIOD), Idle(DropSignal(Some(tx))))
            .expect("spawn");
    tokio::time::sleep(PERIOD * 3).await;
    drop(worker);
    timeout(HANG, rx)
        .await
        .expect("task dropped")
        .expect("signal");
}

/// Records which thread each tick ran on.
struct OnThread {
    threads: Arc<Mutex<Vec<ThreadId>>>,
    done: mpsc::UnboundedSender<()>,
    panic_on: Option<usize>,
}

impl BlockingPeriodicTask for OnThread {
    type Error = std::io::Error;

    fn tick(&mut self, _tick: Tick) -> Result<(), std::io::Error> {
        let mut threads = self.threads.lock();
        threads.push(std::thread::current().id());
        if self.panic_on == Some(threads.len()) {
            panic!("tick exploded");
        }
        drop(threads);
        // Blocking is allowed here: this runs on the blocking pool.
        std::thread::sleep(Duration::from_millis(1));
        let _ = self.done.send(());
        Ok(())
    }
}

#[tokio::test]
async fn blocking_ticks_run_off_the_runtime_thread() {
    let threads = Arc::new(Mutex::new(Vec::new()));
    let (done, mut rx) = mpsc::unbounded_channel();
    let task = OnThread {
        threads: Arc::clone(&threads),
        done,
        panic_on: None,
    };
    let worker = PeriodicWorker::spawn_blocking(
        PeriodicConfig::new("blocking", Duration::from_millis(5)),
        task,
    )
    .expect("spawn");
    for _ in 0..3 {
        timeout(HANG, rx.recv()).await.expect("tick").expect("open");
    }
    let stats = worker.stop().await.expect("stopped");
    assert!(stats.ticks >= 3);
    let me = std::thread::current().id();
    assert!(threads.lock().iter().all(|t| *t != me));
}

#[tokio::test]
async fn a_panicking_blocking_tick_ends_the_worker_and_stop_reports_it() {
    let (done, _rx) = mpsc::unbounded_channel();
    let task = OnThread {
        threads: Arc::new(Mutex::new(Vec::new())),
        done,
        panic_on: Some(2),
    };
    let worker =
        PeriodicWorker::spawn_blocking(PeriodicConfig::new("boom", Duration::from_millis(1)), task)
            .expect("spawn");
    while !worker.is_finished() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    match timeout(HANG, worker.stop()).await.expect("stop") {
        Err(PeriodicError::TaskPanicked { name, message }) => {
            assert_eq!(name, "boom");
            assert_eq!(message, "tick exploded");
        }
        other => panic!("expected TaskPanicked, got {other:?}"),
    }
}

#[tokio::test]
async fn a_zero_period_is_refused() {
    let (p, _, _) = probe();
    assert_eq!(
        PeriodicWorker::spawn(PeriodicConfig::new("t", Duration::ZERO), p).err(),
        Some(PeriodicError::ZeroPeriod)
    );
}

#[test]
fn spawning_outside_a_runtime_is_an_error() {
    let (tx, _rx) = mpsc::unbounded_channel();
    let task = OnThread {
        threads: Arc::new(Mutex::new(Vec::new())),
        done: tx,
        panic_on: None,
    };
    assert_eq!(
        PeriodicWorker::spawn_blocking(PeriodicConfig::new("t", PERIOD), task).err(),
        Some(PeriodicError::NoRuntime)
    );
}
