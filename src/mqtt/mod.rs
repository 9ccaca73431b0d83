//! The `mqtt://` link connector.
//!
//! The MQTT bridge (rumqttc, reconnect, outbox) is a later issue. Until then
//! [`PlaceholderMqtt`] lets configs with MQTT links validate and run: it logs once that the
//! bridge is not built, drains outbound frames (counting them) so rings never back up, and drops
//! inbound links at shutdown so their records close and drain.

mod placeholder;

pub use placeholder::PlaceholderMqtt;
