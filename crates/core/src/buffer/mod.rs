//! Typed buffers: how values of one record travel from its writer to its readers.
//!
//! | kind | holds | a reader sees | dropped when full |
//! |---|---|---|---|
//! | [`BufferCfg::SpmcRing`] | the last `capacity` values | every value produced after it subscribed, in order | the oldest value; a reader that had not read it gets [`RecvError::Lagged`] with the count, then resumes at the oldest value still held |
//! | [`BufferCfg::SingleLatest`] | the current value | the current value on subscribing (if any), then each newer current value | intermediate values collapse: a reader that was slower than the writer sees only the latest |
//! | [`BufferCfg::Mailbox`] | one value | each value at most once across *all* readers | an unread value is overwritten by the next one (counted as dropped) |
//!
//! Common contract:
//! - Producing never blocks and never waits for readers; it takes a short lock, stores the
//!   value, and wakes parked readers. A ring's readers read without that lock (stamped slots,
//!   and each reader's floor and visit, as `buffer/slots.rs` describes); they take it only
//!   to park, or to learn how far they lagged.
//! - Receiving is cancel-safe: a value is taken only in the poll that returns it, so dropping a
//!   pending `recv()` loses nothing.
//! - Readers park one waker each (re-registered only when it changes); a produce wakes every
//!   parked reader. No allocation happens per value: ring slots, waker slots and counters are
//!   allocated when the buffer or a reader is created.
//! - When the last producer is dropped the buffer closes: readers first receive what is still
//!   held for them, then [`RecvError::Closed`]. Creating a new producer reopens it.
//! - A dropped reader frees its waker slot; it holds nothing else.
//! - No user code runs under the buffer's lock: a value's `Clone` runs with no lock held (on the
//!   reader's side), and a value overwritten or collapsed by a produce is dropped after the lock
//!   (on the producer's side). A `Clone` or `Drop` may therefore read its own record.

mod read_ahead;
mod shared;
mod slots;

pub use read_ahead::ReadAhead;
pub(crate) use shared::{ReaderId, Shared};

use core::fmt;

/// Which buffer a record uses, and its size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferCfg {
    /// Bounded stream: every reader sees every value; a reader more than `capacity` values behind
    /// loses the oldest and is told how many.
    SpmcRing {
        /// Values held (at least 1).
        capacity: usize,
    },
    /// Only the current value matters; new readers get it at once.
    SingleLatest,
    /// One slot, latest instruction wins, each value consumed once.
    Mailbox,
}

impl BufferCfg {
    /// The kind's name as used in configs: `spmc_ring`, `single_latest`, `mailbox`.
    pub fn kind_name(&self) -> &'static str {
        match self {
            BufferCfg::SpmcRing { .. } => "spmc_ring",
            BufferCfg::SingleLatest => "single_latest",
            BufferCfg::Mailbox => "mailbox",
        }
    }

    /// Values the buffer holds at most.
    pub fn capacity(&self) -> usize {
        match self {
            BufferCfg::SpmcRing { capacity } => *capacity,
            BufferCfg::SingleLatest | BufferCfg::Mailbox => 1,
        }
    }

    /// Checks the configuration; a ring needs a capacity of at least 1.
    pub fn validate(&self) -> Result<(), &'static str> {
        match self {
            BufferCfg::SpmcRing { capacity: 0 } => Err("spmc_ring capacity must be at least 1"),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for BufferCfg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BufferCfg::SpmcRing { capacity } => write!(f, "spmc_ring(capacity={capacity})"),
            other => f.write_str(other.kind_name()),
        }
    }
}

/// Why `recv` returned no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// This reader fell behind a ring and `n` values were overwritten before it read them. The
    /// next receive returns the oldest value still held.
    Lagged(u64),
    /// Every producer is gone and nothing is left for this reader.
    Closed,
}

/// Why `try_recv` returned no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing new yet.
    Empty,
    /// See [`RecvError::Lagged`].
    Lagged(u64),
    /// See [`RecvError::Closed`].
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Lagged(n) => write!(f, "reader lagged behind by {n} values"),
            RecvError::Closed => f.write_str("record closed: no producer left"),
        }
    }
}

impl core::error::Error for RecvError {}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("no new value"),
            TryRecvError::Lagged(n) => write!(f, "reader lagged behind by {n} values"),
            TryRecvError::Closed => f.write_str("record closed: no producer left"),
        }
    }
}

impl core::error::Error for TryRecvError {}

/// Outcome of one read attempt on a buffer's state, before closing is considered.
pub(crate) enum Read<T> {
    Value(T),
    Empty,
    Lagged(u64),
}

/// Per-record counters, read under the buffer's lock (readers count their deliveries in their own
/// marks, summed here).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordStats {
    /// Values produced into the record.
    pub produced: u64,
    /// Values handed to readers (counted once per reader).
    pub delivered: u64,
    /// Values readers missed by lagging behind a ring (summed over readers).
    pub lagged: u64,
    /// Values overwritten before anyone read them (mailbox).
    pub dropped: u64,
    /// Readers currently subscribed.
    pub readers: usize,
    /// Producers currently alive.
    pub writers: usize,
    /// When the last value was produced, as runtime uptime (coarse: see `TimeOps::stamp`).
    pub last_produced: Option<core::time::Duration>,
}
