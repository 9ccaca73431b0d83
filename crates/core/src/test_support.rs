//! The buffer and engine conformance suite every runtime adapter runs.
//!
//! Each case is an `async fn` generic over the runtime; [`conformance_tests!`] stamps them out as
//! `#[test]`s for an adapter:
//!
//! ```text
//! fn block_on<F: core::future::Future>(f: F) -> F::Output { /* the adapter's executor */ }
//! aimdb_core::conformance_tests!(block_on, MyAdapter::new());
//! ```
//!
//! The cases pin down the contracts in [`crate::buffer`]: ordering, lag reporting, late
//! subscribers, many readers, mailbox exclusivity, closing when the producer is dropped, freeing a
//! dropped reader, waking parked readers, cancel-safety, counters, and the engine's drain on
//! shutdown. They panic on failure, like any test.
//!
//! The *buffer cases* (what a reader sees of each buffer kind) are written against
//! [`CaseApi`], so that any way into a record runs the same case bodies: the async handles
//! ([`AsyncApi`], which `conformance_tests!(block_on, runtime)` uses) and the Tokio adapter's
//! sync API (`conformance_tests!(buffer_cases block_on, api)` in
//! `crates/tokio/tests/sync_conformance.rs`). The *engine cases* (closing and reopening, wakers,
//! cancelling a future, pipelines, shutdown, joins) are about the async engine itself.

use alloc::sync::Arc;
use alloc::task::Wake;
use alloc::vec::Vec;
use core::future::Future;
use core::pin::pin;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::{Context, Poll, Waker};
use core::time::Duration;

use crate::{
    AimDb, AimDbBuilder, BufferCfg, Consumer, DbHandle, Producer, RecordStats, RecvError, Runtime,
    TryRecvError,
};

/// Key of the record the single-record cases use.
pub const KEY: &str = "conformance.x";

/// A database holding one `u64` record with buffer `cfg` and no writer.
pub fn single_record<R: Runtime>(rt: R, cfg: BufferCfg) -> (AimDb<R>, DbHandle<R>) {
    let mut b = AimDbBuilder::new().runtime(rt);
    b.configure::<u64>(KEY, |r| {
        r.buffer(cfg);
    });
    let db = match b.build() {
        Ok(db) => db,
        Err(e) => panic!("conformance graph must build: {e}"),
    };
    let handle = db.handle();
    (db, handle)
}

/// A waker that counts its wakes.
#[derive(Default)]
pub struct CountingWaker(AtomicUsize);

