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

mod config;
#[cfg(all(test, loom))]
mod loom_tests;
mod outcome;
mod queue;
mod sync;
mod worker;

use std::fmt;
use std::sync::Arc;

use tokio::sync::watch;

pub use config::{Backoff, OverflowPolicy, RetryPolicy, SinkConfig, SinkDrain};
pub use outcome::{DrainFailure, DroppedStats, PushError, Pushed, SinkError, SinkStats};
use queue::{FlushStart, Offer, Shared};

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
        let shared = Arc::new(Shared::new(config, stopped_rx));
        let worker = Arc::clone(&shared);
        sync::spawn(format!("sink-{}", shared.config.name), move || {
            worker::drain_thread(worker, drain, stopped_tx)
        })
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
