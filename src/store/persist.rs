//! [`Persist`]: the reader that a `persist = true` record gets, handing each value to the shared
//! history writer, which turns it into JSON on its own low-priority thread (so a persisting
//! record costs the graph's Tokio workers a clone and a queue push per value).
//!
//! # Contract
//!
//! * **The graph never waits for the store.** A persist tap is one more reader of its record.
//!   When the writer queue is full it waits (backpressure, `OverflowPolicy::Block`), but only it
//!   waits: a ring's producer and its other readers go on, and the persist tap, once it reads
//!   again, is told how many values it missed. Those are counted as lost
//!   (`aimdbd_store_values_lost_total{reason="lagged"}`), never silently skipped. A
//!   `single_latest` record collapses values the tap could not keep up with, as for any reader.
//! * **Shutdown.** When its record closes during the drain, the tap has handed every value it
//!   read to the queue; the store is flushed after the graph drained (see [`super::Store`]).
//! * **Store down.** Without a writer (the database could not be opened) the tap still reads, so
//!   the lost values are counted (`reason="store_down"`).
//! * **Durable reader.** The tap holds its record (`aimdb_core::accept`): a QoS ≥ 1 message
//!   upstream is acknowledged only once the row it became is committed (or given up, counted),
//!   and a full writer queue holds back the QoS ≥ 1 inbound links feeding the record.
//! * **Bounded in bytes.** Besides `queue_capacity` values, the queue holds at most
//!   `queue_max_bytes` of values (their size in memory, estimated by [`Weigh`]); a tap waits for
//!   bytes as for room, so a burst of large JSON values cannot grow the daemon past the bound.
//!   A value larger than the whole bound waits for an empty queue and goes alone.
//! * **Seeded values.** A value put into a new graph by `restore` or carried over by a reload is
//!   already stored; the tap skips it if it is the first value it reads.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use aimdb_core::{BoxFuture, Consumer, RecvError, RuntimeContext};
use aimdb_tokio::concurrency::{BackgroundSink, PushError, SinkError};
use parking_lot::Mutex;
use serde::Serialize;

use crate::record_types::{JsonForm, Weigh};
use serde_json::Value;
use tokio::sync::Semaphore;

use super::row::{AcceptOnDrop, HistoryRow};
use super::status::{LostReason, StoreStatus};
use crate::config::{RecordConfig, Writer};
use crate::Rt;

/// Cloneable access to the history writer for the graph's persist taps. See the
/// [module docs](self).
#[derive(Clone)]
pub struct Persist {
    sink: Option<BackgroundSink<HistoryRow>>,
    /// `[store] queue_max_bytes`, as permits.
    budget: Arc<Semaphore>,
    max_bytes: u32,
    node: Arc<str>,
    status: Arc<StoreStatus>,
    /// Record key → the value seeded into the graph being started.
    seeded: Arc<Mutex<HashMap<String, Value>>>,
}

impl std::fmt::Debug for Persist {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Persist")
            .field("node", &self.node)
            .field("writer", &self.sink.is_some())
            .finish()
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// What a record's writer is, as stored in the `source` column: `source:<kind>`,
/// `transform:<kind>`, `link_from`, or `admin` for a record without a writer in the graph,
/// which in the daemon only the admin API (`POST /api/records/KEY`, `aimdbd ctl set`) writes.
/// (Values restored at start or carried over by a reload are not stored again.)
pub(crate) fn source_of(rec: &RecordConfig) -> String {
    match &rec.writer {
        Some(Writer::Source(s)) => format!("source:{}", s.kind),
        Some(Writer::Transform(t)) => format!("transform:{}", t.kind),
        None if rec.links_from.is_empty() => ADMIN_SOURCE.to_string(),
        None => rec.writer_kind().as_str().to_string(),
    }
}

/// The `source` of values written through the admin API.
pub(crate) const ADMIN_SOURCE: &str = "admin";

/// One persisting record's end of the writer: key, type and source already shared.
#[derive(Clone)]
pub struct PersistRecord {
    persist: Persist,
    key: Arc<str>,
    type_name: &'static str,
    source: Arc<str>,
}

impl Persist {
    /// Whether its taps write into a store (false: the store is down, values are counted as
    /// lost).
    pub(crate) fn is_writing(&self) -> bool {
        self.sink.is_some()
    }

    /// Persist taps writing into `sink` (`None`: the store is down; values are counted as lost),
    /// holding at most `max_bytes` of values in its queue.
    pub fn new(
        sink: Option<BackgroundSink<HistoryRow>>,
        max_bytes: usize,
        node: &str,
        status: Arc<StoreStatus>,
    ) -> Self {
        let max_bytes = u32::try_from(max_bytes.max(1)).unwrap_or(u32::MAX);
        let budget = Arc::new(Semaphore::new(max_bytes as usize));
        status.set_budget(Some((budget.clone(), max_bytes as usize)));
        Self {
            budget,
            max_bytes,
            sink,
            node: Arc::from(node),
            status,
            seeded: Arc::default(),
        }
    }

