//! Writing metric families through `prometheus-client`'s collector API.
//!
//! Contract:
//! - `/metrics` is one `prometheus_client` [`Registry`](prometheus_client::registry::Registry)
//!   encoded in the Prometheus text format 0.0.4 (`prometheus_text::encode`): families are
//!   collectors that read the daemon's own atomics at scrape time, so the hot paths never touch
//!   the registry.
//! - A family is named here by its full exposed name. Counters end in `_total`; the encoder adds
//!   that suffix itself, so [`counter`] and [`counters`] take it off first (a counter without it
//!   is a programming error, asserted in debug builds).
//! - Help texts are written as given (escaped by the encoder), and so are label values.
//! - A family's `# HELP` and `# TYPE` lines are written even when it has no series yet.

use prometheus_client::encoding::{
    DescriptorEncoder, EncodeCounterValue, EncodeGaugeValue, EncodeLabelSet, EncodeMetric,
};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;

/// What every encoding step returns (a `fmt::Error` only if the output cannot be written).
pub(crate) type Encoded = Result<(), std::fmt::Error>;

/// The name a counter is registered under: its exposed name without `_total`.
fn counter_base(name: &str) -> &str {
    debug_assert!(
        name.ends_with("_total"),
        "counter {name} must end in _total"
    );
    name.strip_suffix("_total").unwrap_or(name)
}

/// An unlabelled counter `name` (ending in `_total`).
pub(crate) fn counter(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: impl EncodeCounterValue,
) -> Encoded {
    let family = enc.encode_descriptor(counter_base(name), help, None, MetricType::Counter)?;
    ConstCounter::new(value).encode(family)
}

/// An unlabelled gauge `name`.
pub(crate) fn gauge(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: impl EncodeGaugeValue,
) -> Encoded {
    let family = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(family)
}

/// A counter family `name` (ending in `_total`) with one series per `(labels, value)`.
pub(crate) fn counters<L: EncodeLabelSet, V: EncodeCounterValue>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (L, V)>,
) -> Encoded {
    let mut family = enc.encode_descriptor(counter_base(name), help, None, MetricType::Counter)?;
    for (labels, value) in series {
        ConstCounter::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// A gauge family `name` with one series per `(labels, value)`.
pub(crate) fn gauges<L: EncodeLabelSet, V: EncodeGaugeValue>(
    enc: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    series: impl IntoIterator<Item = (L, V)>,
) -> Encoded {
    let mut family = enc.encode_descriptor(name, help, None, MetricType::Gauge)?;
    for (labels, value) in series {
        ConstGauge::new(value).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

/// Test support: the text `write` produces, encoded as `/metrics` encodes.
#[cfg(test)]
pub(crate) fn text(
    write: impl Fn(&mut DescriptorEncoder<'_>) -> Encoded + Send + Sync + 'static,
) -> String {
    struct Families<F>(F);
    impl<F> std::fmt::Debug for Families<F> {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Families")
        }
    }
    impl<F> prometheus_client::collector::Collector for Families<F>
    where
        F: Fn(&mut DescriptorEncoder<'_>) -> Encoded + Send + Sync + 'static,
    {
        fn encode(&self, mut enc: DescriptorEncoder<'_>) -> Encoded {
            (self.0)(&mut enc)
        }
    }
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register_collector(Box::new(Families(write)));
    let mut out = String::new();
    prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)
        .expect("a String takes any text");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_help_and_labels_come_out_as_given_and_escaped() {
        let out = text(|enc| {
            counter(enc, "a_total", "Plain help.", 3u64)?;
            gauge(enc, "b", "Help with \\ and\nnewline.", 1.5f64)?;
            counters(enc, "c_total", "Labelled.", [([("reason", "x\"y")], 2u64)])?;
            gauges(
                enc,
                "d",
                "Empty.",
                std::iter::empty::<([(&str, &str); 1], u64)>(),
            )
        });
        assert_eq!(
            out,
            "# HELP a_total Plain help.\n\
             # TYPE a_total counter\n\
             a_total 3\n\
             # HELP b Help with \\\\ and\\nnewline.\n\
             # TYPE b gauge\n\
             b 1.5\n\
             # HELP c_total Labelled.\n\
             # TYPE c_total counter\n\
             c_total{reason=\"x\\\"y\"} 2\n\
             # HELP d Empty.\n\
             # TYPE d gauge\n"
        );
    }
}
