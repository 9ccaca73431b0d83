//! [`RetentionSweep`]: deletes history older than each record's retention, and beyond its row
//! cap, every `[store] sweep_interval`, as a [`BlockingPeriodicTask`] on Tokio's blocking pool.
//!
//! # Contract
//!
//! * **Never stalls the writer for long.** Rows are deleted in chunks of [`CHUNK`], each its own
//!   short transaction on the sweep's own connection; between two chunks the writer takes the
//!   write lock (WAL: readers are never blocked at all). A sweep that falls behind simply runs
//!   again at the next tick (`MissedTicks::Skip`).
//! * **Policy.** A record's `retention` / `max_rows` override `[store] retention` / `max_rows`.
//!   Keys that are in the database but no longer in the config get the `[store]` defaults. The
//!   policy is replaced on a reload.
//! * **Errors** (locked, I/O) are logged and counted (`aimdbd_store_retention_errors_total`);
//!   the next tick tries again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aimdb_tokio::concurrency::{BlockingPeriodicTask, Tick};
use parking_lot::RwLock;
use rusqlite::{params, Connection, OptionalExtension};

use super::error::StoreError;
use super::persist::now_ms;
use super::status::StoreStatus;
use crate::config::Config;

/// Rows deleted per statement.
pub(crate) const CHUNK: i64 = 2000;

/// How long history is kept, per record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RetentionPolicy {
    /// `[store] retention`.
    pub(crate) retention: Duration,
    /// `[store] max_rows`.
    pub(crate) max_rows: Option<u64>,
    /// Per record (key): its own retention and row cap, where set.
    pub(crate) records: HashMap<String, (Option<Duration>, Option<u64>)>,
}

impl RetentionPolicy {
    /// The policy of `config` (default 7 days, no cap, if it has no `[store]`).
    pub(crate) fn of(config: &Config) -> Self {
        let (retention, max_rows) = config
            .store
            .as_ref()
            .map_or((Duration::from_secs(7 * 86_400), None), |s| {
                (s.retention, s.max_rows)
            });
        let records = config
            .records
            .iter()
            .filter(|r| r.persist && (r.retention.is_some() || r.max_rows.is_some()))
            .map(|r| (r.key.clone(), (r.retention, r.max_rows)))
            .collect();
        Self {
            retention,
            max_rows,
            records,
        }
    }

    /// (retention, row cap) of record `key`.
    pub(crate) fn for_key(&self, key: &str) -> (Duration, Option<u64>) {
        match self.records.get(key) {
            Some((r, m)) => (r.unwrap_or(self.retention), m.or(self.max_rows)),
            None => (self.retention, self.max_rows),
        }
    }
}

/// The sweep. See the [module docs](self).
pub(crate) struct RetentionSweep {
    conn: Connection,
    path: PathBuf,
    policy: Arc<RwLock<RetentionPolicy>>,
    status: Arc<StoreStatus>,
}

impl RetentionSweep {
    /// A sweep on its own connection `conn` to the database at `path`.
    pub(crate) fn new(
        conn: Connection,
        path: PathBuf,
        policy: Arc<RwLock<RetentionPolicy>>,
        status: Arc<StoreStatus>,
    ) -> Self {
        Self {
            conn,
            path,
            policy,
            status,
        }
    }

    /// One sweep over every record in the database; the rows deleted so far, also on error.
    pub(crate) fn sweep(&mut self, now_ms: i64) -> (u64, rusqlite::Result<()>) {
        let mut deleted = 0;
        let result = self.sweep_into(now_ms, &mut deleted);
        (deleted, result)
    }

    fn sweep_into(&mut self, now_ms: i64, deleted: &mut u64) -> rusqlite::Result<()> {
        let keys: Vec<String> = {
            let mut stmt = self.conn.prepare_cached("SELECT key FROM records")?;
            let rows = stmt.query_map([], |r| r.get(0))?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let policy = self.policy.read().clone();
        for key in keys {
            let (retention, max_rows) = policy.for_key(&key);
            let keep_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
            let cutoff = now_ms.saturating_sub(keep_ms);
            *deleted += self.delete_chunked(
                "DELETE FROM history WHERE id IN (SELECT id FROM history
                 WHERE key = ?1 AND ts_ms < ?2 LIMIT ?3)",
                &key,
                cutoff,
                0,
            )?;
            let Some(cap) = max_rows else { continue };
            let offset = i64::try_from(cap).unwrap_or(i64::MAX);
            // The newest row beyond the cap; it and everything older go.
            let edge: Option<(i64, i64)> = self
                .conn
                .prepare_cached(
                    "SELECT ts_ms, id FROM history WHERE key = ?1
                     ORDER BY ts_ms DESC, id DESC LIMIT 1 OFFSET ?2",
                )?
                .query_row(params![key, offset], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((ts, id)) = edge {
                *deleted += self.delete_chunked(
                    "DELETE FROM history WHERE id IN (SELECT id FROM history
                     WHERE key = ?1 AND (ts_ms < ?2 OR (ts_ms = ?2 AND id <= ?4)) LIMIT ?3)",
                    &key,
                    ts,
                    id,
                )?;
            }
        }
        Ok(())
    }

    /// Runs `sql` (parameters: key, bound, chunk size, id) until it deletes less than a chunk.
    fn delete_chunked(&self, sql: &str, key: &str, bound: i64, id: i64) -> rusqlite::Result<u64> {
        let mut total = 0u64;
        let mut stmt = self.conn.prepare_cached(sql)?;
        let takes_id = stmt.parameter_count() >= 4;
        loop {
            let n = if takes_id {
                stmt.execute(params![key, bound, CHUNK, id])?
            } else {
                stmt.execute(params![key, bound, CHUNK])?
            };
            total += n as u64;
            if i64::try_from(n).unwrap_or(i64::MAX) < CHUNK {
                return Ok(total);
            }
        }
    }
}

impl BlockingPeriodicTask for RetentionSweep {
    type Error = StoreError;

    fn tick(&mut self, _tick: Tick) -> Result<(), StoreError> {
        let (deleted, result) = self.sweep(now_ms());
        self.status.swept(deleted, result.is_ok());
        if deleted > 0 {
            tracing::debug!(deleted, "history retention sweep");
        }
        result.map_err(|e| StoreError::from_sqlite(&self.path, &e))
    }
}
