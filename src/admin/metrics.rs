//! `/metrics`: the Prometheus text exposition format 0.0.4, written by `prometheus-client`
//! (`encoding::prometheus_text`, content type [`CONTENT_TYPE`]). One collector ([`Page`]) reads
//! every family at scrape time — the daemon's own atomics and tables, procfs, file sizes — so
//! the handler runs [`render`] on the blocking pool. The alerting families and example rules
//! are in docs/OPERATIONS.md and deploy/prometheus/.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{prometheus_text, DescriptorEncoder};
use prometheus_client::registry::Registry;

use super::state::{AdminState, Phase};
use crate::telemetry::exposition::{counters, gauge, gauges, Encoded};

/// The `Content-Type` of the page: `text/plain; version=0.0.4; charset=utf-8`.
pub(super) const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;

/// The metrics page. Blocking (procfs, file sizes): call it off the async workers. An error
/// only if the encoder fails, which writing into a `String` does not.
pub(crate) fn render(state: &AdminState) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Page {
        state: state.clone(),
    }));
    let mut out = String::new();
    prometheus_text::encode(&mut out, &registry)?;
    Ok(out)
}

/// A per-record counter family: name, help, its value in a record's stats.
type RecordFamily = (
    &'static str,
    &'static str,
    fn(&aimdb_core::RecordStats) -> u64,
);

/// Every family of the page, in the order it shows them.
struct Page {
    state: AdminState,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Page")
    }
}

impl Collector for Page {
    fn encode(&self, mut enc: DescriptorEncoder<'_>) -> Encoded {
        let state = &self.state;
        let enc = &mut enc;
        gauges(
            enc,
            "aimdbd_build_info",
            "Build information; the value is always 1.",
            [([("version", env!("CARGO_PKG_VERSION"))], 1u32)],
        )?;
        gauge(
            enc,
            "aimdbd_ready",
            "Whether the graph runs (1) or the daemon is starting, reloading or draining (0).",
            u32::from(state.phase() == Phase::Ready),
        )?;
        let (ok, failed) = state.reloads();
        counters(
            enc,
            "aimdbd_reloads_total",
            "Config reloads (SIGHUP) by result.",
            [([("result", "ok")], ok), ([("result", "rejected")], failed)],
        )?;
        crate::telemetry::process::encode(enc)?;
        super::server::encode(enc)?;
        super::stream::encode(enc)?;
        state.mqtt_metrics().encode(enc)?;
        crate::mqtt::schemas::schemas().encode(enc)?;
        crate::sparkplug::stats::encode(enc)?;
        if let Some(store) = state.store() {
            super::store_metrics::encode(enc, &store)?;
        }
        let Some(live) = state.live() else {
            return Ok(());
        };
        let records: Vec<_> = live
            .config
            .records
            .iter()
            .filter_map(|r| {
                Some((
                    [("record", r.key.as_str()), ("type", r.ty.name)],
                    live.graphs.stats(&r.key)?,
                ))
            })
            .collect();
        let families: [RecordFamily; 4] = [
            (
                "aimdbd_record_produced_total",
                "Values produced into a record.",
                |s| s.produced,
            ),
            (
                "aimdbd_record_delivered_total",
                "Values handed to a record's readers.",
                |s| s.delivered,
            ),
            (
                "aimdbd_record_lagged_total",
                "Values readers missed because they fell behind.",
                |s| s.lagged,
            ),
            (
                "aimdbd_record_dropped_total",
                "Values overwritten before any reader took them.",
                |s| s.dropped,
            ),
        ];
        for (name, help, value) in families {
            counters(
                enc,
                name,
                help,
                records.iter().map(|(labels, s)| (*labels, value(s))),
            )?;
        }
        gauges(
            enc,
            "aimdbd_record_readers",
            "Readers subscribed to a record.",
            records.iter().map(|(labels, s)| (*labels, s.readers)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_is_prometheus_text_0_0_4_with_counters_named_as_exposed() {
        let page = render(&AdminState::new()).expect("a page");
        assert!(CONTENT_TYPE.starts_with("text/plain; version=0.0.4"));
        assert!(!page.contains("# EOF"), "not OpenMetrics: {page}");
        for line in [
            "# TYPE aimdbd_build_info gauge",
            "# TYPE aimdbd_reloads_total counter",
            "aimdbd_reloads_total{result=\"ok\"} 0",
            "aimdbd_reloads_total{result=\"rejected\"} 0",
            "aimdbd_ready 0",
            "# TYPE aimdbd_mqtt_bad_input_total counter",
            "aimdbd_mqtt_bad_input_total{reason=\"decode\"} 0",
            "# TYPE aimdbd_mqtt_publish_ack_duration_seconds histogram",
            "aimdbd_mqtt_publish_ack_duration_seconds_bucket{le=\"+Inf\"} 0",
            "aimdbd_admin_connections_closed_total{reason=\"idle\"} 0",
        ] {
            assert!(page.lines().any(|l| l == line), "{line} missing:\n{page}");
        }
        assert!(page.contains(&format!(
            "aimdbd_build_info{{version=\"{}\"}} 1\n",
            env!("CARGO_PKG_VERSION")
        )));
        assert!(!page.contains("_total_total"), "{page}");
    }
}
