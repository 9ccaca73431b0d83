//! [`EdgeNode`]: the Sparkplug state of this edge node and its devices — metrics and aliases,
//! the last value sent of each metric, which devices are born, and the message `seq` — as a
//! pure state machine: events in, messages to publish out. The session ([`super::session`])
//! does the I/O.
//!
//! - `seq` counts every message of the edge node (NBIRTH = 0, then each DBIRTH, NDATA, DDATA,
//!   DDEATH), 0–255 wrapping; NDEATH has none.
//! - Aliases are unique across the node and all its devices, assigned at a birth and kept until
//!   the next NBIRTH.
//! - NDATA/DDATA carry only the metrics whose value changed since the last birth or data
//!   message, by alias.

use std::collections::BTreeMap;
use std::sync::Arc;

use aimdb_records::types::NodeStatus;
use serde_json::Value;

use super::catalog::{command_metric, metrics_of, MetricDef};
use super::config::{Origin, SparkplugConfig};
use super::history::{self, History};
use super::payload::{self, birth_metric, data_metric, now_ms};
use super::proto::payload::metric::Value as MetricValue;
use super::proto::payload::Metric;
use super::stats::stats;
use super::table::{AliasRow, AliasTable};
use super::topic::{EdgeTopics, MessageType};
use crate::config::LinkCodec;
use crate::record_types::TypeEntry;

/// The alias of `Node Control/Rebirth`; node and device metrics follow it.
pub(crate) const REBIRTH_ALIAS: u64 = 1;

/// A message to publish (QoS 0, not retained).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outgoing {
    /// Its topic.
    pub(crate) topic: String,
    /// The encoded Sparkplug B payload.
    pub(crate) payload: Vec<u8>,
}

/// The metrics of one record (of the node or of one device).
#[derive(Debug)]
struct Slot {
    defs: Vec<MetricDef>,
    aliases: Vec<u64>,
    last: Vec<Option<MetricValue>>,
}

impl Slot {
    fn new(entry: &TypeEntry, metric: &str, next_alias: &mut u64) -> Self {
        Self::of(metrics_of(entry, metric), next_alias)
    }

    fn of(defs: Vec<MetricDef>, next_alias: &mut u64) -> Self {
        let aliases = defs
            .iter()
            .map(|_| {
                let a = *next_alias;
                *next_alias += 1;
                a
            })
            .collect();
        let last = vec![None; defs.len()];
        Self {
            defs,
            aliases,
            last,
        }
    }

    /// Takes `value`; the metrics that changed, as data metrics.
    fn set(&mut self, value: &Value, ts: u64) -> Vec<Metric> {
        let mut changed = Vec::new();
        for (i, def) in self.defs.iter().enumerate() {
            let v = super::value::metric_value(def, value);
            if v != self.last[i] {
                changed.push(data_metric(self.aliases[i], v.clone(), ts));
                self.last[i] = v;
            }
        }
        changed
    }

    /// `metrics` (of this slot, by alias) by name instead, for the disk copy of held values.
    fn named(&self, metrics: &[Metric]) -> Vec<Metric> {
        metrics
            .iter()
            .filter_map(|m| {
                let i = self.aliases.iter().position(|a| Some(*a) == m.alias)?;
                let mut m = m.clone();
                m.name = Some(self.defs[i].name.clone());
                m.alias = None;
                Some(m)
            })
            .collect()
    }

    /// The alias of metric `name` of this slot.
    fn alias_of(&self, name: &str) -> Option<u64> {
        let i = self.defs.iter().position(|d| d.name == name)?;
        Some(self.aliases[i])
    }

    fn birth(&self, ts: u64, out: &mut Vec<Metric>) {
        for (i, def) in self.defs.iter().enumerate() {
            out.push(birth_metric(def, self.aliases[i], self.last[i].clone(), ts));
        }
    }
}

/// One Sparkplug device: an MCU node.
#[derive(Debug)]
struct Device {
    /// Born (DBIRTH sent since the last NBIRTH) and not dead since.
    born: bool,
    /// Online by its status (or its first message) and not offline since.
    online: bool,
    /// `(index into the config's records, its metrics)`, for every device record it serves.
    slots: Vec<(usize, Slot)>,
}

