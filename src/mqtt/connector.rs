//! [`MqttConnector`]: serves `mqtt://` links — the [`Bridge`] when `[mqtt]` is configured, the
//! unbridged mode (links drained, nothing connected) when it is not.
//!
//! `start` runs each time a graph is built (start, every reload, `aimdbd check`); it only wires
//! tasks. Nothing connects, no file is opened and nothing is bound until the graph runs, so a
//! reload builds the new graph while the old one still runs. The graph's first task binds its
//! links to the bridge; at the graph's shutdown it lets them go. A connector made with
//! [`MqttConnector::with_bridge`] serves the daemon's bridge, which outlives the graph; one
//! made with [`MqttConnector::new`] runs a bridge of its own and closes it with the graph.

use std::sync::Arc;
use std::time::Duration;

use aimdb_core::{BoxError, BoxFuture, Connector, InboundLink, OutboundLink, RuntimeContext};
use rumqttc::QoS;
use tokio::sync::watch;

use super::bridge::{Bridge, Links};
use super::inbound::Route;
use super::metrics::Direction;
use super::publisher::{OutLink, SlotRef};
use super::{outbound, unbridged};
use crate::config::{Config, LinkConfig, OutboxFull};
use crate::Rt;

/// Serves scheme `mqtt`.
#[derive(Clone)]
pub(crate) struct MqttConnector {
    plan: Option<Arc<Plan>>,
}

/// The bridge serving one graph's links (each link brings its own options: its `LinkConfig`).
struct Plan {
    bridge: Arc<Bridge>,
    /// Whether the bridge is this graph's own (run and closed with it).
    owned: bool,
    /// The part of the daemon's graph this connector serves (0 for a graph of its own).
    part: u64,
    shutdown_timeout: Duration,
}

impl MqttConnector {
    /// The connector for `config`: bridged if it has `[mqtt]`, each graph with a bridge of its
    /// own (closed when the graph drains).
    pub(crate) fn new(config: &Config) -> Self {
        Self::with_bridge(config, Bridge::new(config), true, 0)
    }

    /// The connector for part `part` of the daemon's graph of `config`, serving the daemon's
    /// `bridge` (which must [`Bridge::serves`] `config`, and runs on its own): the part binds
    /// to it when it starts, without routing yet (the daemon ends the swap once every part is
    /// bound), and leaves it running when it drains.
    pub(crate) fn shared(config: &Config, bridge: Option<Arc<Bridge>>, part: u64) -> Self {
        Self::with_bridge(config, bridge, false, part)
    }

    fn with_bridge(config: &Config, bridge: Option<Arc<Bridge>>, owned: bool, part: u64) -> Self {
        let plan = config.mqtt.as_ref().zip(bridge).map(|(_, bridge)| {
            Arc::new(Plan {
                bridge,
                owned,
                part,
                shutdown_timeout: config.shutdown_timeout,
            })
        });
        Self { plan }
    }
}

fn qos(n: u8) -> QoS {
    match n {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    }
}

/// The QoS an inbound link subscribes with: its own, at most 1.
///
/// rumqttc cannot resume a QoS 2 *receive* across a reconnect: it forgets which QoS 2 messages
/// it acknowledged with PUBREC, so the PUBREL a broker sends again for one on the resumed
/// session is "unsolicited", and rumqttc drops the connection — on every reconnect, for good
/// (bytebeamio/rumqtt#664). Inbound values are acknowledged only once accepted downstream and
/// the daemon's guarantee is at-least-once either way (docs/MQTT.md), so a `qos = 2` link
/// subscribes at QoS 1: a message may come twice after a reconnect, never not at all.
pub(crate) fn subscribe_qos(n: u8) -> QoS {
    qos(n.min(1))
}

/// Why [`MqttConnector`] refused a link when the graph started (surfacing as
/// `StartError::Connector`). The daemon's links never yield it: each is added with its checked
/// [`LinkConfig`] (topic expanded and checked with the config).
#[derive(Debug, thiserror::Error)]
pub(crate) enum LinkRefused {
    /// The link was added without its MQTT options (a `LinkConfig`).
    #[error("{} {url:?} of {record:?} has no MQTT link options", link_key(.dir))]
    NoOptions {
        dir: Direction,
        url: String,
        record: Arc<str>,
    },
}

