//! `BackgroundSink`: batching, the overflow policies, flush/shutdown barriers, cancel safety,
//! retries and drain failures. No assertion depends on how fast the machine is: waits are bounded
//! by generous timeouts only to turn a hang into a failure.

use std::sync::{mpsc as std_mpsc, Arc};
use std::time::Duration;

use aimdb_tokio::concurrency::{
    BackgroundSink, Backoff, OverflowPolicy, PushError, Pushed, RetryPolicy, SinkConfig, SinkDrain,
    SinkError, SinkStats,
};
use parking_lot::Mutex;
use tokio::sync::mpsc;
use tokio::time::timeout;

const HANG: Duration = Duration::from_secs(30);

/// Records every batch; optionally announces each batch and waits for the test to let it pass.
struct Recorder {
    batches: Arc<Mutex<Vec<Vec<u32>>>>,
    entered: Option<mpsc::UnboundedSender<usize>>,
    /// One `()` lets one batch through; a dropped sender opens the gate for good.
    gate: Option<std_mpsc::Receiver<()>>,
    closed: Option<mpsc::UnboundedSender<()>>,
}

impl Recorder {
    fn new() -> (Self, Arc<Mutex<Vec<Vec<u32>>>>) {
        let batches = Arc::new(Mutex::new(Vec::new()));
        let r = Recorder {
            batches: Arc::clone(&batches),
            entered: None,
            gate: None,
            closed: None,
        };
        (r, batches)
    }
}

impl SinkDrain<u32> for Recorder {
    type Error = String;

    fn drain(&mut self, batch: &mut Vec<u32>) -> Result<(), String> {
        if let Some(tx) = &self.entered {
            let _ = tx.send(batch.len());
        }
        if let Some(gate) = &self.gate {
            let _ = gate.recv();
        }
        self.batches.lock().push(batch.clone());
        Ok(())
    }

    fn close(&mut self) {
        if let Some(tx) = &self.closed {
            let _ = tx.send(());
        }
    }
}

fn cfg(
    capacity: usize,
    max_batch: usize,
    max_delay: Duration,
    overflow: OverflowPolicy,
) -> SinkConfig {
    SinkConfig {
        name: "test".into(),
        capacity,
        max_batch,
        max_delay,
        overflow,
        retry: RetryPolicy::none(),
    }
}

fn assert_accounting(s: &SinkStats) {
    assert_eq!(
        s.pushed,
        s.drained + s.dropped.oldest + s.dropped.failed + s.queue_depth as u64 + s.in_flight as u64,
        "accounting invariant broken: {s:?}"
    );
}

fn flat(batches: &Mutex<Vec<Vec<u32>>>) -> Vec<u32> {
    batches.lock().iter().flatten().copied().collect()
}

/// A sink whose drain is held at the gate, with the first item (0) in flight.
async fn gated(
    capacity: usize,
    overflow: OverflowPolicy,
) -> (
    BackgroundSink<u32>,
    Arc<Mutex<Vec<Vec<u32>>>>,
    std_mpsc::Sender<()>,
) {
    let (mut rec, batches) = Recorder::new();
    let (entered_tx, mut entered) = mpsc::unbounded_channel();
    let (gate_tx, gate_rx) = std_mpsc::channel();
    rec.entered = Some(entered_tx);
    rec.gate = Some(gate_rx);
    let sink = BackgroundSink::spawn(cfg(capacity, 1, Duration::from_secs(3600), overflow), rec)
        .expect("spawn");
    assert_eq!(sink.push(0).await.expect("push"), Pushed::Accepted);
    assert_eq!(
        timeout(HANG, entered.recv()).await.expect("drain entered"),
        Some(1)
    );
    (sink, batches, gate_tx)
}

#[test]
fn handles_are_clone_send_sync() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<BackgroundSink<u32>>();
    assert_traits::<BackgroundSink<String>>();
}

#[tokio::test]
async fn batches_by_count_when_the_delay_is_long() {
    let (rec, batches) = Recorder::new();
    let sink = BackgroundSink::spawn(
        cfg(64, 4, Duration::from_secs(3600), OverflowPolicy::Block),
        rec,
    )
    .expect("spawn");
    for i in 0..8 {
        sink.push(i).await.expect("push");
    }
    let stats = timeout(HANG, sink.shutdown()).await.expect("shutdown");
    assert_eq!(*batches.lock(), vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7]]);
    assert_eq!(stats.batches, 2);
    assert_eq!(stats.drained, 8);
    assert_accounting(&stats);
}

