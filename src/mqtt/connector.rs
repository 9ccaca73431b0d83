//! [`MqttConnector`]: serves `mqtt://` links — the bridge when `[mqtt]` is configured, the
//! unbridged mode (links drained, nothing connected) when it is not.
//!
//! `start` runs each time a graph is built (start, every reload, `aimdbd check`); it only wires
//! tasks. Nothing connects and no file is opened until the graph runs, so a reload builds the
//! new graph while the old one still runs, and the old session (and its disk outbox) is closed
//! by the old graph's drain before the new graph starts.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aimdb_core::{BoxFuture, Connector, InboundLink, OutboundLink, RuntimeContext};
use aimdb_records::topic;
use rumqttc::QoS;
use tokio::sync::Notify;

use super::inbound::{Route, Router};
use super::metrics::{metrics, Direction};
use super::publisher::{OutLink, Publisher};
use super::session::{close_when_drained, Session};
use super::{outbound, unbridged};
use crate::config::{Config, LinkConfig, MqttConfig, OutboxFull};
use crate::Rt;

/// Serves scheme `mqtt`.
#[derive(Clone)]
pub struct MqttConnector {
    bridge: Option<Arc<Bridge>>,
}

struct Bridge {
    mqtt: Arc<MqttConfig>,
    node_id: String,
    shutdown_timeout: Duration,
    /// `(record, url)` → link config, per direction.
    links_to: HashMap<(String, String), LinkConfig>,
    links_from: HashMap<(String, String), LinkConfig>,
}

impl MqttConnector {
    /// The connector for `config`: bridged if it has `[mqtt]`.
    pub fn new(config: &Config) -> Self {
        let bridge = config.mqtt.as_ref().map(|mqtt| {
            let index = |pick: fn(&crate::config::RecordConfig) -> &Vec<LinkConfig>| {
                config
                    .records
                    .iter()
                    .flat_map(|r| {
                        pick(r)
                            .iter()
                            .map(|l| ((r.key.clone(), l.url.clone()), l.clone()))
                    })
                    .collect()
            };
            Arc::new(Bridge {
                mqtt: Arc::new(mqtt.clone()),
                node_id: config.node_id.clone(),
                shutdown_timeout: config.shutdown_timeout,
                links_to: index(|r| &r.links_to),
                links_from: index(|r| &r.links_from),
            })
        });
        Self { bridge }
    }
}

/// `{node}` and `{key}` in a link topic.
pub fn expand(template: &str, node: &str, key: &str) -> String {
    template.replace("{node}", node).replace("{key}", key)
}

fn qos(n: u8) -> QoS {
    match n {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

impl Connector<Rt> for MqttConnector {
    fn scheme(&self) -> &str {
        "mqtt"
    }

    fn check_url(&self, url: &str) -> Result<(), String> {
        match url.strip_prefix("mqtt://") {
            Some(t) if !t.is_empty() => Ok(()),
            _ => Err("needs a topic after mqtt://".into()),
        }
    }

    fn start(
        &self,
        ctx: RuntimeContext<Rt>,
        outbound: Vec<OutboundLink>,
        inbound: Vec<InboundLink>,
    ) -> Result<Vec<BoxFuture>, String> {
        let Some(b) = &self.bridge else {
            return Ok(unbridged::start(ctx, outbound, inbound));
        };
        let m = metrics();
        m.clear_active();
        let mut out_links = Vec::with_capacity(outbound.len());
        let mut out_metrics = Vec::with_capacity(outbound.len());
        for link in &outbound {
            let cfg = b
                .links_to
                .get(&(link.record.to_string(), link.url.clone()))
                .ok_or_else(|| {
                    format!(
                        "link_to {:?} of {:?} is not in the config",
                        link.url, link.record
                    )
                })?;
            let topic = expand(&cfg.topic, &b.node_id, &link.record);
            topic::validate_topic(&topic).map_err(|e| {
                format!(
                    "link_to {:?} of {:?}: topic {topic:?} {e}",
                    link.url, link.record
                )
            })?;
            let lm = m.link(Direction::Out, &link.record, &topic);
            out_metrics.push((lm.clone(), cfg.outbox_full == OutboxFull::Block));
            out_links.push(OutLink {
                record: link.record.clone(),
                metrics: lm,
                topic,
                qos: qos(cfg.qos),
                retain: cfg.retain,
                full: cfg.outbox_full,
                // QoS ≥ 1 links are durable readers: upstream QoS ≥ 1 messages are
                // acknowledged only once their values are in this outbox.
                acceptor: (cfg.qos >= 1).then(|| link.hold()),
            });
        }
        let mut routes = Vec::with_capacity(inbound.len());
        let mut filters: Vec<(String, QoS)> = Vec::new();
        for link in &inbound {
            let cfg = b
                .links_from
                .get(&(link.record.to_string(), link.url.clone()))
                .ok_or_else(|| {
                    format!(
                        "link_from {:?} of {:?} is not in the config",
                        link.url, link.record
                    )
                })?;
            let filter = expand(&cfg.topic, &b.node_id, &link.record);
            topic::validate_filter(&filter).map_err(|e| {
                format!(
                    "link_from {:?} of {:?}: filter {filter:?} {e}",
                    link.url, link.record
                )
            })?;
            match filters.iter_mut().find(|(f, _)| *f == filter) {
                Some((_, have)) => *have = qos(cfg.qos.max(*have as u8)),
                None => filters.push((filter.clone(), qos(cfg.qos))),
            }
            routes.push(Route {
                metrics: m.link(Direction::In, &link.record, &filter),
                filter,
            });
        }
        let mqtt = &b.mqtt;
        let publisher = Arc::new(Publisher::new(
            out_links,
            mqtt.outbox_capacity,
            mqtt.outbox_max_bytes,
            mqtt.max_packet_size,
        ));
        let router = Arc::new(Router::new(
            routes,
            inbound,
            mqtt.max_packet_size,
            !mqtt.clean_session,
        ));
        let abandon = Arc::new(Notify::new());
        let ended = Arc::new(Notify::new());
        let mut tasks: Vec<BoxFuture> = Vec::new();
        let session = Session {
            cfg: mqtt.clone(),
            node_id: b.node_id.clone(),
            filters,
            publisher: publisher.clone(),
            router: router.clone(),
            abandon: abandon.clone(),
            ended: ended.clone(),
        };
        tasks.push(Box::pin(session.run()));
        let status = topic::status_topic(&b.node_id);
        let budget = b.shutdown_timeout.mul_f32(0.75);
        let (p, r) = (publisher.clone(), router);
        tasks.push(Box::pin(async move {
            let shutdown = ctx.shutdown().clone();
            close_when_drained(shutdown.wait(), p, r, status, budget, abandon, ended).await;
        }));
        for (index, (link, (lm, block))) in outbound.into_iter().zip(out_metrics).enumerate() {
            tasks.push(Box::pin(outbound::run(
                link,
                index,
                publisher.clone(),
                lm,
                block,
            )));
        }
        Ok(tasks)
    }
}
