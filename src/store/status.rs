//! [`StoreStatus`]: what the admin endpoint, `/readyz` and `/metrics` know about the store.
//!
//! One per daemon, shared by the writer, the persist taps, the retention sweep and the admin
//! endpoint. Updating it never blocks for longer than a short uncontended lock.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use aimdb_tokio::concurrency::{BackgroundSink, SinkStats};
use parking_lot::RwLock;
use tokio::sync::Semaphore;

use super::row::HistoryRow;
use crate::telemetry::histogram::Histogram;

/// The store's condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum StoreState {
    /// No `[store]` table: nothing is persisted and nothing is wrong.
    Disabled = 0,
    /// Open; the last batch (if any) was written.
    Up = 1,
    /// Open, but the last batch failed after its retries (disk full, locked, I/O error).
    Degraded = 2,
    /// Could not be opened: the graph runs without history.
    Down = 3,
}

impl StoreState {
    /// `disabled`, `up`, `degraded`, `down`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            StoreState::Disabled => "disabled",
            StoreState::Up => "up",
            StoreState::Degraded => "degraded",
            StoreState::Down => "down",
        }
    }
}

/// Why values meant for the store were not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LostReason {
    /// A persist tap fell behind its record's ring (the writer queue was full meanwhile).
    Lagged,
    /// The store could not be opened.
    StoreDown,
    /// The store had already been shut down.
    Closed,
    /// The value could not be turned into JSON.
    Encode,
}

/// Shared store condition and counters. See the [module docs](self).
#[derive(Default)]
pub struct StoreStatus {
    state: AtomicU8,
    reason: RwLock<Option<String>>,
    path: RwLock<Option<PathBuf>>,
    sink: RwLock<Option<BackgroundSink<HistoryRow>>>,
    /// The persist taps' byte budget and its size.
    budget: RwLock<Option<(Arc<Semaphore>, usize)>>,
    lost_lagged: AtomicU64,
    lost_down: AtomicU64,
    lost_closed: AtomicU64,
    lost_encode: AtomicU64,
    deleted: AtomicU64,
    sweeps: AtomicU64,
    sweep_errors: AtomicU64,
    restored: AtomicU64,
    /// Every write attempt (one transaction), committed or not.
    write_duration: Histogram,
}

impl std::fmt::Debug for StoreStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreStatus")
            .field("state", &self.state())
            .field("reason", &self.reason())
            .finish()
    }
}

/// A snapshot of the counters, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct StoreCounters {
    /// The writer queue's counters (written = `drained`, lost to failed batches = `dropped.failed`).
    pub(crate) sink: SinkStats,
    /// Configured writer queue size.
    pub(crate) queue_capacity: usize,
    /// Bytes (estimated) the writer queue holds now.
    pub(crate) queue_bytes: usize,
    /// Configured writer queue size in bytes.
    pub(crate) queue_max_bytes: usize,
    /// Values lost because a persist tap lagged.
    pub(crate) lost_lagged: u64,
    /// Values lost because the store was down.
    pub(crate) lost_down: u64,
    /// Values lost because the store was closed.
    pub(crate) lost_closed: u64,
    /// Values that could not be encoded as JSON.
    pub(crate) lost_encode: u64,
    /// Rows deleted by retention.
    pub(crate) deleted: u64,
    /// Retention sweeps run.
    pub(crate) sweeps: u64,
    /// Retention sweeps that failed.
    pub(crate) sweep_errors: u64,
    /// Records seeded from the store at start.
    pub(crate) restored: u64,
}

impl StoreStatus {
    /// The state.
    pub(crate) fn state(&self) -> StoreState {
        match self.state.load(Ordering::Acquire) {
            1 => StoreState::Up,
            2 => StoreState::Degraded,
            3 => StoreState::Down,
            _ => StoreState::Disabled,
        }
    }

    /// Why the store is degraded or down (the last error), if it is.
    pub(crate) fn reason(&self) -> Option<String> {
        self.reason.read().clone()
    }

