//! [`BackgroundSink`]: hand items from async code to a blocking consumer, in batches.
//!
//! # Contract
//!
//! * **Who blocks.** The [`SinkDrain`] is blocking code (a SQLite transaction, a file write). It
//!   runs on one dedicated OS thread owned by the sink, never on a Tokio worker. Async callers only
//!   take a short, uncontended lock to enqueue; they never wait for the drain itself.
//! * **Batching.** The drain thread takes up to `max_batch` items at once. When fewer are queued it
//!   waits at most `max_delay` (counted from when it first sees an item) for more, then drains what
//!   it has. [`BackgroundSink::flush`] and shutdown cut that wait short.
//! * **When the queue is full** (`capacity` items waiting, not counting the batch being drained),
//!   the [`OverflowPolicy`] chosen at construction decides, for `push` and `try_push` alike:
//!
//!   | policy        | `push(item).await`                  | `try_push(item)`                    |
//!   |---------------|-------------------------------------|-------------------------------------|
//!   | `Block`       | waits for room                      | `Err(PushError::Full(item))`        |
//!   | `DropNewest`  | discards `item`, `Ok(DroppedNewest)`| same                                |
//!   | `DropOldest`  | evicts the oldest queued item, accepts `item`, `Ok(EvictedOldest)` | same |
//!   | `Error`       | `Err(PushError::Full(item))`        | same                                |
//!
//!   Every discarded or refused item is counted in [`SinkStats`].
//! * **Cancel safety.** `push` is cancel-safe: an item is accepted atomically under the queue lock,
//!   so a `push` future dropped while waiting for room has not enqueued its item (it is dropped with
//!   the future) and holds no capacity; an item that was accepted stays accepted. `flush` and
//!   `shutdown` are cancel-safe: cancelling them only stops the waiting.
//! * **Failures.** A drain error is retried per [`RetryPolicy`] with the items still in the batch;
//!   when attempts run out the batch is given up: counted in `failed_batches` and
//!   `dropped.failed`, logged with `tracing::warn!`, kept in [`BackgroundSink::last_error`], and
//!   reported by any `flush` waiting on those items. A panicking drain counts as a failed attempt;
//!   the thread survives it.
//! * **Stopping.** [`BackgroundSink::shutdown`] stops accepting (later pushes get
//!   `PushError::Closed`), drains everything already accepted and returns the final stats. Dropping
//!   the last handle does the same in the background without waiting; the drain thread then exits
//!   on its own and never keeps the process alive (`main` returning ends it, so call `shutdown`
//!   when the remaining items matter).
//!
//! Accounting invariant, true at any snapshot:
//! `pushed == drained + dropped.oldest + dropped.failed + queue_depth + in_flight`.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use tokio::sync::{oneshot, watch, Notify};

/// The blocking consumer behind a [`BackgroundSink`]. Runs on the sink's own thread.
///
/// Closures `FnMut(&mut Vec<T>) -> Result<(), E>` implement it; annotate the argument type
/// (`|batch: &mut Vec<Reading>| ...`) so the closure accepts any lifetime.
pub trait SinkDrain<T>: Send + 'static {
    /// What a failed drain reports; it is logged and kept as text.
    type Error: fmt::Display;

    /// Consumes one batch (never more than `max_batch` items, never empty on the first attempt).
    ///
    /// On `Ok`, the whole batch counts as drained. On `Err`, whatever is still in `batch` is
    /// retried; a drain that committed part of the batch may remove those items first.
    fn drain(&mut self, batch: &mut Vec<T>) -> Result<(), Self::Error>;

    /// Called once on the drain thread after the last batch, e.g. to checkpoint a database.
    fn close(&mut self) {}
}

impl<T, F, E> SinkDrain<T> for F
where
    F: FnMut(&mut Vec<T>) -> Result<(), E> + Send + 'static,
    E: fmt::Display,
{
    type Error = E;

    fn drain(&mut self, batch: &mut Vec<T>) -> Result<(), E> {
        self(batch)
    }
}

/// What happens when the queue is full. See the [module docs](self) for the full table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OverflowPolicy {
    /// Backpressure: `push` waits for room, `try_push` returns [`PushError::Full`].
    #[default]
    Block,
    /// Keep what is queued; the new item is discarded (counted in `dropped.newest`).
    DropNewest,
    /// Evict the oldest queued item (counted in `dropped.oldest`) and accept the new one.
    DropOldest,
    /// Refuse the new item with [`PushError::Full`] (counted in `rejected`).
    Error,
}