impl CountingWaker {
    /// A new counter and a waker bumping it.
    pub fn new() -> (Arc<Self>, Waker) {
        let c = Arc::new(Self::default());
        let w = Waker::from(c.clone());
        (c, w)
    }
    /// Wakes so far.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A way into records, for the buffer cases: opens one `u64` record [`KEY`] with no writer in
/// the graph.
pub trait CaseApi {
    /// The opened record.
    type Record: CaseRecord;
    /// A graph holding one record [`KEY`] with buffer `cfg`, running or ready to be read and
    /// written.
    fn open(&self, cfg: BufferCfg) -> Self::Record;
}

/// Record [`KEY`] as one API sees it.
pub trait CaseRecord {
    /// A writer of the record.
    type Writer: CaseWriter;
    /// A reader of the record, subscribed when created.
    type Reader: CaseReader;
    /// A writer.
    fn writer(&self) -> Self::Writer;
    /// A new reader.
    fn reader(&self) -> Self::Reader;
    /// The record's counters.
    fn stats(&self) -> RecordStats;
    /// The newest value held, without consuming it.
    fn latest(&self) -> Option<u64>;
}

/// Writes values.
pub trait CaseWriter {
    /// Stores `v`; never blocks.
    fn produce(&self, v: u64);
}

/// Reads values.
pub trait CaseReader {
    /// The next value (the cases call it when one is ready, or lag or closing is due).
    fn recv(&mut self) -> impl Future<Output = Result<u64, RecvError>>;
    /// The next value if one is ready.
    fn try_recv(&mut self) -> Result<u64, TryRecvError>;
}

/// The async handles ([`DbHandle`], [`Producer`], [`Consumer`]) on runtime `R`.
#[derive(Clone)]
pub struct AsyncApi<R>(pub R);

/// A built (not running) graph and its handle, for [`AsyncApi`].
pub struct AsyncRecord<R: Runtime> {
    _db: AimDb<R>,
    handle: DbHandle<R>,
}

impl<R: Runtime> CaseApi for AsyncApi<R> {
    type Record = AsyncRecord<R>;
    fn open(&self, cfg: BufferCfg) -> AsyncRecord<R> {
        let (db, handle) = single_record(self.0.clone(), cfg);
        AsyncRecord { _db: db, handle }
    }
}

impl<R: Runtime> CaseRecord for AsyncRecord<R> {
    type Writer = Producer<u64, R>;
    type Reader = Consumer<u64, R>;
    fn writer(&self) -> Producer<u64, R> {
        self.handle.producer::<u64>(KEY).unwrap()
    }
    fn reader(&self) -> Consumer<u64, R> {
        self.handle.consumer::<u64>(KEY).unwrap()
    }
    fn stats(&self) -> RecordStats {
        self.handle.stats(KEY).unwrap()
    }
    fn latest(&self) -> Option<u64> {
        self.handle.latest::<u64>(KEY).unwrap()
    }
}

impl<R: Runtime> CaseWriter for Producer<u64, R> {
    fn produce(&self, v: u64) {
        Producer::produce(self, v);
    }
}

impl<R: Runtime> CaseReader for Consumer<u64, R> {
    fn recv(&mut self) -> impl Future<Output = Result<u64, RecvError>> {
        Consumer::recv(self)
    }
    fn try_recv(&mut self) -> Result<u64, TryRecvError> {
        Consumer::try_recv(self)
    }
}

const ALL_KINDS: [BufferCfg; 3] = [
    BufferCfg::SpmcRing { capacity: 8 },
    BufferCfg::SingleLatest,
    BufferCfg::Mailbox,
];

/// A ring delivers every value, in order, to a reader that keeps up.
pub async fn ring_delivers_every_value_in_order<A: CaseApi>(api: A) {
    let rec = api.open(BufferCfg::SpmcRing { capacity: 16 });
    let p = rec.writer();
    let mut c = rec.reader();
    for round in 0..10u64 {
        for i in 0..16 {
            p.produce(round * 16 + i);
        }
        for i in 0..16 {
            assert_eq!(c.recv().await, Ok(round * 16 + i));
        }
    }
    assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
}

/// A reader more than `capacity` behind is told how many values it missed, once, then resumes at
/// the oldest value still held.
pub async fn ring_reports_lag_then_resumes_at_oldest<A: CaseApi>(api: A) {
    let rec = api.open(BufferCfg::SpmcRing { capacity: 4 });
    let p = rec.writer();
    let mut c = rec.reader();
    for i in 0..10 {
        p.produce(i);
    }
    assert_eq!(c.recv().await, Err(RecvError::Lagged(6)));
    for i in 6..10 {
        assert_eq!(c.recv().await, Ok(i));
    }
    assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(rec.stats().lagged, 6);
}

/// A reader that subscribes late sees only values produced after it subscribed.
pub async fn ring_late_subscriber_sees_only_new_values<A: CaseApi>(api: A) {
    let rec = api.open(BufferCfg::SpmcRing { capacity: 8 });
    let p = rec.writer();
    p.produce(1);
    p.produce(2);
    let mut late = rec.reader();
    assert_eq!(late.try_recv(), Err(TryRecvError::Empty));
    p.produce(3);
    assert_eq!(late.recv().await, Ok(3));
}

/// Every reader of a ring sees every value, independently of the others.
pub async fn ring_many_readers_each_see_every_value<A: CaseApi>(api: A) {
    let rec = api.open(BufferCfg::SpmcRing { capacity: 64 });
    let p = rec.writer();
    let mut readers: Vec<_> = (0..4).map(|_| rec.reader()).collect();
    for i in 0..50 {
        p.produce(i);
    }
    for c in &mut readers {
        for i in 0..50 {
            assert_eq!(c.recv().await, Ok(i));
        }
    }
    let s = rec.stats();
    assert_eq!((s.produced, s.delivered, s.readers), (50, 200, 4));
}

/// A `single_latest` reader that subscribes late gets the current value at once.
pub async fn latest_late_subscriber_gets_current_value<A: CaseApi>(api: A) {
    let rec = api.open(BufferCfg::SingleLatest);
    let p = rec.writer();
    p.produce(7);
    let mut late = rec.reader();
    assert_eq!(late.recv().await, Ok(7));
    assert_eq!(late.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(rec.latest(), Some(7));
}

/// A slow `single_latest` reader sees only the newest value.
pub async fn latest_collapses_intermediate_values<A: CaseApi>(api: A) {
    let rec = api.open(BufferCfg::SingleLatest);
    let p = rec.writer();
    let mut c = rec.reader();
    for i in 0..100 {
        p.produce(i);
    }
    assert_eq!(c.recv().await, Ok(99));
    assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
    p.produce(100);
    assert_eq!(c.recv().await, Ok(100));
}

/// A mailbox value is consumed by exactly one reader.
pub async fn mailbox_delivers_each_value_once<A: CaseApi>(api: A) {
    let rec = api.open(BufferCfg::Mailbox);
    let p = rec.writer();
    let mut a = rec.reader();
    let mut b = rec.reader();
    p.produce(1);
    assert_eq!(a.recv().await, Ok(1));
    assert_eq!(b.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(a.try_recv(), Err(TryRecvError::Empty));
    p.produce(2);
    assert_eq!(b.recv().await, Ok(2));
    assert_eq!(a.try_recv(), Err(TryRecvError::Empty));
}

/// An unread mailbox value is overwritten by the next one and counted as dropped.
pub async fn mailbox_overwrite_drops_unread_value<A: CaseApi>(api: A) {
    let rec = api.open(BufferCfg::Mailbox);
    let p = rec.writer();
    let mut c = rec.reader();
    p.produce(1);
    p.produce(2);
    assert_eq!(c.recv().await, Ok(2));
    assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(rec.stats().dropped, 1);
}

/// When the last producer is dropped, readers get what is held, then `Closed`; a new producer
/// reopens the record.
pub async fn producer_dropped_closes_after_drain<R: Runtime>(rt: R) {
    for cfg in ALL_KINDS {
        let (db, h) = single_record(rt.clone(), cfg);
        drop(db); // releases the engine's own hold on the writer-less record
        let p = h.producer::<u64>(KEY).unwrap();
        let p2 = p.clone();
        let mut c = h.consumer::<u64>(KEY).unwrap();
        p.produce(5);
        drop(p);
        assert_eq!(c.recv().await, Ok(5), "{cfg}: value held before close");
        assert_eq!(
            c.try_recv(),
            Err(TryRecvError::Empty),
            "{cfg}: one writer left"
        );
        drop(p2);
        assert_eq!(c.recv().await, Err(RecvError::Closed), "{cfg}");
        assert_eq!(c.try_recv(), Err(TryRecvError::Closed), "{cfg}");
        let p3 = h.producer::<u64>(KEY).unwrap();
        p3.produce(6);
        assert_eq!(c.recv().await, Ok(6), "{cfg}: reopened");
    }
}

/// A dropped reader frees its slot and never holds the producer back.
pub async fn reader_dropped_frees_its_slot<A: CaseApi>(api: A) {
    for cfg in ALL_KINDS {
        let rec = api.open(cfg);
        let p = rec.writer();
        let a = rec.reader();
        let mut b = rec.reader();
        assert_eq!(rec.stats().readers, 2, "{cfg}");
        drop(a);
        assert_eq!(rec.stats().readers, 1, "{cfg}");
        for i in 0..1000 {
            p.produce(i);
        }
        // The dropped reader held nothing back: `b` sees what its buffer keeps of all 1000.
        match cfg {
            BufferCfg::SpmcRing { capacity } => {
                let missed = 1000 - capacity as u64;
                assert_eq!(b.recv().await, Err(RecvError::Lagged(missed)), "{cfg}");
                for i in missed..1000 {
                    assert_eq!(b.recv().await, Ok(i), "{cfg}");
                }
            }
            _ => assert_eq!(b.recv().await, Ok(999), "{cfg}: the newest value"),
        }
        assert_eq!(b.try_recv(), Err(TryRecvError::Empty), "{cfg}");
        let c = rec.reader();
        assert_eq!(rec.stats().readers, 2, "{cfg}: slot reused");
        drop(c);
    }
}

/// A reader parked on an empty buffer is woken by the next value.
pub async fn recv_wakes_parked_reader<R: Runtime>(rt: R) {
    for cfg in ALL_KINDS {
        let (_db, h) = single_record(rt.clone(), cfg);
        let p = h.producer::<u64>(KEY).unwrap();
        let mut c = h.consumer::<u64>(KEY).unwrap();
        let (count, waker) = CountingWaker::new();
        let mut cx = Context::from_waker(&waker);
        assert!(c.poll_recv(&mut cx).is_pending(), "{cfg}");
        assert_eq!(count.count(), 0);
        p.produce(3);
        assert_eq!(count.count(), 1, "{cfg}: produce wakes the parked reader");
        assert_eq!(c.poll_recv(&mut cx), Poll::Ready(Ok(3)), "{cfg}");
        // A reader parked when the record closes is woken too.
        assert!(c.poll_recv(&mut cx).is_pending());
        drop(p);
        drop(_db);
        assert_eq!(count.count(), 2, "{cfg}: close wakes the parked reader");
    }
}

/// Dropping a pending `recv` loses nothing.
pub async fn recv_is_cancel_safe<R: Runtime>(rt: R) {
    for cfg in ALL_KINDS {
        let (_db, h) = single_record(rt.clone(), cfg);
        let p = h.producer::<u64>(KEY).unwrap();
        let mut c = h.consumer::<u64>(KEY).unwrap();
        let (_count, waker) = CountingWaker::new();
        let mut cx = Context::from_waker(&waker);
        {
            // aimdb: allow-blocking(an async recv future, pinned to be polled by hand)
            let fut = pin!(c.recv());
            assert!(fut.poll(&mut cx).is_pending(), "{cfg}");
        }
        p.produce(9);
        assert_eq!(c.recv().await, Ok(9), "{cfg}");
    }
}

/// Producing never waits for readers, however far behind they are.
pub async fn producing_never_waits_for_readers<A: CaseApi>(api: A) {
    for cfg in ALL_KINDS {
        let rec = api.open(cfg);
        let p = rec.writer();
        let _idle = rec.reader();
        for i in 0..10_000 {
            p.produce(i);
        }
        assert_eq!(rec.stats().produced, 10_000, "{cfg}");
        assert!(rec.stats().last_produced.is_some(), "{cfg}");
    }
}

/// Source → transform → tap runs to completion on its own when the source ends, and every value
/// reaches the tap.
pub async fn pipeline_runs_to_completion<R: Runtime>(rt: R) {
    let seen = Arc::new(AtomicUsize::new(0));
    let sum = Arc::new(AtomicUsize::new(0));
    let mut b = AimDbBuilder::new().runtime(rt);
    b.configure::<u64>("in", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 256 })
            .source(|_ctx, p| async move {
                for i in 0..200u64 {
                    p.produce(i);
                }
            });
    });
    let (seen2, sum2) = (seen.clone(), sum.clone());
    b.configure::<u64>("doubled", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 256 })
            .transform::<u64, _>("in", |t| t.map(|v| v * 2))
            .tap(move |_ctx, mut c| async move {
                while let Ok(v) = c.recv().await {
                    seen2.fetch_add(1, Ordering::SeqCst);
                    sum2.fetch_add(usize::try_from(v).unwrap_or(usize::MAX), Ordering::SeqCst);
                }
            });
    });
    let db = b.build().unwrap();
    db.run().await.unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 200);
    assert_eq!(sum.load(Ordering::SeqCst), 2 * (0..200).sum::<usize>());
}

