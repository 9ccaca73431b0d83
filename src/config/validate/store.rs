//! The history fields of a record (`persist`, `retention`, `max_rows`, `restore`); `[store]`
//! itself is the store's (`crate::store::config`).

use std::time::Duration;

use aimdb_core::BufferCfg;

use super::super::raw::RawRecord;
use super::super::{parse_duration, Problem};
use crate::store::config::{count, MAX_ROWS};

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
        let v = count(n, "max_rows", MAX_ROWS.1, &mut problems);
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
