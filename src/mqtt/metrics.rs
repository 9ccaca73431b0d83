//! The bridge's counters, for `/metrics`. One set per process, so counters keep counting across
//! reloads (a reloaded link with the same record and topic keeps its counters).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};

use parking_lot::Mutex;

use crate::telemetry::histogram::Histogram;

/// Why an inbound message was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadInput {
    /// The payload did not decode with the link's codec.
    Decode,
    /// The packet was larger than `[mqtt] max_packet_size`.
    Oversized,
    /// No link's filter matches the topic.
    UnknownTopic,
    /// A QoS 0 message arrived while the graph was being swapped (reload) and the router already
    /// held as many as it keeps for the swap.
    Reloading,
    /// The payload is of a version this gateway does not know, or its schema id differs
    /// (counted per record and version in `aimdbd_mqtt_unknown_version_total`).
    Version,
    /// A schema announcement (`aimdb/<node>/schema`) that was refused.
    Announcement,
}

impl BadInput {
    /// Every reason.
    pub(crate) const ALL: [BadInput; 6] = [
        BadInput::Decode,
        BadInput::Oversized,
        BadInput::UnknownTopic,
        BadInput::Reloading,
        BadInput::Version,
        BadInput::Announcement,
    ];

    /// The `reason` label.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BadInput::Decode => "decode",
            BadInput::Oversized => "oversized",
            BadInput::UnknownTopic => "unknown_topic",
            BadInput::Reloading => "reloading",
            BadInput::Version => "version",
            BadInput::Announcement => "announcement",
        }
    }
}

/// Which way a link goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Direction {
    /// link_from: MQTT → record.
    In,
    /// link_to: record → MQTT.
    Out,
}

/// Counters of one link.
#[derive(Debug, Default)]
pub(crate) struct LinkMetrics {
    /// Messages decoded into the record (in) or acknowledged by the broker (out).
    pub(crate) messages: AtomicU64,
    /// In: payloads that failed to decode. Out: values that failed to encode or were too large.
    pub(crate) errors: AtomicU64,
    /// Out: values held in the outbox now.
    pub(crate) outbox_depth: AtomicU64,
    /// Out: payload bytes held in the outbox now.
    pub(crate) outbox_bytes: AtomicU64,
    /// Out: values the outbox dropped at its capacity.
    pub(crate) outbox_dropped: AtomicU64,
    /// Out: the outbox's capacity.
    pub(crate) outbox_capacity: AtomicU64,
    /// Out: times the link waited for room in its outbox (`outbox_full = "block"`).
    pub(crate) outbox_waits: AtomicU64,
    /// In: 1 while the link holds messages back because a durable reader downstream is full.
    pub(crate) paused: AtomicU64,
    /// In: times the link paused.
    pub(crate) pauses: AtomicU64,
    /// In: when a message was last decoded into the record, in ms since the Unix epoch (0:
    /// none yet).
    pub(crate) last_message_ms: AtomicU64,
}

/// What is known of one node (the `<node>` of `aimdb/<node>/...`).
#[derive(Debug, Clone, Copy)]
struct NodeSeen {
    messages: u64,
    /// ms since the Unix epoch.
    last_ms: u64,
}

type LinkKey = (Direction, String, String);

/// One per-link metric family: name, kind, help, the direction it applies to, its counter.
type PerLink = (
    &'static str,
    &'static str,
    &'static str,
    Option<Direction>,
    fn(&LinkMetrics) -> &AtomicU64,
);

/// Most distinct node ids counted by name; messages of later ones go to the overflow counter.
const MAX_NODES: usize = 256;

/// Longest node id counted by name (the longest a config or firmware accepts); longer ones,
/// which no node can have, go to the overflow counter, so no sender can grow `/metrics` by
/// more than `MAX_NODES` short lines.
const MAX_NODE_LABEL: usize = aimdb_records::types::ID_CAPACITY;