/// The edge node's Sparkplug state.
#[derive(Debug)]
pub(crate) struct EdgeNode {
    cfg: Arc<SparkplugConfig>,
    topics: EdgeTopics,
    /// `(index into the config's records, its metrics)` of the node records.
    node: Vec<(usize, Slot)>,
    devices: BTreeMap<String, Device>,
    next_alias: u64,
    seq: u8,
    bdseq: u8,
    born: bool,
    table_version: u64,
    /// Store-and-forward (with a primary host): values produced while not born.
    history: History,
}

impl EdgeNode {
    /// The state for `cfg`, not born.
    pub(crate) fn new(cfg: Arc<SparkplugConfig>) -> Self {
        let topics = EdgeTopics::new(&cfg.group_id, &cfg.edge_node_id);
        let mut e = Self {
            topics,
            node: Vec::new(),
            devices: BTreeMap::new(),
            next_alias: REBIRTH_ALIAS + 1,
            seq: 0,
            bdseq: 0,
            born: false,
            table_version: 0,
            history: History::new(held_max(&cfg)),
            cfg,
        };
        e.assign_aliases();
        e
    }

    /// The config it serves.
    pub(crate) fn config(&self) -> &Arc<SparkplugConfig> {
        &self.cfg
    }

    /// Whether NBIRTH was sent on the current connection.
    pub(crate) fn is_born(&self) -> bool {
        self.born
    }

    /// The `bdSeq` of the last births.
    pub(crate) fn bdseq(&self) -> u8 {
        self.bdseq
    }

    /// Its topics.
    pub(crate) fn topics(&self) -> &EdgeTopics {
        &self.topics
    }

    /// Takes a new config of the same edge node (a reload): metrics and aliases are built
    /// anew, the values known are kept by metric name; the caller sends [`births`](Self::births).
    pub(crate) fn reconfigure(&mut self, cfg: Arc<SparkplugConfig>) {
        let old_node = std::mem::take(&mut self.node);
        let known: BTreeMap<String, Option<MetricValue>> = old_node
            .iter()
            .flat_map(|(_, s)| s.defs.iter().map(|d| d.name.clone()).zip(s.last.clone()))
            .collect();
        self.history.reset(
            held_max(&cfg),
            "a reload assigns new aliases to the metrics",
        );
        self.cfg = cfg;
        for d in self.devices.values_mut() {
            d.slots.clear();
        }
        self.assign_aliases();
        for (_, s) in &mut self.node {
            for (i, d) in s.defs.iter().enumerate() {
                if let Some(v) = known.get(&d.name) {
                    s.last[i] = v.clone();
                }
            }
        }
    }

    fn assign_aliases(&mut self) {
        self.next_alias = REBIRTH_ALIAS + 1;
        self.node.clear();
        for (i, r) in self.cfg.records.iter().enumerate() {
            if let Origin::Node = r.origin {
                self.node
                    .push((i, Slot::new(r.ty, &r.metric, &mut self.next_alias)));
            }
        }
        let names: Vec<String> = self.devices.keys().cloned().collect();
        for n in names {
            let slots = self.device_slots(&n);
            if let Some(d) = self.devices.get_mut(&n) {
                d.slots = slots;
            }
        }
    }

    fn device_slots(&mut self, node: &str) -> Vec<(usize, Slot)> {
        let mut slots = Vec::new();
        for (i, r) in self.cfg.records.iter().enumerate() {
            if !r.of_device(node) {
                continue;
            }
            if let Origin::Command { .. } = r.origin {
                let def = command_metric(&r.metric);
                slots.push((i, Slot::of(vec![def], &mut self.next_alias)));
            } else {
                slots.push((i, Slot::new(r.ty, &r.metric, &mut self.next_alias)));
            }
        }
        slots
    }