#[tokio::test]
async fn a_partial_batch_is_drained_after_max_delay_without_flush() {
    let (mut rec, batches) = Recorder::new();
    let (entered_tx, mut entered) = mpsc::unbounded_channel();
    rec.entered = Some(entered_tx);
    let sink = BackgroundSink::spawn(
        cfg(64, 1000, Duration::from_millis(20), OverflowPolicy::Block),
        rec,
    )
    .expect("spawn");
    for i in 0..3 {
        sink.push(i).await.expect("push");
    }
    // Nothing but the delay can trigger these batches (max_batch is 1000).
    let mut seen = 0;
    while seen < 3 {
        seen += timeout(HANG, entered.recv())
            .await
            .expect("timer batch")
            .expect("open");
    }
    // `entered` is sent as a drain starts; wait until the last one has also recorded its batch.
    timeout(HANG, async {
        while flat(&batches).len() < 3 {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("batches recorded");
    assert_eq!(flat(&batches), vec![0, 1, 2]);
    drop(sink);
}

#[tokio::test]
async fn flush_waits_for_everything_pushed_before_it() {
    let (rec, batches) = Recorder::new();
    let sink = BackgroundSink::spawn(
        cfg(16, 5, Duration::from_secs(3600), OverflowPolicy::Block),
        rec,
    )
    .expect("spawn");
    for i in 0..23 {
        sink.push(i).await.expect("push");
    }
    timeout(HANG, sink.flush())
        .await
        .expect("flush")
        .expect("no drain error");
    assert_eq!(flat(&batches), (0..23).collect::<Vec<_>>());
    let stats = sink.stats();
    assert_eq!(
        (stats.drained, stats.queue_depth, stats.in_flight),
        (23, 0, 0)
    );
    // Nothing pending: returns at once.
    timeout(HANG, sink.flush())
        .await
        .expect("flush")
        .expect("no drain error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_pushers_lose_nothing_and_keep_their_order() {
    const PRODUCERS: u32 = 4;
    const EACH: u32 = 2000;
    let (rec, batches) = Recorder::new();
    // Capacity below max_batch: exercises backpressure and the capacity threshold.
    let sink = BackgroundSink::spawn(
        cfg(8, 16, Duration::from_millis(5), OverflowPolicy::Block),
        rec,
    )
    .expect("spawn");
    let mut tasks = Vec::new();
    for p in 0..PRODUCERS {
        let sink = sink.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                sink.push(p * EACH + i).await.expect("push");
            }
        }));
    }
    for t in tasks {
        timeout(HANG, t).await.expect("producer").expect("join");
    }
    let stats = timeout(HANG, sink.shutdown()).await.expect("shutdown");
    assert_eq!(stats.drained, u64::from(PRODUCERS * EACH));
    assert!(batches.lock().iter().all(|b| b.len() <= 16));
    let all = flat(&batches);
    for p in 0..PRODUCERS {
        let mine: Vec<u32> = all.iter().copied().filter(|v| v / EACH == p).collect();
        assert_eq!(mine, (p * EACH..(p + 1) * EACH).collect::<Vec<_>>());
    }
    assert_accounting(&stats);
}

#[tokio::test]
async fn block_policy_try_push_reports_full_and_push_waits() {
    let (sink, batches, gate) = gated(2, OverflowPolicy::Block).await;
    assert_eq!(sink.try_push(1).expect("room"), Pushed::Accepted);
    assert_eq!(sink.try_push(2).expect("room"), Pushed::Accepted);
    match sink.try_push(3) {
        Err(PushError::Full(3)) => {}
        other => panic!("expected Full(3), got {other:?}"),
    }
    let waiting = {
        let sink = sink.clone();
        tokio::spawn(async move { sink.push(3).await })
    };
    tokio::task::yield_now().await;
    assert!(!waiting.is_finished());
    drop(gate);
    assert_eq!(
        timeout(HANG, waiting)
            .await
            .expect("push")
            .expect("join")
            .expect("accepted"),
        Pushed::Accepted
    );
    let stats = timeout(HANG, sink.shutdown()).await.expect("shutdown");
    assert_eq!(flat(&batches), vec![0, 1, 2, 3]);
    assert_eq!(stats.rejected, 1);
    assert_accounting(&stats);
}

#[tokio::test]
async fn a_cancelled_push_loses_no_accepted_item_and_holds_no_capacity() {
    let (sink, batches, gate) = gated(2, OverflowPolicy::Block).await;
    sink.push(1).await.expect("push");
    sink.push(2).await.expect("push");
    // The queue is full and the drain is held: this push cannot complete; cancel it.
    assert!(timeout(Duration::from_millis(20), sink.push(99))
        .await
        .is_err());
    let stats = sink.stats();
    assert_eq!(
        (stats.pushed, stats.queue_depth, stats.in_flight),
        (3, 2, 1)
    );
    drop(gate);
    timeout(HANG, sink.flush())
        .await
        .expect("flush")
        .expect("ok");
    let stats = sink.stats();
    assert_eq!(
        (stats.drained, stats.queue_depth, stats.in_flight),
        (3, 0, 0)
    );
    // The full capacity is available again.
    assert_eq!(sink.try_push(3).expect("room"), Pushed::Accepted);
    timeout(HANG, sink.shutdown()).await.expect("shutdown");
    assert_eq!(flat(&batches), vec![0, 1, 2, 3]);
}

