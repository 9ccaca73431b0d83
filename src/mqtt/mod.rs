//! The MQTT bridge: records to and from an MQTT broker (rumqttc), surviving broker outages.
//!
//! - [`connector`]: [`MqttConnector`], the `mqtt://` link connector; wires the pieces below, or
//!   runs the unbridged mode ([`unbridged`]) without `[mqtt]`.
//! - [`bridge`]: [`Bridge`], the session and what it carries (outboxes, router), kept across
//!   reloads that do not change `[mqtt]`; graphs attach their links to it.
//! - [`session`]: the one broker connection — event loop, birth/last will, reconnect with
//!   [`aimdb_core::backoff`], clean shutdown.
//! - [`inbound`]: `link_from` — filter → links routing, decoding, bad input counted and logged,
//!   backpressure; [`acks`]: QoS ≥ 1 messages acknowledged in order once accepted downstream.
//! - [`outbound`] + [`publisher`]: `link_to` — record → outbox → in-order publish, matched to
//!   the broker's acknowledgements.
//! - [`outbox`]: the bounded per-link queues and their SQLite copy (`outbox = "disk"`).
//! - [`tls`]: rustls client config for `mqtts://`.
//! - [`announcements`]: the retained announcements on a broker, for `check --nodes`.
//! - [`schemas`]: what each node speaks (its `aimdb/<node>/schema` announcement), the version
//!   to talk to it in, and payloads of unknown versions.
//! - [`metrics`]: the counters behind `/metrics`.
//!
//! User-facing reference: docs/MQTT.md.

pub(crate) mod acks;
pub(crate) mod announcements;
pub(crate) mod bridge;
pub(crate) mod config;
pub(crate) mod connector;
pub(crate) mod inbound;
pub(crate) mod metrics;
pub(crate) mod outbound;
pub(crate) mod outbox;
pub(crate) mod publisher;
pub(crate) mod ratelimit;
pub(crate) mod schemas;
pub(crate) mod session;
pub(crate) mod tls;
pub(crate) mod unbridged;

pub(crate) use bridge::Bridge;
pub(crate) use connector::MqttConnector;
