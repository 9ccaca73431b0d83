//! What a [`BackgroundSink`] is built from: its drain, queue bound,
//! overflow policy and retry policy.

use std::fmt;
use std::time::Duration;

#[cfg(doc)]
use super::{BackgroundSink, PushError};

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

/// What happens when the queue is full. See the [module docs](super) for the full table.
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
