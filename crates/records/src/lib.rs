//! `aimdb-records`: the record types, keys, codecs and topic scheme shared by gateway and nodes.
//!
//! This crate is the single definition of what travels between an aimdb node (STM32 firmware on
//! Embassy) and the gateway daemon (`aimdbd` on Tokio). Both sides depend on it unchanged, so a
//! record type, a key or a topic has exactly one spelling:
//!
//! - [`types`]: the record value types ([`Temperature`], [`Humidity`], [`Heartbeat`],
//!   [`TemperatureAlert`], [`DewPoint`], [`NodeCommand`], [`NodeStatus`]) and the [`RecordType`]
//!   trait with [`for_each_record_type!`] and [`RECORD_TYPE_NAMES`];
//! - [`keys`]: the well-known record keys as `#[derive(RecordKey)]` enums;
//! - [`codec`]: the wire codecs (postcard for MCU links, JSON for services);
//! - [`version`]: each type's version chain, schema id and migrations; [`frame`]: the versioned
//!   wire frames (postcard header, JSON `"v"`); [`announce`]: the
//!   retained `aimdb/<node>/schema` announcement of what a peer speaks;
//! - [`topic`]: the MQTT topic scheme `aimdb/<node>/<key>`, `aimdb/<node>/cmd/<key>`,
//!   `aimdb/<node>/status` and MQTT filter matching;
//! - [`transforms`]: the built-in transforms as pure state machines (threshold alerts, moving
//!   average, dew point).
//!
//! The crate is `#![no_std]` with `alloc`; the default `std` feature only makes the JSON
//! encoder write straight into the caller's buffer.
//!
//! The wire format of every type is pinned by golden vectors in `tests/golden/`; see
//! `docs/TOPICS.md` for the rules of changing a type.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod announce;
pub mod codec;
pub mod frame;
pub mod keys;
mod record_type;
pub mod shape;
pub mod topic;
pub mod transforms;
pub mod types;
pub mod version;

pub use codec::{Codec, CodecError};
pub use record_type::{RecordType, RECORD_TYPE_NAMES};
pub use types::{
    id, AlertLevel, DewPoint, Heartbeat, Humidity, Id, IdTooLong, NodeCommand, NodeStatus,
    Temperature, TemperatureAlert,
};
pub use version::{SchemaId, Versioned};
