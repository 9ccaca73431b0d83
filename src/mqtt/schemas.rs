//! What each node speaks: the table of `aimdb/<node>/schema` announcements, the version the
//! gateway talks to each node in, and the payloads of a version this gateway does not know.
//!
//! Contract:
//! - [`NodeSchemas::announce`] replaces a node's entry with what its (retained) announcement
//!   lists; an empty payload (a cleared retained message) forgets the node. A malformed
//!   announcement is refused whole and the node's previous entry kept. At most [`MAX_NODES`]
//!   nodes are kept; announcements of further nodes are refused and counted.
//! - [`NodeSchemas::version_for`] is what encoders ask before each value to a node's topic: the
//!   newest version both sides know with the same schema id, this gateway's current version for
//!   a node that announced nothing, `None` when they share no version. It reads a cache that is
//!   refreshed only when the table changes ([`NodeSchemas::generation`]).
//! - A payload of a version this gateway does not know (or whose schema id differs) is counted
//!   per record and version (`aimdbd_mqtt_unknown_version_total`) and logged once per record and
//!   version, saying which side to upgrade ([`NodeSchemas::refused`]).
//! - Every change of what a node speaks is logged at info, and each type that no longer has a
//!   version in common with this gateway at warn (`aimdbd_node_schema_mismatch` is 1 for it).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;

use aimdb_records::announce::{self, AnnounceError, Spoken};
use parking_lot::{Mutex, RwLock};
use serde::Serialize;

use crate::record_types::{self, TypeEntry};
use crate::telemetry::exposition::{self, Encoded};
use prometheus_client::encoding::DescriptorEncoder;

/// Most nodes whose announcements are kept.
pub(crate) const MAX_NODES: usize = 256;

/// Longest announcement accepted, in bytes (far above what any build lists).
pub(crate) const MAX_ANNOUNCEMENT: usize = 16 * 1024;

/// What one node announced.
#[derive(Clone, Debug, Default)]
struct Announced {
    types: BTreeMap<String, Spoken>,
    at_ms: u64,
}

/// The process's table of node announcements; see the module doc.
#[derive(Default)]
pub(crate) struct NodeSchemas {
    nodes: RwLock<BTreeMap<String, Announced>>,
    generation: AtomicU64,
    refused: AtomicU64,
    unknown: Mutex<BTreeMap<(String, u16), u64>>,
}

static SCHEMAS: LazyLock<NodeSchemas> = LazyLock::new(NodeSchemas::default);

/// The process-wide table; like the daemon's [`super::metrics::MqttMetrics`], it outlives reloads.
pub(crate) fn schemas() -> &'static NodeSchemas {
    &SCHEMAS
}

/// Why an announcement was not taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RefusedAnnouncement {
    /// The payload does not parse.
    #[error(transparent)]
    Malformed(#[from] AnnounceError),
    /// It is longer than [`MAX_ANNOUNCEMENT`] bytes.
    #[error("{0} bytes is more than the {MAX_ANNOUNCEMENT} an announcement may have")]
    TooLong(usize),
    /// The table already holds [`MAX_NODES`] other nodes.
    #[error("already {MAX_NODES} nodes known")]
    TooManyNodes,
}

/// A node's versions of one type as `/api/nodes` shows them.
#[derive(Serialize)]
pub(crate) struct TypeView {
    /// The record type.
    #[serde(rename = "type")]
    pub(crate) type_name: String,
    /// The versions it announced, newest first, with their short schema ids (hex).
    pub(crate) versions: Vec<(u16, String)>,
    /// The version this gateway speaks with it, `null` if none in common (or the type is not
    /// one this gateway knows).
    pub(crate) speak: Option<u16>,
    /// This gateway's current version of the type (`null` if it does not know the type).
    pub(crate) ours: Option<u16>,
    /// Whether the type is one this gateway knows and they share no version.
    pub(crate) mismatch: bool,
}

/// One node as `/api/nodes` shows it.
#[derive(Serialize)]
pub(crate) struct NodeView {
    /// The node id.
    pub(crate) node: String,
    /// When its announcement arrived, ms since the Unix epoch.
    pub(crate) announced_ms: u64,
    /// What it speaks.
    pub(crate) types: Vec<TypeView>,
}

/// The version to speak with a node that lists `spoken` for the type of `entry`.
fn speak(entry: &TypeEntry, spoken: Option<&Spoken>) -> Option<u16> {
    (entry.negotiate)(spoken.map(|s| &s[..]))
}

/// Whether `entry`'s type is versioned (not the untyped `json`).
fn versioned(entry: &TypeEntry) -> bool {
    entry.version > 0
}