/// Delay between two attempts at draining the same batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backoff {
    /// The same delay before every retry.
    Fixed(Duration),
    /// `initial`, doubled for each further retry, never more than `max`.
    Exponential {
        /// Delay before the first retry.
        initial: Duration,
        /// Upper bound of the delay.
        max: Duration,
    },
}

impl Backoff {
    /// Delay after the `failed_attempts`-th failed attempt (1-based).
    pub fn delay(&self, failed_attempts: u32) -> Duration {
        match *self {
            Backoff::Fixed(d) => d,
            Backoff::Exponential { initial, max } => {
                let shift = failed_attempts.saturating_sub(1).min(31);
                initial.saturating_mul(1u32 << shift).min(max)
            }
        }
    }
}

/// How often a failing batch is attempted before it is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per batch, the first included; `0` is treated as `1`.
    pub max_attempts: u32,
    /// Delay between attempts. The drain thread sleeps; async callers are unaffected except that
    /// the queue may fill meanwhile.
    pub backoff: Backoff,
}

impl RetryPolicy {
    /// One attempt, no retry.
    pub const fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            backoff: Backoff::Fixed(Duration::ZERO),
        }
    }
}

impl Default for RetryPolicy {
    /// 3 attempts, 10 ms then 20 ms apart (capped at 1 s).
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            backoff: Backoff::Exponential {
                initial: Duration::from_millis(10),
                max: Duration::from_secs(1),
            },
        }
    }
}

/// Construction parameters of a [`BackgroundSink`].
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// Names the drain thread (`sink-<name>`) and the log lines.
    pub name: String,
    /// Items that may wait in the queue (the batch being drained is not counted). At least 1.
    pub capacity: usize,
    /// Most items handed to one `drain` call. At least 1.
    pub max_batch: usize,
    /// Longest an item waits for a batch to fill before it is drained anyway.
    pub max_delay: Duration,
    /// What happens when the queue is full.
    pub overflow: OverflowPolicy,
    /// Retries of a failing batch.
    pub retry: RetryPolicy,
}

impl SinkConfig {
    /// Defaults (capacity 1024, batches of up to 128 or 50 ms, `Block`, default retry) under a name.
    pub fn named(name: impl Into<String>) -> Self {
        SinkConfig {
            name: name.into(),
            ..SinkConfig::default()
        }
    }
}

impl Default for SinkConfig {
    fn default() -> Self {
        SinkConfig {
            name: "sink".to_owned(),
            capacity: 1024,
            max_batch: 128,
            max_delay: Duration::from_millis(50),
            overflow: OverflowPolicy::Block,
            retry: RetryPolicy::default(),
        }
    }
}

/// Why a sink could not be built, or why a `flush` reports failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SinkError {
    /// A [`SinkConfig`] field is out of range.
    #[error("invalid sink config: {0}")]
    InvalidConfig(&'static str),
    /// The OS refused to start the drain thread.
    #[error("could not start the sink's drain thread: {0}")]
    Spawn(String),
    /// Batches holding items covered by the `flush` were given up after their retries.
    #[error(
        "{failed_batches} batch(es) given up ({failed_items} items); last error: {last_error}"
    )]
    DrainFailed {
        /// Batches given up.
        failed_batches: u64,
        /// Items in them that the drain did not consume.
        failed_items: u64,
        /// The last drain error, as text.
        last_error: String,
    },
    /// The drain thread ended before draining the items (it cannot normally end early).
    #[error("the sink's drain thread stopped before draining")]
    WorkerGone,
}

/// How an item offered to the sink was handled (all of these are policy, not errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// The item is queued.
    Accepted,
    /// The queue was full under [`OverflowPolicy::DropNewest`]; the item was discarded.
    DroppedNewest,
    /// The queue was full under [`OverflowPolicy::DropOldest`]; the item is queued and the oldest
    /// queued item was discarded.
    EvictedOldest,
}