/// Every counter of the bridge.
#[derive(Debug, Default)]
pub(crate) struct MqttMetrics {
    /// 1 while connected to the broker.
    pub(crate) connected: AtomicU64,
    /// Successful connections (CONNACK accepted).
    pub(crate) connects: AtomicU64,
    /// Failed connection attempts and lost connections.
    pub(crate) connection_errors: AtomicU64,
    /// The reconnect delay last waited, in milliseconds.
    pub(crate) reconnect_delay_ms: AtomicU64,
    /// QoS ≥ 1 messages received and not yet acknowledged to the broker.
    pub(crate) unacked: AtomicU64,
    /// Disk outbox transactions that failed (their values kept in memory only).
    pub(crate) disk_failures: AtomicU64,
    /// Bytes of PUBLISH packets received (fixed header, topic, packet id, payload).
    pub(crate) received_bytes: AtomicU64,
    /// Bytes of PUBLISH packets written to the broker (as `received_bytes`).
    pub(crate) sent_bytes: AtomicU64,
    /// Outbound QoS ≥ 1 link values: from the PUBLISH written to its PUBACK (QoS 1) or
    /// PUBCOMP (QoS 2).
    pub(crate) publish_ack: Histogram,
    /// The disk outbox's file and its `outbox_max_file_bytes`, once it is open.
    outbox_file: Mutex<Option<(PathBuf, u64)>>,
    bad: [AtomicU64; BadInput::ALL.len()],
    links: Mutex<BTreeMap<LinkKey, Arc<LinkMetrics>>>,
    active: Mutex<Vec<(LinkKey, Arc<LinkMetrics>)>>,
    nodes: Mutex<BTreeMap<String, NodeSeen>>,
    /// Messages of nodes not counted by name: beyond `MAX_NODES`, or ids no node can have.
    nodes_overflow: AtomicU64,
}

static METRICS: LazyLock<MqttMetrics> = LazyLock::new(MqttMetrics::default);

/// The process's bridge metrics.
pub(crate) fn metrics() -> &'static MqttMetrics {
    &METRICS
}