    /// The node records: `(index into the config's records, key, type)`, for the session to
    /// read from the graph.
    pub(crate) fn node_records(&self) -> Vec<(usize, String, &'static TypeEntry)> {
        self.node
            .iter()
            .map(|(i, _)| {
                let r = &self.cfg.records[*i];
                (*i, r.key.clone(), r.ty)
            })
            .collect()
    }

    fn next_seq(&mut self) -> u8 {
        let s = self.seq;
        self.seq = self.seq.wrapping_add(1);
        s
    }

    /// NBIRTH (`seq` 0, `bdSeq`, `Node Control/Rebirth`, every node metric with its current
    /// value), then a DBIRTH for every online device. Used after each connect and for a rebirth.
    pub(crate) fn births(&mut self, bdseq: u8) -> Vec<Outgoing> {
        self.bdseq = bdseq;
        self.seq = 0;
        let ts = now_ms();
        let mut metrics = vec![
            payload::bdseq_metric(bdseq, ts),
            payload::rebirth_metric(REBIRTH_ALIAS, ts),
        ];
        for (_, s) in &self.node {
            s.birth(ts, &mut metrics);
        }
        let seq = self.next_seq();
        let mut out = vec![Outgoing {
            topic: self.topics.node(MessageType::NBirth),
            payload: payload::encode(metrics, Some(seq), ts),
        }];
        stats().node_birth();
        self.born = true;
        self.table_version += 1;
        let online: Vec<String> = self
            .devices
            .iter()
            .filter(|(_, d)| d.online)
            .map(|(n, _)| n.clone())
            .collect();
        for d in self.devices.values_mut() {
            d.born = false;
        }
        for n in online {
            out.extend(self.dbirth(&n));
        }
        self.forward_held(&mut out);
        out
    }

    /// The values held while not born, after the births: NDATA/DDATA with `is_historical`
    /// metrics, in the order produced. A device not born now (it went offline meanwhile) has
    /// no aliases for the host: its values are dropped, counted and logged.
    fn forward_held(&mut self, out: &mut Vec<Outgoing>) {
        if self.history.is_empty() {
            return;
        }
        let ts = now_ms();
        let mut sent = 0;
        let held = self.history.take();
        let held = self.resolve_names(held);
        for (device, metrics, values) in history::batches(held) {
            let topic = match &device {
                None => self.topics.node(MessageType::NData),
                Some(d) if self.devices.get(d).is_some_and(|d| d.born) => {
                    self.topics.device(MessageType::DData, d)
                }
                Some(d) => {
                    stats().held_dropped(values);
                    tracing::warn!(
                        device = %d,
                        dropped = values,
                        "sparkplug: store-and-forward values of a device that is not born dropped"
                    );
                    continue;
                }
            };
            let seq = self.next_seq();
            sent += values;
            out.push(Outgoing {
                topic,
                payload: payload::encode(metrics, Some(seq), ts),
            });
        }
        stats().historical_sent(sent);
        tracing::info!(
            values = sent,
            "sparkplug: held values sent with is_historical"
        );
    }

    /// Gives the held values loaded by name (from the disk copy) their aliases; a metric this
    /// node or device no longer has is dropped, and a value left with none is dropped, counted
    /// and logged.
    fn resolve_names(&self, held: Vec<history::Held>) -> Vec<history::Held> {
        let mut dropped = 0;
        let out: Vec<history::Held> = held
            .into_iter()
            .filter_map(|mut h| {
                if h.metrics.iter().all(|m| m.alias.is_some()) {
                    return Some(h);
                }
                let slots: Vec<&Slot> = match &h.device {
                    None => self.node.iter().map(|(_, s)| s).collect(),
                    Some(d) => self
                        .devices
                        .get(d)
                        .map(|d| d.slots.iter().map(|(_, s)| s).collect())
                        .unwrap_or_default(),
                };
                h.metrics.retain_mut(|m| {
                    if m.alias.is_some() {
                        return true;
                    }
                    let alias = m
                        .name
                        .as_deref()
                        .and_then(|n| slots.iter().find_map(|s| s.alias_of(n)));
                    m.alias = alias;
                    m.name = None;
                    alias.is_some()
                });
                if h.metrics.is_empty() {
                    dropped += 1;
                    None
                } else {
                    Some(h)
                }
            })
            .collect();
        if dropped > 0 {
            stats().held_dropped(dropped);
            tracing::warn!(
                dropped,
                "sparkplug: store-and-forward values from before the restart name metrics this edge node no longer has; dropped"
            );
        }
        out
    }

