//! [`SyncConsumer`]: blocking reads from any thread, straight from the record's buffer.

use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use aimdb_core::{Consumer, DbHandle, ReadAhead, RecvError, TryRecvError};
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
///
/// From a ring it takes every ready value (up to 128, at most a quarter of the ring) in one visit
/// and hands them out one per `get`, each cloned then: taken values are counted as delivered and
/// are this consumer's, so a lag or a close is reported after them.
pub struct SyncConsumer<T: Send + Sync + 'static> {
    reader: Mutex<Reader<T>>,
    db: DbHandle<TokioAdapter>,
    key: String,
}

/// Values a `get` takes from a ring in one visit at most (a ring bounds it further to a quarter
/// of its capacity): the buffer's lock and the lines it shares with the writer are paid for once
/// per visit, not once per value. 128 streamed faster than 32 and than 512 (docs/PERFORMANCE.md).
const READ_AHEAD: usize = 128;

/// The record's reader and the values it took ahead, handed out before it reads again.
struct Reader<T: Send + Sync + 'static> {
    consumer: Consumer<T, TokioAdapter>,
    ahead: ReadAhead<T>,
}

fn get_error(e: TryRecvError) -> GetError {
    match e {
        TryRecvError::Empty => GetError::Empty,
        TryRecvError::Lagged(n) => GetError::Lagged(n),
        TryRecvError::Closed => GetError::Closed,
    }
}

impl<T: Clone + Send + Sync + 'static> Reader<T> {
    /// A value taken ahead, else what one visit to the buffer brings (without registering a
    /// waker).
    fn try_next(&mut self) -> Result<T, TryRecvError> {
        if let Some(v) = self.ahead.pop() {
            return Ok(v);
        }
        // A visit that finds nothing takes no lock: spinning here costs the writer nothing.
        match self.consumer.try_recv_ahead(&mut self.ahead) {
            Err(e) => Err(e),
            Ok(_) => self.ahead.pop().ok_or(TryRecvError::Empty),
        }
    }
}

/// One read attempt for [`block_on_poll`]: without a context, what is ready now (no waker
/// registered, so a writer that keeps up has nobody to wake); with one, registering its waker.
fn poll<T: Clone + Send + Sync + 'static>(
    reader: &mut Reader<T>,
    cx: Option<&mut Context<'_>>,
) -> Poll<Result<T, GetError>> {
    match cx {
        None => match reader.try_next() {
            Ok(v) => Poll::Ready(Ok(v)),
            Err(TryRecvError::Empty) => Poll::Pending,
            Err(e) => Poll::Ready(Err(get_error(e))),
        },
        Some(cx) => {
            if let Some(v) = reader.ahead.pop() {
                return Poll::Ready(Ok(v));
            }
            match reader.consumer.poll_recv_ahead(&mut reader.ahead, cx) {
                Poll::Ready(Ok(_)) => match reader.ahead.pop() {
                    Some(v) => Poll::Ready(Ok(v)),
                    None => Poll::Pending,
                },
                Poll::Ready(Err(RecvError::Lagged(n))) => Poll::Ready(Err(GetError::Lagged(n))),
                Poll::Ready(Err(RecvError::Closed)) => Poll::Ready(Err(GetError::Closed)),
                Poll::Pending => Poll::Pending,
            }
        }
    }
}

impl<T: Clone + Send + Sync + 'static> SyncConsumer<T> {
    pub(super) fn new(
        reader: Consumer<T, TokioAdapter>,
        db: DbHandle<TokioAdapter>,
        key: &str,
    ) -> Self {
        let ahead = reader.read_ahead(READ_AHEAD);
        Self {
            reader: Mutex::new(Reader {
                consumer: reader,
                ahead,
            }),
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
        reader.try_next().map_err(get_error)
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
