//! The SQLite history: `persist = true` records have every value written, with key, time, node
//! and source, as JSON; retention deletes old rows; `aimdbd history` and the admin endpoint read
//! them back. See docs/HISTORY.md.
//!
//! # Contract
//!
//! * **No SQL on a Tokio worker.** Writes go through a [`BackgroundSink`] to [`HistoryWriter`](writer::HistoryWriter)
//!   on its own thread, one transaction per batch; retention is a `PeriodicWorker` on the
//!   blocking pool; opening, restoring and queries run in `spawn_blocking`.
//! * **The graph never waits for the store** (see [`persist`]): when the writer falls behind,
//!   persist taps fall behind on their records' buffers and count what they miss.
//! * **Faults.** A database that cannot be opened (missing or read-only directory, corrupt or
//!   locked file, newer schema) leaves the store `down`: the graph runs without history, the
//!   reason is logged with the path, shown by `/readyz` and `aimdbd_store_up 0`. A reload
//!   (SIGHUP) tries to open it again. Write errors at run time (full disk, I/O) mark it
//!   `degraded`; each batch is retried ([`writer::WRITE_RETRY`]) then counted as lost.
//! * **Reloads** keep the one writer: the database, queue and batch settings of the first
//!   successful open stay until restart (a changed `[store] path` is logged and ignored);
//!   retention and the per-record fields take effect at once.
//! * **Shutdown** ([`Store::shutdown`], after the graph drained): the retention sweep stops, the
//!   queue is flushed into the database (bounded by `[node] shutdown_timeout`), the WAL is
//!   checkpointed. Every value a persist tap handed over before is then in the database.

pub(crate) mod config;
mod error;
pub(crate) mod persist;
pub(crate) mod query;
mod restore;
pub(crate) mod retention;
mod row;
pub mod schema;
pub(crate) mod status;
pub mod writer;

pub use crate::record_types::Weigh;
pub use config::StoreConfig;
pub(crate) use error::StoreError;
pub use persist::{Persist, PersistRecord};
pub(crate) use row::HistoryRow;
pub(crate) use status::StoreState;
pub use status::StoreStatus;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aimdb_tokio::concurrency::{BackgroundSink, PeriodicConfig, PeriodicWorker};
use parking_lot::RwLock;
use rusqlite::Connection;
use serde_json::Value;

use crate::config::model::Config;
use retention::{RetentionPolicy, RetentionSweep};

/// The daemon's history store: one writer for the daemon's lifetime, across reloads.
pub(crate) struct Store {
    status: Arc<StoreStatus>,
    node: String,
    open: Option<Open>,
    persist: Option<Persist>,
}

struct Open {
    config: StoreConfig,
    sink: BackgroundSink<HistoryRow>,
    sweeper: Option<PeriodicWorker>,
    policy: Arc<RwLock<RetentionPolicy>>,
}

impl Store {
    /// Opens the store of `config` (nothing if it has no `[store]`). Never fails: a store that
    /// cannot be opened is `down`, which is logged and reported.
    pub(crate) async fn open(config: &Config) -> Self {
        let mut store = Store {
            status: Arc::default(),
            node: config.node_id.clone(),
            open: None,
            persist: None,
        };
        store.prepare(config).await;
        store
    }

    /// The shared condition and counters, for the admin endpoint.
    pub(crate) fn status(&self) -> Arc<StoreStatus> {
        self.status.clone()
    }

    /// What the graph's persist taps write through; `None` without `[store]`.
    pub(crate) fn persist(&self) -> Option<&Persist> {
        self.persist.as_ref()
    }

    /// Before building the graph of `config` (at start or on reload): opens the store if it is
    /// configured and not open yet (a retry after a failed open), or notes settings that only a
    /// restart applies.
    pub(crate) async fn prepare(&mut self, config: &Config) {
        let Some(want) = &config.store else { return };
        if let Some(open) = &self.open {
            if open.config.path != want.path {
                tracing::warn!(
                    open = %open.config.path.display(),
                    configured = %want.path.display(),
                    "[store] path changed: the open database is kept until restart"
                );
            }
            return;
        }
        self.status.set_path(want.path.clone());
        let path = want.path.clone();
        let opened = tokio::task::spawn_blocking(move || open_connections(&path)).await;
        let opened = match opened {
            Ok(r) => r,
            Err(e) => Err(StoreError::Sqlite {
                path: want.path.clone(),
                reason: format!("opening task failed: {e}"),
            }),
        };
        match opened.and_then(|(w, r)| self.start(want, config, w, r)) {
            Ok(open) => {
                tracing::info!(path = %want.path.display(), "history store open");
                self.status.set_up();
                self.persist = Some(Persist::new(
                    Some(open.sink.clone()),
                    want.queue_max_bytes,
                    &self.node,
                    self.status.clone(),
                ));
                self.open = Some(open);
            }
            Err(e) => {
                tracing::error!(
                    path = %want.path.display(),
                    error = %e,
                    "history store unavailable: the graph runs without history (fix it, then reload or restart)"
                );
                self.status.set_down(e.to_string());
                self.persist = Some(Persist::new(
                    None,
                    want.queue_max_bytes,
                    &self.node,
                    self.status.clone(),
                ));
            }
        }
    }

