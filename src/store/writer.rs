//! [`HistoryWriter`]: the [`SinkDrain`] that writes batches of [`HistoryRow`]s, one transaction
//! per batch with one prepared statement, on the [`BackgroundSink`]'s own thread.
//!
//! # Contract
//!
//! * **Batching.** Each `drain` call is one `BEGIN IMMEDIATE … COMMIT`: a burst of values costs
//!   one commit, not one per value. The sink hands over up to `batch_size` rows, or what arrived
//!   within `batch_delay` of the first.
//! * **All or nothing.** A batch is committed whole or not at all (an error rolls it back); the
//!   sink then retries the whole batch per [`RetryPolicy`] and, when attempts run out, gives it
//!   up (counted in the sink's `dropped.failed` and `failed_batches`, logged).
//! * **Health.** A failed attempt marks the store `degraded` (logged once, with the reason); the
//!   next committed batch marks it `up` again.
//! * **Close.** After the last batch the WAL is checkpointed into the database file.
//! * **Timing.** Each attempt's duration (encoding, inserts, commit or rollback) goes to
//!   `aimdbd_store_write_duration_seconds`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aimdb_tokio::concurrency::{
    BackgroundSink, Backoff, OverflowPolicy, RetryPolicy, SinkConfig, SinkDrain, SinkError,
};
use rusqlite::{params, Connection, TransactionBehavior};

use super::config::StoreConfig;
use super::error::StoreError;
use super::row::HistoryRow;
use super::status::{LostReason, StoreStatus};

const INSERT: &str =
    "INSERT INTO history (key, ts_ms, node, source, value) VALUES (?1, ?2, ?3, ?4, ?5)";
const INSERT_RECORD: &str = "INSERT INTO records (key, type, first_ts_ms) VALUES (?1, ?2, ?3)
     ON CONFLICT (key) DO UPDATE SET type = excluded.type WHERE type <> excluded.type";

/// Attempts per batch and the delay between them: about 1.5 s before a batch is given up.
pub(crate) const WRITE_RETRY: RetryPolicy = RetryPolicy {
    max_attempts: 5,
    backoff: Backoff::Exponential {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(2),
    },
};

/// Writes batches into an open database. See the [module docs](self).
pub(crate) struct HistoryWriter {
    conn: Connection,
    path: PathBuf,
    status: Arc<StoreStatus>,
    /// Record keys already in the `records` table, with their type.
    known: HashMap<Arc<str>, &'static str>,
    /// Whether this (the sink's) thread was given its lower CPU priority yet.
    niced: bool,
    /// JSON of the row being inserted.
    json: Vec<u8>,
}

impl HistoryWriter {
    /// A writer on `conn` (opened with [`super::schema::open_writer`]) reporting to `status`.
    pub(crate) fn new(conn: Connection, path: PathBuf, status: Arc<StoreStatus>) -> Self {
        Self {
            conn,
            path,
            status,
            known: HashMap::new(),
            niced: false,
            json: Vec::with_capacity(256),
        }
    }

    /// Writes `batch` in one transaction; the number of rows whose value had no JSON form.
    fn write(&mut self, batch: &[HistoryRow]) -> rusqlite::Result<u64> {
        let mut unencodable = 0;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut new_keys = Vec::new();
        {
            let mut insert = tx.prepare_cached(INSERT)?;
            let mut record = tx.prepare_cached(INSERT_RECORD)?;
            for row in batch {
                if self.known.get(&row.key) != Some(&row.type_name) {
                    record.execute(params![&*row.key, row.type_name, row.ts_ms])?;
                    new_keys.push((row.key.clone(), row.type_name));
                }
                self.json.clear();
                let json = match row.value.encode(&mut self.json) {
                    Ok(()) => std::str::from_utf8(&self.json).ok(),
                    Err(_) => None,
                };
                let Some(json) = json else {
                    unencodable += 1;
                    continue;
                };
                insert.execute(params![
                    &*row.key,
                    row.ts_ms,
                    &*row.node,
                    &*row.source,
                    json
                ])?;
            }
        }
        tx.commit()?;
        // Only after the commit: a rolled-back batch must insert its keys again.
        self.known.extend(new_keys);
        Ok(unencodable)
    }
}

impl SinkDrain<HistoryRow> for HistoryWriter {
    type Error = StoreError;

    fn drain(&mut self, batch: &mut Vec<HistoryRow>) -> Result<(), StoreError> {
        if !std::mem::replace(&mut self.niced, true) {
            lower_thread_priority();
        }
        let started = Instant::now();
        let written = self.write(batch);
        self.status.observe_write(started.elapsed());
        match written {
            Ok(unencodable) => {
                if unencodable > 0 {
                    self.status.lost(LostReason::Encode, unencodable);
                }
                if self.status.write_ok() {
                    tracing::info!(path = %self.path.display(), "history store recovered: writing again");
                }
                Ok(())
            }
            Err(e) => {
                let e = StoreError::from_sqlite(&self.path, &e);
                if self.status.set_degraded(e.to_string()) {
                    tracing::error!(
                        error = %e,
                        "history store degraded: writes fail; retrying each batch, then dropping it (see aimdbd_store_values_lost_total)"
                    );
                }
                Err(e)
            }
        }
    }

