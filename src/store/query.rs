//! Reading history back: the query behind `aimdbd history` and
//! `GET /api/records/KEY/history`, and the time bounds both accept.
//!
//! Blocking (SQLite): call [`query`] and [`latest`] on a blocking thread. They take a connection
//! from [`super::schema::open_reader`] (read-only) or any other.

use std::path::Path;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::error::StoreError;
use crate::config::parse_duration;

/// Which values to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HistoryQuery {
    /// Record key.
    pub(crate) key: String,
    /// Values stored at or after this time (ms since the Unix epoch); `None`: from the oldest.
    pub(crate) since_ms: Option<i64>,
    /// Values stored before this time; `None`: up to the newest.
    pub(crate) until_ms: Option<i64>,
    /// At most this many: the newest ones of the range.
    pub(crate) limit: usize,
}

/// One stored value.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct StoredValue {
    /// When it was stored, RFC 3339 UTC with milliseconds.
    pub(crate) time: String,
    /// The same, ms since the Unix epoch.
    pub(crate) ts_ms: i64,
    /// `[node] id` of the daemon that stored it.
    pub(crate) node: String,
    /// The record's writer.
    pub(crate) source: String,
    /// The value (JSON text that fails to parse is returned as a string).
    pub(crate) value: serde_json::Value,
}

/// The answer to a [`HistoryQuery`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct HistoryPage {
    /// Record key.
    pub(crate) key: String,
    /// Values, oldest first.
    pub(crate) values: Vec<StoredValue>,
    /// Whether older values in the range were left out by the limit.
    pub(crate) truncated: bool,
}

/// Runs `q`: the newest `q.limit` values in `[since, until)`, returned oldest first.
pub(crate) fn query(
    conn: &Connection,
    path: &Path,
    q: &HistoryQuery,
) -> Result<HistoryPage, StoreError> {
    let sqlite = |e: rusqlite::Error| StoreError::from_sqlite(path, &e);
    let limit = i64::try_from(q.limit).unwrap_or(i64::MAX - 1);
    let mut stmt = conn
        .prepare_cached(
            "SELECT ts_ms, node, source, value FROM history
             WHERE key = ?1 AND ts_ms >= ?2 AND ts_ms < ?3
             ORDER BY ts_ms DESC, id DESC LIMIT ?4",
        )
        .map_err(sqlite)?;
    let rows = stmt
        .query_map(
            params![
                q.key,
                q.since_ms.unwrap_or(i64::MIN),
                q.until_ms.unwrap_or(i64::MAX),
                limit.saturating_add(1)
            ],
            |r| {
                let ts_ms: i64 = r.get(0)?;
                let value: String = r.get(3)?;
                Ok(StoredValue {
                    time: format_time(ts_ms),
                    ts_ms,
                    node: r.get(1)?,
                    source: r.get(2)?,
                    value: serde_json::from_str(&value).unwrap_or(serde_json::Value::String(value)),
                })
            },
        )
        .map_err(sqlite)?;
    let mut values = rows.collect::<rusqlite::Result<Vec<_>>>().map_err(sqlite)?;
    let truncated = values.len() > q.limit;
    values.truncate(q.limit);
    values.reverse();
    Ok(HistoryPage {
        key: q.key.clone(),
        values,
        truncated,
    })
}

/// The newest stored value of `key`, as JSON text.
pub(crate) fn latest(
    conn: &Connection,
    path: &Path,
    key: &str,
) -> Result<Option<String>, StoreError> {
    conn.prepare_cached(
        "SELECT value FROM history WHERE key = ?1 ORDER BY ts_ms DESC, id DESC LIMIT 1",
    )
    .and_then(|mut s| s.query_row([key], |r| r.get(0)).optional())
    .map_err(|e| StoreError::from_sqlite(path, &e))
}

/// Every record key that has history, sorted.
pub(crate) fn keys(conn: &Connection, path: &Path) -> Result<Vec<String>, StoreError> {
    let sqlite = |e: rusqlite::Error| StoreError::from_sqlite(path, &e);
    let mut stmt = conn
        .prepare_cached("SELECT key FROM records ORDER BY key")
        .map_err(sqlite)?;
    let rows = stmt.query_map([], |r| r.get(0)).map_err(sqlite)?;
    rows.collect::<rusqlite::Result<_>>().map_err(sqlite)
}

/// A time bound: a duration back from `now_ms` (`"90s"`, `"1h"`, `"7d"`), an RFC 3339 time with
/// any UTC offset (`"2025-01-31T12:00:00Z"`, `"2025-01-31T13:00:00+01:00"`), or `"now"`.
pub(crate) fn parse_time(text: &str, now_ms: i64) -> Result<i64, String> {
    let text = text.trim();
    if text == "now" {
        return Ok(now_ms);
    }
    if text.starts_with(|c: char| c.is_ascii_digit()) && !text.contains(['-', ':']) {
        let back = parse_duration(text)?;
        return Ok(now_ms.saturating_sub(ms(back)));
    }
    text.parse::<jiff::Timestamp>()
        .map(|t| t.as_millisecond())
        .map_err(|e| {
            format!("{text:?} is neither a duration (\"1h\", \"7d\") nor an RFC 3339 time (\"2025-01-31T12:00:00Z\"): {e}")
        })
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `ts_ms` as RFC 3339 UTC with milliseconds (`2025-01-31T12:00:00.250Z`).
pub(crate) fn format_time(ts_ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ts_ms)
        .map(|t| format!("{t:.3}"))
        .unwrap_or_else(|_| ts_ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_bounds() {
        let now = 1_700_000_000_000;
        assert_eq!(parse_time("now", now), Ok(now));
        assert_eq!(parse_time("1h", now), Ok(now - 3_600_000));
        assert_eq!(parse_time("90s", now), Ok(now - 90_000));
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z", now),
            Ok(1_700_000_000_000)
        );
        assert_eq!(
            parse_time("2023-11-14T23:13:20+01:00", now),
            Ok(1_700_000_000_000)
        );
        for bad in ["", "yesterday", "1x", "2023-13-01T00:00:00Z", "2023-11-14"] {
            assert!(parse_time(bad, now).is_err(), "{bad}");
        }
        assert_eq!(format_time(1_700_000_000_250), "2023-11-14T22:13:20.250Z");
    }
}
