//! What a [`BackgroundSink`] reports: push outcomes, errors, counters and
//! the last batch it gave up on.

use std::fmt;

#[cfg(doc)]
use super::{BackgroundSink, OverflowPolicy, SinkConfig};

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
