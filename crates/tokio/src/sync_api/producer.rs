//! [`SyncProducer`]: non-blocking writes from any thread, straight into the record's buffer.

use std::sync::Arc;

use aimdb_core::Producer;

use super::error::SetError;
use crate::TokioAdapter;

/// The one producer the sync API holds for a record, shared by every [`SyncProducer`] of it.
/// Retired when the graph shuts down, so that the record can close and its readers drain; the
/// buffer decides under its own lock whether a `set` came before or after that, so a `set`
/// takes no other lock.
pub(super) struct WriterSlot<T: Send + Sync + 'static> {
    producer: Producer<T, TokioAdapter>,
}

impl<T: Clone + Send + Sync + 'static> WriterSlot<T> {
    /// A slot for `producer`, retired at once if the graph is already shutting down.
    pub(super) fn new(producer: Producer<T, TokioAdapter>, released: bool) -> Self {
        if released {
            producer.retire();
        }
        Self { producer }
    }
}

/// What the handle needs of a slot without knowing its type.
pub(super) trait Release: Send + Sync {
    /// Retires the producer (as dropping it would); later `set`s answer `Closed`.
    fn release(&self);
}

impl<T: Clone + Send + Sync + 'static> Release for WriterSlot<T> {
    fn release(&self) {
        self.producer.retire();
    }
}

/// Writes values into one record from any thread. Clone it freely; `Send + Sync`.
///
/// `set` produces into the record's buffer from the calling thread: it never blocks (beyond the
/// buffer's short lock) and never waits for readers; what a full buffer drops is the buffer's
/// contract (a ring overwrites its oldest value, a mailbox an unread one). When `set` returns,
/// readers can see the value.
pub struct SyncProducer<T: Send + Sync + 'static> {
    slot: Arc<WriterSlot<T>>,
}

impl<T: Send + Sync + 'static> Clone for SyncProducer<T> {
    fn clone(&self) -> Self {
        Self {
            slot: self.slot.clone(),
        }
    }
}

impl<T: Clone + Send + Sync + 'static> SyncProducer<T> {
    pub(super) fn new(slot: Arc<WriterSlot<T>>) -> Self {
        Self { slot }
    }

    /// Stores `value` in the record and wakes its readers. Never blocks. `Err(Closed(value))`
    /// once the graph is shutting down (after `detach`, or a shutdown requested elsewhere).
    pub fn set(&self, value: T) -> Result<(), SetError<T>> {
        self.slot
            .producer
            .try_produce(value)
            .map_err(SetError::Closed)
    }
}