impl MqttMetrics {
    /// Counts one dropped inbound message.
    pub(crate) fn bad_input(&self, why: BadInput) {
        self.bad[why as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// Dropped inbound messages for `why` so far.
    pub(crate) fn bad_inputs(&self, why: BadInput) -> u64 {
        self.bad[why as usize].load(Ordering::Relaxed)
    }

    /// Counts one message received from `node` (the `<node>` of `aimdb/<node>/...`) at
    /// `now_ms` (ms since the Unix epoch). No allocation for a node already counted.
    pub(crate) fn node_message(&self, node: &str, now_ms: u64) {
        if node.len() > MAX_NODE_LABEL || aimdb_records::topic::validate_segment(node).is_err() {
            self.nodes_overflow.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut nodes = self.nodes.lock();
        if let Some(n) = nodes.get_mut(node) {
            n.messages += 1;
            n.last_ms = n.last_ms.max(now_ms);
        } else if nodes.len() < MAX_NODES {
            nodes.insert(
                node.to_string(),
                NodeSeen {
                    messages: 1,
                    last_ms: now_ms,
                },
            );
        } else {
            self.nodes_overflow.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The disk outbox at `path` is open, bounded at `max_bytes`: its size is reported from now on.
    pub(crate) fn set_outbox_file(&self, path: PathBuf, max_bytes: u64) {
        *self.outbox_file.lock() = Some((path, max_bytes));
    }

    /// The counters of a link (created at zero the first time), marked active for rendering.
    pub(crate) fn link(&self, dir: Direction, record: &str, topic: &str) -> Arc<LinkMetrics> {
        let key = (dir, record.to_string(), topic.to_string());
        let m = self.links.lock().entry(key.clone()).or_default().clone();
        let mut active = self.active.lock();
        if !active.iter().any(|(k, _)| *k == key) {
            active.push((key, m.clone()));
        }
        m
    }

    /// Keeps only the active links `configured` says are (after a reload: links of removed
    /// records or changed topics stop being reported; every link of the running graph
    /// registered itself when its part was built).
    pub(crate) fn retain_links(&self, configured: impl Fn(Direction, &str, &str) -> bool) {
        self.active
            .lock()
            .retain(|((dir, record, topic), _)| configured(*dir, record, topic));
    }

    /// Appends the Prometheus text of every bridge metric to `out`. Blocking (it reads the disk
    /// outbox's file size): call it off the async workers.
    pub(crate) fn render(&self, out: &mut String, label: impl Fn(&str) -> String) {
        let g = |v: &AtomicU64| v.load(Ordering::Relaxed);
        let family = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} {kind}");
        };
        family(
            out,
            "aimdbd_mqtt_connected",
            "gauge",
            "Whether the bridge is connected to the broker (1) or not (0).",
        );
        let _ = writeln!(out, "aimdbd_mqtt_connected {}", g(&self.connected));
        family(
            out,
            "aimdbd_mqtt_connects_total",
            "counter",
            "Connections the broker accepted (the first and every reconnect).",
        );
        let _ = writeln!(out, "aimdbd_mqtt_connects_total {}", g(&self.connects));
        family(
            out,
            "aimdbd_mqtt_connection_errors_total",
            "counter",
            "Failed connection attempts and lost connections.",
        );
        let _ = writeln!(
            out,
            "aimdbd_mqtt_connection_errors_total {}",
            g(&self.connection_errors)
        );
        family(
            out,
            "aimdbd_mqtt_reconnect_delay_seconds",
            "gauge",
            "The reconnect delay last waited.",
        );
        let _ = writeln!(
            out,
            "aimdbd_mqtt_reconnect_delay_seconds {}",
            g(&self.reconnect_delay_ms) as f64 / 1000.0
        );
        family(
            out,
            "aimdbd_mqtt_inbound_unacked",
            "gauge",
            "QoS >= 1 messages received and not yet acknowledged: held by the broker until every durable reader downstream has their values.",
        );
        let _ = writeln!(out, "aimdbd_mqtt_inbound_unacked {}", g(&self.unacked));
        family(
            out,
            "aimdbd_mqtt_outbox_disk_failures_total",
            "counter",
            "Disk outbox transactions that failed (full at outbox_max_file_bytes, or a disk error): their values were kept in memory only.",
        );
        let _ = writeln!(
            out,
            "aimdbd_mqtt_outbox_disk_failures_total {}",
            g(&self.disk_failures)
        );
        family(
            out,
            "aimdbd_mqtt_bad_input_total",
            "counter",
            "Inbound messages dropped, by reason.",
        );
        for why in BadInput::ALL {
            let _ = writeln!(
                out,
                "aimdbd_mqtt_bad_input_total{{reason=\"{}\"}} {}",
                why.as_str(),
                self.bad_inputs(why)
            );
        }
        family(
            out,
            "aimdbd_mqtt_node_messages_total",
            "counter",
            "Inbound messages on aimdb/<node>/... topics, by node.",
        );
        let nodes: Vec<(String, NodeSeen)> = self
            .nodes
            .lock()
            .iter()
            .map(|(k, v)| (label(k), *v))
            .collect();
        for (node, n) in &nodes {
            let _ = writeln!(
                out,
                "aimdbd_mqtt_node_messages_total{{node=\"{node}\"}} {}",
                n.messages
            );
        }
        family(
            out,
            "aimdbd_mqtt_node_last_seen_timestamp_seconds",
            "gauge",
            "When a message on an aimdb/<node>/... topic last arrived from the node (unix time); nodes appear from their first message, at most 256 of them.",
        );
        for (node, n) in &nodes {
            let _ = writeln!(
                out,
                "aimdbd_mqtt_node_last_seen_timestamp_seconds{{node=\"{node}\"}} {}",
                seconds(n.last_ms)
            );
        }
        family(
            out,
            "aimdbd_mqtt_node_messages_overflow_total",
            "counter",
            "Inbound messages on aimdb/<node>/... topics not counted by node: from nodes beyond the first 256, or with an id no node can have (longer than 32 bytes, control characters).",
        );
        let _ = writeln!(
            out,
            "aimdbd_mqtt_node_messages_overflow_total {}",
            g(&self.nodes_overflow)
        );
        family(
            out,
            "aimdbd_mqtt_received_bytes_total",
            "counter",
            "Bytes of PUBLISH packets received from the broker (fixed header, topic, packet id, payload); other MQTT packets are not counted.",
        );
        let _ = writeln!(
            out,
            "aimdbd_mqtt_received_bytes_total {}",
            g(&self.received_bytes)
        );
        family(
            out,
            "aimdbd_mqtt_sent_bytes_total",
            "counter",
            "Bytes of PUBLISH packets written to the broker (fixed header, topic, packet id, payload; resends after a reconnect count again); other MQTT packets are not counted.",
        );
        let _ = writeln!(out, "aimdbd_mqtt_sent_bytes_total {}", g(&self.sent_bytes));
        family(
            out,
            "aimdbd_mqtt_publish_ack_duration_seconds",
            "histogram",
            "Outbound QoS >= 1 link values: time from the PUBLISH written to the broker's PUBACK (QoS 1) or PUBCOMP (QoS 2).",
        );
        self.publish_ack
            .render(out, "aimdbd_mqtt_publish_ack_duration_seconds", "");
        let outbox_file = self.outbox_file.lock().clone();
        if let Some((path, max)) = outbox_file {
            if let Some(bytes) = crate::telemetry::sqlite_file_bytes(&path) {
                family(
                    out,
                    "aimdbd_mqtt_outbox_file_bytes",
                    "gauge",
                    "Size of the disk outbox's SQLite file plus its write-ahead log.",
                );
                let _ = writeln!(out, "aimdbd_mqtt_outbox_file_bytes {bytes}");
            }
            family(
                out,
                "aimdbd_mqtt_outbox_file_max_bytes",
                "gauge",
                "[mqtt] outbox_max_file_bytes: past it, values are kept in memory only (aimdbd_mqtt_outbox_disk_failures_total).",
            );
            let _ = writeln!(out, "aimdbd_mqtt_outbox_file_max_bytes {max}");
        }
        let active = self.active.lock().clone();
        let per_link: [PerLink; 9] = [
            ("aimdbd_mqtt_messages_total", "counter", "Messages decoded into a record (in) or acknowledged by the broker (out), per link.", None, |m| &m.messages),
            ("aimdbd_mqtt_link_errors_total", "counter", "Payloads that failed to decode (in) or values that failed to encode or exceeded max_packet_size (out), per link.", None, |m| &m.errors),
            ("aimdbd_mqtt_outbox_depth", "gauge", "Values an outbound link holds until the broker acknowledges them.", Some(Direction::Out), |m| &m.outbox_depth),
            ("aimdbd_mqtt_outbox_bytes", "gauge", "Payload bytes an outbound link holds until the broker acknowledges them (bounded by outbox_max_bytes).", Some(Direction::Out), |m| &m.outbox_bytes),
            ("aimdbd_mqtt_outbox_capacity", "gauge", "The outbox bound of an outbound link.", Some(Direction::Out), |m| &m.outbox_capacity),
            ("aimdbd_mqtt_outbox_dropped_total", "counter", "Values an outbound link's outbox dropped at its bound.", Some(Direction::Out), |m| &m.outbox_dropped),
            ("aimdbd_mqtt_outbox_waits_total", "counter", "Times an outbound link with outbox_full = \"block\" waited for room in its outbox.", Some(Direction::Out), |m| &m.outbox_waits),
            ("aimdbd_mqtt_inbound_paused", "gauge", "1 while an inbound link holds messages back because a durable reader downstream is full.", Some(Direction::In), |m| &m.paused),
            ("aimdbd_mqtt_inbound_pauses_total", "counter", "Times an inbound link paused for a full durable reader downstream.", Some(Direction::In), |m| &m.pauses),
        ];
        family(
            out,
            "aimdbd_mqtt_link_last_message_timestamp_seconds",
            "gauge",
            "When an inbound link last decoded a message into its record (unix time); a link appears from its first message.",
        );
        for ((dir, record, topic), m) in &active {
            let last = g(&m.last_message_ms);
            if *dir != Direction::In || last == 0 {
                continue;
            }
            let _ = writeln!(
                out,
                "aimdbd_mqtt_link_last_message_timestamp_seconds{{direction=\"in\",record=\"{}\",topic=\"{}\"}} {}",
                label(record),
                label(topic),
                seconds(last)
            );
        }
        for (name, kind, help, only, get) in per_link {
            family(out, name, kind, help);
            for ((dir, record, topic), m) in &active {
                if only.is_some_and(|d| d != *dir) {
                    continue;
                }
                let d = if *dir == Direction::In { "in" } else { "out" };
                let _ = writeln!(
                    out,
                    "{name}{{direction=\"{d}\",record=\"{}\",topic=\"{}\"}} {}",
                    label(record),
                    label(topic),
                    g(get(m))
                );
            }
        }
    }
}

/// ms since the Unix epoch as Prometheus' seconds.
fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}
