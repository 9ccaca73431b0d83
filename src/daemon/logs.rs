//! What the daemon logs about its config and graph, at start, reload and stop.

use crate::config::Config;
use crate::engine::Graphs;

/// Logs every record's counters (one line each), e.g. at shutdown.
pub(crate) fn log_stats(graphs: &Graphs, config: &Config) {
    for r in &config.records {
        if let Some(s) = graphs.stats(&r.key) {
            tracing::info!(
                record = %r.key,
                produced = s.produced,
                delivered = s.delivered,
                lagged = s.lagged,
                dropped = s.dropped,
                "record stats"
            );
        }
    }
}

/// Logs the config's warnings (the lines `aimdbd check` prints), one log line each.
pub(crate) fn log_warnings(config: &Config) {
    for w in &config.warnings {
        let (line, hint) = w.split_once("\n  hint: ").unwrap_or((w, ""));
        tracing::warn!(hint, "{line}");
    }
}