    /// Keeps a disk copy of the held values from now on (see [`History::attach_disk`]).
    pub(crate) fn attach_disk(
        &mut self,
        disk: super::held_disk::HeldDisk,
        loaded: Vec<super::held_disk::Loaded>,
    ) {
        self.history.attach_disk(disk, loaded);
    }

    /// Takes the disk copy out, to close it.
    pub(crate) fn take_disk(&mut self) -> Option<super::held_disk::HeldDisk> {
        self.history.take_disk()
    }

    /// Values held for store-and-forward now.
    pub(crate) fn held(&self) -> usize {
        self.history.len()
    }

    fn dbirth(&mut self, node: &str) -> Option<Outgoing> {
        if !self.born {
            return None;
        }
        let ts = now_ms();
        let seq = self.seq;
        let d = self.devices.get_mut(node)?;
        let mut metrics = Vec::new();
        for (_, s) in &d.slots {
            s.birth(ts, &mut metrics);
        }
        d.born = true;
        self.seq = seq.wrapping_add(1);
        stats().device_birth();
        Some(Outgoing {
            topic: self.topics.device(MessageType::DBirth, node),
            payload: payload::encode(metrics, Some(seq), ts),
        })
    }

    /// The connection is gone: nothing is born until the next [`births`](Self::births).
    pub(crate) fn disconnected(&mut self) {
        self.born = false;
        self.table_version += 1;
        for d in self.devices.values_mut() {
            d.born = false;
        }
    }

    /// A new value of node record `record` (index into the config's records): NDATA with the
    /// metrics that changed, if born and any did.
    pub(crate) fn node_value(&mut self, record: usize, value: &Value) -> Option<Outgoing> {
        let ts = now_ms();
        let (_, slot) = self.node.iter_mut().find(|(i, _)| *i == record)?;
        let changed = slot.set(value, ts);
        if !self.born {
            let named = slot.named(&changed);
            self.history.hold(None, changed, named);
            return None;
        }
        if changed.is_empty() {
            return None;
        }
        let seq = self.next_seq();
        Some(Outgoing {
            topic: self.topics.node(MessageType::NData),
            payload: payload::encode(changed, Some(seq), ts),
        })
    }

    fn device_entry(&mut self, node: &str) -> Option<&mut Device> {
        if node == self.cfg.node_id {
            return None;
        }
        if !self.devices.contains_key(node) {
            let slots = self.device_slots(node);
            if slots.is_empty() {
                return None;
            }
            self.table_version += 1;
            self.devices.insert(
                node.to_string(),
                Device {
                    born: false,
                    online: false,
                    slots,
                },
            );
        }
        self.devices.get_mut(node)
    }

    /// Node `node`'s status changed: DBIRTH when it comes online, DDEATH when it goes offline
    /// (if it was born).
    pub(crate) fn device_status(&mut self, node: &str, status: NodeStatus) -> Option<Outgoing> {
        let d = self.device_entry(node)?;
        match status {
            NodeStatus::Online => {
                d.online = true;
                if d.born {
                    return None;
                }
                self.dbirth(node)
            }
            NodeStatus::Offline => {
                d.online = false;
                if !std::mem::replace(&mut d.born, false) || !self.born {
                    return None;
                }
                let ts = now_ms();
                let seq = self.next_seq();
                stats().device_death();
                Some(Outgoing {
                    topic: self.topics.device(MessageType::DDeath, node),
                    payload: payload::encode(Vec::new(), Some(seq), ts),
                })
            }
        }
    }

