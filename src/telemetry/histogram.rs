//! [`Histogram`]: a fixed-bucket latency histogram in Prometheus' shape, recorded with atomics.
//!
//! Contract:
//! - [`Histogram::observe`] never allocates, never locks and never blocks: a scan of at most
//!   [`MAX_BOUNDS`] bounds and three relaxed atomic adds. Safe from any thread, async or not.
//! - Bounds are upper bounds (`le`, inclusive) in seconds, ascending, fixed at construction; a
//!   value above the last lands in the implicit `+Inf` bucket. Durations are kept in whole
//!   nanoseconds (the sum saturates after about 584 years of observed time).
//! - Encoding ([`Histogram::encode`], through `prometheus-client`) writes `NAME_bucket{le=...}`
//!   (cumulative), `NAME_sum` (seconds) and `NAME_count`. Observations racing a scrape may be in
//!   some buckets and not yet in others; `_count` is always the `+Inf` bucket of the same scrape,
//!   so the two agree.

use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Most bounds a histogram may have (plus its `+Inf` bucket).
pub(crate) const MAX_BOUNDS: usize = 15;

/// Upper bounds from 0.5 ms to 10 s: MQTT round trips on a LAN and SQLite commits on an SD card
/// both land in the middle; retries and timeouts at the top.
pub(crate) const LATENCY_BOUNDS: &[Duration] = &[
    Duration::from_micros(500),
    Duration::from_millis(1),
    Duration::from_micros(2_500),
    Duration::from_millis(5),
    Duration::from_millis(10),
    Duration::from_millis(25),
    Duration::from_millis(50),
    Duration::from_millis(100),
    Duration::from_millis(250),
    Duration::from_millis(500),
    Duration::from_secs(1),
    Duration::from_micros(2_500_000),
    Duration::from_secs(5),
    Duration::from_secs(10),
];

/// A histogram of durations. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct Histogram {
    bounds: &'static [Duration],
    /// Non-cumulative counts: `buckets[i]` for `bounds[i]`, `buckets[bounds.len()]` for `+Inf`.
    buckets: [AtomicU64; MAX_BOUNDS + 1],
    sum_ns: AtomicU64,
}

impl Default for Histogram {
    /// A histogram over [`LATENCY_BOUNDS`].
    fn default() -> Self {
        Self::new(LATENCY_BOUNDS)
    }
}

impl Histogram {
    /// An empty histogram over `bounds` (ascending, at most [`MAX_BOUNDS`]; checked at compile
    /// time in a `const`/`static`, else it panics at construction — a programming error).
    pub(crate) const fn new(bounds: &'static [Duration]) -> Self {
        assert!(bounds.len() <= MAX_BOUNDS, "too many histogram bounds");
        let mut i = 1;
        while i < bounds.len() {
            assert!(
                bounds[i - 1].as_nanos() < bounds[i].as_nanos(),
                "histogram bounds must ascend"
            );
            i += 1;
        }
        Self {
            bounds,
            buckets: [const { AtomicU64::new(0) }; MAX_BOUNDS + 1],
            sum_ns: AtomicU64::new(0),
        }
    }

    /// Records one duration.
    pub(crate) fn observe(&self, d: Duration) {
        let i = self
            .bounds
            .iter()
            .position(|b| d <= *b)
            .unwrap_or(self.bounds.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        // Saturating: fetch_update never fails with a closure that always returns Some.
        let _ = self
            .sum_ns
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| {
                Some(s.saturating_add(ns))
            });
    }

    #[cfg(test)]
    /// Observations so far.
    pub(crate) fn count(&self) -> u64 {
        self.buckets[..=self.bounds.len()]
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .sum()
    }

    /// Writes this histogram as the family `name` with `help` (no labels).
    pub(crate) fn encode(
        &self,
        enc: &mut DescriptorEncoder<'_>,
        name: &str,
        help: &str,
    ) -> super::exposition::Encoded {
        // Each bucket is read once: `_count` is the sum of what was read.
        let mut buckets: Vec<(f64, u64)> = self
            .bounds
            .iter()
            .enumerate()
            .map(|(i, bound)| (bound.as_secs_f64(), self.buckets[i].load(Ordering::Relaxed)))
            .collect();
        buckets.push((
            f64::INFINITY,
            self.buckets[self.bounds.len()].load(Ordering::Relaxed),
        ));
        let count = buckets.iter().map(|(_, n)| n).sum();
        let sum = Duration::from_nanos(self.sum_ns.load(Ordering::Relaxed)).as_secs_f64();
        enc.encode_descriptor(name, help, None, MetricType::Histogram)?
            .encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_inclusive_upper_bounds_and_cumulative() {
        static H: Histogram =
            Histogram::new(&[Duration::from_millis(1), Duration::from_millis(10)]);
        H.observe(Duration::from_micros(300));
        H.observe(Duration::from_millis(1)); // le is inclusive
        H.observe(Duration::from_millis(7));
        H.observe(Duration::from_secs(3)); // +Inf
        let out = crate::telemetry::exposition::text(|enc| H.encode(enc, "x_seconds", "Help."));
        assert_eq!(
            out,
            "# HELP x_seconds Help.\n\
             # TYPE x_seconds histogram\n\
             x_seconds_bucket{le=\"0.001\"} 2\n\
             x_seconds_bucket{le=\"0.01\"} 3\n\
             x_seconds_bucket{le=\"+Inf\"} 4\n\
             x_seconds_sum 3.0083\n\
             x_seconds_count 4\n"
        );
        assert_eq!(H.count(), 4);
    }

    #[test]
    fn latency_bounds_print_as_before() {
        // The `le` values dashboards and alert rules name (as Go clients print them).
        let h = std::sync::Arc::new(Histogram::default());
        h.observe(Duration::from_secs(20));
        let shown = h.clone();
        let out =
            crate::telemetry::exposition::text(move |enc| shown.encode(enc, "y_seconds", "Help."));
        let les: Vec<&str> = out
            .lines()
            .filter_map(|l| l.split("le=\"").nth(1)?.split('"').next())
            .collect();
        assert_eq!(
            les,
            [
                "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                "0.5", "1", "2.5", "5", "10", "+Inf"
            ]
        );
        assert!(
            out.ends_with("y_seconds_sum 20.0\ny_seconds_count 1\n"),
            "{out}"
        );
    }

    #[test]
    fn the_sum_saturates_instead_of_wrapping() {
        let h = Histogram::default();
        h.observe(Duration::MAX);
        h.observe(Duration::MAX);
        assert_eq!(h.sum_ns.load(Ordering::Relaxed), u64::MAX);
        assert_eq!(h.count(), 2);
    }

    #[test]
    fn concurrent_observations_are_all_counted() {
        let h = std::sync::Arc::new(Histogram::default());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let h = h.clone();
                std::thread::spawn(move || {
                    for i in 0..10_000u64 {
                        h.observe(Duration::from_micros(i * (t + 1)));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("observer thread");
        }
        assert_eq!(h.count(), 40_000);
    }
}
