//! The drain thread: takes batches off the queue, runs the [`SinkDrain`] with retries, and marks
//! the sink finished when it ends.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use super::queue::Shared;
use super::{DrainFailure, SinkConfig, SinkDrain};

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

pub(super) fn drain_thread<T, D: SinkDrain<T>>(
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
            Err(panic) => format!(
                "drain panicked: {}",
                super::super::panic_message(panic.as_ref())
            ),
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