    fn start(
        &self,
        want: &StoreConfig,
        config: &Config,
        writer: Connection,
        reader: Connection,
    ) -> Result<Open, StoreError> {
        let sink = writer::spawn(
            writer,
            want.path.clone(),
            self.status.clone(),
            writer::sink_config(want),
        )
        .map_err(|e| StoreError::Sqlite {
            path: want.path.clone(),
            reason: e.to_string(),
        })?;
        self.status.set_sink(Some(sink.clone()));
        let policy = Arc::new(RwLock::new(RetentionPolicy::of(config)));
        let sweep = RetentionSweep::new(
            reader,
            want.path.clone(),
            policy.clone(),
            self.status.clone(),
        );
        let sweeper = match PeriodicWorker::spawn_blocking(
            PeriodicConfig::new("history-retention", want.sweep_interval),
            sweep,
        ) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::error!("history retention not running: {e}");
                None
            }
        };
        Ok(Open {
            config: want.clone(),
            sink,
            sweeper,
            policy,
        })
    }

    /// After building parts of the graph of `config` and before starting them (at start:
    /// every part; on reload: the rebuilt ones): applies `config`'s retention settings and
    /// returns the newest stored value of each of `keys` that has one, as JSON, for the engine
    /// to seed (`engine::restore`). Nothing without `[store]` or while it is down; problems
    /// are logged.
    pub(crate) async fn restore(&self, config: &Config, keys: Vec<String>) -> Vec<(String, Value)> {
        if let Some(open) = &self.open {
            *open.policy.write() = RetentionPolicy::of(config);
        }
        if self.persist.is_none() {
            return Vec::new();
        }
        restore::latest(self.status.path(), &self.status, keys).await
    }

    /// Then, with those parts seeded: `values` are the values now in their persisting records
    /// (restored, or carried over by a reload), which their persist taps will not store again;
    /// `restored` of them came from [`Store::restore`].
    pub(crate) fn seeded(&self, restored: u64, values: Vec<(String, Value)>) {
        if let Some(persist) = &self.persist {
            restore::seeded(persist, &self.status, restored, values);
        }
    }

    /// Stops the retention sweep, then writes everything queued (at most `timeout`) and closes
    /// the database. Call after the graph has drained.
    pub(crate) async fn shutdown(self, timeout: Duration) {
        let Some(open) = self.open else {
            let c = self.status.counters();
            if c.lost_down > 0 {
                tracing::warn!(
                    lost = c.lost_down,
                    "values not stored: the history store was down"
                );
            }
            return;
        };
        if let Some(sweeper) = open.sweeper {
            if let Err(e) = sweeper.stop().await {
                tracing::warn!("history retention: {e}");
            }
        }
        match tokio::time::timeout(timeout, open.sink.shutdown()).await {
            Ok(stats) => {
                let c = self.status.counters();
                tracing::info!(
                    written = stats.drained,
                    batches = stats.batches,
                    lost_failed = stats.dropped.failed,
                    lost_lagged = c.lost_lagged,
                    "history store closed"
                );
            }
            Err(_) => {
                let stats = open.sink.stats();
                tracing::error!(
                    queued = stats.queue_depth + stats.in_flight,
                    "history store: values still queued after {timeout:?} are lost"
                );
            }
        }
    }
}

/// Blocking: the writer's and the retention sweep's connections.
fn open_connections(path: &std::path::Path) -> Result<(Connection, Connection), StoreError> {
    let writer = schema::open_writer(path)?;
    let sweeper = schema::open_writer(path)?;
    Ok((writer, sweeper))
}

/// The database path `config` names, if it has a `[store]`.
pub(crate) fn path_of(config: &Config) -> Option<PathBuf> {
    config.store.as_ref().map(|s| s.path.clone())
}
