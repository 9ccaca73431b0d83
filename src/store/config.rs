//! `[store]`: the history database's config, owned by the store: the table as written
//! ([`RawStore`]), its defaults and ranges (defined once, here), its checks, and what the
//! writer, the retention sweep and the persist taps run with ([`StoreConfig`]). A record's own
//! history fields (`persist`, `retention`, ...) are checked with the record
//! (`config/validate/store.rs`), with [`count`] and [`MAX_ROWS`] from here.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::config::duration::parse_duration;
use crate::config::paths::state_path;
use crate::diagnostics::Problem;

/// `max_rows` (and a record's `max_rows`).
pub(crate) const MAX_ROWS: (i64, i64) = (1, i64::MAX);
/// `queue_capacity` and `batch_size`.
pub(crate) const QUEUE: (i64, i64) = (1, 1 << 24);
/// `queue_max_bytes` (one value's weight is counted in a `u32`).
pub(crate) const QUEUE_MAX_BYTES: (i64, i64) = (1, u32::MAX as i64);

/// `path` when not given (in the state directory).
const DEFAULT_PATH: &str = "aimdbd.db";
/// `retention` when not given.
const DEFAULT_RETENTION: &str = "7d";
/// `sweep_interval` when not given.
const DEFAULT_SWEEP_INTERVAL: &str = "1m";
/// `batch_delay` when not given.
const DEFAULT_BATCH_DELAY: &str = "100ms";
/// `queue_capacity` when not given.
const fn default_queue_capacity() -> u64 {
    65_536
}
/// `queue_max_bytes` when not given: 32 MiB, fit for a small gateway.
const fn default_queue_max_bytes() -> u64 {
    32 << 20
}
/// `batch_size` when not given.
const fn default_batch_size() -> u64 {
    4096
}

/// `[store]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStore {
    pub(crate) path: Option<Spanned<String>>,
    pub(crate) retention: Option<Spanned<String>>,
    pub(crate) max_rows: Option<Spanned<i64>>,
    pub(crate) sweep_interval: Option<Spanned<String>>,
    pub(crate) queue_capacity: Option<Spanned<i64>>,
    pub(crate) queue_max_bytes: Option<Spanned<i64>>,
    pub(crate) batch_size: Option<Spanned<i64>>,
    pub(crate) batch_delay: Option<Spanned<String>>,
}

/// `[store]`: the SQLite history (see docs/HISTORY.md).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoreConfig {
    /// Database file, resolved against `$STATE_DIRECTORY` or the config's directory.
    pub path: PathBuf,
    /// How long history is kept (default 7 days); a record's `retention` overrides it.
    pub retention: Duration,
    /// Most rows kept per record (default: no cap); a record's `max_rows` overrides it.
    pub max_rows: Option<u64>,
    /// How often the retention sweep runs (default 1 minute).
    pub sweep_interval: Duration,
    /// Values that may wait for the writer (default 65 536); when full, persisting records
    /// fall behind on their own buffers (counted as lost), never the graph.
    pub queue_capacity: usize,
    /// Bytes (an estimate of the values' size in memory) that may wait for the writer (default
    /// 32 MiB); persist taps wait at whichever bound comes first.
    pub queue_max_bytes: usize,
    /// Most values written in one transaction (default 4096).
    pub batch_size: usize,
    /// Longest a value waits for its batch to fill (default 100 ms).
    pub batch_delay: Duration,
}

/// Checks `[store]` (of config `file`); every problem is pushed, and the config is returned
/// only if there was none.
pub(crate) fn validate(
    raw: &Spanned<RawStore>,
    file: &str,
    problems: &mut Vec<Problem>,
) -> Option<StoreConfig> {
    let raw = raw.get_ref();
    let before = problems.len();
    let retention = duration(
        raw.retention.as_ref(),
        "retention",
        DEFAULT_RETENTION,
        problems,
    );
    let sweep_interval = duration(
        raw.sweep_interval.as_ref(),
        "sweep_interval",
        DEFAULT_SWEEP_INTERVAL,
        problems,
    );
    let batch_delay = duration(
        raw.batch_delay.as_ref(),
        "batch_delay",
        DEFAULT_BATCH_DELAY,
        problems,
    );
    let max_rows = raw
        .max_rows
        .as_ref()
        .and_then(|n| count(n, "[store] max_rows", MAX_ROWS.1, problems));
    let queue_capacity = raw
        .queue_capacity
        .as_ref()
        .map_or(Some(default_queue_capacity()), |n| {
            count(n, "[store] queue_capacity", QUEUE.1, problems)
        });
    let queue_max_bytes = raw
        .queue_max_bytes
        .as_ref()
        .map_or(Some(default_queue_max_bytes()), |n| {
            count(n, "[store] queue_max_bytes", QUEUE_MAX_BYTES.1, problems)
        });
    let batch_size = raw
        .batch_size
        .as_ref()
        .map_or(Some(default_batch_size()), |n| {
            count(n, "[store] batch_size", QUEUE.1, problems)
        });
    let path = raw
        .path
        .as_ref()
        .map_or(DEFAULT_PATH, |p| p.get_ref().as_str());
    if path.is_empty() {
        if let Some(p) = &raw.path {
            problems.push(Problem::at(p.span(), "[store] path must not be empty"));
        }
    }
    if problems.len() != before {
        return None;
    }
    Some(StoreConfig {
        path: state_path(file, path),
        retention: retention?,
        max_rows,
        sweep_interval: sweep_interval?,
        queue_capacity: usize::try_from(queue_capacity?).ok()?,
        queue_max_bytes: usize::try_from(queue_max_bytes?).ok()?,
        batch_size: usize::try_from(batch_size?).ok()?,
        batch_delay: batch_delay?,
    })
}

/// An optional duration field of `[store]` that must be longer than 0.
fn duration(
    raw: Option<&Spanned<String>>,
    name: &str,
    default: &str,
    problems: &mut Vec<Problem>,
) -> Option<Duration> {
    let Some(r) = raw else {
        return parse_duration(default).ok();
    };
    match parse_duration(r.get_ref()) {
        Ok(d) if d.is_zero() => {
            problems.push(Problem::at(
                r.span(),
                format!("[store] {name} must be longer than 0"),
            ));
            None
        }
        Ok(d) => Some(d),
        Err(e) => {
            problems.push(Problem::at(r.span(), format!("[store] {name}: {e}")));
            None
        }
    }
}

/// A whole number from 1 to `max` (also a record's `max_rows`).
pub(crate) fn count(
    n: &Spanned<i64>,
    what: &str,
    max: i64,
    problems: &mut Vec<Problem>,
) -> Option<u64> {
    let v = *n.get_ref();
    if (1..=max).contains(&v) {
        u64::try_from(v).ok()
    } else {
        problems.push(Problem::at(
            n.span(),
            format!("{what} must be from 1 to {max}, not {v}"),
        ));
        None
    }
}
