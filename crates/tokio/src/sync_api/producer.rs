//! [`SyncProducer`]: blocking writes from any thread.

use aimdb_core::{DbHandle, Producer};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use super::error::{SetError, TrySetError};
use crate::TokioAdapter;

/// Writes values into one record from any thread. Clone it freely; `Send + Sync`.
///
/// Values go through the record's bounded channel to an engine task that produces them into the
/// record in order. `set` blocks while that channel is full; `try_set` never blocks.
pub struct SyncProducer<T> {
    tx: mpsc::Sender<T>,
}

impl<T> Clone for SyncProducer<T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<T: Send + 'static> SyncProducer<T> {
    pub(super) fn new(tx: mpsc::Sender<T>) -> Self {
        Self { tx }
    }

    /// Sends `value` to the record, blocking while the record's channel is full. Must not be
    /// called from inside an async task.
    pub fn set(&self, value: T) -> Result<(), SetError<T>> {
        self.tx
            .blocking_send(value)
            .map_err(|mpsc::error::SendError(v)| SetError::Closed(v))
    }

    /// Sends `value` if the record's channel has room; never blocks.
    pub fn try_set(&self, value: T) -> Result<(), TrySetError<T>> {
        self.tx.try_send(value).map_err(|e| match e {
            mpsc::error::TrySendError::Full(v) => TrySetError::Full(v),
            mpsc::error::TrySendError::Closed(v) => TrySetError::Closed(v),
        })
    }
}

/// Starts the engine task feeding one record from its channel. At shutdown it stops accepting,
/// produces what is queued, and drops its producer so the record can close.
pub(super) fn spawn_feeder<T: Clone + Send + 'static>(
    runtime: &Handle,
    producer: Producer<T, TokioAdapter>,
    db: DbHandle<TokioAdapter>,
    capacity: usize,
) -> mpsc::Sender<T> {
    let (tx, mut rx) = mpsc::channel::<T>(capacity);
    runtime.spawn(async move {
        loop {
            tokio::select! {
                v = rx.recv() => match v {
                    Some(v) => producer.produce(v),
                    None => break,
                },
                () = wait_shutdown(&db) => {
                    rx.close();
                    while let Some(v) = rx.recv().await {
                        producer.produce(v);
                    }
                    break;
                }
            }
        }
    });
    tx
}

async fn wait_shutdown(db: &DbHandle<TokioAdapter>) {
    db.shutdown_signal().wait().await;
}