    /// The handle a record `key` of type `type_name`, written by `source`, persists through.
    pub fn record(&self, key: &str, type_name: &'static str, source: &str) -> PersistRecord {
        PersistRecord {
            persist: self.clone(),
            key: Arc::from(key),
            type_name,
            source: Arc::from(source),
        }
    }

    /// The persist tap of record `rec`, for `RecordRegistrar::tap_named`.
    pub(crate) fn tap<T>(
        &self,
        rec: &RecordConfig,
    ) -> impl FnOnce(RuntimeContext<Rt>, Consumer<T, Rt>) -> BoxFuture + Send + 'static
    where
        T: Serialize + Weigh + JsonForm + Clone + Send + Sync + 'static,
    {
        let record = self.record(&rec.key, rec.ty.name, &source_of(rec));
        move |_ctx, consumer| Box::pin(record.run(consumer))
    }

    /// Waits until every value handed over so far is committed (or given up: then `Err`).
    /// Immediate when the store is down. Cancel-safe.
    pub async fn flush(&self) -> Result<(), SinkError> {
        match &self.sink {
            Some(s) => s.flush().await,
            None => Ok(()),
        }
    }

    /// Forgets values seeded into an earlier graph.
    pub(crate) fn clear_seeded(&self) {
        self.seeded.lock().clear();
    }

    /// Notes that `json` was seeded into record `key` of the graph about to start.
    pub(crate) fn mark_seeded(&self, key: &str, value: Value) {
        self.seeded.lock().insert(key.to_string(), value);
    }

    fn take_seeded(&self, key: &str) -> Option<Value> {
        let mut seeded = self.seeded.lock();
        if seeded.is_empty() {
            return None;
        }
        seeded.remove(key)
    }
}

impl PersistRecord {
    /// Reads `consumer` until its record closes, handing every value to the writer.
    pub async fn run<T>(self, mut consumer: Consumer<T, Rt>)
    where
        T: Serialize + Weigh + JsonForm + Clone + Send + Sync + 'static,
    {
        let mut first = true;
        // A durable reader: QoS ≥ 1 messages upstream are acknowledged once committed.
        let acceptor = consumer.hold();
        loop {
            match consumer.recv().await {
                Ok(v) => {
                    let settle = AcceptOnDrop {
                        acceptor: acceptor.clone(),
                        pos: consumer.position(),
                    };
                    if std::mem::take(&mut first) && self.is_seeded(&v) {
                        continue;
                    }
                    self.push_settled(v, Some(settle)).await;
                }
                Err(RecvError::Lagged(n)) => self.persist.status.lost(LostReason::Lagged, n),
                Err(RecvError::Closed) => break,
            }
        }
    }

    /// Whether `v` is the value seeded into this record before the graph started.
    fn is_seeded<T: Serialize>(&self, v: &T) -> bool {
        self.persist
            .take_seeded(&self.key)
            .is_some_and(|seed| serde_json::to_value(v).is_ok_and(|v| v == seed))
    }

    /// Hands one value to the writer (which turns it into JSON), waiting while its queue is
    /// full. Cancel-safe.
    pub async fn push<T: Serialize + Weigh + JsonForm + Send + 'static>(&self, value: T) {
        self.push_settled(value, None).await;
    }

    /// [`PersistRecord::push`], accepting the value upstream once the store is done with it.
    async fn push_settled<T: Serialize + Weigh + JsonForm + Send + 'static>(
        &self,
        value: T,
        settle: Option<AcceptOnDrop>,
    ) {
        let Some(sink) = &self.persist.sink else {
            self.persist.status.lost(LostReason::StoreDown, 1);
            return;
        };
        let p = &self.persist;
        let weight = u32::try_from(value.weight())
            .unwrap_or(u32::MAX)
            .min(p.max_bytes);
        let Ok(bytes) = p.budget.clone().acquire_many_owned(weight).await else {
            p.status.lost(LostReason::Closed, 1);
            return;
        };
        let row = HistoryRow {
            key: self.key.clone(),
            type_name: self.type_name,
            ts_ms: now_ms(),
            node: self.persist.node.clone(),
            source: self.source.clone(),
            value: Box::new(value),
            settle,
            bytes: Some(bytes),
        };
        match sink.push(row).await {
            Ok(_) => {}
            // Under `Block` a full queue waits instead; `Full` cannot happen, count it anyway.
            Err(PushError::Closed(_) | PushError::Full(_)) => {
                self.persist.status.lost(LostReason::Closed, 1)
            }
        }
    }
}