#[tokio::test]
async fn drop_newest_discards_the_new_item() {
    let (sink, batches, gate) = gated(2, OverflowPolicy::DropNewest).await;
    assert_eq!(sink.try_push(1).expect("ok"), Pushed::Accepted);
    assert_eq!(sink.push(2).await.expect("ok"), Pushed::Accepted);
    assert_eq!(sink.try_push(3).expect("ok"), Pushed::DroppedNewest);
    assert_eq!(sink.push(4).await.expect("ok"), Pushed::DroppedNewest);
    drop(gate);
    let stats = timeout(HANG, sink.shutdown()).await.expect("shutdown");
    assert_eq!(flat(&batches), vec![0, 1, 2]);
    assert_eq!(stats.dropped.newest, 2);
    assert_eq!(stats.pushed, 3);
    assert_accounting(&stats);
}

#[tokio::test]
async fn drop_oldest_evicts_the_oldest_queued_item() {
    let (sink, batches, gate) = gated(2, OverflowPolicy::DropOldest).await;
    sink.push(1).await.expect("ok");
    sink.push(2).await.expect("ok");
    assert_eq!(sink.try_push(3).expect("ok"), Pushed::EvictedOldest);
    assert_eq!(sink.push(4).await.expect("ok"), Pushed::EvictedOldest);
    let flush = {
        let sink = sink.clone();
        tokio::spawn(async move { sink.flush().await })
    };
    drop(gate);
    timeout(HANG, flush)
        .await
        .expect("flush")
        .expect("join")
        .expect("ok");
    let stats = timeout(HANG, sink.shutdown()).await.expect("shutdown");
    // 0 was in flight; 1 and 2 were evicted.
    assert_eq!(flat(&batches), vec![0, 3, 4]);
    assert_eq!(stats.dropped.oldest, 2);
    assert_accounting(&stats);
}

#[tokio::test]
async fn error_policy_refuses_push_and_try_push() {
    let (sink, batches, gate) = gated(1, OverflowPolicy::Error).await;
    sink.push(1).await.expect("room");
    assert!(matches!(sink.try_push(2), Err(PushError::Full(2))));
    match sink.push(3).await {
        Err(e @ PushError::Full(_)) => assert_eq!(e.into_inner(), 3),
        other => panic!("expected Full, got {other:?}"),
    }
    drop(gate);
    let stats = timeout(HANG, sink.shutdown()).await.expect("shutdown");
    assert_eq!(flat(&batches), vec![0, 1]);
    assert_eq!(stats.rejected, 2);
    assert_accounting(&stats);
}

#[tokio::test]
async fn shutdown_drains_everything_then_refuses() {
    let (rec, batches) = Recorder::new();
    let sink = BackgroundSink::spawn(
        cfg(128, 10, Duration::from_secs(3600), OverflowPolicy::Block),
        rec,
    )
    .expect("spawn");
    for i in 0..95 {
        sink.push(i).await.expect("push");
    }
    let other = sink.clone();
    let stats = timeout(HANG, sink.shutdown()).await.expect("shutdown");
    assert_eq!(stats.drained, 95);
    assert_eq!(flat(&batches), (0..95).collect::<Vec<_>>());
    assert!(other.is_closed());
    assert!(matches!(other.push(1).await, Err(PushError::Closed(1))));
    assert!(matches!(other.try_push(2), Err(PushError::Closed(2))));
    // Idempotent, from any handle.
    assert_eq!(
        timeout(HANG, other.shutdown())
            .await
            .expect("again")
            .drained,
        95
    );
}

#[tokio::test]
async fn dropping_every_handle_drains_and_stops_the_thread() {
    let (mut rec, batches) = Recorder::new();
    let (closed_tx, mut closed) = mpsc::unbounded_channel();
    rec.closed = Some(closed_tx);
    let sink = BackgroundSink::spawn(
        cfg(128, 10, Duration::from_secs(3600), OverflowPolicy::Block),
        rec,
    )
    .expect("spawn");
    let clone = sink.clone();
    for i in 0..25 {
        sink.push(i).await.expect("push");
    }
    drop(sink);
    clone.push(25).await.expect("one handle is still alive");
    drop(clone);
    assert_eq!(
        timeout(HANG, closed.recv()).await.expect("drain closed"),
        Some(())
    );
    assert_eq!(flat(&batches), (0..26).collect::<Vec<_>>());
}

