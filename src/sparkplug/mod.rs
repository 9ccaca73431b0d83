//! Sparkplug B (spec 3.0): the gateway as an edge node, so that SCADA hosts discover its
//! records from birth certificates. Reference: docs/SPARKPLUG.md.
//!
//! - [`config`]: the validated `[sparkplug]` table and its records.
//! - [`proto`]: the `org.eclipse.tahu.protobuf.Payload` types (generated, vendored proto).
//! - [`catalog`]: metrics, datatypes and units from the record types' schemas.
//! - [`value`]: record values (JSON) → metric values.
//! - [`payload`]: births, data, deaths, NCMD decoding.
//! - [`topic`]: `spBv1.0/...` topics and Sparkplug ids.
//! - [`edge`]: the edge node and device state machine (aliases, `seq`, what changed).
//! - [`host`]: the primary host's `STATE` (births wait for it online).
//! - [`history`]: store-and-forward, the values kept while the primary host is offline;
//!   [`held_disk`]: their copy on disk, which survives a restart.
//! - [`bdseq`]: the persisted birth/death sequence number.
//! - [`session`]: the edge node's own MQTT connection.
//! - [`stats`]: the counters behind `/metrics`; [`table`]: the alias table for operators.

pub(crate) mod bdseq;
pub(crate) mod catalog;
pub(crate) mod config;
pub(crate) mod edge;
pub(crate) mod held_disk;
pub(crate) mod history;
pub(crate) mod host;
pub(crate) mod payload;
pub(crate) mod proto;
pub(crate) mod session;
pub(crate) mod stats;
pub(crate) mod table;
pub(crate) mod topic;
pub(crate) mod value;

pub(crate) use config::{DeviceLink, Origin, SparkplugConfig, SparkplugRecord};
pub(crate) use session::Sparkplug;
