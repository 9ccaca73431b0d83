//! [`SyncHandle`]: the engine thread and the way to its records.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use aimdb_core::{AccessError, AimDbBuilder, DbHandle, RecordKey};
use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::sync::oneshot;
use tokio::task::JoinSet;

use super::consumer::{spawn_forwarder, SyncConsumer};
use super::error::{AttachError, DetachError};
use super::producer::{spawn_feeder, SyncProducer};
use crate::TokioAdapter;

/// How the engine thread runs.
#[derive(Debug, Clone)]
pub struct AttachOptions {
    /// Tokio worker threads of the engine's runtime (default 2).
    pub worker_threads: usize,
    /// Capacity of each record's caller→engine and engine→caller channel (default 1024).
    pub channel_capacity: usize,
    /// Per-record channel capacities, overriding `channel_capacity`.
    pub record_capacity: BTreeMap<String, usize>,
    /// How long `detach` waits for the graph to drain (default 10 s).
    pub detach_timeout: Duration,
    /// How long dropping the handle without `detach` waits before leaving the engine thread to
    /// finish on its own (default 2 s).
    pub drop_timeout: Duration,
}

impl Default for AttachOptions {
    fn default() -> Self {
        Self {
            worker_threads: 2,
            channel_capacity: 1024,
            record_capacity: BTreeMap::new(),
            detach_timeout: Duration::from_secs(10),
            drop_timeout: Duration::from_secs(2),
        }
    }
}

impl AttachOptions {
    /// Sets the channel capacity of record `key`.
    pub fn record_capacity(mut self, key: impl RecordKey, capacity: usize) -> Self {
        self.record_capacity
            .insert(key.as_key().to_owned(), capacity.max(1));
        self
    }

    fn capacity_of(&self, key: &str) -> usize {
        self.record_capacity
            .get(key)
            .copied()
            .unwrap_or(self.channel_capacity)
            .max(1)
    }
}

/// Starts a graph on its own thread; see [`crate::sync_api`].
pub trait AttachExt {
    /// Builds the graph on a new engine thread with default [`AttachOptions`].
    fn attach(self) -> Result<SyncHandle, AttachError>;
    /// Builds the graph on a new engine thread.
    fn attach_with(self, options: AttachOptions) -> Result<SyncHandle, AttachError>;
}

impl AttachExt for AimDbBuilder<TokioAdapter> {
    fn attach(self) -> Result<SyncHandle, AttachError> {
        self.attach_with(AttachOptions::default())
    }

    fn attach_with(self, options: AttachOptions) -> Result<SyncHandle, AttachError> {
        SyncHandle::start(self, options)
    }
}

/// Blocking, thread-safe access to a graph running on its own thread. `Send + Sync`.
pub struct SyncHandle {
    db: DbHandle<TokioAdapter>,
    runtime: Handle,
    options: AttachOptions,
    /// One caller→engine channel per record, shared by every producer of it.
    feeders: Mutex<HashMap<String, Box<dyn Any + Send>>>,
    /// Consumer forwarding tasks, awaited on detach so that delivered values are not lost.
    forwarders: Arc<Mutex<JoinSet<()>>>,
    stop: Option<oneshot::Sender<()>>,
    done: crossbeam_channel::Receiver<()>,
    thread: Option<JoinHandle<()>>,
}

