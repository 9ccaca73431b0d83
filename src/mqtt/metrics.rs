//! The bridge's counters, for `/metrics`. The daemon makes one set ([`MqttMetrics`], owned by
//! its admin state) and hands it to every bridge it opens, so counters keep counting across
//! reloads, a changed `[mqtt]` included (a reloaded link with the same record and topic keeps
//! its counters). A bridge of its own (`aimdbd check`, in-process graphs) counts into a set of
//! its own. The hot paths only touch atomics; [`MqttMetrics::encode`] reads them at scrape time.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use prometheus_client::encoding::DescriptorEncoder;

use crate::telemetry::exposition::{counter, counters, gauge, gauges, Encoded};
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

/// One per-link metric family: name, whether it is a counter (else a gauge), help, the
/// direction it applies to, its value.
type PerLink = (
    &'static str,
    bool,
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
    /// Values of `drop_*` links the disk writer's queue had no room for (kept in memory only).
    pub(crate) disk_skipped: AtomicU64,
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

    /// Writes every bridge metric family. Blocking (it reads the disk outbox's file size): call
    /// it off the async workers.
    pub(crate) fn encode(&self, enc: &mut DescriptorEncoder<'_>) -> Encoded {
        self.encode_session(enc)?;
        self.encode_nodes(enc)?;
        self.encode_outbox_file(enc)?;
        self.encode_links(enc)
    }

    /// The connection's families, the bridge-wide counters and the PUBACK histogram.
    fn encode_session(&self, enc: &mut DescriptorEncoder<'_>) -> Encoded {
        let g = |v: &AtomicU64| v.load(Ordering::Relaxed);
        gauge(
            enc,
            "aimdbd_mqtt_connected",
            "Whether the bridge is connected to the broker (1) or not (0).",
            g(&self.connected),
        )?;
        counter(
            enc,
            "aimdbd_mqtt_connects_total",
            "Connections the broker accepted (the first and every reconnect).",
            g(&self.connects),
        )?;
        counter(
            enc,
            "aimdbd_mqtt_connection_errors_total",
            "Failed connection attempts and lost connections.",
            g(&self.connection_errors),
        )?;
        gauge(
            enc,
            "aimdbd_mqtt_reconnect_delay_seconds",
            "The reconnect delay last waited.",
            seconds(g(&self.reconnect_delay_ms)),
        )?;
        gauge(
            enc,
            "aimdbd_mqtt_inbound_unacked",
            "QoS >= 1 messages received and not yet acknowledged: held by the broker until every durable reader downstream has their values.",
            g(&self.unacked),
        )?;
        counter(
            enc,
            "aimdbd_mqtt_outbox_disk_failures_total",
            "Disk outbox transactions that failed (full at outbox_max_file_bytes, or a disk error): their values were kept in memory only.",
            g(&self.disk_failures),
        )?;
        counter(
            enc,
            "aimdbd_mqtt_outbox_disk_skipped_total",
            "Values of links with outbox_full = drop_* not written to the disk outbox because its writer was behind (queue full): kept in memory only and accepted upstream as such, lost if the daemon stops before they are sent.",
            g(&self.disk_skipped),
        )?;
        counters(
            enc,
            "aimdbd_mqtt_bad_input_total",
            "Inbound messages dropped, by reason.",
            BadInput::ALL.map(|why| ([("reason", why.as_str())], self.bad_inputs(why))),
        )?;
        counter(
            enc,
            "aimdbd_mqtt_received_bytes_total",
            "Bytes of PUBLISH packets received from the broker (fixed header, topic, packet id, payload); other MQTT packets are not counted.",
            g(&self.received_bytes),
        )?;
        counter(
            enc,
            "aimdbd_mqtt_sent_bytes_total",
            "Bytes of PUBLISH packets written to the broker (fixed header, topic, packet id, payload; resends after a reconnect count again); other MQTT packets are not counted.",
            g(&self.sent_bytes),
        )?;
        self.publish_ack.encode(
            enc,
            "aimdbd_mqtt_publish_ack_duration_seconds",
            "Outbound QoS >= 1 link values: time from the PUBLISH written to the broker's PUBACK (QoS 1) or PUBCOMP (QoS 2).",
        )
    }

    /// The per-node families (`aimdb/<node>/...` topics).
    fn encode_nodes(&self, enc: &mut DescriptorEncoder<'_>) -> Encoded {
        let nodes: Vec<(String, NodeSeen)> = self
            .nodes
            .lock()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        counters(
            enc,
            "aimdbd_mqtt_node_messages_total",
            "Inbound messages on aimdb/<node>/... topics, by node.",
            nodes
                .iter()
                .map(|(node, n)| ([("node", node.as_str())], n.messages)),
        )?;
        gauges(
            enc,
            "aimdbd_mqtt_node_last_seen_timestamp_seconds",
            "When a message on an aimdb/<node>/... topic last arrived from the node (unix time); nodes appear from their first message, at most 256 of them.",
            nodes
                .iter()
                .map(|(node, n)| ([("node", node.as_str())], seconds(n.last_ms))),
        )?;
        counter(
            enc,
            "aimdbd_mqtt_node_messages_overflow_total",
            "Inbound messages on aimdb/<node>/... topics not counted by node: from nodes beyond the first 256, or with an id no node can have (longer than 32 bytes, control characters).",
            self.nodes_overflow.load(Ordering::Relaxed),
        )
    }

    /// The disk outbox's file size and bound, when it has one. Blocking: reads the file's size.
    fn encode_outbox_file(&self, enc: &mut DescriptorEncoder<'_>) -> Encoded {
        let outbox_file = self.outbox_file.lock().clone();
        if let Some((path, max)) = outbox_file {
            if let Some(bytes) = crate::telemetry::sqlite_file_bytes(&path) {
                gauge(
                    enc,
                    "aimdbd_mqtt_outbox_file_bytes",
                    "Size of the disk outbox's SQLite file plus its write-ahead log.",
                    bytes,
                )?;
            }
            gauge(
                enc,
                "aimdbd_mqtt_outbox_file_max_bytes",
                "[mqtt] outbox_max_file_bytes: past it, values are kept in memory only (aimdbd_mqtt_outbox_disk_failures_total).",
                max,
            )?;
        }
        Ok(())
    }

    /// The per-link families, for the links of the running graph.
    fn encode_links(&self, enc: &mut DescriptorEncoder<'_>) -> Encoded {
        let g = |v: &AtomicU64| v.load(Ordering::Relaxed);
        let active = self.active.lock().clone();
        gauges(
            enc,
            "aimdbd_mqtt_link_last_message_timestamp_seconds",
            "When an inbound link last decoded a message into its record (unix time); a link appears from its first message.",
            active
                .iter()
                .filter(|((dir, _, _), m)| *dir == Direction::In && g(&m.last_message_ms) != 0)
                .map(|((dir, record, topic), m)| {
                    (link_labels(*dir, record, topic), seconds(g(&m.last_message_ms)))
                }),
        )?;
        let per_link: [PerLink; 9] = [
            ("aimdbd_mqtt_messages_total", true, "Messages decoded into a record (in) or acknowledged by the broker (out), per link.", None, |m| &m.messages),
            ("aimdbd_mqtt_link_errors_total", true, "Payloads that failed to decode (in) or values that failed to encode or exceeded max_packet_size (out), per link.", None, |m| &m.errors),
            ("aimdbd_mqtt_outbox_depth", false, "Values an outbound link holds until the broker acknowledges them.", Some(Direction::Out), |m| &m.outbox_depth),
            ("aimdbd_mqtt_outbox_bytes", false, "Payload bytes an outbound link holds until the broker acknowledges them (bounded by outbox_max_bytes).", Some(Direction::Out), |m| &m.outbox_bytes),
            ("aimdbd_mqtt_outbox_capacity", false, "The outbox bound of an outbound link.", Some(Direction::Out), |m| &m.outbox_capacity),
            ("aimdbd_mqtt_outbox_dropped_total", true, "Values an outbound link's outbox dropped at its bound.", Some(Direction::Out), |m| &m.outbox_dropped),
            ("aimdbd_mqtt_outbox_waits_total", true, "Times an outbound link with outbox_full = \"block\" waited for room in its outbox.", Some(Direction::Out), |m| &m.outbox_waits),
            ("aimdbd_mqtt_inbound_paused", false, "1 while an inbound link holds messages back because a durable reader downstream is full.", Some(Direction::In), |m| &m.paused),
            ("aimdbd_mqtt_inbound_pauses_total", true, "Times an inbound link paused for a full durable reader downstream.", Some(Direction::In), |m| &m.pauses),
        ];
        for (name, is_counter, help, only, get) in per_link {
            let series = active
                .iter()
                .filter(|((dir, _, _), _)| only.is_none_or(|d| d == *dir))
                .map(|((dir, record, topic), m)| (link_labels(*dir, record, topic), g(get(m))));
            if is_counter {
                counters(enc, name, help, series)?;
            } else {
                gauges(enc, name, help, series)?;
            }
        }
        Ok(())
    }
}

/// The labels of a link's series.
fn link_labels<'a>(
    dir: Direction,
    record: &'a str,
    topic: &'a str,
) -> [(&'static str, &'a str); 3] {
    let direction = if dir == Direction::In { "in" } else { "out" };
    [
        ("direction", direction),
        ("record", record),
        ("topic", topic),
    ]
}

/// ms since the Unix epoch as Prometheus' seconds.
fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}