impl NodeSchemas {
    /// Takes `node`'s announcement `payload` received at `now_ms`; see the module doc.
    pub(crate) fn announce(
        &self,
        node: &str,
        payload: &[u8],
        now_ms: u64,
    ) -> Result<(), RefusedAnnouncement> {
        if payload.len() > MAX_ANNOUNCEMENT {
            return self.refuse(RefusedAnnouncement::TooLong(payload.len()));
        }
        if payload.is_empty() {
            if self.nodes.write().remove(node).is_some() {
                self.generation.fetch_add(1, Ordering::Release);
                tracing::info!(node, "node withdrew its schema announcement");
            }
            return Ok(());
        }
        let mut types = BTreeMap::new();
        for entry in announce::entries(payload) {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => return self.refuse(e.into()),
            };
            types.insert(entry.type_name.to_string(), entry.versions);
        }
        let mut nodes = self.nodes.write();
        if !nodes.contains_key(node) && nodes.len() >= MAX_NODES {
            drop(nodes);
            return self.refuse(RefusedAnnouncement::TooManyNodes);
        }
        let before = nodes.get(node).map(|a| a.types.clone());
        if before.as_ref() == Some(&types) {
            if let Some(a) = nodes.get_mut(node) {
                a.at_ms = now_ms;
            }
            return Ok(());
        }
        nodes.insert(
            node.to_string(),
            Announced {
                types: types.clone(),
                at_ms: now_ms,
            },
        );
        drop(nodes);
        self.generation.fetch_add(1, Ordering::Release);
        log_change(node, &types);
        Ok(())
    }

    fn refuse(&self, why: RefusedAnnouncement) -> Result<(), RefusedAnnouncement> {
        self.refused.fetch_add(1, Ordering::Relaxed);
        Err(why)
    }

    /// Changes whenever the table does; encoders cache [`NodeSchemas::version_for`] by it.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The version of `entry`'s type to send to `node`; see the module doc.
    pub(crate) fn version_for(&self, node: &str, entry: &TypeEntry) -> Option<u16> {
        let nodes = self.nodes.read();
        speak(entry, nodes.get(node).and_then(|a| a.types.get(entry.name)))
    }

    /// Counts a payload for `record` (of type `type_name`) refused because of its version;
    /// logs the first of each record and version.
    pub(crate) fn refused(&self, record: &str, type_name: &str, version: u16, why: &str) {
        let first = {
            let mut unknown = self.unknown.lock();
            let n = unknown.entry((record.to_string(), version)).or_insert(0);
            *n += 1;
            *n == 1
        };
        if first {
            tracing::warn!(
                record,
                r#type = type_name,
                version,
                "dropping {type_name} v{version} payloads for record {record:?}: {why}; \
                 upgrade aimdbd to a build that knows it, or let the sender speak a version \
                 this gateway announces on its schema topic (logged once per record and version, \
                 counted in aimdbd_mqtt_unknown_version_total)"
            );
        }
    }

    #[cfg(test)]
    /// How many payloads of `version` were refused for `record`.
    pub(crate) fn refused_count(&self, record: &str, version: u16) -> u64 {
        let unknown = self.unknown.lock();
        unknown
            .get(&(record.to_string(), version))
            .copied()
            .unwrap_or(0)
    }

    /// Every node, for `/api/nodes` and `aimdbd ctl nodes`.
    pub(crate) fn view(&self) -> Vec<NodeView> {
        let nodes = self.nodes.read();
        nodes
            .iter()
            .map(|(node, a)| NodeView {
                node: node.clone(),
                announced_ms: a.at_ms,
                types: a
                    .types
                    .iter()
                    .map(|(name, spoken)| type_view(name, spoken))
                    .collect(),
            })
            .collect()
    }

    /// Writes this table's metric families.
    pub(crate) fn encode(&self, enc: &mut DescriptorEncoder<'_>) -> Encoded {
        let mismatches: Vec<([(&str, String); 2], u32)> = self
            .view()
            .into_iter()
            .flat_map(|n| {
                n.types
                    .into_iter()
                    .filter(|t| t.ours.is_some())
                    .map(move |t| {
                        (
                            [("node", n.node.clone()), ("record", t.type_name)],
                            u32::from(t.mismatch),
                        )
                    })
            })
            .collect();
        exposition::gauges(
            enc,
            "aimdbd_node_schema_mismatch",
            "1 for each record type a node announced that this gateway knows but shares no version with (schema id included); 0 where they meet.",
            mismatches,
        )?;
        let unknown: Vec<([(&str, String); 2], u64)> = self
            .unknown
            .lock()
            .iter()
            .map(|((r, v), n)| ([("record", r.clone()), ("version", v.to_string())], *n))
            .collect();
        exposition::counters(
            enc,
            "aimdbd_mqtt_unknown_version_total",
            "Inbound payloads dropped because this gateway does not know their version (or its schema id differs), by record and version.",
            unknown,
        )?;
        exposition::counter(
            enc,
            "aimdbd_node_schema_announcements_refused_total",
            "Schema announcements refused: malformed, too long, or beyond the 256 nodes kept.",
            self.refused.load(Ordering::Relaxed),
        )
    }
}

fn type_view(name: &str, spoken: &Spoken) -> TypeView {
    let entry = record_types::lookup(name).filter(|e| versioned(e));
    let speak = entry.and_then(|e| speak(e, Some(spoken)));
    TypeView {
        type_name: name.to_string(),
        versions: spoken
            .iter()
            .map(|(v, s)| (*v, format!("{s:08x}")))
            .collect(),
        speak,
        ours: entry.map(|e| e.version),
        mismatch: entry.is_some() && speak.is_none(),
    }
}

