//! `aimdb-node`: the sensor node's application logic, `no_std`, the same on the MCU and the host.
//!
//! The node builds an aimdb-core record graph with the record types and keys of
//! `aimdb-records`:
//!
//! | record | type | buffer | written by | read by |
//! |---|---|---|---|---|
//! | `sensor.temp.indoor` | `Temperature` | `spmc_ring` | source (temperature driver) | threshold transform, MQTT |
//! | `sensor.humidity.indoor` | `Humidity` | `spmc_ring` | source (humidity driver) | MQTT |
//! | `alert.temp.indoor` | `TemperatureAlert` | `single_latest` | local threshold transform | MQTT |
//! | `node.heartbeat` | `Heartbeat` | `single_latest` | source (timer) | MQTT |
//! | `node.cmd` | `NodeCommand` | `mailbox` | MQTT `aimdb/<node>/cmd/node.cmd` | command tap (period, LED, identify, reboot) |
//!
//! and speaks MQTT 5 (rust-mqtt) to the gateway's broker: every outbound record is published
//! on `aimdb/<node>/<key>` as a versioned postcard frame ([`wire`]) at its type's current
//! version, the node announces `online` (retained birth) and `offline` (retained last will, and
//! on clean shutdown) on `aimdb/<node>/status` and, after `online`, the record types and versions
//! it speaks on `aimdb/<node>/schema` (retained), and it reconnects with exponential backoff and
//! jitter. Commands are accepted framed at any version the node knows, or unframed (version 1).
//!
//! Everything hardware-specific is a parameter: the runtime (`aimdb_core::Runtime`, e.g.
//! `aimdb_embassy::EmbassyAdapter`), the network ([`Network`]: embassy-net TCP on the board, std
//! TCP on the host) and the drivers ([`drivers`]). Entry point: [`run_node`].
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
extern crate alloc;

pub mod config;
pub mod control;
pub mod drivers;
mod graph;
pub mod mqtt;
pub mod network;
mod node;
pub mod stats;
pub mod wire;

pub use config::{ConfigError, NodeConfig};
pub use control::Control;
pub use network::Network;
pub use node::{run_node, Exit, Node, NodeError};
pub use stats::NodeStats;
