//! The Sparkplug counters behind `/metrics` (families `aimdbd_sparkplug_*`), shown once a
//! Sparkplug session has started.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use prometheus_client::encoding::DescriptorEncoder;

use crate::telemetry::exposition::{self, Encoded};

/// Process-wide Sparkplug counters.
#[derive(Debug, Default)]
pub(crate) struct SparkplugStats {
    enabled: AtomicBool,
    node_births: AtomicU64,
    device_births: AtomicU64,
    node_deaths: AtomicU64,
    device_deaths: AtomicU64,
    rebirth_requests: AtomicU64,
    commands_rejected: AtomicU64,
    device_payloads_rejected: AtomicU64,
    publish_dropped: AtomicU64,
    host_states_ignored: AtomicU64,
    held: AtomicU64,
    held_dropped: AtomicU64,
    historical_sent: AtomicU64,
    held_disk_skipped: AtomicU64,
    bdseq: AtomicU64,
    connected: AtomicBool,
    host_online: AtomicBool,
}

static STATS: SparkplugStats = SparkplugStats {
    enabled: AtomicBool::new(false),
    node_births: AtomicU64::new(0),
    device_births: AtomicU64::new(0),
    node_deaths: AtomicU64::new(0),
    device_deaths: AtomicU64::new(0),
    rebirth_requests: AtomicU64::new(0),
    commands_rejected: AtomicU64::new(0),
    device_payloads_rejected: AtomicU64::new(0),
    publish_dropped: AtomicU64::new(0),
    host_states_ignored: AtomicU64::new(0),
    held: AtomicU64::new(0),
    held_dropped: AtomicU64::new(0),
    historical_sent: AtomicU64::new(0),
    held_disk_skipped: AtomicU64::new(0),
    bdseq: AtomicU64::new(0),
    connected: AtomicBool::new(false),
    host_online: AtomicBool::new(false),
};

/// The counters.
pub(crate) fn stats() -> &'static SparkplugStats {
    &STATS
}

impl SparkplugStats {
    pub(super) fn enable(&self) {
        self.enabled.store(true, Relaxed);
    }
    pub(super) fn node_birth(&self) {
        self.node_births.fetch_add(1, Relaxed);
    }
    pub(super) fn device_birth(&self) {
        self.device_births.fetch_add(1, Relaxed);
    }
    pub(super) fn node_death(&self) {
        self.node_deaths.fetch_add(1, Relaxed);
    }
    pub(super) fn device_death(&self) {
        self.device_deaths.fetch_add(1, Relaxed);
    }
    pub(super) fn rebirth_request(&self) {
        self.rebirth_requests.fetch_add(1, Relaxed);
    }
    pub(super) fn command_rejected(&self) {
        self.commands_rejected.fetch_add(1, Relaxed);
    }
    pub(super) fn device_payload_rejected(&self) {
        self.device_payloads_rejected.fetch_add(1, Relaxed);
    }
    pub(super) fn publish_dropped(&self) {
        self.publish_dropped.fetch_add(1, Relaxed);
    }
    pub(super) fn host_state_ignored(&self) {
        self.host_states_ignored.fetch_add(1, Relaxed);
    }
    pub(super) fn set_held(&self, n: usize) {
        self.held
            .store(u64::try_from(n).unwrap_or(u64::MAX), Relaxed);
    }
    pub(super) fn held_dropped(&self, n: usize) {
        self.held_dropped
            .fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Relaxed);
    }
    pub(super) fn historical_sent(&self, n: usize) {
        self.historical_sent
            .fetch_add(u64::try_from(n).unwrap_or(u64::MAX), Relaxed);
    }
    pub(super) fn held_disk_skipped(&self) {
        self.held_disk_skipped.fetch_add(1, Relaxed);
    }
    pub(super) fn set_host_online(&self, up: bool) {
        self.host_online.store(up, Relaxed);
    }
    pub(super) fn set_bdseq(&self, n: u8) {
        self.bdseq.store(u64::from(n), Relaxed);
    }
    pub(super) fn set_connected(&self, up: bool) {
        self.connected.store(up, Relaxed);
    }
}

