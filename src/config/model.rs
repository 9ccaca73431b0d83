//! The validated config: what the daemon runs. Every value here has passed its checks.

use std::sync::Arc;
use std::time::Duration;

use aimdb_core::{BufferCfg, WriterKind};

use super::codec::{codec_name, LinkCodec};
use crate::admin::config::AdminConfig;
use crate::components::{SourceInstance, TapInstance, TransformInstance};
use crate::mqtt::config::{MqttConfig, OutboxFull};
use crate::record_types::TypeEntry;
use crate::store::config::StoreConfig;

/// A validated config.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from, as given.
    pub(crate) file: String,
    /// `[node] id`.
    pub(crate) node_id: String,
    /// `[node] shutdown_timeout`: how long a drain may take (default 10 s).
    pub(crate) shutdown_timeout: Duration,
    /// `[mqtt]`, if present.
    pub(crate) mqtt: Option<MqttConfig>,
    /// `[store]`, if present.
    pub(crate) store: Option<StoreConfig>,
    /// `[admin]`, if present.
    pub(crate) admin: Option<AdminConfig>,
    /// `[sparkplug]`, if present (with the records it publishes).
    pub(crate) sparkplug: Option<crate::sparkplug::SparkplugConfig>,
    /// Records in file order.
    pub(crate) records: Vec<RecordConfig>,
    /// Indices into `records`, inputs before the records computed from them (core's
    /// topological order: records with no order between them by key).
    pub(crate) order: Vec<usize>,
    /// What may work but is risky, as `FILE:LINE:COL: warning: ...` lines (with a `  hint:`
    /// line where there is one): `check` prints them, the daemon logs them.
    pub(crate) warnings: Vec<String>,
}

/// One record.
#[derive(Debug, Clone)]
pub(crate) struct RecordConfig {
    /// Its key.
    pub(crate) key: String,
    /// Its type, resolved from `type = "..."` (`ty.name` is the config name).
    pub(crate) ty: &'static TypeEntry,
    /// Its buffer.
    pub(crate) buffer: BufferCfg,
    /// What writes it in the graph (`None`: inbound links or nothing).
    pub(crate) writer: Option<Writer>,
    /// Taps reading it.
    pub(crate) taps: Vec<TapConfig>,
    /// Outbound links.
    pub(crate) links_to: Vec<LinkConfig>,
    /// Inbound links.
    pub(crate) links_from: Vec<LinkConfig>,
    /// Whether its values go to the history store.
    pub(crate) persist: bool,
    /// History kept for this record, overriding `[store] retention`.
    pub(crate) retention: Option<Duration>,
    /// Most history rows kept for this record, overriding `[store] max_rows`.
    pub(crate) max_rows: Option<u64>,
    /// Seed the record with its newest stored value at start (single_latest, persist only).
    pub(crate) restore: bool,
}

impl RecordConfig {
    /// What writes the record (shown to operators by its `as_str`).
    pub(crate) fn writer_kind(&self) -> WriterKind {
        match (&self.writer, self.links_from.is_empty()) {
            (Some(Writer::Source(_)), _) => WriterKind::Source,
            (Some(Writer::Transform(_)), _) => WriterKind::Transform,
            (None, false) => WriterKind::LinkFrom,
            (None, true) => WriterKind::External,
        }
    }

    /// Keys this record is computed from.
    pub(crate) fn inputs(&self) -> Vec<&str> {
        match &self.writer {
            Some(Writer::Transform(t)) => t.inputs.iter().map(|(_, k)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }
}

/// The single writer of a record inside the graph.
#[derive(Debug, Clone)]
pub(crate) enum Writer {
    /// A built-in source.
    Source(SourceConfig),
    /// A built-in transform.
    Transform(TransformConfig),
}

/// A configured source.
#[derive(Debug, Clone)]
pub(crate) struct SourceConfig {
    /// Its kind.
    pub(crate) kind: &'static str,
    /// Its validated parameters and runtime.
    pub(crate) instance: Arc<dyn SourceInstance>,
}

/// A configured transform.
#[derive(Debug, Clone)]
pub(crate) struct TransformConfig {
    /// Its kind.
    pub(crate) kind: &'static str,
    /// `(field, input key)` for each input, in the kind's order.
    pub(crate) inputs: Vec<(&'static str, String)>,
    /// Its validated parameters and runtime.
    pub(crate) instance: Arc<dyn TransformInstance>,
}

/// A configured tap.
#[derive(Debug, Clone)]
pub(crate) struct TapConfig {
    /// Its kind.
    #[allow(dead_code)] // Read through `Debug`: the part fingerprint (src/engine/parts.rs).
    pub(crate) kind: &'static str,
    /// Its validated parameters and runtime.
    pub(crate) instance: Arc<dyn TapInstance>,
}

/// A validated link.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct LinkConfig {
    /// The URL as configured (`mqtt://<topic or filter>`).
    pub(crate) url: String,
    /// The MQTT topic (link_to) or filter (link_from), with `{node}` and `{key}` expanded and
    /// checked at config time.
    pub(crate) topic: String,
    /// Wire codec.
    #[serde(serialize_with = "codec_name")]
    pub(crate) codec: LinkCodec,
    /// MQTT QoS 0, 1 or 2.
    pub(crate) qos: u8,
    /// Retained publish (link_to only).
    pub(crate) retain: bool,
    /// link_from only: the string field of each value set to the node id of its
    /// `aimdb/<node>/...` topic (e.g. `"sensor_id"`).
    pub(crate) node_into: Option<String>,
    /// link_to only: what its outbox does when full, resolved from the graph (see
    /// `config::validate::flow`).
    pub(crate) outbox_full: OutboxFull,
}
