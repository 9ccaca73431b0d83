//! A built database: its records, introspection, and running it.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::any::Any;
use core::future::Future;

use crate::buffer::{RecordStats, Shared};
use crate::consumer::Consumer;
use crate::error::{AccessError, BuildError};
use crate::graph::{closest_match, Edge, GraphPlan};
use crate::key::RecordKey;
use crate::lifecycle::{until, ShutdownSignal, TaskTracker};
use crate::link::BoxFuture;
use crate::producer::Producer;
use crate::record::{AnyRecord, RecordInfo, WriterKind};
use crate::runtime::Runtime;
use crate::transform::Resolve;

pub(crate) struct DbInner<R: Runtime> {
    pub(crate) runtime: R,
    pub(crate) records: Vec<Box<dyn AnyRecord>>,
    pub(crate) infos: Vec<RecordInfo>,
    pub(crate) index: BTreeMap<Arc<str>, usize>,
    pub(crate) plan: GraphPlan,
    pub(crate) shutdown: ShutdownSignal<R::Mutex>,
    pub(crate) tracker: TaskTracker<R::Mutex>,
}

impl<R: Runtime> Resolve for DbInner<R> {
    fn buffer_any(&self, key: &str) -> Option<&dyn Any> {
        let &i = self.index.get(key)?;
        Some(self.records[i].buffer_any())
    }
}

/// Work created by `build`, spawned by `run`.
#[derive(Default)]
pub(crate) struct Pending {
    pub(crate) sources: Vec<BoxFuture>,
    pub(crate) tasks: Vec<BoxFuture>,
    pub(crate) guards: Vec<Box<dyn Any + Send>>,
}

/// A built, validated graph, ready to run.
pub struct AimDb<R: Runtime> {
    pub(crate) inner: Arc<DbInner<R>>,
    pub(crate) pending: Pending,
}

impl<R: Runtime> AimDb<R> {
    /// A cloneable handle for reading, writing and introspecting records while the graph runs.
    pub fn handle(&self) -> DbHandle<R> {
        DbHandle {
            inner: self.inner.clone(),
        }
    }

    /// Stores `value` into record `key` of this built, not yet running graph, whatever writes
    /// the record: for state that comes from outside the graph's own writers, such as a value
    /// restored from history or carried over from the graph a reload replaces. Readers
    /// subscribed at build time see it as the record's first value. Once the graph runs (`run`
    /// consumes `self`) only [`DbHandle::producer`] writes from outside, under the writer rule.
    pub fn seed<T: Clone + Send + Sync + 'static>(
        &self,
        key: impl RecordKey,
        value: T,
    ) -> Result<(), AccessError> {
        let handle = self.handle();
        let shared = handle.typed::<T>(key.as_key())?.clone();
        // Every configured writer (or the guard of a writer-less record) already holds the
        // record open, so dropping this producer does not close it.
        Producer::new(shared, self.inner.runtime.clone()).produce(value);
        Ok(())
    }

    /// Runs the graph until every task has ended (a graph whose sources all finish drains and
    /// ends by itself), or until [`DbHandle::shutdown`] is called and the graph has drained.
    ///
    /// Errors: [`BuildError::Spawn`] when the runtime refuses a task (e.g. Embassy's pool is
    /// full). The start is then undone before returning: shutdown is raised and the tasks
    /// already started have ended.
    pub async fn run(self) -> Result<(), BuildError> {
        self.run_inner(None::<core::future::Pending<()>>).await
    }

    /// Runs the graph until `stop` completes (or [`DbHandle::shutdown`] is called) — even when
    /// no task is left, e.g. a graph written only from outside — then drains: sources are
    /// cancelled, records with no writer left close, and taps, transforms and outbound links
    /// finish what their buffers hold. Returns when every task has ended.
    ///
    /// Bound the drain with a timeout of your runtime if a tap might never end.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> Result<(), BuildError> {
        self.run_inner(Some(stop)).await
    }

    async fn run_inner(self, stop: Option<impl Future<Output = ()>>) -> Result<(), BuildError> {
        let AimDb { inner, pending } = self;
        let Pending {
            sources,
            tasks,
            guards,
        } = pending;
        // A failed start stops what it started: the tasks not spawned are dropped (closing the
        // records they would have written), shutdown cancels the sources that run, and the rest
        // drains as on a normal stop. Only then is the error returned.
        if let Err(e) = start(&inner, tasks, sources) {
            inner.shutdown.raise();
            drop(guards);
            inner.tracker.all_done().await;
            return Err(e);
        }
        match stop {
            // Stop on `stop` or on a shutdown request.
            Some(stop) => {
                until(stop, inner.shutdown.wait()).await;
            }
            // Stop when idle or on a shutdown request.
            None => {
                until(inner.tracker.all_done(), inner.shutdown.wait()).await;
            }
        }
        inner.shutdown.raise();
        drop(guards);
        inner.tracker.all_done().await;
        Ok(())
    }
}

