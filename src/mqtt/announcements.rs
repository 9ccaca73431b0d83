//! Reads the schema announcements retained on a broker (`aimdb/+/schema`), for
//! `aimdbd check --nodes`.
//!
//! Contract: one clean-session connection with the config's broker settings under client id
//! `<client_id>-check` (so it never takes over the daemon's session), subscribed to
//! `aimdb/+/schema` at QoS 1; retained messages are collected until none has arrived for
//! [`QUIET`] after the subscription was granted, or `limit` has passed. Nothing is published.

use std::collections::BTreeMap;
use std::time::Duration;

use aimdb_records::topic::{self, Topic};
use rumqttc::{AsyncClient, Event, Packet, QoS};

use crate::mqtt::config::MqttConfig;

/// How long without a new retained message ends the collection.
pub(crate) const QUIET: Duration = Duration::from_millis(500);

/// Every node's retained announcement on `cfg`'s broker: node id → payload.
pub(crate) async fn retained(
    cfg: &MqttConfig,
    limit: Duration,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut options =
        super::session::client_options(cfg, &format!("{}-check", cfg.client_id)).await?;
    options.set_clean_session(true);
    let (client, mut el) = AsyncClient::new(options, 16);
    let mut found = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + limit;
    let mut subscribed = false;
    loop {
        let wait = if subscribed { QUIET } else { limit };
        let until = (tokio::time::Instant::now() + wait).min(deadline);
        let event = match tokio::time::timeout_at(until, el.poll()).await {
            Err(_) if subscribed => break,
            Err(_) => return Err(format!("no answer from {} within {limit:?}", cfg.url)),
            Ok(Err(e)) => return Err(format!("{}: {e}", cfg.url)),
            Ok(Ok(e)) => e,
        };
        match event {
            Event::Incoming(Packet::ConnAck(_)) => client
                .try_subscribe(topic::SCHEMA_FILTER, QoS::AtLeastOnce)
                .map_err(|e| e.to_string())?,
            Event::Incoming(Packet::SubAck(_)) => subscribed = true,
            Event::Incoming(Packet::Publish(p)) if p.retain => {
                if let Some(Topic::Schema { node }) = topic::parse(&p.topic) {
                    found.insert(node.to_string(), p.payload.to_vec());
                }
            }
            _ => {}
        }
    }
    let _ = client.try_disconnect();
    Ok(found)
}
