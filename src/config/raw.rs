//! The config file as written: serde structs that keep the span of every value, so that later
//! checks can point at the exact field. Only TOML-level shape is checked here (unknown fields,
//! wrong value types); meaning is checked in [`super::validate`].

use serde::Deserialize;
use toml::{Spanned, Table};

use crate::admin::config::RawAdmin;
use crate::mqtt::config::RawMqtt;
use crate::sparkplug::config::RawSparkplug;
use crate::store::config::RawStore;

/// The whole file, put together table by table by [`super::shape`].
#[derive(Debug, Default)]
pub(super) struct RawConfig {
    pub(crate) node: Option<Spanned<RawNode>>,
    pub(crate) mqtt: Option<Spanned<RawMqtt>>,
    pub(crate) store: Option<Spanned<RawStore>>,
    pub(crate) admin: Option<Spanned<RawAdmin>>,
    pub(crate) sparkplug: Option<Spanned<RawSparkplug>>,
    pub(crate) record: Vec<Spanned<RawRecord>>,
}

/// `[node]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNode {
    pub(crate) id: Spanned<String>,
    pub(crate) shutdown_timeout: Option<Spanned<String>>,
}

/// One `[[record]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRecord {
    pub(crate) key: Spanned<String>,
    #[serde(rename = "type")]
    pub(crate) type_name: Spanned<String>,
    pub(crate) buffer: Option<Spanned<RawBuffer>>,
    pub(crate) source: Option<Spanned<Table>>,
    pub(crate) transform: Option<Spanned<Table>>,
    #[serde(default)]
    pub(crate) tap: Vec<Spanned<Table>>,
    #[serde(default)]
    pub(crate) link_from: Vec<Spanned<RawLink>>,
    #[serde(default)]
    pub(crate) link_to: Vec<Spanned<RawLink>>,
    pub(crate) persist: Option<Spanned<bool>>,
    pub(crate) retention: Option<Spanned<String>>,
    pub(crate) max_rows: Option<Spanned<i64>>,
    pub(crate) restore: Option<Spanned<bool>>,
    /// `true`, `false` or `{ metric = "..." }`: checked in `validate/sparkplug.rs`.
    pub(crate) sparkplug: Option<Spanned<toml::Value>>,
}

/// `buffer = { kind = "...", capacity = N }`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBuffer {
    pub(crate) kind: Spanned<String>,
    pub(crate) capacity: Option<Spanned<i64>>,
}

/// One entry of `link_to` / `link_from`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLink {
    pub(crate) url: Spanned<String>,
    pub(crate) codec: Option<Spanned<String>>,
    pub(crate) qos: Option<Spanned<i64>>,
    pub(crate) retain: Option<Spanned<bool>>,
    pub(crate) node_into: Option<Spanned<String>>,
    pub(crate) outbox_full: Option<Spanned<String>>,
    pub(crate) allow_system_topics: Option<Spanned<bool>>,
}
