//! The writing end of a record.

use alloc::sync::Arc;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::accept::Ledger;
use crate::buffer::{RecordStats, Shared};
use crate::runtime::Runtime;

/// Writes values into one record's buffer.
///
/// `produce` never blocks and never waits for readers: what a full buffer drops is the buffer's
/// contract (see [`crate::buffer`]). Cloning adds a writer; the record closes for its readers when
/// the last producer is dropped. `Send + Sync`: share it across tasks freely.
pub struct Producer<T: Send + Sync, R: Runtime> {
    shared: Arc<Shared<T, R::Mutex>>,
    runtime: R,
    /// Set by [`Producer::retire`]; read under the buffer's lock only.
    retired: AtomicBool,
}

impl<T: Clone + Send + Sync + 'static, R: Runtime> Producer<T, R> {
    pub(crate) fn new(shared: Arc<Shared<T, R::Mutex>>, runtime: R) -> Self {
        shared.add_writer();
        Self {
            shared,
            runtime,
            retired: AtomicBool::new(false),
        }
    }

    /// Stores `value` and wakes readers. Never blocks. After [`Producer::retire`] the value is
    /// dropped.
    pub fn produce(&self, value: T) {
        let _ = self.try_produce(value);
    }

    /// [`Producer::produce`], handing the value back once this producer is retired.
    pub fn try_produce(&self, value: T) -> Result<(), T> {
        self.shared
            .push_if(value, self.runtime.stamp(), || {
                !self.retired.load(Ordering::Relaxed)
            })
            .map(drop)
    }

    /// Stops this producer as dropping it would, for a holder that hands it out by reference:
    /// it no longer counts as a writer (the record closes when it was the last), and every
    /// later produce is refused — decided under the buffer's lock, so no value follows the
    /// close. Idempotent.
    pub fn retire(&self) {
        self.shared.retire_writer(&self.retired);
    }

    /// [`Producer::produce`], returning the value's position (see [`crate::accept`]).
    pub(crate) fn produce_at(&self, value: T) -> u64 {
        self.shared.push(value, self.runtime.stamp())
    }

    /// The record's acceptance, for holds that derive values into it.
    pub(crate) fn ledger(&self) -> Arc<dyn Ledger> {
        self.shared.clone()
    }

    /// How many more values may be produced before a durable reader downstream would lose one
    /// (`u64::MAX` when nothing limits it); see [`crate::accept`].
    pub(crate) fn room(&self) -> u64 {
        self.shared.room()
    }

    /// Whether every value up to position `pos` is accepted by the durable readers downstream.
    pub(crate) fn accepted(&self, pos: u64) -> bool {
        self.shared.watermark() >= pos
    }

    /// The graph's progress signal.
    pub(crate) fn progress(&self) -> Option<Arc<dyn crate::accept::Signal>> {
        self.shared.progress().cloned()
    }
    /// The record's counters.
    pub fn stats(&self) -> RecordStats {
        self.shared.stats()
    }
}

impl<T: Send + Sync, R: Runtime> Clone for Producer<T, R> {
    fn clone(&self) -> Self {
        self.shared.add_writer();
        Self {
            shared: self.shared.clone(),
            runtime: self.runtime.clone(),
            retired: AtomicBool::new(false),
        }
    }
}

impl<T: Send + Sync, R: Runtime> Drop for Producer<T, R> {
    fn drop(&mut self) {
        if !*self.retired.get_mut() {
            self.shared.remove_writer();
        }
    }
}