/// On shutdown, sources stop and every value they produced is handed to the taps before `run`
/// returns.
pub async fn shutdown_drains_every_accepted_value<R: Runtime>(rt: R) {
    let tapped = Arc::new(AtomicUsize::new(0));
    let mut b = AimDbBuilder::new().runtime(rt.clone());
    let t2 = tapped.clone();
    b.configure::<u64>("busy", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 4096 })
            .source(|ctx, p| async move {
                let mut i = 0;
                loop {
                    p.produce(i);
                    i += 1;
                    if i % 16 == 0 {
                        ctx.time().sleep(Duration::from_millis(1)).await;
                    }
                }
            })
            .tap(move |_ctx, mut c| async move {
                while let Ok(_) | Err(RecvError::Lagged(_)) = c.recv().await {
                    t2.fetch_add(1, Ordering::SeqCst);
                }
            });
    });
    let db = b.build().unwrap();
    let h = db.handle();
    db.run_until(rt.sleep(Duration::from_millis(30)))
        .await
        .unwrap();
    let produced = h.stats("busy").unwrap().produced;
    assert!(produced > 0);
    assert_eq!(tapped.load(Ordering::SeqCst) as u64, produced);
    assert_eq!(h.stats("busy").unwrap().lagged, 0);
    assert_eq!(h.live_tasks(), 0);
}

