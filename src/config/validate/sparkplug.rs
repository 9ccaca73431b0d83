//! `[sparkplug]` and each record's `sparkplug = true | false | { metric = "..." }`.
//!
//! A record whose `link_from` reads `aimdb/<node>/<key>` of other nodes (`+` or a node id other
//! than `[node] id`) is published as metrics of the Sparkplug device `<node>`; any other record
//! as a metric of the edge node.

use std::collections::HashMap;
use std::ops::Range;

use aimdb_core::BufferCfg;
use toml::Spanned;

use super::super::ranges;
use super::super::raw::{RawRecord, RawSparkplug};
use super::super::{Problem, RecordConfig};
use crate::sparkplug::catalog::{command_metric, metrics_of};
use crate::sparkplug::config::DEFAULT_STORE_FORWARD_MAX_VALUES;
use crate::sparkplug::payload::{BDSEQ, REBIRTH};
use crate::sparkplug::topic::valid_id;
use crate::sparkplug::{DeviceLink, Origin, SparkplugConfig, SparkplugRecord};

/// The file `bdSeq` is kept in, in the state directory.
const BDSEQ_FILE: &str = "sparkplug-bdseq";

/// The store-and-forward file, in the state directory.
const HELD_FILE: &str = "sparkplug-held.db";

/// What the checks read.
pub(super) struct Inputs<'a> {
    pub(crate) raw: Option<&'a Spanned<RawSparkplug>>,
    pub(crate) raw_records: &'a [Spanned<RawRecord>],
    /// The checked records, parallel to `raw_records` (`None`: the record has problems).
    pub(crate) records: &'a [Option<RecordConfig>],
    pub(crate) node_id: &'a str,
    pub(crate) file: &'a str,
    pub(crate) have_mqtt: bool,
}

/// Checks `[sparkplug]` and the records' `sparkplug` fields.
#[allow(clippy::too_many_lines)] // One pass over the records, collecting metric names across them (to split: issue 13 follow-up).
pub(super) fn section(
    inp: &Inputs<'_>,
    problems: &mut Vec<Problem>,
    _warnings: &mut Vec<Problem>,
) -> Option<SparkplugConfig> {
    let flags: Vec<_> = inp
        .raw_records
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.get_ref().sparkplug.as_ref().map(|f| (i, r, f)))
        .collect();
    let Some(raw) = inp.raw else {
        for (_, r, f) in &flags {
            if f.get_ref().as_bool() != Some(false) {
                problems.push(
                    Problem::at(f.span(), "`sparkplug` needs a [sparkplug] table")
                        .with_hint(
                            "add `[sparkplug]` with `group_id = \"plant\"` (docs/SPARKPLUG.md)",
                        )
                        .in_record(r.get_ref().key.get_ref()),
                );
            }
        }
        return None;
    };
    let before = problems.len();
    let s = raw.get_ref();
    if !inp.have_mqtt {
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
        None => inp.node_id.to_string(),
    };
    if let Some(p) = &s.primary_host_id {
        id(p, "primary_host_id", problems);
    }
    let store_forward_max_values = store_forward_max_values(s, problems);
    let mut records = Vec::new();
    // Metric name → the record that gave it, for the node and for the devices.
    let mut node_names: HashMap<String, String> = [BDSEQ, REBIRTH]
        .iter()
        .map(|n| (n.to_string(), String::new()))
        .collect();
    let mut device_names: HashMap<String, String> = HashMap::new();
    for (i, raw_rec, flag) in flags {
        let key = raw_rec.get_ref().key.get_ref();
        let mut push = |p: Problem| problems.push(p.in_record(key));
        let Some(metric) = metric_name(flag, key, &mut push) else {
            continue;
        };
        let Some(rec) = inp.records.get(i).and_then(Option::as_ref) else {
            continue;
        };
        let commanded = rec
            .links_to
            .iter()
            .find_map(|l| command_device(&l.topic, inp.node_id));
        if rec.buffer == BufferCfg::Mailbox && commanded.is_none() {
            push(
                Problem::at(flag.span(), "a mailbox record cannot be a Sparkplug metric: its values are consumed once, by its reader")
                    .with_hint("a mailbox with link_to = \"mqtt://aimdb/<node>/cmd/<key>\" is a device command (DCMD); otherwise publish a single_latest copy"),
            );
            continue;
        }
        let devices: Vec<DeviceLink> = rec
            .links_from
            .iter()
            .filter(|l| is_device_filter(&l.topic, inp.node_id))
            .map(|l| DeviceLink {
                filter: l.topic.clone(),
                codec: l.codec,
            })
            .collect();
        let origin = match (rec.buffer == BufferCfg::Mailbox, commanded) {
            (true, Some(device)) => Origin::Command { device },
            _ if devices.is_empty() => Origin::Node,
            _ => Origin::Devices(devices),
        };
        let entry = rec.ty;
        let (names, metrics) = match origin {
            Origin::Node => (&mut node_names, metrics_of(entry, &metric)),
            Origin::Devices(_) => (&mut device_names, metrics_of(entry, &metric)),
            Origin::Command { .. } => (&mut device_names, vec![command_metric(&metric)]),
        };
        for m in metrics {
            if let Some(other) = names.insert(m.name.clone(), key.clone()) {
                let by = if other.is_empty() {
                    "is reserved by Sparkplug".to_string()
                } else {
                    format!("is also a metric of record {other:?}")
                };
                push(
                    Problem::at(flag.span(), format!("Sparkplug metric {:?} {by}", m.name))
                        .with_hint(
                            "give one of them another name: sparkplug = { metric = \"NAME\" }",
                        ),
                );
            }
        }
        records.push(SparkplugRecord {
            key: key.clone(),
            ty: rec.ty,
            metric,
            origin,
        });
    }
    (problems.len() == before).then(|| SparkplugConfig {
        group_id: s.group_id.get_ref().clone(),
        edge_node_id,
        node_id: inp.node_id.to_string(),
        primary_host_id: s.primary_host_id.as_ref().map(|p| p.get_ref().clone()),
        store_forward_max_values,
        bdseq_path: super::super::paths::state_path(inp.file, BDSEQ_FILE),
        held_path: super::super::paths::state_path(inp.file, HELD_FILE),
        records,
    })
}