impl SyncHandle {
    fn start(
        builder: AimDbBuilder<TokioAdapter>,
        options: AttachOptions,
    ) -> Result<Self, AttachError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.worker_threads.max(1))
            .thread_name("aimdb-engine")
            .enable_all()
            .build()?;
        let (ready_tx, ready_rx) = crossbeam_channel::bounded(1);
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (done_tx, done_rx) = crossbeam_channel::bounded::<()>(1);
        let forwarders = Arc::new(Mutex::new(JoinSet::new()));
        let forwarders2 = forwarders.clone();
        let grace = options.detach_timeout;
        let thread = std::thread::Builder::new()
            .name("aimdb-runtime".into())
            .spawn(move || {
                runtime.block_on(async move {
                    let adapter = TokioAdapter::with_handle(Handle::current());
                    let db = match builder.runtime(adapter).build() {
                        Ok(db) => db,
                        Err(e) => {
                            let _ = ready_tx.send(Err(AttachError::Build(e)));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok((db.handle(), Handle::current())));
                    let result = db
                        .run_until(async {
                            let _ = stop_rx.await;
                        })
                        .await;
                    if let Err(e) = result {
                        tracing::error!("aimdb engine stopped with an error: {e}");
                    }
                    // Let consumer forwarders hand over what their records held; one whose
                    // caller stopped reading is abandoned after the detach timeout.
                    let mut set = std::mem::take(&mut *forwarders2.lock());
                    let drained = async { while set.join_next().await.is_some() {} };
                    let _ = tokio::time::timeout(grace, drained).await;
                });
                runtime.shutdown_timeout(Duration::from_millis(100));
                let _ = done_tx.send(());
            })?;
        let (db, runtime) = ready_rx.recv().map_err(|_| AttachError::ThreadEnded)??;
        Ok(Self {
            db,
            runtime,
            options,
            feeders: Mutex::new(HashMap::new()),
            forwarders,
            stop: Some(stop_tx),
            done: done_rx,
            thread: Some(thread),
        })
    }

    /// A blocking writer of record `key`. All producers of one record share one channel of the
    /// record's capacity, drained by one engine task.
    pub fn producer<T: Clone + Send + 'static>(
        &self,
        key: impl RecordKey,
    ) -> Result<SyncProducer<T>, AccessError> {
        let key = key.as_key();
        let mut feeders = self.feeders.lock();
        if let Some(sender) = feeders
            .get(key)
            .and_then(|s| s.downcast_ref::<tokio::sync::mpsc::Sender<T>>())
        {
            return Ok(SyncProducer::new(sender.clone()));
        }
        let producer = self.db.producer::<T>(key)?;
        let sender = spawn_feeder(
            &self.runtime,
            producer,
            self.db.clone(),
            self.options.capacity_of(key),
        );
        feeders.insert(key.to_owned(), Box::new(sender.clone()));
        Ok(SyncProducer::new(sender))
    }

    /// A blocking reader of record `key`, with its own position and its own channel of the
    /// record's capacity. Share it between threads to split values among them; take one per
    /// thread for each to see every value.
    pub fn consumer<T: Clone + Send + 'static>(
        &self,
        key: impl RecordKey,
    ) -> Result<SyncConsumer<T>, AccessError> {
        let key = key.as_key();
        let consumer = self.db.consumer::<T>(key)?;
        let capacity = self.options.capacity_of(key);
        let _enter = self.runtime.enter();
        Ok(spawn_forwarder(
            &mut self.forwarders.lock(),
            key,
            consumer,
            self.db.clone(),
            capacity,
        ))
    }

    /// The async handle of the graph: introspection, counters, latest values.
    pub fn db(&self) -> &DbHandle<TokioAdapter> {
        &self.db
    }

    /// Shuts the graph down and waits, up to [`AttachOptions::detach_timeout`], until it has
    /// drained and the engine thread has ended.
    pub fn detach(mut self) -> Result<(), DetachError> {
        let timeout = self.options.detach_timeout;
        self.stop_and_wait(timeout)
    }

    fn stop_and_wait(&mut self, timeout: Duration) -> Result<(), DetachError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.feeders.lock().clear();
        match self.done.recv_timeout(timeout) {
            Ok(()) => match self.thread.take().map(JoinHandle::join) {
                Some(Err(_)) => Err(DetachError::Panicked),
                _ => Ok(()),
            },
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Err(DetachError::Timeout(timeout)),
            // The thread ended without reporting: it panicked.
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                let _ = self.thread.take().map(JoinHandle::join);
                Err(DetachError::Panicked)
            }
        }
    }
}

impl Drop for SyncHandle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let timeout = self.options.drop_timeout;
            if let Err(e) = self.stop_and_wait(timeout) {
                tracing::warn!("aimdb sync handle dropped without detach: {e}");
            }
        }
    }
}