/// Fails `fail_first` attempts, then succeeds; or always fails; optionally consumes a prefix.
struct Flaky {
    calls: u32,
    fail_first: u32,
    consume_on_error: usize,
    drained: Arc<Mutex<Vec<u32>>>,
}

impl SinkDrain<u32> for Flaky {
    type Error = String;

    fn drain(&mut self, batch: &mut Vec<u32>) -> Result<(), String> {
        self.calls += 1;
        if self.calls <= self.fail_first {
            let n = self.consume_on_error.min(batch.len());
            self.drained.lock().extend(batch.drain(..n));
            return Err(format!("disk full (call {})", self.calls));
        }
        self.drained.lock().extend(batch.iter().copied());
        Ok(())
    }
}

fn flaky(
    fail_first: u32,
    consume_on_error: usize,
    max_attempts: u32,
) -> (BackgroundSink<u32>, Arc<Mutex<Vec<u32>>>) {
    let drained = Arc::new(Mutex::new(Vec::new()));
    let drain = Flaky {
        calls: 0,
        fail_first,
        consume_on_error,
        drained: Arc::clone(&drained),
    };
    let mut config = cfg(64, 100, Duration::from_secs(3600), OverflowPolicy::Block);
    config.retry = RetryPolicy {
        max_attempts,
        backoff: Backoff::Fixed(Duration::from_millis(1)),
    };
    (
        BackgroundSink::spawn(config, drain).expect("spawn"),
        drained,
    )
}

#[tokio::test]
async fn a_failing_batch_is_retried_until_it_succeeds() {
    let (sink, drained) = flaky(2, 0, 3);
    for i in 0..5 {
        sink.push(i).await.expect("push");
    }
    timeout(HANG, sink.flush())
        .await
        .expect("flush")
        .expect("retried to success");
    let stats = sink.stats();
    assert_eq!(
        (stats.drained, stats.retries, stats.failed_batches),
        (5, 2, 0)
    );
    assert_eq!(*drained.lock(), vec![0, 1, 2, 3, 4]);
    assert!(sink.last_error().is_none());
}

#[tokio::test]
async fn a_batch_is_given_up_after_its_attempts_and_reported() {
    // Each failed attempt commits one item first: 2 drained, 3 given up.
    let (sink, drained) = flaky(u32::MAX, 1, 2);
    for i in 0..5 {
        sink.push(i).await.expect("push");
    }
    match timeout(HANG, sink.flush()).await.expect("flush") {
        Err(SinkError::DrainFailed {
            failed_batches,
            failed_items,
            last_error,
        }) => {
            assert_eq!((failed_batches, failed_items), (1, 3));
            assert_eq!(last_error, "disk full (call 2)");
        }
        other => panic!("expected DrainFailed, got {other:?}"),
    }
    let stats = sink.stats();
    assert_eq!(
        (stats.drained, stats.dropped.failed, stats.failed_batches),
        (2, 3, 1)
    );
    assert_eq!(stats.retries, 1);
    assert_accounting(&stats);
    let last = sink.last_error().expect("recorded");
    assert_eq!((last.items, last.attempts), (3, 2));
    assert_eq!(*drained.lock(), vec![0, 1]);
    // A later flush covers only later items and is not blamed for the old failure.
    timeout(HANG, sink.flush())
        .await
        .expect("flush")
        .expect("nothing pending");
}

#[tokio::test]
async fn a_panicking_drain_counts_as_a_failure_and_the_sink_survives() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let mut first = true;
    let drain = move |batch: &mut Vec<u32>| -> Result<(), String> {
        if std::mem::take(&mut first) {
            panic!("boom");
        }
        record.lock().extend(batch.iter().copied());
        Ok(())
    };
    let sink = BackgroundSink::spawn(
        cfg(8, 8, Duration::from_secs(3600), OverflowPolicy::Block),
        drain,
    )
    .expect("spawn");
    sink.push(1).await.expect("push");
    assert!(matches!(
        timeout(HANG, sink.flush()).await.expect("flush"),
        Err(SinkError::DrainFailed { .. })
    ));
    assert!(sink
        .last_error()
        .expect("recorded")
        .message
        .contains("boom"));
    sink.push(2).await.expect("push");
    timeout(HANG, sink.flush())
        .await
        .expect("flush")
        .expect("drained");
    assert_eq!(*seen.lock(), vec![2]);
}

#[test]
fn try_push_and_shutdown_work_without_a_runtime_for_the_producer() {
    let (rec, batches) = Recorder::new();
    let sink = BackgroundSink::spawn(
        cfg(64, 4, Duration::from_millis(1), OverflowPolicy::Block),
        rec,
    )
    .expect("spawn");
    for i in 0..10 {
        sink.try_push(i).expect("room");
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let stats = rt.block_on(sink.shutdown());
    assert_eq!(stats.drained, 10);
    assert_eq!(flat(&batches), (0..10).collect::<Vec<_>>());
}