/// A join sees values of all its inputs and shares one state between them.
pub async fn join_combines_inputs<R: Runtime>(rt: R) {
    let last = Arc::new(AtomicUsize::new(0));
    let mut b = AimDbBuilder::new().runtime(rt);
    b.configure::<u64>("a", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 16 })
            .source(|_c, p| async move { p.produce(10) });
    });
    b.configure::<u32>("b", |r| {
        r.buffer(BufferCfg::SpmcRing { capacity: 16 })
            .source(|_c, p| async move { p.produce(5) });
    });
    let l2 = last.clone();
    b.configure::<u64>("sum", |r| {
        r.buffer(BufferCfg::SingleLatest)
            .join((None::<u64>, None::<u32>), |j| {
                j.on::<u64>("a", |s, a| {
                    s.0 = Some(*a);
                    Some(s.0? + u64::from(s.1?))
                })
                .on::<u32>("b", |s, b| {
                    s.1 = Some(*b);
                    Some(s.0? + u64::from(s.1?))
                })
            })
            .tap(move |_c, mut c| async move {
                while let Ok(v) = c.recv().await {
                    l2.store(usize::try_from(v).unwrap_or(usize::MAX), Ordering::SeqCst);
                }
            });
    });
    b.build().unwrap().run().await.unwrap();
    assert_eq!(last.load(Ordering::SeqCst), 15);
}