impl LinkRefused {
    fn no_options(dir: Direction, url: &str, record: &Arc<str>) -> Self {
        LinkRefused::NoOptions {
            dir,
            url: url.to_string(),
            record: record.clone(),
        }
    }
}

/// Why [`MqttConnector`] refused a link URL when the graph was checked. A config that passed
/// validation never yields it (`config/validate/links.rs` checks the topic first).
#[derive(Debug, thiserror::Error)]
pub(crate) enum BadUrl {
    /// Nothing after `mqtt://`.
    #[error("needs a topic after mqtt://")]
    NoTopic,
}

/// The config key of a link going `dir`.
fn link_key(dir: &Direction) -> &'static str {
    match dir {
        Direction::In => "link_from",
        Direction::Out => "link_to",
    }
}

impl Connector<Rt> for MqttConnector {
    fn scheme(&self) -> &str {
        "mqtt"
    }

    fn check_url(&self, url: &str) -> Result<(), BoxError> {
        match url.strip_prefix("mqtt://") {
            Some(t) if !t.is_empty() => Ok(()),
            _ => Err(Box::new(BadUrl::NoTopic)),
        }
    }

    fn start(
        &self,
        ctx: RuntimeContext<Rt>,
        outbound: Vec<OutboundLink>,
        inbound: Vec<InboundLink>,
    ) -> Result<Vec<BoxFuture>, BoxError> {
        let Some(b) = &self.plan else {
            return Ok(unbridged::start(ctx, outbound, inbound));
        };
        let m = b.bridge.metrics().clone();
        let mut out_links = Vec::with_capacity(outbound.len());
        let mut out_metrics = Vec::with_capacity(outbound.len());
        for link in &outbound {
            let cfg = link
                .options::<LinkConfig>()
                .ok_or_else(|| LinkRefused::no_options(Direction::Out, &link.url, &link.record))?;
            // Expanded and checked at config time.
            let topic = cfg.topic.clone();
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
            let cfg = link
                .options::<LinkConfig>()
                .ok_or_else(|| LinkRefused::no_options(Direction::In, &link.url, &link.record))?;
            // Expanded and checked at config time.
            let filter = cfg.topic.clone();
            let want = subscribe_qos(cfg.qos);
            match filters.iter_mut().find(|(f, _)| *f == filter) {
                Some((_, have)) if want > *have => *have = want,
                Some(_) => {}
                None => filters.push((filter.clone(), want)),
            }
            routes.push(Route {
                metrics: m.link(Direction::In, &link.record, &filter),
                filter,
            });
        }
        let (bridge, owned, part) = (b.bridge.clone(), b.owned, b.part);
        let mut tasks: Vec<BoxFuture> = Vec::new();
        if owned {
            tasks.push(Box::pin(bridge.session()));
        }
        let (slots_tx, slots) = watch::channel(None::<Arc<[SlotRef]>>);
        let links = Links {
            outbound: out_links,
            routes,
            inbound,
            filters,
        };
        let budget = b.shutdown_timeout.mul_f32(0.75);
        let graph_bridge = bridge.clone();
        tasks.push(Box::pin(async move {
            let bridge = graph_bridge;
            let shutdown = ctx.shutdown().clone();
            slots_tx.send_replace(Some(bridge.attach(part, links, owned).await.into()));
            shutdown.wait().await;
            bridge.detach(part);
            if owned {
                bridge.close(budget).await;
            }
        }));
        for (index, (link, (lm, block))) in outbound.into_iter().zip(out_metrics).enumerate() {
            let publisher = bridge.publisher().clone();
            let mut slots = slots.clone();
            tasks.push(Box::pin(async move {
                let Ok(slots) = slots.wait_for(Option::is_some).await.map(|s| s.clone()) else {
                    return;
                };
                let Some(&slot) = slots.as_deref().and_then(|s| s.get(index)) else {
                    return;
                };
                outbound::run(link, slot, publisher, lm, block).await;
            }));
        }
        Ok(tasks)
    }
}