    /// The database file, once a `[store]` was configured.
    pub(crate) fn path(&self) -> Option<PathBuf> {
        self.path.read().clone()
    }

    pub(crate) fn set_path(&self, path: PathBuf) {
        *self.path.write() = Some(path);
    }

    pub(crate) fn set_sink(&self, sink: Option<BackgroundSink<HistoryRow>>) {
        *self.sink.write() = sink;
    }

    pub(crate) fn set_budget(&self, budget: Option<(Arc<Semaphore>, usize)>) {
        *self.budget.write() = budget;
    }

    /// Opened (or recovered): state `up`.
    pub(crate) fn set_up(&self) {
        *self.reason.write() = None;
        self.state.store(StoreState::Up as u8, Ordering::Release);
    }

    /// Not opened: state `down`, with the reason.
    pub(crate) fn set_down(&self, reason: String) {
        *self.reason.write() = Some(reason);
        self.state.store(StoreState::Down as u8, Ordering::Release);
    }

    /// A write failed: state `degraded` (unless down). Returns whether it was up before.
    pub(crate) fn set_degraded(&self, reason: String) -> bool {
        *self.reason.write() = Some(reason);
        self.state
            .compare_exchange(
                StoreState::Up as u8,
                StoreState::Degraded as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok()
    }

    /// A write succeeded: back to `up` if degraded. Returns whether it was degraded.
    pub(crate) fn write_ok(&self) -> bool {
        if self.state.load(Ordering::Acquire) != StoreState::Degraded as u8 {
            return false;
        }
        let recovered = self
            .state
            .compare_exchange(
                StoreState::Degraded as u8,
                StoreState::Up as u8,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_ok();
        if recovered {
            *self.reason.write() = None;
        }
        recovered
    }

    /// Counts `n` values that were not written.
    pub(crate) fn lost(&self, reason: LostReason, n: u64) {
        let c = match reason {
            LostReason::Lagged => &self.lost_lagged,
            LostReason::StoreDown => &self.lost_down,
            LostReason::Closed => &self.lost_closed,
            LostReason::Encode => &self.lost_encode,
        };
        c.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one retention sweep that deleted `deleted` rows (or failed).
    pub(crate) fn swept(&self, deleted: u64, ok: bool) {
        self.deleted.fetch_add(deleted, Ordering::Relaxed);
        self.sweeps.fetch_add(1, Ordering::Relaxed);
        if !ok {
            self.sweep_errors.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// A write attempt (one transaction, committed or not) took `d`.
    pub(crate) fn observe_write(&self, d: std::time::Duration) {
        self.write_duration.observe(d);
    }

    /// How long write attempts took.
    pub(crate) fn write_duration(&self) -> &Histogram {
        &self.write_duration
    }

    pub(crate) fn restored(&self, n: u64) {
        self.restored.fetch_add(n, Ordering::Relaxed);
    }

    /// The counters now.
    pub(crate) fn counters(&self) -> StoreCounters {
        let sink = self.sink.read();
        let (stats, capacity) = sink.as_ref().map_or((SinkStats::default(), 0), |s| {
            (s.stats(), s.config().capacity)
        });
        let (queue_bytes, queue_max_bytes) =
            self.budget.read().as_ref().map_or((0, 0), |(b, max)| {
                (max.saturating_sub(b.available_permits()), *max)
            });
        StoreCounters {
            sink: stats,
            queue_capacity: capacity,
            queue_bytes,
            queue_max_bytes,
            lost_lagged: self.lost_lagged.load(Ordering::Relaxed),
            lost_down: self.lost_down.load(Ordering::Relaxed),
            lost_closed: self.lost_closed.load(Ordering::Relaxed),
            lost_encode: self.lost_encode.load(Ordering::Relaxed),
            deleted: self.deleted.load(Ordering::Relaxed),
            sweeps: self.sweeps.load(Ordering::Relaxed),
            sweep_errors: self.sweep_errors.load(Ordering::Relaxed),
            restored: self.restored.load(Ordering::Relaxed),
        }
    }
}
