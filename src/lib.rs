//! `aimdbd`: the gateway daemon of aimdb, a typed data plane for sensor meshes.
//!
//! - [`config`]: TOML config → validated [`config::Config`], every mistake with `FILE:LINE:COL`.
//! - [`components`]: built-in sources, transforms and taps, one file each, one table each.
//! - [`record_types`]: the record types this build knows (from `aimdb-records`, plus `json`).
//! - [`engine`]: builds and runs the `aimdb-core` graph of a config on Tokio.
//! - [`mqtt`]: the MQTT bridge, the `mqtt://` link connector (rumqttc, outbox, reconnect).
//! - [`store`]: the SQLite history: persist taps, batched writer, retention, queries.
//! - [`daemon`]: the running daemon: signals, reload, drain, systemd notify.
//! - [`telemetry`]: metric building blocks (histogram, process metrics, file sizes).
//! - [`sparkplug`]: the Sparkplug B edge node (its own MQTT session, births, deaths, data).
//! - [`admin`]: the HTTP admin endpoint (health, readiness, metrics, records API).
//! - [`cli`]: the command line; `main.rs` only calls [`cli::main`].

pub(crate) mod admin;
pub(crate) mod catalog;
pub mod cli;
pub(crate) mod components;
pub mod config;
pub(crate) mod daemon;
pub(crate) mod diagnostics;
pub mod engine;
pub(crate) mod exit;
pub(crate) mod fields;
pub(crate) mod logging;
pub(crate) mod mqtt;
pub mod record_types;
pub(crate) mod render;
pub(crate) mod sparkplug;
pub mod store;
pub(crate) mod telemetry;

/// The runtime the daemon's graph runs on.
pub type Rt = aimdb_tokio::TokioAdapter;
