//! [`SyncConsumer`]: blocking reads from any thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aimdb_core::{Consumer, DbHandle, RecvError};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TryRecvError, TrySendError};
use tokio::sync::Notify;
use tokio::task::JoinSet;

use super::error::GetError;
use crate::TokioAdapter;

enum Item<T> {
    Value(T),
    Lagged(u64),
}

/// Wakes the forwarding task when the caller makes room in a full channel.
#[derive(Default)]
struct Room {
    waiting: AtomicBool,
    notify: Notify,
}

impl Room {
    fn freed(&self) {
        if self.waiting.swap(false, Ordering::AcqRel) {
            self.notify.notify_one();
        }
    }
}

/// Reads values of one record from any thread; `Send + Sync`. Share it (by reference or `Arc`)
/// to split values among threads; take one per thread for each to see every value.
///
/// An engine task forwards the record's values into this consumer's bounded channel and stops
/// reading the record while the channel is full, so a slow caller is subject to the record's
/// buffer contract (a ring reports the lag in-stream as [`GetError::Lagged`]).
pub struct SyncConsumer<T> {
    rx: Receiver<Item<T>>,
    room: Arc<Room>,
    db: DbHandle<TokioAdapter>,
    key: String,
}

impl<T: Clone + Send + 'static> SyncConsumer<T> {
    fn take(&self, item: Item<T>) -> Result<T, GetError> {
        self.room.freed();
        match item {
            Item::Value(v) => Ok(v),
            Item::Lagged(n) => Err(GetError::Lagged(n)),
        }
    }

    /// Blocks until the next value. `Err(Closed)` once the record closed or the engine shut
    /// down and everything delivered has been read.
    pub fn get(&self) -> Result<T, GetError> {
        let item = self.rx.recv().map_err(|_| GetError::Closed)?;
        self.take(item)
    }

    /// The next value if one is ready; never blocks (`Err(Empty)` otherwise).
    pub fn try_get(&self) -> Result<T, GetError> {
        match self.rx.try_recv() {
            Ok(item) => self.take(item),
            Err(TryRecvError::Empty) => Err(GetError::Empty),
            Err(TryRecvError::Disconnected) => Err(GetError::Closed),
        }
    }

    /// Blocks up to `timeout` for the next value (`Err(Timeout)` if none came).
    pub fn get_with_timeout(&self, timeout: Duration) -> Result<T, GetError> {
        match self.rx.recv_timeout(timeout) {
            Ok(item) => self.take(item),
            Err(RecvTimeoutError::Timeout) => Err(GetError::Timeout),
            Err(RecvTimeoutError::Disconnected) => Err(GetError::Closed),
        }
    }

    /// The record's newest value, without consuming anything (for `single_latest` records the
    /// current value). Never blocks.
    pub fn latest(&self) -> Option<T> {
        self.db.latest::<T>(self.key.as_str()).ok().flatten()
    }
}

impl<T> Drop for SyncConsumer<T> {
    fn drop(&mut self) {
        // Wake a forwarder waiting for room, so it sees the channel is gone and ends.
        self.room.waiting.store(false, Ordering::Release);
        self.room.notify.notify_one();
    }
}

/// Starts the engine task forwarding one record to a new [`SyncConsumer`]. Call inside the
/// engine runtime's context.
pub(super) fn spawn_forwarder<T: Clone + Send + 'static>(
    tasks: &mut JoinSet<()>,
    key: &str,
    consumer: Consumer<T, TokioAdapter>,
    db: DbHandle<TokioAdapter>,
    capacity: usize,
) -> SyncConsumer<T> {
    let (tx, rx) = crossbeam_channel::bounded(capacity);
    let room = Arc::new(Room::default());
    tasks.spawn(forward(consumer, tx, room.clone()));
    SyncConsumer {
        rx,
        room,
        db,
        key: key.to_owned(),
    }
}

async fn forward<T: Clone + Send + 'static>(
    mut consumer: Consumer<T, TokioAdapter>,
    tx: Sender<Item<T>>,
    room: Arc<Room>,
) {
    loop {
        let mut item = match consumer.recv().await {
            Ok(v) => Item::Value(v),
            Err(RecvError::Lagged(n)) => Item::Lagged(n),
            Err(RecvError::Closed) => return,
        };
        loop {
            match tx.try_send(item) {
                Ok(()) => break,
                Err(TrySendError::Disconnected(_)) => return,
                Err(TrySendError::Full(back)) => {
                    item = back;
                    room.waiting.store(true, Ordering::Release);
                    // Retry once after announcing: room freed before the flag was seen is
                    // found here instead of being waited for.
                    match tx.try_send(item) {
                        Ok(()) => {
                            room.waiting.store(false, Ordering::Release);
                            break;
                        }
                        Err(TrySendError::Disconnected(_)) => return,
                        Err(TrySendError::Full(back)) => {
                            item = back;
                            room.notify.notified().await;
                        }
                    }
                }
            }
        }
    }
}
