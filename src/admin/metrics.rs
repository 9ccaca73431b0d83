//! `/metrics`: Prometheus text exposition format 0.0.4. Rendering reads procfs and file sizes,
//! so the handler runs [`render`] on the blocking pool. The alerting families and example rules
//! are in docs/OPERATIONS.md and deploy/prometheus/.

use std::fmt::Write as _;

use super::state::{AdminState, Phase};

/// Escapes a label value (backslash, double quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The metrics page. Blocking (procfs, file sizes): call it off the async workers.
pub(crate) fn render(state: &AdminState) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP aimdbd_build_info Build information; the value is always 1."
    );
    let _ = writeln!(out, "# TYPE aimdbd_build_info gauge");
    let _ = writeln!(
        out,
        "aimdbd_build_info{{version=\"{}\"}} 1",
        label(env!("CARGO_PKG_VERSION"))
    );
    let _ = writeln!(out, "# HELP aimdbd_ready Whether the graph runs (1) or the daemon is starting, reloading or draining (0).");
    let _ = writeln!(out, "# TYPE aimdbd_ready gauge");
    let _ = writeln!(
        out,
        "aimdbd_ready {}",
        u8::from(state.phase() == Phase::Ready)
    );
    let (ok, failed) = state.reloads();
    let _ = writeln!(
        out,
        "# HELP aimdbd_reloads_total Config reloads (SIGHUP) by result."
    );
    let _ = writeln!(out, "# TYPE aimdbd_reloads_total counter");
    let _ = writeln!(out, "aimdbd_reloads_total{{result=\"ok\"}} {ok}");
    let _ = writeln!(out, "aimdbd_reloads_total{{result=\"rejected\"}} {failed}");
    crate::telemetry::process::render(&mut out);
    super::server::render(&mut out);
    super::stream::render(&mut out);
    crate::mqtt::metrics::metrics().render(&mut out, label);
    crate::mqtt::schemas::schemas().render(&mut out, label);
    crate::sparkplug::stats::render(&mut out);
    if let Some(store) = state.store() {
        super::store_metrics::render(&mut out, &store);
    }
    let Some(live) = state.live() else {
        return out;
    };
    let families: [(&str, &str, &str); 5] = [
        (
            "aimdbd_record_produced_total",
            "counter",
            "Values produced into a record.",
        ),
        (
            "aimdbd_record_delivered_total",
            "counter",
            "Values handed to a record's readers.",
        ),
        (
            "aimdbd_record_lagged_total",
            "counter",
            "Values readers missed because they fell behind.",
        ),
        (
            "aimdbd_record_dropped_total",
            "counter",
            "Values overwritten before any reader took them.",
        ),
        (
            "aimdbd_record_readers",
            "gauge",
            "Readers subscribed to a record.",
        ),
    ];
    for (i, (name, kind, help)) in families.iter().enumerate() {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for r in &live.config.records {
            let Some(s) = live.graphs.stats(&r.key) else {
                continue;
            };
            let v = match i {
                0 => s.produced,
                1 => s.delivered,
                2 => s.lagged,
                3 => s.dropped,
                _ => s.readers as u64,
            };
            let _ = writeln!(
                out,
                "{name}{{record=\"{}\",type=\"{}\"}} {v}",
                label(&r.key),
                label(r.ty.name)
            );
        }
    }
    out
}