/// An item the sink did not take; the item is handed back.
pub enum PushError<T> {
    /// The queue is full (`try_push` under `Block`, `push`/`try_push` under `Error`).
    Full(T),
    /// The sink is shut down or all handles are gone.
    Closed(T),
}

impl<T> PushError<T> {
    /// The item that was not taken.
    pub fn into_inner(self) -> T {
        match self {
            PushError::Full(t) | PushError::Closed(t) => t,
        }
    }
}

impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str("Full(..)"),
            PushError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Full(_) => f.write_str("sink queue is full"),
            PushError::Closed(_) => f.write_str("sink is closed"),
        }
    }
}

impl<T> std::error::Error for PushError<T> {}

/// Items the sink discarded, by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DroppedStats {
    /// New items discarded under `DropNewest`.
    pub newest: u64,
    /// Queued items evicted under `DropOldest`.
    pub oldest: u64,
    /// Items of batches given up after their retries.
    pub failed: u64,
}

/// Counters of a [`BackgroundSink`]; a consistent snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SinkStats {
    /// Items accepted into the queue.
    pub pushed: u64,
    /// Items the drain consumed successfully.
    pub drained: u64,
    /// Items discarded, by reason.
    pub dropped: DroppedStats,
    /// Offers refused with [`PushError::Full`] (the caller kept the item).
    pub rejected: u64,
    /// Successful drain calls (batches).
    pub batches: u64,
    /// Batches given up after their retries.
    pub failed_batches: u64,
    /// Drain attempts that were retries.
    pub retries: u64,
    /// Items waiting in the queue.
    pub queue_depth: usize,
    /// Items in the batch being drained right now.
    pub in_flight: usize,
}

/// The last batch the sink gave up on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrainFailure {
    /// The drain's last error, as text.
    pub message: String,
    /// Items given up.
    pub items: usize,
    /// Attempts made.
    pub attempts: u32,
}

/// A cloneable handle to a queue drained in batches by a blocking [`SinkDrain`] on its own thread.
///
/// See the [module docs](self) for the contract.
pub struct BackgroundSink<T> {
    handle: Arc<HandleInner<T>>,
}

impl<T> Clone for BackgroundSink<T> {
    fn clone(&self) -> Self {
        BackgroundSink {
            handle: Arc::clone(&self.handle),
        }
    }
}

impl<T> fmt::Debug for BackgroundSink<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackgroundSink")
            .field("name", &self.handle.shared.config.name)
            .field("stats", &self.stats())
            .finish()
    }
}

/// Shared by the user-facing handles; its drop (the last handle going away) closes the sink.
struct HandleInner<T> {
    shared: Arc<Shared<T>>,
}

impl<T> Drop for HandleInner<T> {
    fn drop(&mut self) {
        self.shared.close();
    }
}

struct Shared<T> {
    config: SinkConfig,
    state: Mutex<State<T>>,
    /// Wakes the drain thread: first item, batch full, flush, close.
    work: Condvar,
    /// Wakes `push`es waiting for room (and on close).
    room: Notify,
    /// Becomes `true` when the drain thread has finished.
    stopped: watch::Receiver<bool>,
}

struct State<T> {
    queue: VecDeque<T>,
    closed: bool,
    worker_alive: bool,
    /// Sequence number the next accepted item gets.
    accepted: u64,
    /// Sequence number of the queue's front (items before it were taken or evicted).
    head: u64,
    /// The batch being drained.
    in_flight: Option<Range<u64>>,
    /// Largest target of a pending flush; the drain thread hurries while it is beyond `head`.
    flush_target: u64,
    flushes: Vec<FlushWaiter>,
    stats: SinkStats,
    last_error: Option<DrainFailure>,
}

struct FlushWaiter {
    /// Items `from..target` are covered by this flush.
    from: u64,
    target: u64,
    failed_batches: u64,
    failed_items: u64,
    last_error: String,
    tx: oneshot::Sender<Result<(), SinkError>>,
}

impl<T> State<T> {
    /// Every item with a sequence number below this one is finished (drained, failed or evicted).
    fn done_seq(&self) -> u64 {
        match &self.in_flight {
            Some(r) => r.start,
            None => self.head,
        }
    }

