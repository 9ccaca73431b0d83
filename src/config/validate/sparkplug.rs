//! `[sparkplug]` and each record's `sparkplug = true | false | { metric = "..." }`.
//!
//! A record whose `link_from` reads `aimdb/<node>/<key>` of other nodes (`+` or a node id other
//! than `[node] id`) is published as metrics of the Sparkplug device `<node>`; any other record
//! as a metric of the edge node.

use std::collections::HashMap;
use std::ops::Range;

use aimdb_core::BufferCfg;
use toml::Spanned;

use super::super::raw::RawRecord;
use super::super::{Problem, RecordConfig};
use crate::sparkplug::catalog::{command_metric, metrics_of};
use crate::sparkplug::config::{self as table, RawSparkplug};
use crate::sparkplug::payload::{BDSEQ, REBIRTH};
use crate::sparkplug::{DeviceLink, Origin, SparkplugConfig, SparkplugRecord};

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

/// A record's `sparkplug` field: the record's index, the record, the field.
type Flag<'a> = (usize, &'a Spanned<RawRecord>, &'a Spanned<toml::Value>);

/// Checks `[sparkplug]` (its own fields in `crate::sparkplug::config`) and the records'
/// `sparkplug` fields.
pub(super) fn section(
    inp: &Inputs<'_>,
    problems: &mut Vec<Problem>,
    _warnings: &mut Vec<Problem>,
) -> Option<SparkplugConfig> {
    let flags: Vec<Flag<'_>> = inp
        .raw_records
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.get_ref().sparkplug.as_ref().map(|f| (i, r, f)))
        .collect();
    let Some(raw) = inp.raw else {
        without_table(&flags, problems);
        return None;
    };
    let before = problems.len();
    let mut config = table::validate(raw, inp.node_id, inp.file, inp.have_mqtt, problems);
    config.records = records(inp, flags, problems);
    (problems.len() == before).then_some(config)
}

/// Without `[sparkplug]`, a record's `sparkplug` other than `false` is a mistake.
fn without_table(flags: &[Flag<'_>], problems: &mut Vec<Problem>) {
    for (_, r, f) in flags {
        if f.get_ref().as_bool() != Some(false) {
            problems.push(
                Problem::at(f.span(), "`sparkplug` needs a [sparkplug] table")
                    .with_hint("add `[sparkplug]` with `group_id = \"plant\"` (docs/SPARKPLUG.md)")
                    .in_record(r.get_ref().key.get_ref()),
            );
        }
    }
}

/// The records published over Sparkplug, each metric name given once among the node's (and
/// once among the devices') metrics.
fn records(
    inp: &Inputs<'_>,
    flags: Vec<Flag<'_>>,
    problems: &mut Vec<Problem>,
) -> Vec<SparkplugRecord> {
    let mut records = Vec::new();
    // Metric name → the record that gave it ("" for Sparkplug's own), node and devices apart.
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
        let Some(origin) = origin(rec, inp.node_id, flag.span(), &mut push) else {
            continue;
        };
        let (names, metrics) = match origin {
            Origin::Node => (&mut node_names, metrics_of(rec.ty, &metric)),
            Origin::Devices(_) => (&mut device_names, metrics_of(rec.ty, &metric)),
            Origin::Command { .. } => (&mut device_names, vec![command_metric(&metric)]),
        };
        for m in metrics {
            claim(names, m.name, key, flag.span(), &mut push);
        }
        records.push(SparkplugRecord {
            key: key.clone(),
            ty: rec.ty,
            metric,
            origin,
        });
    }
    records
}

/// Whose metrics `rec`'s values are: a device command, devices' or the node's; `None` (pushed)
/// for a mailbox that commands no device.
fn origin(
    rec: &RecordConfig,
    node_id: &str,
    span: Range<usize>,
    push: &mut impl FnMut(Problem),
) -> Option<Origin> {
    let commanded = rec
        .links_to
        .iter()
        .find_map(|l| command_device(&l.topic, node_id));
    let mailbox = rec.buffer == BufferCfg::Mailbox;
    if mailbox && commanded.is_none() {
        push(
            Problem::at(span, "a mailbox record cannot be a Sparkplug metric: its values are consumed once, by its reader")
                .with_hint("a mailbox with link_to = \"mqtt://aimdb/<node>/cmd/<key>\" is a device command (DCMD); otherwise publish a single_latest copy"),
        );
        return None;
    }
    let devices: Vec<DeviceLink> = rec
        .links_from
        .iter()
        .filter(|l| is_device_filter(&l.topic, node_id))
        .map(|l| DeviceLink {
            filter: l.topic.clone(),
            codec: l.codec,
        })
        .collect();
    Some(match (mailbox, commanded) {
        (true, Some(device)) => Origin::Command { device },
        _ if devices.is_empty() => Origin::Node,
        _ => Origin::Devices(devices),
    })
}

/// Records metric `name` as record `key`'s in `names`; a name already taken is pushed.
fn claim(
    names: &mut HashMap<String, String>,
    name: String,
    key: &str,
    span: Range<usize>,
    push: &mut impl FnMut(Problem),
) {
    let Some(other) = names.insert(name.clone(), key.to_string()) else {
        return;
    };
    let by = if other.is_empty() {
        "is reserved by Sparkplug".to_string()
    } else {
        format!("is also a metric of record {other:?}")
    };
    push(
        Problem::at(span, format!("Sparkplug metric {name:?} {by}"))
            .with_hint("give one of them another name: sparkplug = { metric = \"NAME\" }"),
    );
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
