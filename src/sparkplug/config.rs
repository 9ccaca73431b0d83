//! `[sparkplug]`: the table as written ([`RawSparkplug`]), its defaults and checks
//! ([`validate`]), and what the edge node runs with ([`SparkplugConfig`]). A record's own
//! `sparkplug = ...` field, which needs the checked records, is checked with the records
//! (`config/validate/sparkplug.rs`), which fills [`SparkplugConfig::records`].

use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use super::topic::valid_id;
use crate::config::paths::state_path;
use crate::config::LinkCodec;
use crate::diagnostics::Problem;
use crate::record_types::TypeEntry;

/// `[sparkplug] store_forward_max_values` when not given.
pub(crate) const DEFAULT_STORE_FORWARD_MAX_VALUES: usize = 10_000;

/// `[sparkplug] store_forward_max_values`: the values it accepts.
pub(crate) const STORE_FORWARD_MAX_VALUES: (i64, i64) = (1, 1_000_000);

/// The file `bdSeq` is kept in, in the state directory.
const BDSEQ_FILE: &str = "sparkplug-bdseq";

/// The store-and-forward file, in the state directory.
const HELD_FILE: &str = "sparkplug-held.db";

/// `[sparkplug]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSparkplug {
    pub(crate) group_id: Spanned<String>,
    pub(crate) edge_node_id: Option<Spanned<String>>,
    pub(crate) primary_host_id: Option<Spanned<String>>,
    pub(crate) store_forward_max_values: Option<Spanned<i64>>,
}

/// Checks `[sparkplug]`'s own fields, pushing each mistake; returns the config without its
/// records (the caller adds them). `node_id` is `[node] id` (the default edge node id), `file`
/// the config file (its directory holds the state files), `have_mqtt` whether `[mqtt]` is
/// there (the broker Sparkplug publishes to).
pub(crate) fn validate(
    raw: &Spanned<RawSparkplug>,
    node_id: &str,
    file: &str,
    have_mqtt: bool,
    problems: &mut Vec<Problem>,
) -> SparkplugConfig {
    let s = raw.get_ref();
    if !have_mqtt {
        problems.push(
            Problem::at(
                raw.span(),
                "[sparkplug] needs [mqtt]: the broker it publishes to",
            )
            .with_hint("add `[mqtt]` with `url = \"mqtt://HOST:PORT\"`"),
        );
    }
    id(&s.group_id, "group_id", problems);
    let edge_node_id = match &s.edge_node_id {
        Some(e) => {
            id(e, "edge_node_id", problems);
            e.get_ref().clone()
        }
        None => node_id.to_string(),
    };
    if let Some(p) = &s.primary_host_id {
        id(p, "primary_host_id", problems);
    }
    SparkplugConfig {
        group_id: s.group_id.get_ref().clone(),
        edge_node_id,
        node_id: node_id.to_string(),
        primary_host_id: s.primary_host_id.as_ref().map(|p| p.get_ref().clone()),
        store_forward_max_values: store_forward_max_values(s, problems),
        bdseq_path: state_path(file, BDSEQ_FILE),
        held_path: state_path(file, HELD_FILE),
        records: Vec::new(),
    }
}

/// `store_forward_max_values`: a whole number in range, and only beside `primary_host_id` (the
/// values are kept while that host is offline).
fn store_forward_max_values(s: &RawSparkplug, problems: &mut Vec<Problem>) -> usize {
    let Some(v) = &s.store_forward_max_values else {
        return DEFAULT_STORE_FORWARD_MAX_VALUES;
    };
    let (min, max) = STORE_FORWARD_MAX_VALUES;
    if s.primary_host_id.is_none() {
        problems.push(
            Problem::at(
                v.span(),
                "[sparkplug] store_forward_max_values needs primary_host_id: values are kept while the primary host is offline",
            )
            .with_hint("add `primary_host_id = \"HOST\"` (the host's id in spBv1.0/STATE/HOST), or remove the field"),
        );
        return DEFAULT_STORE_FORWARD_MAX_VALUES;
    }
    match usize::try_from(*v.get_ref()) {
        Ok(n) if (min..=max).contains(v.get_ref()) => n,
        _ => {
            problems.push(
                Problem::at(
                    v.span(),
                    format!("[sparkplug] store_forward_max_values must be between {min} and {max}"),
                )
                .with_hint(format!(
                    "the number of record values kept while the primary host is offline (default {DEFAULT_STORE_FORWARD_MAX_VALUES})"
                )),
            );
            DEFAULT_STORE_FORWARD_MAX_VALUES
        }
    }
}

/// A Sparkplug id field: a valid topic level.
fn id(v: &Spanned<String>, field: &str, problems: &mut Vec<Problem>) {
    if let Err(e) = valid_id(v.get_ref()) {
        problems.push(
            Problem::at(
                v.span(),
                format!("[sparkplug] {field} {:?} {e}", v.get_ref()),
            )
            .with_hint("Sparkplug ids are topic levels: letters, digits, '-', '_', '.'"),
        );
    }
}

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