    /// A message on `topic` (`aimdb/<node>/<key>`) that a device record's link matches: DBIRTH
    /// if the node was not born yet (its first message means it is online), else DDATA with
    /// what changed. `Ok(None)`: not a device record's topic, or nothing to send. `Err`: the
    /// payload does not decode (the caller counts and logs it).
    pub(crate) fn device_message(
        &mut self,
        node: &str,
        topic: &str,
        bytes: &[u8],
    ) -> Result<Option<Outgoing>, String> {
        let mut value = None;
        for (i, r) in self.cfg.records.iter().enumerate() {
            let Some(link) = r
                .device_links()
                .iter()
                .find(|l| aimdb_records::topic::filter_matches(&l.filter, topic))
            else {
                continue;
            };
            value = Some((i, decode(r.ty, link.codec, bytes)?));
            break;
        }
        let Some((record, value)) = value else {
            return Ok(None);
        };
        let ts = now_ms();
        let Some(d) = self.device_entry(node) else {
            return Ok(None);
        };
        d.online = true;
        let mut changed = Vec::new();
        let mut named = Vec::new();
        for (i, s) in &mut d.slots {
            if *i == record {
                changed = s.set(&value, ts);
                named = s.named(&changed);
            }
        }
        let device_born = d.born;
        if !self.born {
            self.history.hold(Some(node), changed, named);
            return Ok(None);
        }
        if !device_born {
            return Ok(self.dbirth(node));
        }
        if changed.is_empty() {
            return Ok(None);
        }
        let seq = self.next_seq();
        Ok(Some(Outgoing {
            topic: self.topics.device(MessageType::DData, node),
            payload: payload::encode(changed, Some(seq), ts),
        }))
    }

    /// A DCMD to device `node`: the `(record key, value)` writes it asks for, each metric
    /// resolved by name or alias among the device's command records, its String value read as
    /// JSON (or, if it is not JSON, as a JSON string: `identify` = `"identify"`). Refused whole
    /// if any metric is not a command of the device or not a String.
    pub(crate) fn device_command(
        &self,
        node: &str,
        bytes: &[u8],
    ) -> Result<Vec<(String, Value)>, payload::CommandError> {
        use payload::CommandError;
        use prost::Message as _;
        let p = super::proto::Payload::decode(bytes)
            .map_err(|e| CommandError::Decode(e.to_string()))?;
        let d = self
            .devices
            .get(node)
            .ok_or_else(|| CommandError::Unknown(format!("device {node:?}")))?;
        let mut writes = Vec::new();
        for m in &p.metrics {
            let shown = || {
                m.name
                    .clone()
                    .or_else(|| m.alias.map(|a| format!("alias {a}")))
                    .unwrap_or_default()
            };
            let found = d.slots.iter().find(|(i, s)| {
                matches!(self.cfg.records[*i].origin, Origin::Command { .. })
                    && (m.name.as_deref() == Some(s.defs[0].name.as_str())
                        || (m.name.is_none() && m.alias == Some(s.aliases[0])))
            });
            let Some((i, _)) = found else {
                return Err(CommandError::Unknown(shown()));
            };
            let Some(MetricValue::StringValue(text)) = &m.value else {
                return Err(CommandError::NotText(shown()));
            };
            let value = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()));
            writes.push((self.cfg.records[*i].key.clone(), value));
        }
        Ok(writes)
    }

    /// Changes whenever the alias table does (a birth, a new device).
    pub(crate) fn table_version(&self) -> u64 {
        self.table_version
    }

    /// The alias table, node metrics first.
    pub(crate) fn aliases(&self) -> AliasTable {
        let mut metrics = vec![AliasRow {
            device: None,
            metric: payload::REBIRTH.to_string(),
            alias: REBIRTH_ALIAS,
            datatype: "Boolean",
        }];
        let rows = |dev: Option<&String>, slots: &[(usize, Slot)], out: &mut Vec<AliasRow>| {
            for (_, s) in slots {
                for (d, a) in s.defs.iter().zip(&s.aliases) {
                    out.push(AliasRow {
                        device: dev.cloned(),
                        metric: d.name.clone(),
                        alias: *a,
                        datatype: d.datatype.as_str_name(),
                    });
                }
            }
        };
        rows(None, &self.node, &mut metrics);
        for (n, d) in &self.devices {
            rows(Some(n), &d.slots, &mut metrics);
        }
        AliasTable {
            group_id: self.cfg.group_id.clone(),
            edge_node_id: self.cfg.edge_node_id.clone(),
            bdseq: self.bdseq,
            born: self.born,
            metrics,
        }
    }
}

