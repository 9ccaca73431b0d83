//! The validated `[sparkplug]` table and the records it publishes (parsed and checked in
//! `crate::config`, with every mistake at its `FILE:LINE:COL`).

use std::path::PathBuf;

use crate::config::LinkCodec;
use crate::record_types::TypeEntry;

/// `[sparkplug] store_forward_max_values` when not given.
pub(crate) const DEFAULT_STORE_FORWARD_MAX_VALUES: usize = 10_000;

/// `[sparkplug]`: the gateway as a Sparkplug B edge node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SparkplugConfig {
    /// The Sparkplug group (`spBv1.0/<group_id>/...`).
    pub(crate) group_id: String,
    /// This edge node's id (default `[node] id`).
    pub(crate) edge_node_id: String,
    /// The primary host application: births wait for its `spBv1.0/STATE/<id>` saying online,
    /// and values produced while it is offline are kept and sent after its return with
    /// `is_historical` (docs/SPARKPLUG.md).
    pub(crate) primary_host_id: Option<String>,
    /// With a primary host: at most this many record values are kept while not born (the
    /// oldest is dropped, counted and logged, past it).
    pub(crate) store_forward_max_values: usize,
    /// `[node] id`: this gateway, never one of its own devices.
    pub(crate) node_id: String,
    /// The file `bdSeq` is kept in across restarts (`sparkplug-bdseq` in the state directory).
    pub(crate) bdseq_path: PathBuf,
    /// The store-and-forward file (`sparkplug-held.db` in the state directory).
    pub(crate) held_path: PathBuf,
    /// The records with `sparkplug = true` (or a table), in file order.
    pub(crate) records: Vec<SparkplugRecord>,
}

/// One record published over Sparkplug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SparkplugRecord {
    /// The record's key.
    pub(crate) key: String,
    /// Its type.
    pub(crate) ty: &'static TypeEntry,
    /// The metric name (default the key); struct fields become `<metric>/<field>`.
    pub(crate) metric: String,
    /// Where its values come from.
    pub(crate) origin: Origin,
}

/// Whose metrics a record's values are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// The gateway's own record (a source, transform, or a service's link): node metrics, read
    /// from the running graph.
    Node,
    /// A record of MCU nodes (`link_from` on `aimdb/<node>/...`): metrics of the Sparkplug
    /// device `<node>`, read from the Sparkplug session's own subscription so that each value
    /// is known by the node that sent it.
    Devices(Vec<DeviceLink>),
    /// A mailbox record whose `link_to` is `aimdb/<node>/cmd/<key>`: a writable metric of
    /// device `<node>`; a DCMD writes into it (typed and validated like `ctl set`).
    Command {
        /// The node (device) it commands.
        device: String,
    },
}

/// One `link_from` of a device record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DeviceLink {
    /// The MQTT filter (`aimdb/+/sensor.temp`, `aimdb/node-7/sensor.temp`).
    pub(crate) filter: String,
    /// The payload codec.
    pub(crate) codec: LinkCodec,
}

impl DeviceLink {
    /// Whether node `node` publishes this link's record (the filter's node level is `+` or
    /// `node`).
    pub(crate) fn serves(&self, node: &str) -> bool {
        matches!(self.filter.split('/').nth(1), Some("+") | Some("#"))
            || self.filter.split('/').nth(1) == Some(node)
    }
}

impl SparkplugRecord {
    /// The device links, empty for a node or command record.
    pub(crate) fn device_links(&self) -> &[DeviceLink] {
        match &self.origin {
            Origin::Devices(d) => d,
            _ => &[],
        }
    }

    /// Whether this record is a metric of device `node`.
    pub(crate) fn of_device(&self, node: &str) -> bool {
        match &self.origin {
            Origin::Node => false,
            Origin::Devices(d) => d.iter().any(|l| l.serves(node)),
            Origin::Command { device } => device == node,
        }
    }
}
