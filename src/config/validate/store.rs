//! `[store]` and the history fields of a record (`persist`, `retention`, `max_rows`, `restore`).

use std::time::Duration;

use aimdb_core::BufferCfg;
use toml::Spanned;

use super::super::ranges;
use super::super::raw::{RawRecord, RawStore};
use super::super::{parse_duration, Problem, StoreConfig};

/// Largest queue or batch a config may ask for.
const MAX_QUEUE: i64 = ranges::QUEUE.1;
/// `[store] queue_max_bytes` by default: 32 MiB, fit for a small gateway.
const DEFAULT_QUEUE_BYTES: u64 = 32 << 20;
/// Largest `[store] queue_max_bytes` (one value's weight is counted in a `u32`).
const MAX_QUEUE_BYTES: i64 = ranges::QUEUE_MAX_BYTES.1;

/// `[store]`.
pub(super) fn section(
    raw: &Spanned<RawStore>,
    file: &str,
    problems: &mut Vec<Problem>,
) -> Option<StoreConfig> {
    let raw = raw.get_ref();
    let before = problems.len();
    let retention = duration(raw.retention.as_ref(), "retention", "7d", problems);
    let sweep_interval = duration(
        raw.sweep_interval.as_ref(),
        "sweep_interval",
        "1m",
        problems,
    );
    let batch_delay = duration(raw.batch_delay.as_ref(), "batch_delay", "100ms", problems);
    let max_rows = raw
        .max_rows
        .as_ref()
        .and_then(|n| count(n, "[store] max_rows", i64::MAX, problems));
    let queue_capacity = raw.queue_capacity.as_ref().map_or(Some(65_536), |n| {
        count(n, "[store] queue_capacity", MAX_QUEUE, problems)
    });
    let queue_max_bytes = raw
        .queue_max_bytes
        .as_ref()
        .map_or(Some(DEFAULT_QUEUE_BYTES), |n| {
            count(n, "[store] queue_max_bytes", MAX_QUEUE_BYTES, problems)
        });
    let batch_size = raw.batch_size.as_ref().map_or(Some(4096), |n| {
        count(n, "[store] batch_size", MAX_QUEUE, problems)
    });
    let path = raw
        .path
        .as_ref()
        .map_or("aimdbd.db", |p| p.get_ref().as_str());
    if path.is_empty() {
        if let Some(p) = &raw.path {
            problems.push(Problem::at(p.span(), "[store] path must not be empty"));
        }
    }
    if problems.len() != before {
        return None;
    }
    Some(StoreConfig {
        path: super::super::paths::state_path(file, path),
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

/// A whole number from 1 to `max`.
fn count(n: &Spanned<i64>, what: &str, max: i64, problems: &mut Vec<Problem>) -> Option<u64> {
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

/// The history fields of one record, checked against `[store]` and the record's buffer.
#[derive(Debug, Default)]
pub(super) struct RecordHistory {
    pub(crate) persist: bool,
    pub(crate) retention: Option<Duration>,
    pub(crate) max_rows: Option<u64>,
    pub(crate) restore: bool,
}

/// Checks `persist`, `retention`, `max_rows` and `restore` of record `r`; problems are pushed.
pub(super) fn record_fields(
    r: &RawRecord,
    buffer: Option<BufferCfg>,
    have_store: bool,
    push: &mut impl FnMut(Problem),
) -> RecordHistory {
    let persist = r.persist.as_ref().is_some_and(|p| *p.get_ref());
    if let Some(p) = r.persist.as_ref().filter(|_| persist) {
        if !have_store {
            push(
                Problem::at(p.span(), "persist = true, but there is no [store] table")
                    .with_hint("add `[store]` (path, retention) or remove `persist`"),
            );
        }
        if buffer == Some(BufferCfg::Mailbox) {
            push(
                Problem::at(p.span(), "persist = true on a mailbox record")
                    .with_hint("a mailbox value is consumed once, so storing it would take it from its reader; use single_latest or spmc_ring"),
            );
        }
    }
    let needs_persist = |span: std::ops::Range<usize>, field: &str| {
        Problem::at(span, format!("`{field}` applies to persisted records only"))
            .with_hint("add `persist = true` or remove it")
    };
    let retention = r.retention.as_ref().and_then(|t| {
        if !persist {
            push(needs_persist(t.span(), "retention"));
            return None;
        }
        match parse_duration(t.get_ref()) {
            Ok(d) if !d.is_zero() => Some(d),
            Ok(_) => {
                push(Problem::at(t.span(), "retention must be longer than 0"));
                None
            }
            Err(e) => {
                push(Problem::at(t.span(), format!("retention: {e}")));
                None
            }
        }
    });
    let max_rows = r.max_rows.as_ref().and_then(|n| {
        if !persist {
            push(needs_persist(n.span(), "max_rows"));
            return None;
        }
        let mut problems = Vec::new();
        let v = count(n, "max_rows", i64::MAX, &mut problems);
        problems.into_iter().for_each(&mut *push);
        v
    });
    let restore = r.restore.as_ref().is_some_and(|p| *p.get_ref());
    if let Some(p) = r.restore.as_ref().filter(|_| restore) {
        if !persist {
            push(needs_persist(p.span(), "restore"));
        } else if buffer.is_some_and(|b| b != BufferCfg::SingleLatest) {
            push(
                Problem::at(p.span(), "restore = true needs a single_latest buffer")
                    .with_hint("restore seeds the record with its newest stored value; only single_latest holds one current value"),
            );
        }
    }
    RecordHistory {
        persist,
        retention,
        max_rows,
        restore,
    }
}
