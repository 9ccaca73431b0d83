//! The queue shared by the handles and the drain thread: items with sequence numbers, the batch in
//! flight, pending flushes, and the counters, all behind one lock.

use std::collections::VecDeque;
use std::ops::Range;

use tokio::sync::{oneshot, watch, Notify};

use super::sync::{Condvar, Mutex};
use super::{DrainFailure, OverflowPolicy, PushError, Pushed, SinkConfig, SinkError, SinkStats};

pub(super) struct Shared<T> {
    pub(super) config: SinkConfig,
    pub(super) state: Mutex<State<T>>,
    /// Wakes the drain thread: first item, batch full, flush, close.
    pub(super) work: Condvar,
    /// Wakes `push`es waiting for room (and on close).
    pub(super) room: Notify,
    /// Becomes `true` when the drain thread has finished.
    pub(super) stopped: watch::Receiver<bool>,
}

pub(super) struct State<T> {
    pub(super) queue: VecDeque<T>,
    pub(super) closed: bool,
    pub(super) worker_alive: bool,
    /// Sequence number the next accepted item gets.
    pub(super) accepted: u64,
    /// Sequence number of the queue's front (items before it were taken or evicted).
    pub(super) head: u64,
    /// The batch being drained.
    pub(super) in_flight: Option<Range<u64>>,
    /// Largest target of a pending flush; the drain thread hurries while it is beyond `head`.
    pub(super) flush_target: u64,
    pub(super) flushes: Vec<FlushWaiter>,
    pub(super) stats: SinkStats,
    pub(super) last_error: Option<DrainFailure>,
}

pub(super) struct FlushWaiter {
    /// Items `from..target` are covered by this flush.
    pub(super) from: u64,
    pub(super) target: u64,
    pub(super) failed_batches: u64,
    pub(super) failed_items: u64,
    pub(super) last_error: String,
    pub(super) tx: oneshot::Sender<Result<(), SinkError>>,
}

impl<T> State<T> {
    /// Every item with a sequence number below this one is finished (drained, failed or evicted).
    pub(super) fn done_seq(&self) -> u64 {
        match &self.in_flight {
            Some(r) => r.start,
            None => self.head,
        }
    }

    pub(super) fn complete_flushes(&mut self) {
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

    pub(super) fn snapshot(&self) -> SinkStats {
        let mut s = self.stats;
        s.queue_depth = self.queue.len();
        s.in_flight = self.in_flight.as_ref().map_or(0, |r| {
            usize::try_from(r.end - r.start).unwrap_or(usize::MAX)
        });
        s
    }
}

pub(super) enum Offer<T> {
    Done(Result<Pushed, PushError<T>>),
    /// Full under `Block`: wait for room and offer again.
    Wait(T),
}

pub(super) enum FlushStart {
    Done(Result<(), SinkError>),
    Wait(oneshot::Receiver<Result<(), SinkError>>),
}

impl<T> Shared<T> {
    /// An open, empty queue for `config`; `stopped` turns `true` when the drain thread ends.
    pub(super) fn new(config: SinkConfig, stopped: watch::Receiver<bool>) -> Self {
        Shared {
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
            stopped,
            config,
        }
    }

    pub(super) fn close(&self) {
        let mut st = self.state.lock();
        if !st.closed {
            st.closed = true;
            self.work.notify_one();
        }
        drop(st);
        self.room.notify_waiters();
    }

    pub(super) fn offer(&self, item: T, may_wait: bool) -> Offer<T> {
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

    pub(super) fn start_flush(&self) -> FlushStart {
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