/// What to do when a peer speaking `spoken` and this gateway (current version `ours`) share no
/// version of a type.
pub(crate) fn mismatch_hint(spoken: &Spoken, ours: u16) -> &'static str {
    if spoken.iter().all(|(v, _)| *v > ours) {
        "upgrade aimdbd"
    } else if spoken.iter().all(|(v, _)| *v < ours) {
        "upgrade the node's firmware"
    } else {
        "the schema ids differ: one side changed the type without a version bump"
    }
}

/// `v2,v1`: the versions of `spoken`, as logs and `check` write them.
pub(crate) fn versions_text(spoken: &Spoken) -> String {
    let v: Vec<String> = spoken.iter().map(|(v, _)| format!("v{v}")).collect();
    v.join(",")
}

fn log_change(node: &str, types: &BTreeMap<String, Spoken>) {
    let listed: Vec<String> = types
        .iter()
        .map(|(t, s)| format!("{t} {}", versions_text(s)))
        .collect();
    tracing::info!(node, speaks = %listed.join("; "), "node announced its record types");
    let mut mismatched = BTreeSet::new();
    for (name, spoken) in types {
        let view = type_view(name, spoken);
        if view.mismatch {
            mismatched.insert(name.clone());
            let ours = view.ours.unwrap_or(0);
            let hint = mismatch_hint(spoken, ours);
            tracing::warn!(
                node,
                r#type = %name,
                "node {node} speaks {name} {} and this gateway {name} v{ours} (and older): no version in common, so their {name} values are dropped both ways; {hint}",
                versions_text(spoken)
            );
        }
    }
}

/// This gateway's own announcement: every record type it knows, all versions.
pub(crate) fn own_announcement() -> String {
    let mut out = String::new();
    for entry in record_types::TYPES.iter().filter(|e| versioned(e)) {
        (entry.announce)(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimdb_records::{Temperature, Versioned};

    #[test]
    fn announcements_are_kept_replaced_and_refused() {
        let table = std::sync::Arc::new(NodeSchemas::default());
        let t1 = Temperature::SCHEMA_ID.short();
        let temp = record_types::lookup("Temperature").unwrap();
        assert_eq!(table.version_for("n1", temp), Some(1), "unannounced: ours");
        let g0 = table.generation();
        table
            .announce(
                "n1",
                format!("Temperature 2:0000abcd 1:{t1:08x}\n").as_bytes(),
                5,
            )
            .unwrap();
        assert_ne!(table.generation(), g0);
        assert_eq!(table.version_for("n1", temp), Some(1));
        table
            .announce("n1", b"Temperature 2:0000abcd\nFancy 1:00000001\n", 6)
            .unwrap();
        assert_eq!(table.version_for("n1", temp), None);
        let view = table.view();
        assert!(view[0]
            .types
            .iter()
            .any(|t| t.type_name == "Temperature" && t.mismatch));
        assert!(view[0]
            .types
            .iter()
            .any(|t| t.type_name == "Fancy" && !t.mismatch));
        let shown = std::sync::Arc::clone(&table);
        let text = crate::telemetry::exposition::text(move |enc| shown.encode(enc));
        assert!(
            text.contains("aimdbd_node_schema_mismatch{node=\"n1\",record=\"Temperature\"} 1"),
            "{text}"
        );
        assert!(!text.contains("record=\"Fancy\""), "{text}");

        assert!(table.announce("n1", b"garbage", 7).is_err());
        assert_eq!(table.version_for("n1", temp), None, "previous entry kept");
        table.announce("n1", b"", 8).unwrap();
        assert_eq!(table.version_for("n1", temp), Some(1), "forgotten");
        assert!(table
            .announce("n1", &vec![b'a'; MAX_ANNOUNCEMENT + 1], 9)
            .is_err());
    }

    #[test]
    fn refused_versions_are_counted_per_record_and_version() {
        let table = std::sync::Arc::new(NodeSchemas::default());
        table.refused("sensor.t", "Temperature", 2, "unknown");
        table.refused("sensor.t", "Temperature", 2, "unknown");
        table.refused("sensor.t", "Temperature", 3, "unknown");
        assert_eq!(table.refused_count("sensor.t", 2), 2);
        let shown = std::sync::Arc::clone(&table);
        let text = crate::telemetry::exposition::text(move |enc| shown.encode(enc));
        assert!(
            text.contains("aimdbd_mqtt_unknown_version_total{record=\"sensor.t\",version=\"2\"} 2")
        );
    }

    #[test]
    fn own_announcement_lists_every_record_type() {
        let text = own_announcement();
        assert_eq!(text.lines().count(), aimdb_records::RECORD_TYPE_NAMES.len());
        assert!(text.starts_with(&format!(
            "Temperature 1:{:08x}\n",
            Temperature::SCHEMA_ID.short()
        )));
    }
}