    fn complete_flushes(&mut self) {
        if self.flushes.is_empty() {
            return;
        }
        let done = self.done_seq();
        let alive = self.worker_alive;
        let mut i = 0;
        while i < self.flushes.len() {
            if self.flushes[i].target <= done || !alive {
                let w = self.flushes.swap_remove(i);
                let result = if w.target > done {
                    Err(SinkError::WorkerGone)
                } else if w.failed_batches > 0 {
                    Err(SinkError::DrainFailed {
                        failed_batches: w.failed_batches,
                        failed_items: w.failed_items,
                        last_error: w.last_error,
                    })
                } else {
                    Ok(())
                };
                // The flusher may have been cancelled; nobody to tell then.
                let _ = w.tx.send(result);
            } else {
                i += 1;
            }
        }
    }

    fn snapshot(&self) -> SinkStats {
        let mut s = self.stats;
        s.queue_depth = self.queue.len();
        s.in_flight = self
            .in_flight
            .as_ref()
            .map_or(0, |r| (r.end - r.start) as usize);
        s
    }
}

enum Offer<T> {
    Done(Result<Pushed, PushError<T>>),
    /// Full under `Block`: wait for room and offer again.
    Wait(T),
}

enum FlushStart {
    Done(Result<(), SinkError>),
    Wait(oneshot::Receiver<Result<(), SinkError>>),
}

impl<T> Shared<T> {
    fn close(&self) {
        let mut st = self.state.lock();
        if !st.closed {
            st.closed = true;
            self.work.notify_one();
        }
        drop(st);
        self.room.notify_waiters();
    }

    fn offer(&self, item: T, may_wait: bool) -> Offer<T> {
        let mut st = self.state.lock();
        if st.closed {
            return Offer::Done(Err(PushError::Closed(item)));
        }
        let mut outcome = Pushed::Accepted;
        if st.queue.len() >= self.config.capacity {
            match self.config.overflow {
                OverflowPolicy::Block if may_wait => return Offer::Wait(item),
                OverflowPolicy::Block | OverflowPolicy::Error => {
                    st.stats.rejected += 1;
                    return Offer::Done(Err(PushError::Full(item)));
                }
                OverflowPolicy::DropNewest => {
                    st.stats.dropped.newest += 1;
                    return Offer::Done(Ok(Pushed::DroppedNewest));
                }
                OverflowPolicy::DropOldest => {
                    // The evicted item is dropped after the lock is released, below.
                    let evicted = st.queue.pop_front();
                    st.head += 1;
                    st.stats.dropped.oldest += 1;
                    outcome = Pushed::EvictedOldest;
                    st.queue.push_back(item);
                    st.accepted += 1;
                    st.stats.pushed += 1;
                    st.complete_flushes();
                    drop(st);
                    drop(evicted);
                    return Offer::Done(Ok(outcome));
                }
            }
        }
        st.queue.push_back(item);
        st.accepted += 1;
        st.stats.pushed += 1;
        let len = st.queue.len();
        let threshold = self.config.max_batch.min(self.config.capacity);
        drop(st);
        // The drain thread waits either for a first item or for a full batch.
        if len == 1 || len >= threshold {
            self.work.notify_one();
        }
        Offer::Done(Ok(outcome))
    }

    fn start_flush(&self) -> FlushStart {
        let mut st = self.state.lock();
        let from = st.done_seq();
        let target = st.accepted;
        if from >= target {
            return FlushStart::Done(Ok(()));
        }
        if !st.worker_alive {
            return FlushStart::Done(Err(SinkError::WorkerGone));
        }
        let (tx, rx) = oneshot::channel();
        st.flushes.push(FlushWaiter {
            from,
            target,
            failed_batches: 0,
            failed_items: 0,
            last_error: String::new(),
            tx,
        });
        st.flush_target = st.flush_target.max(target);
        drop(st);
        self.work.notify_one();
        FlushStart::Wait(rx)
    }
}

