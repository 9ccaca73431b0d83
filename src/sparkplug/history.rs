//! Store-and-forward: with a primary host, the values produced while the edge node is not born
//! (the host offline, or the connection lost) are kept here, bounded, and sent after the next
//! births as NDATA/DDATA whose metrics carry `is_historical = true` and their own timestamps,
//! in the order they were produced.
//!
//! Each entry is one record value as the metrics that changed with it (by alias: the aliases
//! are kept across births, and a reload — which assigns new ones — drops what is held). The
//! queue holds at most `[sparkplug] store_forward_max_values` entries; past that the oldest is
//! dropped, counted (`aimdbd_sparkplug_held_dropped_total`) and logged (the first drop of an
//! outage, then the total when the rest is sent). The queue in memory is what is sent; a copy
//! on disk ([`super::held_disk`], by metric name) makes it survive a restart: values loaded
//! from it come first, by name, and get their aliases when they are sent
//! ([`Held::metrics`] without an alias). See docs/SPARKPLUG.md, "Store and forward".

use std::collections::VecDeque;

use super::held_disk::{HeldDisk, Loaded};
use super::proto::payload::Metric;
use super::stats::stats;

/// The encoded size a message of held values grows to before the next one starts (well under
/// the session's packet limit).
pub(crate) const MESSAGE_BYTES: usize = 32 * 1024;

/// One held record value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Held {
    /// Its device (`None`: a node metric).
    pub(crate) device: Option<String>,
    /// The metrics that changed with it, `is_historical` set: by alias, or — loaded from the
    /// disk copy — by name (alias `None`), resolved when sent.
    pub(crate) metrics: Vec<Metric>,
}

/// The bounded queue of held values.
#[derive(Debug, Default)]
pub(crate) struct History {
    queue: VecDeque<Held>,
    /// `None`: no primary host, nothing is held.
    max: Option<usize>,
    /// Dropped since the queue was last emptied (for the log).
    dropped: usize,
    /// The copy on disk, if open.
    disk: Option<HeldDisk>,
}

impl History {
    /// A queue of at most `max` values; `None` holds nothing.
    pub(crate) fn new(max: Option<usize>) -> Self {
        Self {
            max,
            ..Self::default()
        }
    }

    /// Keeps a copy on `disk` from now on; `loaded` (what it held, oldest first, by name) goes
    /// in front of anything held so far, within the bound.
    pub(crate) fn attach_disk(&mut self, disk: HeldDisk, loaded: Vec<Loaded>) {
        let Some(max) = self.max else {
            drop(disk);
            return;
        };
        let mut front: VecDeque<Held> = loaded
            .into_iter()
            .map(|(device, mut metrics)| {
                for m in &mut metrics {
                    m.alias = None;
                    m.is_historical = Some(true);
                }
                Held { device, metrics }
            })
            .collect();
        let n = front.len();
        front.append(&mut self.queue);
        while front.len() > max {
            front.pop_front();
            self.dropped += 1;
            stats().held_dropped(1);
        }
        self.queue = front;
        self.disk = Some(disk);
        stats().set_held(self.queue.len());
        if n > 0 {
            tracing::info!(
                values = n,
                "sparkplug: store-and-forward values kept from before the restart"
            );
        }
    }

    /// Takes the disk copy out (to close it when the session ends).
    pub(crate) fn take_disk(&mut self) -> Option<HeldDisk> {
        self.disk.take()
    }

    #[cfg(test)]
    /// Whether values are held at all (a primary host is configured).
    pub(crate) fn enabled(&self) -> bool {
        self.max.is_some()
    }