/// `store_forward_max_values`: a whole number in range, and only beside `primary_host_id` (the
/// values are kept while that host is offline).
fn store_forward_max_values(s: &RawSparkplug, problems: &mut Vec<Problem>) -> usize {
    let Some(v) = &s.store_forward_max_values else {
        return DEFAULT_STORE_FORWARD_MAX_VALUES;
    };
    let (min, max) = ranges::STORE_FORWARD_MAX_VALUES;
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

/// The metric name a record's `sparkplug` gives, `None` for `false` or a mistake (pushed).
fn metric_name(
    flag: &Spanned<toml::Value>,
    key: &str,
    push: &mut impl FnMut(Problem),
) -> Option<String> {
    let span: Range<usize> = flag.span();
    match flag.get_ref() {
        toml::Value::Boolean(true) => Some(key.to_string()),
        toml::Value::Boolean(false) => None,
        toml::Value::Table(t) => {
            let mut name = Some(key.to_string());
            for (k, v) in t {
                match (k.as_str(), v) {
                    ("metric", toml::Value::String(m)) => {
                        if m.is_empty() || m.chars().any(char::is_control) {
                            push(Problem::at(
                                span.clone(),
                                format!("sparkplug.metric {m:?} must be non-empty text without control characters"),
                            ));
                            name = None;
                        } else {
                            name = Some(m.clone());
                        }
                    }
                    ("metric", _) => {
                        push(Problem::at(
                            span.clone(),
                            "sparkplug.metric must be a string",
                        ));
                        name = None;
                    }
                    (other, _) => {
                        push(
                            Problem::at(
                                span.clone(),
                                format!("unknown field `{other}` in sparkplug"),
                            )
                            .with_hint("expected one of: metric"),
                        );
                        name = None;
                    }
                }
            }
            name
        }
        _ => {
            push(
                Problem::at(span, "sparkplug must be true, false or a table")
                    .with_hint("write sparkplug = true, or sparkplug = { metric = \"NAME\" }"),
            );
            None
        }
    }
}

/// The node a `link_to` topic `aimdb/<node>/cmd/<key>` (expanded) commands, unless it is this
/// gateway.
fn command_device(topic: &str, own: &str) -> Option<String> {
    match aimdb_records::topic::parse(topic)? {
        aimdb_records::topic::Topic::Command { node, .. } if node != own => Some(node.to_string()),
        _ => None,
    }
}

/// Whether a `link_from` filter reads other nodes' records: `aimdb/<node or +>/<key>`, the node
/// not this gateway.
fn is_device_filter(filter: &str, own: &str) -> bool {
    let levels: Vec<&str> = filter.split('/').collect();
    matches!(levels.as_slice(), [prefix, node, key]
        if *prefix == aimdb_records::topic::PREFIX
            && *node != own
            && !key.contains(['+', '#'])
            && !["status", "schema"].contains(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_filters() {
        assert!(is_device_filter("aimdb/+/sensor.temp", "gw-1"));
        assert!(is_device_filter("aimdb/node-7/sensor.temp", "gw-1"));
        assert!(!is_device_filter("aimdb/gw-1/sensor.temp", "gw-1"));
        assert!(!is_device_filter("aimdb/+/status", "gw-1"));
        assert!(!is_device_filter("plant/temp", "gw-1"));
        assert!(!is_device_filter("aimdb/+/cmd/x", "gw-1"));
    }
}
