//! [`SyncConsumer`]: blocking reads from any thread, straight from the record's buffer.

use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use aimdb_core::{Consumer, DbHandle, RecvError, TryRecvError};
use parking_lot::Mutex;

use super::error::GetError;
use super::wait::block_on_poll;
use crate::TokioAdapter;

/// Reads values of one record from any thread; `Send + Sync`.
///
/// A `SyncConsumer` is a reader of the record's buffer like an async `Consumer`, with the same
/// contract (see `aimdb_core::buffer`): a ring hands it every value since it subscribed, in
/// order, and reports values it fell behind on as one [`GetError::Lagged`] count; a
/// `single_latest` hands it the current value (intermediate ones collapse); a mailbox value goes
/// to one reader only. Nothing is queued for it elsewhere: a consumer nobody reads holds nothing
/// back and costs the writer nothing.
///
/// Share it (by reference or `Arc`) to split values among threads: one thread at a time waits
/// in a `get`, the others wait for it to finish. Take one per thread for each to see every
/// value. Waiting spins briefly, then parks the thread; it never allocates.
pub struct SyncConsumer<T: Send + Sync + 'static> {
    reader: Mutex<Consumer<T, TokioAdapter>>,
    db: DbHandle<TokioAdapter>,
    key: String,
}

/// One read attempt for [`block_on_poll`]: without a context, what is ready now (no waker
/// registered, so a writer that keeps up has nobody to wake); with one, registering its waker.
fn poll<T: Clone + Send + Sync + 'static>(
    reader: &mut Consumer<T, TokioAdapter>,
    cx: Option<&mut Context<'_>>,
) -> Poll<Result<T, GetError>> {
    match cx {
        None => match reader.try_recv() {
            Ok(v) => Poll::Ready(Ok(v)),
            Err(TryRecvError::Empty) => Poll::Pending,
            Err(TryRecvError::Lagged(n)) => Poll::Ready(Err(GetError::Lagged(n))),
            Err(TryRecvError::Closed) => Poll::Ready(Err(GetError::Closed)),
        },
        Some(cx) => reader.poll_recv(cx).map(|r| {
            r.map_err(|e| match e {
                RecvError::Lagged(n) => GetError::Lagged(n),
                RecvError::Closed => GetError::Closed,
            })
        }),
    }
}

impl<T: Clone + Send + Sync + 'static> SyncConsumer<T> {
    pub(super) fn new(
        reader: Consumer<T, TokioAdapter>,
        db: DbHandle<TokioAdapter>,
        key: &str,
    ) -> Self {
        Self {
            reader: Mutex::new(reader),
            db,
            key: key.to_owned(),
        }
    }

    /// Blocks until the next value. `Err(Lagged(n))` once after a ring overwrote `n` values
    /// this consumer had not read (the next `get` returns the oldest value still held);
    /// `Err(Closed)` once the record closed (the graph shut down) and nothing is left for it.
    pub fn get(&self) -> Result<T, GetError> {
        let mut reader = self.reader.lock();
        match block_on_poll(None, |cx| poll(&mut reader, cx)) {
            Some(result) => result,
            // Unreachable without a deadline; answered as the record having nothing more.
            None => Err(GetError::Closed),
        }
    }

    /// The next value if one is ready; never blocks. `Err(Empty)` when there is none, or while
    /// another thread waits in a `get` on this same consumer (it takes the next value).
    pub fn try_get(&self) -> Result<T, GetError> {
        let Some(mut reader) = self.reader.try_lock() else {
            return Err(GetError::Empty);
        };
        reader.try_recv().map_err(|e| match e {
            TryRecvError::Empty => GetError::Empty,
            TryRecvError::Lagged(n) => GetError::Lagged(n),
            TryRecvError::Closed => GetError::Closed,
        })
    }

    /// Blocks up to `timeout` for the next value (`Err(Timeout)` if none came). Cancel-safe: a
    /// value that arrives after the timeout stays for the next call.
    pub fn get_with_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        let Some(deadline) = Instant::now().checked_add(timeout) else {
            return self.get();
        };
        let Some(mut reader) = self.reader.try_lock_until(deadline) else {
            return Err(GetError::Timeout);
        };
        match block_on_poll(Some(deadline), |cx| poll(&mut reader, cx)) {
            Some(result) => result,
            None => Err(GetError::Timeout),
        }
    }

    /// The record's newest value, without consuming anything or moving this consumer (for a
    /// `single_latest` record, the current value). Never blocks.
    pub fn latest(&self) -> Option<T> {
        self.db.latest::<T>(self.key.as_str()).ok().flatten()
    }
}