    /// Values held now.
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is held.
    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Keeps one record value (its changed metrics, marked historical; `named`: the same by
    /// name, for the disk copy); past the bound the oldest is dropped, counted and (the first
    /// time since the queue was emptied) logged.
    pub(crate) fn hold(
        &mut self,
        device: Option<&str>,
        mut metrics: Vec<Metric>,
        mut named: Vec<Metric>,
    ) {
        let Some(max) = self.max else {
            return;
        };
        if metrics.is_empty() {
            return;
        }
        for m in &mut metrics {
            m.is_historical = Some(true);
        }
        while self.queue.len() >= max {
            self.queue.pop_front();
            self.dropped += 1;
            stats().held_dropped(1);
            if self.dropped == 1 {
                tracing::warn!(
                    max,
                    "sparkplug: store-and-forward is full ([sparkplug] store_forward_max_values): dropping the oldest values"
                );
            }
        }
        if let Some(disk) = &mut self.disk {
            for m in &mut named {
                m.is_historical = Some(true);
            }
            disk.insert(device, named);
        }
        self.queue.push_back(Held {
            device: device.map(str::to_string),
            metrics,
        });
        stats().set_held(self.queue.len());
    }

    /// Everything held, oldest first; the queue is empty after. Logs how many were dropped
    /// since it was last emptied.
    pub(crate) fn take(&mut self) -> Vec<Held> {
        if self.dropped > 0 {
            tracing::warn!(
                dropped = self.dropped,
                sent = self.queue.len(),
                "sparkplug: store-and-forward: values were dropped while the primary host was offline (the oldest, past store_forward_max_values)"
            );
            self.dropped = 0;
        }
        stats().set_held(0);
        if let Some(disk) = &mut self.disk {
            disk.clear();
        }
        self.queue.drain(..).collect()
    }

    /// Drops everything held (a reload assigns new aliases), counted and logged with `why`.
    pub(crate) fn clear(&mut self, why: &str) {
        let n = self.queue.len();
        if n > 0 {
            stats().held_dropped(n);
            tracing::warn!(
                dropped = n,
                "sparkplug: store-and-forward values dropped: {why}"
            );
        }
        self.queue.clear();
        self.dropped = 0;
        stats().set_held(0);
        if let Some(disk) = &mut self.disk {
            disk.clear();
        }
    }

    /// The same queue under a new bound (a reload), emptied (see [`History::clear`]); the disk
    /// copy stays.
    pub(crate) fn reset(&mut self, max: Option<usize>, why: &str) {
        self.clear(why);
        self.max = max;
    }
}

/// Groups `held` (oldest first) into messages: consecutive values of the same device (or the
/// node) share one message until it reaches [`MESSAGE_BYTES`]; the order is kept.
pub(crate) fn batches(held: Vec<Held>) -> Vec<(Option<String>, Vec<Metric>, usize)> {
    use prost::Message as _;
    let mut out: Vec<(Option<String>, Vec<Metric>, usize)> = Vec::new();
    let mut size = 0;
    for h in held {
        let bytes: usize = h.metrics.iter().map(Metric::encoded_len).sum();
        match out.last_mut() {
            Some((device, metrics, values))
                if *device == h.device && size + bytes <= MESSAGE_BYTES =>
            {
                metrics.extend(h.metrics);
                *values += 1;
                size += bytes;
            }
            _ => {
                out.push((h.device, h.metrics, 1));
                size = bytes;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sparkplug::payload::data_metric;
    use crate::sparkplug::proto::payload::metric::Value;

    fn m(n: u32) -> Vec<Metric> {
        vec![data_metric(3, Some(Value::IntValue(n)), u64::from(n))]
    }

    #[test]
    fn bounded_oldest_dropped_order_kept_batched_by_device() {
        let mut h = History::new(Some(3));
        for n in 0..5 {
            h.hold(None, m(n), Vec::new());
        }
        assert_eq!(h.len(), 3);
        h.hold(Some("node-7"), m(5), Vec::new());
        let held = h.take();
        assert!(h.is_empty());
        let values: Vec<_> = held.iter().map(|x| x.metrics[0].value.clone()).collect();
        assert_eq!(
            values,
            [3, 4, 5].map(|n| Some(Value::IntValue(n))).to_vec(),
            "the oldest went first"
        );
        assert!(held
            .iter()
            .all(|x| x.metrics[0].is_historical == Some(true)));
        // The two node values share a message; node-7's is the next one.
        let b = batches(held);
        assert_eq!(b.len(), 2);
        assert_eq!((b[0].0.as_deref(), b[0].1.len(), b[0].2), (None, 2, 2));
        assert_eq!((b[1].0.as_deref(), b[1].2), (Some("node-7"), 1));
    }

    #[test]
    fn disabled_holds_nothing_and_messages_are_bounded() {
        let mut off = History::new(None);
        off.hold(None, m(1), Vec::new());
        assert!(off.is_empty() && !off.enabled());
        let mut h = History::new(Some(100_000));
        for n in 0..10_000 {
            h.hold(None, m(n), Vec::new());
        }
        let b = batches(h.take());
        assert!(b.len() > 1);
        assert_eq!(b.iter().map(|x| x.2).sum::<usize>(), 10_000);
        use prost::Message as _;
        for (_, metrics, _) in &b {
            let size: usize = metrics.iter().map(Metric::encoded_len).sum();
            assert!(size <= MESSAGE_BYTES);
        }
    }
}