/// A counter family: name, help, `(kind label or "", counter)` series.
type Family<'a> = (&'a str, &'a str, &'a [(&'a str, &'a AtomicU64)]);

/// Writes the `aimdbd_sparkplug_*` families (nothing while no session has started).
pub(crate) fn encode(enc: &mut DescriptorEncoder<'_>) -> Encoded {
    let s = stats();
    if !s.enabled.load(Relaxed) {
        return Ok(());
    }
    let families: [Family<'_>; 10] = [
        (
            "aimdbd_sparkplug_births_total",
            "Sparkplug birth certificates published (NBIRTH, DBIRTH).",
            &[("node", &s.node_births), ("device", &s.device_births)],
        ),
        (
            "aimdbd_sparkplug_deaths_total",
            "Sparkplug death certificates published by this daemon (NDEATH on a clean close, DDEATH); an NDEATH the broker sends as the will is not counted here.",
            &[("node", &s.node_deaths), ("device", &s.device_deaths)],
        ),
        (
            "aimdbd_sparkplug_rebirth_requests_total",
            "NCMD Node Control/Rebirth requests acted on.",
            &[("", &s.rebirth_requests)],
        ),
        (
            "aimdbd_sparkplug_commands_rejected_total",
            "NCMD/DCMD messages refused (malformed, unknown metric, unsupported); each is logged.",
            &[("", &s.commands_rejected)],
        ),
        (
            "aimdbd_sparkplug_device_payloads_rejected_total",
            "Node payloads the Sparkplug session could not decode (not published as DDATA); each is logged.",
            &[("", &s.device_payloads_rejected)],
        ),
        (
            "aimdbd_sparkplug_publish_dropped_total",
            "Sparkplug messages dropped because the MQTT client's queue was full (a host sees a seq gap and asks for a rebirth).",
            &[("", &s.publish_dropped)],
        ),
        (
            "aimdbd_sparkplug_host_states_ignored_total",
            "Primary host STATE messages ignored (older timestamp than one already taken, or not the spec's JSON); each is logged.",
            &[("", &s.host_states_ignored)],
        ),
        (
            "aimdbd_sparkplug_held_dropped_total",
            "Values kept for store-and-forward and then dropped (the oldest, past [sparkplug] store_forward_max_values; or a reload or a device no longer born); each drop is logged.",
            &[("", &s.held_dropped)],
        ),
        (
            "aimdbd_sparkplug_historical_sent_total",
            "Values kept while the primary host was offline and sent after its return with is_historical = true.",
            &[("", &s.historical_sent)],
        ),
        (
            "aimdbd_sparkplug_held_disk_skipped_total",
            "Held values not written to the store-and-forward file (its writer was behind): kept in memory only, lost if the daemon stops before they are sent.",
            &[("", &s.held_disk_skipped)],
        ),
    ];
    for (name, help, series) in families {
        match series {
            [("", v)] => exposition::counter(enc, name, help, v.load(Relaxed))?,
            kinds => exposition::counters(
                enc,
                name,
                help,
                kinds
                    .iter()
                    .map(|(kind, v)| ([("kind", *kind)], v.load(Relaxed))),
            )?,
        }
    }
    exposition::gauge(
        enc,
        "aimdbd_sparkplug_bdseq",
        "The bdSeq of the Sparkplug session's current (or last) MQTT connection.",
        s.bdseq.load(Relaxed),
    )?;
    exposition::gauge(
        enc,
        "aimdbd_sparkplug_held_values",
        "Values kept for store-and-forward now (while not born with a primary host).",
        s.held.load(Relaxed),
    )?;
    exposition::gauge(
        enc,
        "aimdbd_sparkplug_host_online",
        "Whether the primary host's last STATE said online (1) or not (0); 0 without [sparkplug] primary_host_id.",
        u32::from(s.host_online.load(Relaxed)),
    )?;
    exposition::gauge(
        enc,
        "aimdbd_sparkplug_connected",
        "Whether the Sparkplug session is connected and born (1) or not (0).",
        u32::from(s.connected.load(Relaxed)),
    )
}