impl<T: Send + 'static> BackgroundSink<T> {
    /// Starts the drain thread and returns the first handle. Needs no Tokio runtime.
    pub fn spawn<D>(config: SinkConfig, drain: D) -> Result<Self, SinkError>
    where
        D: SinkDrain<T>,
    {
        if config.capacity == 0 {
            return Err(SinkError::InvalidConfig("capacity must be at least 1"));
        }
        if config.max_batch == 0 {
            return Err(SinkError::InvalidConfig("max_batch must be at least 1"));
        }
        let (stopped_tx, stopped_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::with_capacity(config.capacity.min(4096)),
                closed: false,
                worker_alive: true,
                accepted: 0,
                head: 0,
                in_flight: None,
                flush_target: 0,
                flushes: Vec::new(),
                stats: SinkStats::default(),
                last_error: None,
            }),
            work: Condvar::new(),
            room: Notify::new(),
            stopped: stopped_rx,
            config,
        });
        let worker = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(format!("sink-{}", shared.config.name))
            .spawn(move || drain_thread(worker, drain, stopped_tx))
            .map_err(|e| SinkError::Spawn(e.to_string()))?;
        Ok(BackgroundSink {
            handle: Arc::new(HandleInner { shared }),
        })
    }
}

impl<T> BackgroundSink<T> {
    fn shared(&self) -> &Shared<T> {
        &self.handle.shared
    }

    /// Offers `item`, waiting for room under [`OverflowPolicy::Block`]; other policies never wait.
    ///
    /// Cancel-safe: if the future is dropped before it completes, `item` was not accepted (it is
    /// dropped with the future) and no capacity is held.
    pub async fn push(&self, item: T) -> Result<Pushed, PushError<T>> {
        let mut item = item;
        loop {
            // Register for the wake-up before looking at the queue, so none is missed.
            let notified = self.shared().room.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            match self.shared().offer(item, true) {
                Offer::Done(result) => return result,
                Offer::Wait(back) => item = back,
            }
            notified.await;
        }
    }

    /// Offers `item` without waiting; under `Block` a full queue gives `Err(PushError::Full)`.
    /// Usable from sync code and outside a runtime.
    pub fn try_push(&self, item: T) -> Result<Pushed, PushError<T>> {
        match self.shared().offer(item, false) {
            Offer::Done(result) => result,
            // `offer` only asks to wait when allowed to.
            Offer::Wait(item) => Err(PushError::Full(item)),
        }
    }

    /// Barrier: returns once every item accepted before the call is finished — drained, given up
    /// after retries (then `Err(SinkError::DrainFailed)`), or evicted by `DropOldest`. Items pushed
    /// later are not waited for. Cuts the batching delay short. Cancel-safe.
    pub async fn flush(&self) -> Result<(), SinkError> {
        match self.shared().start_flush() {
            FlushStart::Done(result) => result,
            FlushStart::Wait(rx) => rx.await.unwrap_or(Err(SinkError::WorkerGone)),
        }
    }

    /// Stops accepting items (for every handle), waits until everything already accepted is
    /// drained or given up, and returns the final stats. Idempotent. Cancel-safe (the sink stays
    /// closed and keeps draining).
    pub async fn shutdown(&self) -> SinkStats {
        self.shared().close();
        let mut stopped = self.shared().stopped.clone();
        // An error means the drain thread is gone, which is what we wait for.
        let _ = stopped.wait_for(|s| *s).await;
        self.stats()
    }

    /// A consistent snapshot of the counters.
    pub fn stats(&self) -> SinkStats {
        self.shared().state.lock().snapshot()
    }

    /// The last batch given up after its retries, if any.
    pub fn last_error(&self) -> Option<DrainFailure> {
        self.shared().state.lock().last_error.clone()
    }

    /// True once `shutdown` was called or the drain thread ended.
    pub fn is_closed(&self) -> bool {
        self.shared().state.lock().closed
    }

    /// The configuration the sink was built with.
    pub fn config(&self) -> &SinkConfig {
        &self.shared().config
    }
}

/// Marks the sink finished when the drain thread ends, even by unwinding.
struct WorkerExit<'a, T> {
    shared: &'a Shared<T>,
    stopped: watch::Sender<bool>,
}

impl<T> Drop for WorkerExit<'_, T> {
    fn drop(&mut self) {
        let mut st = self.shared.state.lock();
        st.closed = true;
        st.worker_alive = false;
        st.complete_flushes();
        drop(st);
        self.shared.room.notify_waiters();
        self.stopped.send_replace(true);
    }
}

