//! [`SyncHandle`]: the engine thread and the way to its records.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use aimdb_core::{AccessError, AimDbBuilder, DbHandle, RecordKey};
use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::consumer::SyncConsumer;
use super::error::{AttachError, DetachError};
use super::producer::{Release, SyncProducer, WriterSlot};
use crate::TokioAdapter;

/// How the engine thread runs.
#[derive(Debug, Clone)]
pub struct AttachOptions {
    /// Tokio worker threads of the engine's runtime (default 2). They run the graph's own
    /// tasks (sources, transforms, taps, links); sync `set`/`get` never go through them.
    pub worker_threads: usize,
    /// How long `detach` waits for the graph to drain (default 10 s).
    pub detach_timeout: Duration,
    /// How long dropping the handle without `detach` waits for the same (default 2 s).
    pub drop_timeout: Duration,
}

impl Default for AttachOptions {
    fn default() -> Self {
        Self {
            worker_threads: 2,
            detach_timeout: Duration::from_secs(10),
            drop_timeout: Duration::from_secs(2),
        }
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

/// The sync API's producers, one per record, released when the graph shuts down.
#[derive(Default)]
struct Writers {
    inner: Mutex<WritersInner>,
}

/// One record's slot twice: typed (to hand out, after a downcast) and as `Release`.
type Slot = (Arc<dyn Any + Send + Sync>, Arc<dyn Release>);

#[derive(Default)]
struct WritersInner {
    released: bool,
    slots: HashMap<String, Slot>,
}

impl Writers {
    /// Retires every producer the sync API holds, so that records can close; idempotent.
    fn release_all(&self) {
        let slots: Vec<Arc<dyn Release>> = {
            let mut inner = self.inner.lock();
            inner.released = true;
            inner.slots.values().map(|(_, r)| r.clone()).collect()
        };
        for slot in slots {
            slot.release();
        }
    }
}

/// Blocking, thread-safe access to a graph running on its own thread. `Send + Sync`.
pub struct SyncHandle {
    db: DbHandle<TokioAdapter>,
    options: AttachOptions,
    writers: Arc<Writers>,
    /// Tells the engine to shut down, and how long it may take to drain.
    stop: Option<oneshot::Sender<Duration>>,
    /// Sent once the engine thread is done: whether the graph drained (`false`: its grace ran
    /// out and what was left was cancelled).
    done: crossbeam_channel::Receiver<bool>,
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
        let (stop_tx, stop_rx) = oneshot::channel::<Duration>();
        let (done_tx, done_rx) = crossbeam_channel::bounded::<bool>(1);
        let writers = Arc::new(Writers::default());
        let writers2 = writers.clone();
        let default_grace = options.detach_timeout;
        let thread = std::thread::Builder::new()
            .name("aimdb-runtime".into())
            .spawn(move || {
                let drained = runtime.block_on(async move {
                    let adapter = TokioAdapter::with_handle(Handle::current());
                    let db = match builder.runtime(adapter).build() {
                        Ok(db) => db,
                        Err(e) => {
                            let _ = ready_tx.send(Err(AttachError::Build(e)));
                            return true;
                        }
                    };
                    let handle = db.handle();
                    let _ = ready_tx.send(Ok(handle.clone()));
                    // However shutdown is raised (detach, drop, `db().shutdown()`), the sync
                    // producers let go of their records so that the graph can drain.
                    tokio::spawn(async move {
                        handle.shutdown_signal().wait().await;
                        writers2.release_all();
                    });
                    let (grace_tx, grace_rx) = oneshot::channel::<Duration>();
                    let stop = async move {
                        let grace = stop_rx.await.unwrap_or(default_grace);
                        let _ = grace_tx.send(grace);
                    };
                    let bound = async move {
                        match grace_rx.await {
                            Ok(grace) => {
                                tokio::time::sleep(grace).await;
                                grace
                            }
                            // Shut down without a stop request: drain without a bound.
                            Err(_) => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        result = db.run_until(stop) => {
                            if let Err(e) = result {
                                tracing::error!("aimdb engine stopped with an error: {e}");
                            }
                            true
                        }
                        grace = bound => {
                            tracing::warn!(
                                "aimdb engine did not drain within {grace:?}; its remaining tasks are cancelled"
                            );
                            false
                        }
                    }
                });
                // Cancels what did not finish (a tap that never ends), so the thread ends.
                runtime.shutdown_timeout(Duration::from_millis(100));
                let _ = done_tx.send(drained);
            })?;
        let db = ready_rx.recv().map_err(|_| AttachError::ThreadEnded)??;
        Ok(Self {
            db,
            options,
            writers,
            stop: Some(stop_tx),
            done: done_rx,
            thread: Some(thread),
        })
    }

    /// A writer of record `key`, producing from the caller's thread. All producers of one
    /// record share one underlying producer.
    ///
    /// The writer rule applies: only a record with no writer in the graph takes it
    /// ([`AccessError::NotWritable`] otherwise).
    pub fn producer<T: Clone + Send + Sync + 'static>(
        &self,
        key: impl RecordKey,
    ) -> Result<SyncProducer<T>, AccessError> {
        let key = key.as_key();
        let mut writers = self.writers.inner.lock();
        if let Some(slot) = writers
            .slots
            .get(key)
            .and_then(|(any, _)| any.clone().downcast::<WriterSlot<T>>().ok())
        {
            return Ok(SyncProducer::new(slot));
        }
        // Checks key, type and the writer rule (also for a slot of another type).
        let producer = self.db.producer::<T>(key)?;
        let slot = Arc::new(WriterSlot::new(producer, writers.released));
        writers
            .slots
            .insert(key.to_owned(), (slot.clone(), slot.clone()));
        Ok(SyncProducer::new(slot))
    }

    /// A blocking reader of record `key`, with its own position in the record's buffer. Share
    /// it between threads to split values among them; take one per thread for each to see
    /// every value.
    pub fn consumer<T: Clone + Send + Sync + 'static>(
        &self,
        key: impl RecordKey,
    ) -> Result<SyncConsumer<T>, AccessError> {
        let key = key.as_key();
        let reader = self.db.consumer::<T>(key)?;
        Ok(SyncConsumer::new(reader, self.db.clone(), key))
    }

