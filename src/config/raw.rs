//! The config file as written: serde structs that keep the span of every value, so that later
//! checks can point at the exact field. Only TOML-level shape is checked here (unknown fields,
//! wrong value types); meaning is checked in [`super::validate`].

use serde::Deserialize;
use toml::{Spanned, Table};

/// The whole file, put together table by table by [`super::shape`].
#[derive(Debug, Default)]
pub(super) struct RawConfig {
    pub node: Option<Spanned<RawNode>>,
    pub mqtt: Option<Spanned<RawMqtt>>,
    pub store: Option<Spanned<RawStore>>,
    pub admin: Option<Spanned<RawAdmin>>,
    pub sparkplug: Option<Spanned<RawSparkplug>>,
    pub record: Vec<Spanned<RawRecord>>,
}

/// `[node]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNode {
    pub id: Spanned<String>,
    pub shutdown_timeout: Option<Spanned<String>>,
}

/// `[mqtt]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMqtt {
    pub url: Spanned<String>,
    pub client_id: Option<Spanned<String>>,
    pub keep_alive_s: Option<Spanned<i64>>,
    pub username: Option<Spanned<String>>,
    pub password_file: Option<Spanned<String>>,
    pub ca_file: Option<Spanned<String>>,
    pub cert_file: Option<Spanned<String>>,
    pub key_file: Option<Spanned<String>>,
    pub outbox: Option<Spanned<String>>,
    pub outbox_path: Option<Spanned<String>>,
    pub outbox_capacity: Option<Spanned<i64>>,
    pub outbox_max_bytes: Option<Spanned<i64>>,
    pub outbox_max_file_bytes: Option<Spanned<i64>>,
    pub outbox_full: Option<Spanned<String>>,
    pub max_packet_size: Option<Spanned<i64>>,
    pub clean_session: Option<Spanned<bool>>,
    pub reconnect_min: Option<Spanned<String>>,
    pub reconnect_max: Option<Spanned<String>>,
}

/// `[store]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStore {
    pub path: Option<Spanned<String>>,
    pub retention: Option<Spanned<String>>,
    pub max_rows: Option<Spanned<i64>>,
    pub sweep_interval: Option<Spanned<String>>,
    pub queue_capacity: Option<Spanned<i64>>,
    pub queue_max_bytes: Option<Spanned<i64>>,
    pub batch_size: Option<Spanned<i64>>,
    pub batch_delay: Option<Spanned<String>>,
}

/// `[admin]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    pub listen: Spanned<String>,
    pub allowed_hosts: Option<Spanned<Vec<Spanned<String>>>>,
    pub token_file: Option<Spanned<String>>,
    pub max_connections: Option<Spanned<i64>>,
    pub idle_timeout: Option<Spanned<String>>,
}

/// `[sparkplug]` (checked in `validate/sparkplug.rs`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSparkplug {
    pub group_id: Spanned<String>,
    pub edge_node_id: Option<Spanned<String>>,
    pub primary_host_id: Option<Spanned<String>>,
    pub store_forward_max_values: Option<Spanned<i64>>,
}

/// One `[[record]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRecord {
    pub key: Spanned<String>,
    #[serde(rename = "type")]
    pub type_name: Spanned<String>,
    pub buffer: Option<Spanned<RawBuffer>>,
    pub source: Option<Spanned<Table>>,
    pub transform: Option<Spanned<Table>>,
    #[serde(default)]
    pub tap: Vec<Spanned<Table>>,
    #[serde(default)]
    pub link_from: Vec<Spanned<RawLink>>,
    #[serde(default)]
    pub link_to: Vec<Spanned<RawLink>>,
    pub persist: Option<Spanned<bool>>,
    pub retention: Option<Spanned<String>>,
    pub max_rows: Option<Spanned<i64>>,
    pub restore: Option<Spanned<bool>>,
    /// `true`, `false` or `{ metric = "..." }`: checked in `validate/sparkplug.rs`.
    pub sparkplug: Option<Spanned<toml::Value>>,
}

/// `buffer = { kind = "...", capacity = N }`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBuffer {
    pub kind: Spanned<String>,
    pub capacity: Option<Spanned<i64>>,
}

/// One entry of `link_to` / `link_from`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLink {
    pub url: Spanned<String>,
    pub codec: Option<Spanned<String>>,
    pub qos: Option<Spanned<i64>>,
    pub retain: Option<Spanned<bool>>,
    pub node_into: Option<Spanned<String>>,
    pub outbox_full: Option<Spanned<String>>,
    pub allow_system_topics: Option<Spanned<bool>>,
}
