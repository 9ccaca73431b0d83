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

pub mod bdseq;
pub mod catalog;
pub mod config;
pub mod edge;
pub mod held_disk;
pub mod history;
pub mod host;
pub mod payload;
pub mod proto;
pub mod session;
pub mod stats;
pub mod table;
pub mod topic;
pub mod value;

pub use config::{DeviceLink, Origin, SparkplugConfig, SparkplugRecord};
pub use session::Sparkplug;