    /// The async handle of the graph: introspection, counters, latest values.
    pub fn db(&self) -> &DbHandle<TokioAdapter> {
        &self.db
    }

    /// Shuts the graph down and waits, at most [`AttachOptions::detach_timeout`], until it has
    /// drained and the engine thread has ended.
    ///
    /// Draining: the sync producers let go of their records (later `set`s answer `Closed`),
    /// sources stop, and taps, transforms and links finish what their buffers hold. Values
    /// already in a record stay readable by sync consumers, which then get `Closed`; a
    /// consumer nobody reads holds nothing back. On `Err(Timeout)` the engine cancels its
    /// remaining tasks and its thread ends on its own; nothing waits for it again (not even
    /// dropping the handle).
    pub fn detach(mut self) -> Result<(), DetachError> {
        let timeout = self.options.detach_timeout;
        self.stop_and_wait(timeout)
    }

    fn stop_and_wait(&mut self, timeout: Duration) -> Result<(), DetachError> {
        self.writers.release_all();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(timeout);
        }
        // Taken whatever the outcome: the thread is waited for at most once.
        let thread = self.thread.take();
        match self.done.recv_timeout(timeout) {
            // The engine's own bound (the same `timeout`) ran out first: as late as ours.
            Ok(false) => Err(DetachError::Timeout(timeout)),
            Ok(true) => match thread.map(JoinHandle::join) {
                Some(Err(_)) => Err(DetachError::Panicked),
                _ => Ok(()),
            },
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => Err(DetachError::Timeout(timeout)),
            // The thread ended without reporting: it panicked.
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                let _ = thread.map(JoinHandle::join);
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