fn drain_thread<T, D: SinkDrain<T>>(
    shared: Arc<Shared<T>>,
    mut drain: D,
    stopped: watch::Sender<bool>,
) {
    let _exit = WorkerExit {
        shared: &shared,
        stopped,
    };
    let config = &shared.config;
    let mut batch: Vec<T> = Vec::with_capacity(config.max_batch.min(4096));
    // A full queue is as full as a batch gets when capacity < max_batch.
    let full_batch = config.max_batch.min(config.capacity);
    loop {
        let mut st = shared.state.lock();
        while st.queue.is_empty() && !st.closed {
            shared.work.wait(&mut st);
        }
        if st.queue.is_empty() {
            break; // closed and nothing left
        }
        let deadline = Instant::now() + config.max_delay;
        while st.queue.len() < full_batch && !st.closed && st.flush_target <= st.head {
            if shared.work.wait_until(&mut st, deadline).timed_out() {
                break;
            }
        }
        let n = st.queue.len().min(config.max_batch);
        batch.extend(st.queue.drain(..n));
        let start = st.head;
        st.head += n as u64;
        st.in_flight = Some(start..start + n as u64);
        drop(st);
        shared.room.notify_waiters();

        let taken = batch.len();
        let (result, attempts) = drain_with_retry(&mut drain, &mut batch, config);
        let left = batch.len();
        batch.clear();

        let mut st = shared.state.lock();
        st.stats.retries += u64::from(attempts.saturating_sub(1));
        match result {
            Ok(()) => {
                st.stats.drained += taken as u64;
                st.stats.batches += 1;
            }
            Err(message) => {
                st.stats.drained += (taken - left) as u64;
                st.stats.dropped.failed += left as u64;
                st.stats.failed_batches += 1;
                let end = start + n as u64;
                for w in st.flushes.iter_mut() {
                    if start < w.target && end > w.from {
                        w.failed_batches += 1;
                        w.failed_items += left as u64;
                        w.last_error.clone_from(&message);
                    }
                }
                st.last_error = Some(DrainFailure {
                    message,
                    items: left,
                    attempts,
                });
            }
        }
        st.in_flight = None;
        st.complete_flushes();
    }
    if catch_unwind(AssertUnwindSafe(|| drain.close())).is_err() {
        tracing::warn!(sink = %config.name, "sink drain panicked in close()");
    }
}

/// Runs the drain on `batch` until it succeeds or the attempts run out; returns the outcome and
/// the attempts made.
fn drain_with_retry<T, D: SinkDrain<T>>(
    drain: &mut D,
    batch: &mut Vec<T>,
    config: &SinkConfig,
) -> (Result<(), String>, u32) {
    let max_attempts = config.retry.max_attempts.max(1);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let message = match catch_unwind(AssertUnwindSafe(|| drain.drain(batch))) {
            Ok(Ok(())) => return (Ok(()), attempt),
            Ok(Err(e)) => e.to_string(),
            Err(panic) => format!("drain panicked: {}", super::panic_message(panic.as_ref())),
        };
        if attempt >= max_attempts {
            tracing::warn!(
                sink = %config.name,
                attempts = attempt,
                items = batch.len(),
                error = %message,
                "sink batch given up"
            );
            return (Err(message), attempt);
        }
        let delay = config.retry.backoff.delay(attempt);
        tracing::warn!(
            sink = %config.name,
            attempt,
            retry_in = ?delay,
            error = %message,
            "sink drain failed; retrying"
        );
        // This is the sink's own thread, never a Tokio worker.
        std::thread::sleep(delay);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_backoff_doubles_and_caps() {
        let b = Backoff::Exponential {
            initial: Duration::from_millis(10),
            max: Duration::from_millis(50),
        };
        assert_eq!(b.delay(1), Duration::from_millis(10));
        assert_eq!(b.delay(2), Duration::from_millis(20));
        assert_eq!(b.delay(3), Duration::from_millis(40));
        assert_eq!(b.delay(4), Duration::from_millis(50));
        assert_eq!(b.delay(u32::MAX), Duration::from_millis(50));
    }

    #[test]
    fn zero_sizes_are_rejected() {
        let drain = |_: &mut Vec<u8>| Ok::<(), String>(());
        let cfg = SinkConfig {
            capacity: 0,
            ..SinkConfig::default()
        };
        assert!(matches!(
            BackgroundSink::spawn(cfg, drain),
            Err(SinkError::InvalidConfig(_))
        ));
    }
}
