//! The reading end of a record.

use alloc::sync::Arc;
use core::future::poll_fn;
use core::task::{Context, Poll};

use crate::accept::{Acceptor, HoldId, Ledger};
use crate::buffer::{ReadAhead, ReaderId, RecordStats, RecvError, Shared, TryRecvError};
use crate::runtime::Runtime;

/// Reads values from one record's buffer, with its own position.
///
/// What a reader sees depends on the buffer (see [`crate::buffer`]): every value of a ring since
/// subscribing, the current value of a `single_latest`, or its share of a mailbox. `recv` is
/// cancel-safe. Dropping the consumer frees its slot; it never holds back the producer.
pub struct Consumer<T: Send + Sync, R: Runtime> {
    shared: Arc<Shared<T, R::Mutex>>,
    cursor: u64,
    reader: ReaderId,
    /// The transform hold of this reader, if it is a held transform input.
    derived: Option<HoldId>,
}

impl<T: Clone + Send + Sync + 'static, R: Runtime> Consumer<T, R> {
    pub(crate) fn new(shared: Arc<Shared<T, R::Mutex>>) -> Self {
        let (reader, cursor) = shared.add_reader();
        Self {
            shared,
            cursor,
            reader,
            derived: None,
        }
    }

    /// Waits for the next value. Cancel-safe: a value is taken only when this completes.
    ///
    /// Errors: [`RecvError::Lagged`] once after values were missed (reading again resumes at the
    /// oldest value still held), [`RecvError::Closed`] when no producer is left and nothing
    /// remains for this reader.
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Poll form of [`Consumer::recv`]; registers `cx`'s waker when nothing is ready.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        self.shared.poll_read(&self.reader, &mut self.cursor, cx)
    }

    /// Takes the next value if one is ready. Never waits.
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        self.shared.try_read(&self.reader, &mut self.cursor)
    }

    /// A queue for [`Consumer::try_recv_ahead`] / [`Consumer::poll_recv_ahead`] holding up to
    /// `max` values (a ring bounds it to a quarter of its capacity; other kinds to 1). Allocates
    /// once, now.
    pub fn read_ahead(&self, max: usize) -> ReadAhead<T> {
        self.shared.read_ahead(max)
    }

    /// Takes every ready value (as many as `ahead` has room for) into `ahead` with one visit to
    /// the buffer; returns how many (`Ok(0)` only if `ahead` is full). Hand them out with
    /// [`ReadAhead::pop`]. This reader's position moves past the values taken, and they count
    /// as delivered. Errors as [`Consumer::try_recv`]'s, only when nothing was taken.
    pub fn try_recv_ahead(&mut self, ahead: &mut ReadAhead<T>) -> Result<usize, TryRecvError> {
        self.shared
            .try_read_ahead(&self.reader, &mut self.cursor, ahead)
    }

    /// Poll form of [`Consumer::try_recv_ahead`]; registers `cx`'s waker when nothing is ready.
    pub fn poll_recv_ahead(
        &mut self,
        ahead: &mut ReadAhead<T>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<usize, RecvError>> {
        self.shared
            .poll_read_ahead(&self.reader, &mut self.cursor, cx, ahead)
    }

    /// The newest value the buffer holds, without moving this reader or consuming a mailbox.
    pub fn latest(&self) -> Option<T> {
        self.shared.newest()
    }

    /// A new, independent reader of the same record, starting where a new subscriber starts.
    pub fn resubscribe(&self) -> Self {
        Self::new(self.shared.clone())
    }

    /// The record's counters.
    pub fn stats(&self) -> RecordStats {
        self.shared.stats()
    }

    /// This reader's position: how many of the record's values it has passed (read, skipped
    /// by lag, or collapsed). See [`crate::accept`].
    pub fn position(&self) -> u64 {
        self.cursor
    }

    /// Makes this reader a *durable* reader of its record: values count as accepted only up
    /// to the position it passes to [`Acceptor::accept`] (typically [`Consumer::position`]
    /// once a value is safe), and a writer that can wait is held back rather than let a ring
    /// overwrite a value this reader has not accepted. Register before the graph runs.
    pub fn hold(&self) -> Acceptor {
        let id = self.shared.hold_direct(self.cursor);
        Acceptor::new(self.shared.clone(), id)
    }

    /// Holds this (transform input) reader for the values it derives into `out`; the hold is
    /// released with the reader.
    pub(crate) fn hold_derived(&mut self, out: Arc<dyn Ledger>) {
        self.derived = Some(self.shared.hold_derived(self.cursor, out));
    }

    /// A transform step ended at this reader's position; `out` is the position of the value it
    /// produced, if any.
    pub(crate) fn settle(&self, out: Option<u64>) {
        if let Some(id) = self.derived {
            self.shared.settle(id, self.cursor, out);
        }
    }
}

impl<T: Send + Sync, R: Runtime> Drop for Consumer<T, R> {
    fn drop(&mut self) {
        if let Some(id) = self.derived {
            self.shared.release_hold(id);
        }
        self.shared.remove_reader(&self.reader);
    }
}