/// Runs every conformance case, in one list for every harness:
///
/// - `conformance_tests!(block_on, runtime_expr)` stamps out each case as a `#[test]`: `block_on`
///   runs a future to completion on the adapter's executor, `runtime_expr` (evaluated inside it)
///   makes the adapter. Buffer cases run through [`AsyncApi`].
/// - `conformance_tests!(await_each runtime_expr, report)` awaits each case in turn inside the
///   caller's `async` block (for targets without a test harness, e.g. an MCU under QEMU) and
///   calls `report(case_name)` after each one passes.
/// - `conformance_tests!(buffer_cases block_on, api_expr)` stamps out only the buffer cases, run
///   through another [`CaseApi`] (e.g. the sync API), from the same list.
#[macro_export]
macro_rules! conformance_tests {
    (await_each $runtime:expr, $report:expr) => {
        $crate::conformance_tests!(@buffer_list [@await_each $crate::test_support::AsyncApi($runtime), $report;]);
        $crate::conformance_tests!(@engine_list [@await_each $runtime, $report;]);
    };
    (buffer_cases $block_on:path, $api:expr) => {
        $crate::conformance_tests!(@buffer_list [@cases $block_on, $api;]);
    };
    ($block_on:path, $runtime:expr) => {
        $crate::conformance_tests!(@buffer_list [@cases $block_on, $crate::test_support::AsyncApi($runtime);]);
        $crate::conformance_tests!(@engine_list [@cases $block_on, $runtime;]);
    };
    // What a reader sees of each buffer kind: cases generic over `CaseApi`.
    (@buffer_list [$($head:tt)*]) => {
        $crate::conformance_tests! { $($head)*
            ring_delivers_every_value_in_order,
            ring_reports_lag_then_resumes_at_oldest,
            ring_late_subscriber_sees_only_new_values,
            ring_many_readers_each_see_every_value,
            latest_late_subscriber_gets_current_value,
            latest_collapses_intermediate_values,
            mailbox_delivers_each_value_once,
            mailbox_overwrite_drops_unread_value,
            reader_dropped_frees_its_slot,
            producing_never_waits_for_readers,
        }
    };
    // The async engine itself: cases generic over `Runtime`.
    (@engine_list [$($head:tt)*]) => {
        $crate::conformance_tests! { $($head)*
            producer_dropped_closes_after_drain,
            recv_wakes_parked_reader,
            recv_is_cancel_safe,
            pipeline_runs_to_completion,
            shutdown_drains_every_accepted_value,
            join_combines_inputs,
        }
    };
    (@cases $block_on:path, $runtime:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                $block_on(async { $crate::test_support::$case($runtime).await });
            }
        )*
    };
    (@await_each $runtime:expr, $report:expr; $($case:ident),* $(,)?) => {
        $(
            $crate::test_support::$case($runtime).await;
            ($report)(stringify!($case));
        )*
    };
}