    fn close(&mut self) {
        if let Err(e) = self
            .conn
            .execute_batch("PRAGMA optimize; PRAGMA wal_checkpoint(TRUNCATE);")
        {
            tracing::warn!(path = %self.path.display(), "history checkpoint at close: {e}");
        }
    }
}

/// Nice value of the writer thread: on a busy 2-core gateway the graph's Tokio workers win the
/// CPU over SQLite, so a persisting record does not delay its other readers; the writer still
/// gets every idle cycle.
pub(crate) const WRITER_NICE: i32 = 10;

/// Lowers the calling thread's CPU priority to [`WRITER_NICE`] (Linux: per thread). Best effort:
/// if the call fails (EPERM under the systemd unit's `SystemCallFilter=~@resources` with
/// `SystemCallErrorNumber=EPERM`, or a sandbox that forbids it otherwise) the writer keeps the
/// default priority and says so in one log line.
#[allow(unsafe_code)] // audited: see the SAFETY comment
fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take no pointers; setpriority on our own thread id
        // only changes this thread's nice value and reports failure through its return value.
        let rc = unsafe {
            let tid = libc::gettid();
            libc::setpriority(
                libc::PRIO_PROCESS,
                libc::id_t::try_from(tid).unwrap_or(0),
                WRITER_NICE,
            )
        };
        if rc != 0 {
            tracing::info!(
                "history writer keeps the default CPU priority (setpriority to nice {WRITER_NICE}: {})",
                std::io::Error::last_os_error()
            );
        }
    }
}

/// The sink settings of `[store]`: queue, batch size and delay, backpressure (`Block`), retries.
pub fn sink_config(store: &StoreConfig) -> SinkConfig {
    SinkConfig {
        name: "history".into(),
        capacity: store.queue_capacity,
        max_batch: store.batch_size,
        max_delay: store.batch_delay,
        overflow: OverflowPolicy::Block,
        retry: WRITE_RETRY,
    }
}

/// Starts the writer thread on `conn`: the daemon's batched write path (also used by the
/// benchmark). Needs no Tokio runtime.
pub fn spawn(
    conn: Connection,
    path: PathBuf,
    status: Arc<StoreStatus>,
    config: SinkConfig,
) -> Result<BackgroundSink<HistoryRow>, SinkError> {
    BackgroundSink::spawn(config, HistoryWriter::new(conn, path, status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema;
    use crate::store::status::StoreState;

    fn temp_db(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("aimdbd-writer-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir.join("h.db")
    }

    fn row(i: usize, value: serde_json::Value) -> HistoryRow {
        HistoryRow {
            settle: None,
            bytes: None,
            key: Arc::from("k"),
            type_name: "json",
            ts_ms: i64::try_from(i).expect("a small test index"),
            node: Arc::from("n"),
            source: Arc::from("external"),
            value: Box::new(value),
        }
    }

    fn count(path: &std::path::Path) -> i64 {
        let conn = schema::open_reader(path).expect("reader");
        conn.query_row("SELECT count(*) FROM history", [], |r| r.get(0))
            .expect("count")
    }

    #[test]
    fn a_full_disk_fails_the_whole_batch_degrades_the_store_and_recovers() {
        let path = temp_db("full");
        let status = Arc::new(StoreStatus::default());
        status.set_up();
        let conn = schema::open_writer(&path).expect("open");
        let mut w = HistoryWriter::new(conn, path.clone(), status.clone());
        let pages: i64 = w
            .conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .expect("pages");
        // The file may not grow: SQLite answers SQLITE_FULL, as on a full disk.
        let _: i64 = w
            .conn
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |r| {
                r.get(0)
            })
            .expect("cap");
        let mut batch: Vec<_> = (0..200)
            .map(|i| row(i, serde_json::Value::String("x".repeat(4000))))
            .collect();
        let e = w.drain(&mut batch).expect_err("full");
        assert!(e.to_string().contains("full"), "{e}");
        assert_eq!(status.state(), StoreState::Degraded);
        assert_eq!(
            batch.len(),
            200,
            "nothing taken: the batch is retried whole"
        );
        assert_eq!(count(&path), 0, "rolled back whole");

        let _: i64 = w
            .conn
            .query_row("PRAGMA max_page_count = 1000000", [], |r| r.get(0))
            .expect("uncap");
        w.drain(&mut batch).expect("space again");
        assert_eq!(status.state(), StoreState::Up);
        assert_eq!(count(&path), 200);
        let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    }

    #[test]
    fn a_burst_is_written_in_few_transactions() {
        let path = temp_db("burst");
        let status = Arc::new(StoreStatus::default());
        let conn = schema::open_writer(&path).expect("open");
        let config = SinkConfig {
            capacity: 100_000,
            max_batch: 4096,
            max_delay: Duration::from_millis(50),
            ..SinkConfig::named("test")
        };
        let sink = spawn(conn, path.clone(), status, config).expect("sink");
        for i in 0..20_000 {
            assert!(sink.try_push(row(i, serde_json::json!({ "n": i }))).is_ok());
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("rt");
        let stats = rt.block_on(sink.shutdown());
        assert_eq!(stats.drained, 20_000);
        assert!(
            stats.batches <= 20,
            "batched: {} transactions",
            stats.batches
        );
        assert_eq!(count(&path), 20_000);
        let _ = std::fs::remove_dir_all(path.parent().expect("dir"));
    }
}