/// Spawns the graph's tasks, then its sources (each cancelled by shutdown); stops at the first
/// spawn that fails, dropping the futures not spawned yet.
fn start<R: Runtime>(
    inner: &DbInner<R>,
    tasks: Vec<BoxFuture>,
    sources: Vec<BoxFuture>,
) -> Result<(), BuildError> {
    for task in tasks {
        spawn_tracked(inner, task)?;
    }
    for source in sources {
        let shutdown = inner.shutdown.clone();
        spawn_tracked(
            inner,
            Box::pin(async move {
                until(source, shutdown.wait()).await;
            }),
        )?;
    }
    Ok(())
}

fn spawn_tracked<R: Runtime>(inner: &DbInner<R>, task: BoxFuture) -> Result<(), BuildError> {
    let token = inner.tracker.token();
    inner
        .runtime
        .spawn(async move {
            let _token = token;
            task.await;
        })
        .map_err(BuildError::Spawn)
}

/// Reads, writes and introspects the records of a database. Cheap to clone; `Send + Sync`.
pub struct DbHandle<R: Runtime> {
    inner: Arc<DbInner<R>>,
}

impl<R: Runtime> Clone for DbHandle<R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<R: Runtime> DbHandle<R> {
    fn typed<T: Clone + Send + Sync + 'static>(
        &self,
        key: &str,
    ) -> Result<&Arc<Shared<T, R::Mutex>>, AccessError> {
        let Some(&i) = self.inner.index.get(key) else {
            return Err(AccessError::UnknownKey {
                key: key.into(),
                suggestion: closest_match(key, self.inner.index.keys().map(|k| &**k))
                    .map(Into::into),
            });
        };
        self.inner.records[i]
            .buffer_any()
            .downcast_ref::<Arc<Shared<T, R::Mutex>>>()
            .ok_or_else(|| AccessError::TypeMismatch {
                key: key.into(),
                requested: core::any::type_name::<T>(),
                actual: self.inner.infos[i].type_name,
            })
    }

    /// A new writer of record `key` from outside the graph. The record stays open while it
    /// lives.
    ///
    /// The writer rule: a record has one writer. Only a record with no writer in the graph
    /// ([`WriterKind::External`]) takes outside producers; one written by a source, a
    /// transform or inbound links answers [`AccessError::NotWritable`]. (To put a value into
    /// such a record before it runs, e.g. restored state, see [`AimDb::seed`].)
    pub fn producer<T: Clone + Send + Sync + 'static>(
        &self,
        key: impl RecordKey,
    ) -> Result<Producer<T, R>, AccessError> {
        let key = key.as_key();
        let shared = self.typed::<T>(key)?.clone();
        let writer = self
            .record(key)
            .map_or(WriterKind::External, RecordInfo::writer);
        if writer != WriterKind::External {
            return Err(AccessError::NotWritable {
                key: key.into(),
                writer,
            });
        }
        Ok(Producer::new(shared, self.inner.runtime.clone()))
    }

    /// A new reader of record `key`.
    pub fn consumer<T: Clone + Send + Sync + 'static>(
        &self,
        key: impl RecordKey,
    ) -> Result<Consumer<T, R>, AccessError> {
        Ok(Consumer::new(self.typed::<T>(key.as_key())?.clone()))
    }

    /// The newest value of record `key`, without consuming it.
    pub fn latest<T: Clone + Send + Sync + 'static>(
        &self,
        key: impl RecordKey,
    ) -> Result<Option<T>, AccessError> {
        Ok(self.typed::<T>(key.as_key())?.newest())
    }

    /// Every record, in configuration order.
    pub fn records(&self) -> &[RecordInfo] {
        &self.inner.infos
    }

    /// One record's description.
    pub fn record(&self, key: &str) -> Option<&RecordInfo> {
        self.inner.index.get(key).map(|&i| &self.inner.infos[i])
    }

    /// Records in topological order (inputs before the records computed from them).
    pub fn topological_order(&self) -> impl Iterator<Item = &RecordInfo> {
        self.inner.plan.order.iter().map(|&i| &self.inner.infos[i])
    }

    /// Transform edges in topological order.
    pub fn edges(&self) -> &[Edge] {
        &self.inner.plan.edges
    }

    /// Counters of record `key`.
    pub fn stats(&self, key: &str) -> Option<RecordStats> {
        self.inner
            .index
            .get(key)
            .map(|&i| self.inner.records[i].stats())
    }

    /// Starts draining the graph (see [`AimDb::run_until`]). Idempotent.
    pub fn shutdown(&self) {
        self.inner.shutdown.raise();
    }

    /// The graph's shutdown signal, for components outside the graph that must stop with it.
    pub fn shutdown_signal(&self) -> &ShutdownSignal<R::Mutex> {
        &self.inner.shutdown
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutdown.is_raised()
    }

    /// Tasks of the graph still running.
    pub fn live_tasks(&self) -> usize {
        self.inner.tracker.live()
    }

    /// The runtime.
    pub fn runtime(&self) -> &R {
        &self.inner.runtime
    }
}