/// How many values store-and-forward holds: none without a primary host.
fn held_max(cfg: &SparkplugConfig) -> Option<usize> {
    cfg.primary_host_id
        .as_ref()
        .map(|_| cfg.store_forward_max_values)
}

fn decode(entry: &TypeEntry, codec: LinkCodec, bytes: &[u8]) -> Result<Value, String> {
    match codec {
        LinkCodec::Wire(c) => (entry.decode_json)(c, bytes),
        LinkCodec::Text => std::str::from_utf8(bytes)
            .map(|s| Value::String(s.to_string()))
            .map_err(|e| format!("text payload is not UTF-8: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sparkplug::proto::Payload;
    use prost::Message as _;
    use serde_json::json;

    fn node(primary: bool) -> EdgeNode {
        EdgeNode::new(Arc::new(SparkplugConfig {
            group_id: "plant".into(),
            edge_node_id: "gw".into(),
            primary_host_id: primary.then(|| "scada".to_string()),
            store_forward_max_values: 100,
            node_id: "gw".into(),
            bdseq_path: std::path::PathBuf::from("unused"),
            held_path: std::path::PathBuf::from("unused"),
            records: vec![crate::sparkplug::SparkplugRecord {
                key: "sim.temp".into(),
                ty: crate::record_types::lookup("Temperature").unwrap(),
                metric: "sim.temp".into(),
                origin: Origin::Node,
            }],
        }))
    }

    fn temp(c: f64, ts: u64) -> Value {
        json!({"sensor_id": "gw", "celsius": c, "timestamp_ms": ts})
    }

    #[test]
    fn values_while_not_born_follow_the_births_as_historical_in_order() {
        let mut e = node(true);
        let idx = e.node_records()[0].0;
        for (i, c) in [1.0, 2.0, 3.0].into_iter().enumerate() {
            assert_eq!(
                e.node_value(idx, &temp(c, i as u64)),
                None,
                "not born: held"
            );
        }
        assert_eq!(e.held(), 3);
        let out = e.births(4);
        assert_eq!(e.held(), 0);
        assert!(out[0].topic.ends_with("/NBIRTH/gw"));
        // The three values share one NDATA, after the NBIRTH, with the next seq.
        assert_eq!(out.len(), 2);
        assert!(out[1].topic.ends_with("/NDATA/gw"));
        let p = Payload::decode(out[1].payload.as_slice()).unwrap();
        assert_eq!(p.seq, Some(1));
        assert!(p.metrics.iter().all(|m| m.is_historical == Some(true)));
        let celsius: Vec<_> = p
            .metrics
            .iter()
            .filter(|m| m.alias == Some(REBIRTH_ALIAS + 2))
            .map(|m| m.value.clone())
            .collect();
        assert_eq!(
            celsius,
            [1.0, 2.0, 3.0]
                .map(|c| Some(MetricValue::FloatValue(c)))
                .to_vec()
        );
        // Born: live data is not held, not historical.
        let live = e.node_value(idx, &temp(4.0, 9)).unwrap();
        let p = Payload::decode(live.payload.as_slice()).unwrap();
        assert!(p.metrics.iter().all(|m| m.is_historical.is_none()));
        // A reload drops what is held (new aliases).
        e.disconnected();
        e.node_value(idx, &temp(5.0, 10));
        assert_eq!(e.held(), 1);
        let cfg = e.config().clone();
        e.reconfigure(cfg);
        assert_eq!(e.held(), 0);
    }

    #[test]
    fn without_a_primary_host_nothing_is_held() {
        let mut e = node(false);
        let idx = e.node_records()[0].0;
        e.node_value(idx, &temp(1.0, 1));
        assert_eq!(e.held(), 0);
        assert_eq!(e.births(0).len(), 1);
    }
}
