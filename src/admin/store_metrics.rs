//! The history store's part of `/metrics` (see docs/HISTORY.md for what each family means).
//! Blocking (it reads the database's file size): render it off the async workers.

use std::fmt::Write as _;

use crate::store::{StoreState, StoreStatus};

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Appends the store's metrics to `out`; nothing when the daemon has no `[store]`.
pub(super) fn render(out: &mut String, status: &StoreStatus) {
    let state = status.state();
    if state == StoreState::Disabled {
        return;
    }
    let c = status.counters();
    family(
        out,
        "aimdbd_store_up",
        "gauge",
        "Whether the history store is open and its last write succeeded (1), or it is down or degraded (0).",
    );
    let _ = writeln!(out, "aimdbd_store_up {}", u8::from(state == StoreState::Up));
    family(
        out,
        "aimdbd_store_state",
        "gauge",
        "The history store's state: 1 for the current one of up, degraded, down.",
    );
    for s in [StoreState::Up, StoreState::Degraded, StoreState::Down] {
        let _ = writeln!(
            out,
            "aimdbd_store_state{{state=\"{}\"}} {}",
            s.as_str(),
            u8::from(s == state)
        );
    }
    family(
        out,
        "aimdbd_store_values_written_total",
        "counter",
        "Values committed to the history database.",
    );
    let _ = writeln!(out, "aimdbd_store_values_written_total {}", c.sink.drained);
    family(
        out,
        "aimdbd_store_values_lost_total",
        "counter",
        "Values meant for the history that were not stored, by reason.",
    );
    for (reason, n) in [
        ("write_failed", c.sink.dropped.failed),
        ("lagged", c.lost_lagged),
        ("store_down", c.lost_down),
        ("closed", c.lost_closed),
        ("encode", c.lost_encode),
    ] {
        let _ = writeln!(
            out,
            "aimdbd_store_values_lost_total{{reason=\"{reason}\"}} {n}"
        );
    }
    family(
        out,
        "aimdbd_store_batches_total",
        "counter",
        "Write transactions, by result (failed: given up after retries).",
    );
    let _ = writeln!(
        out,
        "aimdbd_store_batches_total{{result=\"ok\"}} {}",
        c.sink.batches
    );
    let _ = writeln!(
        out,
        "aimdbd_store_batches_total{{result=\"failed\"}} {}",
        c.sink.failed_batches
    );
    family(
        out,
        "aimdbd_store_write_retries_total",
        "counter",
        "Write attempts that were retries of a failed batch.",
    );
    let _ = writeln!(out, "aimdbd_store_write_retries_total {}", c.sink.retries);
    family(
        out,
        "aimdbd_store_queue_depth",
        "gauge",
        "Values waiting for the history writer (including the batch being written).",
    );
    let _ = writeln!(
        out,
        "aimdbd_store_queue_depth {}",
        c.sink.queue_depth + c.sink.in_flight
    );
    family(
        out,
        "aimdbd_store_queue_capacity",
        "gauge",
        "Values that may wait for the writer before persist taps wait (and fall behind).",
    );
    let _ = writeln!(out, "aimdbd_store_queue_capacity {}", c.queue_capacity);
    family(
        out,
        "aimdbd_store_queue_bytes",
        "gauge",
        "Bytes of values (their estimated size in memory) waiting for the history writer.",
    );
    let _ = writeln!(out, "aimdbd_store_queue_bytes {}", c.queue_bytes);
    family(
        out,
        "aimdbd_store_queue_max_bytes",
        "gauge",
        "Bytes of values that may wait for the writer before persist taps wait ([store] queue_max_bytes).",
    );
    let _ = writeln!(out, "aimdbd_store_queue_max_bytes {}", c.queue_max_bytes);
    family(
        out,
        "aimdbd_store_retention_deleted_total",
        "counter",
        "Rows deleted by retention (age or row cap).",
    );
    let _ = writeln!(out, "aimdbd_store_retention_deleted_total {}", c.deleted);
    family(
        out,
        "aimdbd_store_retention_sweeps_total",
        "counter",
        "Retention sweeps, by result.",
    );
    let _ = writeln!(
        out,
        "aimdbd_store_retention_sweeps_total{{result=\"ok\"}} {}",
        c.sweeps.saturating_sub(c.sweep_errors)
    );
    let _ = writeln!(
        out,
        "aimdbd_store_retention_sweeps_total{{result=\"failed\"}} {}",
        c.sweep_errors
    );
    family(
        out,
        "aimdbd_store_restored_total",
        "counter",
        "Records seeded with their newest stored value (restore = true).",
    );
    let _ = writeln!(out, "aimdbd_store_restored_total {}", c.restored);
    family(
        out,
        "aimdbd_store_write_duration_seconds",
        "histogram",
        "Time of each write attempt to the history database (one transaction: encoding, inserts, commit or rollback), retries included.",
    );
    status
        .write_duration()
        .render(out, "aimdbd_store_write_duration_seconds", "");
    if let Some(bytes) = status
        .path()
        .and_then(|p| crate::telemetry::sqlite_file_bytes(&p))
    {
        family(
            out,
            "aimdbd_store_file_bytes",
            "gauge",
            "Size of the history database file plus its write-ahead log.",
        );
        let _ = writeln!(out, "aimdbd_store_file_bytes {bytes}");
    }
}
