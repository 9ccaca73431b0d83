//! The history store's part of `/metrics` (see docs/HISTORY.md for what each family means).
//! Blocking (it reads the database's file size): encode it off the async workers.

use prometheus_client::encoding::DescriptorEncoder;

use crate::store::status::StoreCounters;
use crate::store::{StoreState, StoreStatus};
use crate::telemetry::exposition::{counter, counters, gauge, gauges, Encoded};

/// Writes the store's metrics; nothing when the daemon has no `[store]`.
pub(super) fn encode(enc: &mut DescriptorEncoder<'_>, status: &StoreStatus) -> Encoded {
    let state = status.state();
    if state == StoreState::Disabled {
        return Ok(());
    }
    let c = status.counters();
    gauge(
        enc,
        "aimdbd_store_up",
        "Whether the history store is open and its last write succeeded (1), or it is down or degraded (0).",
        u32::from(state == StoreState::Up),
    )?;
    gauges(
        enc,
        "aimdbd_store_state",
        "The history store's state: 1 for the current one of up, degraded, down.",
        [StoreState::Up, StoreState::Degraded, StoreState::Down]
            .map(|s| ([("state", s.as_str())], u32::from(s == state))),
    )?;
    counter(
        enc,
        "aimdbd_store_values_written_total",
        "Values committed to the history database.",
        c.sink.drained,
    )?;
    counters(
        enc,
        "aimdbd_store_values_lost_total",
        "Values meant for the history that were not stored, by reason.",
        [
            ("write_failed", c.sink.dropped.failed),
            ("lagged", c.lost_lagged),
            ("store_down", c.lost_down),
            ("closed", c.lost_closed),
            ("encode", c.lost_encode),
        ]
        .map(|(reason, n)| ([("reason", reason)], n)),
    )?;
    counters(
        enc,
        "aimdbd_store_batches_total",
        "Write transactions, by result (failed: given up after retries).",
        [("ok", c.sink.batches), ("failed", c.sink.failed_batches)]
            .map(|(result, n)| ([("result", result)], n)),
    )?;
    counter(
        enc,
        "aimdbd_store_write_retries_total",
        "Write attempts that were retries of a failed batch.",
        c.sink.retries,
    )?;
    encode_queue(enc, &c)?;
    counter(
        enc,
        "aimdbd_store_retention_deleted_total",
        "Rows deleted by retention (age or row cap).",
        c.deleted,
    )?;
    counters(
        enc,
        "aimdbd_store_retention_sweeps_total",
        "Retention sweeps, by result.",
        [
            ("ok", c.sweeps.saturating_sub(c.sweep_errors)),
            ("failed", c.sweep_errors),
        ]
        .map(|(result, n)| ([("result", result)], n)),
    )?;
    counter(
        enc,
        "aimdbd_store_restored_total",
        "Records seeded with their newest stored value (restore = true).",
        c.restored,
    )?;
    status.write_duration().encode(
        enc,
        "aimdbd_store_write_duration_seconds",
        "Time of each write attempt to the history database (one transaction: encoding, inserts, commit or rollback), retries included.",
    )?;
    if let Some(bytes) = status
        .path()
        .and_then(|p| crate::telemetry::sqlite_file_bytes(&p))
    {
        gauge(
            enc,
            "aimdbd_store_file_bytes",
            "Size of the history database file plus its write-ahead log.",
            bytes,
        )?;
    }
    Ok(())
}

/// The writer queue's depth and bounds.
fn encode_queue(enc: &mut DescriptorEncoder<'_>, c: &StoreCounters) -> Encoded {
    gauge(
        enc,
        "aimdbd_store_queue_depth",
        "Values waiting for the history writer (including the batch being written).",
        c.sink.queue_depth + c.sink.in_flight,
    )?;
    gauge(
        enc,
        "aimdbd_store_queue_capacity",
        "Values that may wait for the writer before persist taps wait (and fall behind).",
        c.queue_capacity,
    )?;
    gauge(
        enc,
        "aimdbd_store_queue_bytes",
        "Bytes of values (their estimated size in memory) waiting for the history writer.",
        c.queue_bytes,
    )?;
    gauge(
        enc,
        "aimdbd_store_queue_max_bytes",
        "Bytes of values that may wait for the writer before persist taps wait ([store] queue_max_bytes).",
        c.queue_max_bytes,
    )
}
