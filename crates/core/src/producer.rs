//! The writing end of a record.

use alloc::sync::Arc;

use crate::buffer::{RecordStats, Shared};
use crate::runtime::Runtime;

/// Writes values into one record's buffer.
///
/// `produce` never blocks and never waits for readers: what a full buffer drops is the buffer's
/// contract (see [`crate::buffer`]). Cloning adds a writer; the record closes for its readers when
/// the last producer is dropped. `Send + Sync`: share it across tasks freely.
pub struct Producer<T: Send, R: Runtime> {
    shared: Arc<Shared<T, R::Mutex>>,
    runtime: R,
}

impl<T: Clone + Send + 'static, R: Runtime> Producer<T, R> {
    pub(crate) fn new(shared: Arc<Shared<T, R::Mutex>>, runtime: R) -> Self {
        shared.add_writer();
        Self { shared, runtime }
    }

    /// Stores `value` and wakes readers. Never blocks.
    pub fn produce(&self, value: T) {
        self.shared.push(value, self.runtime.stamp());
    }

    /// The record's counters.
    pub fn stats(&self) -> RecordStats {
        self.shared.stats()
    }
}

impl<T: Send, R: Runtime> Clone for Producer<T, R> {
    fn clone(&self) -> Self {
        self.shared.add_writer();
        Self {
            shared: self.shared.clone(),
            runtime: self.runtime.clone(),
        }
    }
}

impl<T: Send, R: Runtime> Drop for Producer<T, R> {
    fn drop(&mut self) {
        self.shared.remove_writer();
    }
}
